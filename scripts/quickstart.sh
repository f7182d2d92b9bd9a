#!/usr/bin/env bash
# Installs and builds Quark-MLIR (scripts/setup.sh), then runs the main job
# on the bundled default model: its perplexity on the held-out book, the way
# Quark's quantize_quark.py measures it. Also shows the quantization IR on
# the example weights.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUARK_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"

echo
echo "== The bundled model (models/tiny-llama) on data/sherlock-holmes.txt:"
"$build/bin/quark-quantize" --model_dir "$root/models/tiny-llama" \
  --skip_quantization --tasks perplexity \
  --eval_dataset "$root/data/sherlock-holmes.txt" --seq_len 512 \
  --report-json "$build/quickstart-perplexity.json"
echo "(report: $build/quickstart-perplexity.json; the model's training run" \
  "measured $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["perplexity"], 4))' \
  "$root/models/tiny-llama/training_eval.json"))"

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
