#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with libFuzzer (clang-22,
# libclang-rt-22-dev) under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh                 every target, 60 s each
#   scripts/fuzz.sh 600 safetensors one target, 10 minutes
#
# Targets: safetensors model-config gguf tokenizer-json tokenize
# quark-spec-json (test/fuzz/). Each starts from its seed corpus
# (test/fuzz/corpus/<target>/ and the corrupt-input corpora); what it learns
# stays in build-fuzz/corpus/<target>/. A crash leaves its input in
# build-fuzz/crashes/<target>/ and fails the script: fix the bug, then copy
# the input into test/fuzz/corpus/<target>/ so the test suite replays it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(safetensors model-config gguf tokenizer-json tokenize quark-spec-json)
fi
build=${QUARK_FUZZ_BUILD_DIR:-$root/build-fuzz}

sanitizers="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DQUARK_BUILD_FUZZERS=ON -DQUARK_ENABLE_ONNX=OFF \
    -DCMAKE_C_FLAGS="$sanitizers -fsanitize=fuzzer-no-link" \
    -DCMAKE_CXX_FLAGS="$sanitizers -fsanitize=fuzzer-no-link" \
    -DCMAKE_EXE_LINKER_FLAGS="$sanitizers"
fi
cmake --build "$build" --target $(printf 'quark-fuzz-%s ' "${targets[@]}")

# Extra seed folders, as test/fuzz/CMakeLists.txt lists them.
declare -A extra=(
  [safetensors]=$root/test/Support/Inputs/corrupt-safetensors
  [model-config]=$root/test/Import/Inputs/corrupt-configs
  [tokenizer-json]=$root/models/tiny-llama
  [quark-spec-json]=$root/test/Target/Inputs
)
failed=()
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target
  crashes=$build/crashes/$target
  mkdir -p "$corpus" "$crashes"
  cp -r "$root/test/fuzz/corpus/$target/." "$corpus/"
  if [[ -n "${extra[$target]:-}" ]]; then
    find "${extra[$target]}" -type f \( -name '*.json' -o -name '*.safetensors' \) \
      -exec cp {} "$corpus/" \;
  fi
  echo "fuzz: $target for $seconds s"
  if ! "$build/fuzz/quark-fuzz-$target" "$corpus" -max_total_time="$seconds" \
      -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
      -artifact_prefix="$crashes/" -print_final_stats=1 2> "$build/fuzz-$target.log"; then
    failed+=("$target")
    tail -30 "$build/fuzz-$target.log"
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" \
      "$build/fuzz-$target.log" | tr '\n' ' '
    echo
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]} (inputs under $build/crashes/)"
  exit 1
fi
echo "fuzz: no crashes in ${targets[*]}"
