#!/usr/bin/env bash
# Runs the benchmarks and writes their results under bench/results/:
#   forward-throughput.json  executor vs PyTorch tokens/s (target >= 1.0x)
#   checkpoint-open.json     opening a 7B-shaped checkpoint (time, RSS)
#   rtn-throughput.json      weight-only RTN vs a copy of the same bytes;
#                            calibration time split (7B-shaped, bounded RSS)
#   export-throughput.json   hf_format export of the 7B-shaped model (int4,
#                            fp8) vs a copy of its output; peak RSS
#   gptq.json                GPTQ on a 4096x4096 linear vs a PyTorch CPU
#                            implementation (target <= 0.5x its time)
#   awq.json                 AWQ on a Llama MLP (hidden 1024) vs a PyTorch
#                            llm-awq search
#   gpu-isa-facts.json       AMD kernels' registers, LDS, MFMAs, occupancy
#                            estimate (compile time; no GPU needed)
#   nvidia-prepare           (not in "all") PTX of the NVIDIA benchmark
#                            kernels in build/nvidia-kernels; timing them is
#                            `python3 bench/nvidia_kernels.py run` on a GPU
#
#   bench/run.sh                  all
#   bench/run.sh forward|open|rtn|export|gptq|awq|gpu-isa|nvidia-prepare one
# Extra arguments go to the benchmark script (e.g. --threads 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmake --build "${QUARK_BUILD_DIR:-$root/build}" --target quark-quantize quark-inspect quark-translate quark-bench-gptq quark-bench-awq quark-opt quark-run-kernel
what=${1:-all}
shift || true
status=0
if [[ $what == all || $what == forward ]]; then
  /usr/bin/python3 "$root/bench/forward_throughput.py" "$@" || status=1
fi
if [[ $what == all || $what == open ]]; then
  /usr/bin/python3 "$root/bench/checkpoint_open.py" "$@" || status=1
fi
if [[ $what == all || $what == rtn ]]; then
  /usr/bin/python3 "$root/bench/rtn_throughput.py" "$@" || status=1
fi
if [[ $what == all || $what == export ]]; then
  /usr/bin/python3 "$root/bench/export_throughput.py" "$@" || status=1
fi
if [[ $what == all || $what == gptq ]]; then
  /usr/bin/python3 "$root/bench/gptq_bench.py" "$@" || status=1
fi
if [[ $what == all || $what == awq ]]; then
  /usr/bin/python3 "$root/bench/awq_bench.py" "$@" || status=1
fi
if [[ $what == all || $what == gpu-isa ]]; then
  /usr/bin/python3 "$root/bench/gpu_isa_facts.py" "$@" || status=1
fi
if [[ $what == nvidia-prepare ]]; then
  /usr/bin/python3 "$root/bench/nvidia_kernels.py" prepare "$@" || status=1
fi
exit $status
