#!/usr/bin/python3
"""Forward throughput of the CPU executor against PyTorch, same weights,
same threads, same windows.

For each model and thread count (1 and all cores by default),
quark-quantize's perplexity evaluation and the PyTorch reference
(bench/torch_perplexity.py) run alternately --repeats times; the result is
the ratio of the median tokens/s. Their perplexities must agree
(same tokens, same weights), which also shows both did the same work.

Models: the bundled models/tiny-llama, and a random-weight Llama with hidden
1024 and 8 layers (scripts/make_random_model.py --preset llama-1024x8,
cached under the build folder, given the bundled tokenizer).
Target: ratio >= 1.0. Results: bench/results/forward-throughput.json.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, ".."))
PYTHON = "/usr/bin/python3"
BUNDLED = os.path.join(ROOT, "models", "tiny-llama")
DATASET = os.path.join(ROOT, "data", "sherlock-holmes.txt")
TOKENIZER_FILES = ["tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                   "special_tokens_map.json"]


def random_llama(build):
    folder = os.path.join(build, "bench-models", "llama-1024x8")
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        subprocess.run([PYTHON, os.path.join(ROOT, "scripts", "make_random_model.py"),
                        "--preset", "llama-1024x8", "--out", folder], check=True)
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(BUNDLED, name), folder)
    return folder


def run_quark(build, model, windows, seq_len, threads):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        subprocess.run([os.path.join(build, "bin", "quark-quantize"), "--model_dir", model,
                        "--skip_quantization", "--tasks", "perplexity",
                        "--eval_dataset", DATASET, "--seq_len", str(seq_len),
                        "--num_eval_data", str(windows), "--num-threads", str(threads),
                        "--report-json", report],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(report) as f:
            result = json.load(f)
    return result["timings"]["eval_tokens_per_s"], result["perplexity"]


def run_torch(model, windows, seq_len, threads):
    # torch.set_num_threads does not reach the OpenBLAS inside Debian's
    # torch, which would otherwise use every core whatever the setting.
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([PYTHON, os.path.join(HERE, "torch_perplexity.py"), model,
                          "--dataset", DATASET, "--seq-len", str(seq_len),
                          "--windows", str(windows), "--threads", str(threads)],
                         check=True, capture_output=True, text=True, env=env).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["tokens_per_s"], result["perplexity"]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count()],
                   help="thread counts to compare at (default: 1 and all cores)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--out", default=os.path.join(HERE, "results", "forward-throughput.json"))
    a = p.parse_args()

    models = [("tiny-llama (bundled)", BUNDLED, 24),
              ("llama-1024x8 (random)", random_llama(a.build), 6)]
    results = []
    for (label, folder, windows), threads in [(m, t) for m in models for t in a.threads]:
        quark, torch_runs, ppl = [], [], {}
        for r in range(a.repeats):
            tps, ppl["quark"] = run_quark(a.build, folder, windows, a.seq_len, threads)
            quark.append(tps)
            tps, ppl["torch"] = run_torch(folder, windows, a.seq_len, threads)
            torch_runs.append(tps)
            print(f"{label}, {threads} thread(s): run {r + 1}: quark {quark[-1]:.0f} tok/s, "
                  f"torch {torch_runs[-1]:.0f} tok/s", flush=True)
        ratio = statistics.median(quark) / statistics.median(torch_runs)
        agree = abs(ppl["quark"] - ppl["torch"]) <= 1e-3 * ppl["torch"]
        results.append({
            "model": label, "threads": threads, "windows": windows, "seq_len": a.seq_len,
            "quark_tokens_per_s": quark, "torch_tokens_per_s": torch_runs,
            "quark_median": statistics.median(quark),
            "torch_median": statistics.median(torch_runs),
            "ratio": ratio, "perplexity_quark": ppl["quark"], "perplexity_torch": ppl["torch"],
            "perplexities_agree": agree, "meets_target": ratio >= 1.0 and agree,
        })
        print(f"{label}, {threads} thread(s): ratio {ratio:.2f}x (target >= 1.0), perplexity "
              f"{ppl['quark']:.4f} vs {ppl['torch']:.4f}", flush=True)
    report = {
        "benchmark": "forward-throughput",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": benchlib.cpu_model(), "cores": os.cpu_count(),
        "repeats": a.repeats, "results": results,
    }
    benchlib.write_result(a.out, report)
    return 0 if all(r["meets_target"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
