#!/usr/bin/env bash
# Installs and builds Quark-MLIR (scripts/setup.sh), then runs the main job
# on the bundled default model: quantizes it with fp8 and with int4_wo_128
# and prints its perplexity on a held-out book before and after, the way
# Quark's quantize_quark.py measures it; exports fp8 + fp8 KV cache as a
# Quark hf_format folder for vLLM, checks it and reloads it. Also shows the
# quantization IR on the example weights.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUARK_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"

echo
echo "== The bundled model (models/tiny-llama), quantized with fp8 and with"
echo "   int4_wo_128, perplexity on the held-out data/sherlock-holmes.txt before"
echo "   and after (calibration: the bundled data/tom-sawyer.txt):"
for scheme in fp8 int4_wo_128; do
  echo "-- --quant_scheme $scheme"
  "$build/bin/quark-quantize" --model_dir "$root/models/tiny-llama" \
    --output_dir "$build/quickstart/$scheme" --quant_scheme "$scheme" \
    --num_calib_data 128 --seq_len 512 --tasks perplexity \
    --eval_dataset "$root/data/sherlock-holmes.txt" \
    --report-json "$build/quickstart/$scheme/report.json"
done
echo "(quantized IR, weights and reports under $build/quickstart/; the model's" \
  "training run measured a float perplexity of" \
  "$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["perplexity"], 4))' \
  "$root/models/tiny-llama/training_eval.json"))"

echo
echo "== Export for vLLM: fp8 with an fp8 KV cache as a Quark hf_format folder,"
echo "   checked against vLLM's Quark loader rules and reloaded:"
"$build/bin/quark-quantize" --model_dir "$root/models/tiny-llama" \
  --output_dir "$build/quickstart/fp8-kv-hf" --overwrite --quant_scheme fp8 \
  --kv_cache_dtype fp8 --num_calib_data 128 --seq_len 512 \
  --model_export hf_format --tasks perplexity \
  --eval_dataset "$root/data/sherlock-holmes.txt"
"$build/bin/quark-translate" --check-export "$build/quickstart/fp8-kv-hf"
"$build/bin/quark-quantize" --model_reload \
  --import_model_dir "$build/quickstart/fp8-kv-hf" --seq_len 512 \
  --tasks perplexity --eval_dataset "$root/data/sherlock-holmes.txt"
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
