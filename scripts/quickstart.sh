#!/usr/bin/env bash
# Installs and builds Quark-MLIR (scripts/setup.sh), then runs the main job:
# quantizing the example weights with Quark's schemes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUARK_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"

echo
echo "== A spec Quark would reject is rejected by the verifier:"
if "$build/bin/quark-opt" "$root/examples/invalid-spec.mlir" -o /dev/null; then
  echo "quickstart: expected a verifier error" >&2
  exit 1
fi

echo
echo "== Example weights quantized to INT4 (packed), MXFP4 (packed) and FP8:"
"$build/bin/quark-opt" "$root/examples/quantize-weights.mlir" \
  --quark-expand-fake-quant --quark-fold-constants --canonicalize
