#!/usr/bin/env bash
# Regenerates docs/generated/ (dialect and pass reference) from TableGen.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUARK_BUILD_DIR:-$root/build}
cmake --build "$build" --target quark-docs
mkdir -p "$root/docs/generated"
cp "$build/docs/QuarkDialect.md" "$build/docs/Passes.md" \
  "$build/docs/ConversionPasses.md" "$root/docs/generated/"
echo "gen-docs: updated docs/generated/"
