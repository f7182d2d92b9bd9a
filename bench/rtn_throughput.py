#!/usr/bin/python3
"""Weight-only quantization throughput and calibration cost on a 7B-shaped
checkpoint, in bounded memory.

RTN: `quark-quantize --quant_scheme int4_wo_128 --skip_evaluation` on the
random checkpoint with Llama-2-7B shapes (13.5 GB of bf16, built once under
the build folder) against the reference, a plain copy of the same
checkpoint bytes from their mapping into a 64 MiB buffer (what any tool must
at least do to look at every weight). The two run alternately --repeats
times after one warm-up copy (so both read from the page cache when it
holds the file); the figure is the ratio of the medians, copy time / RTN
time, which is RTN's weights/s as a fraction of copy bandwidth.
Targets: ratio >= 0.5; peak RSS < 2 GB.

Calibration (--calibration, on by default): fp8 with static activations on
the same checkpoint, one window of --calib-seq-len tokens, decoder layer by
decoder layer; the split of its time (forward passes, observers,
tokenizing) and its peak RSS, from quark-quantize's report. Target: the
forward passes dominate.

Results: bench/results/rtn-throughput.json.
"""

import argparse
import datetime
import glob
import json
import mmap
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

ROOT = benchlib.ROOT


def copy_checkpoint(model):
    """Copies every byte of the checkpoint's shards out of their mapping;
    returns (bytes, seconds)."""
    buffer = np.empty(64 << 20, dtype=np.uint8)
    total = 0
    start = time.perf_counter()
    for path in sorted(glob.glob(os.path.join(model, "*.safetensors"))):
        with open(path, "rb") as f:
            mapping = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
            data = np.frombuffer(mapping, dtype=np.uint8)
            for offset in range(0, len(data), len(buffer)):
                chunk = data[offset:offset + len(buffer)]
                np.copyto(buffer[:len(chunk)], chunk)
            total += len(data)
            del data, chunk
            mapping.close()
    return total, time.perf_counter() - start


def quantize(build, model, out, scheme, extra):
    """Runs quark-quantize; returns (wall seconds, its report)."""
    shutil.rmtree(out, ignore_errors=True)
    report = out + ".report.json"
    start = time.perf_counter()
    subprocess.run([os.path.join(build, "bin", "quark-quantize"), "--model_dir", model,
                    "--output_dir", out, "--quant_scheme", scheme, "--skip_evaluation",
                    "--report-json", report] + extra,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(report) as f:
        result = json.load(f)
    output_bytes = sum(os.path.getsize(p) for p in glob.glob(os.path.join(out, "*")))
    result["output_bytes"] = output_bytes
    shutil.rmtree(out)
    os.remove(report)
    return seconds, result


def parameter_count(model):
    count = 0
    for path in glob.glob(os.path.join(model, "*.safetensors")):
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                count += int(np.prod(entry["shape"]))
    return count


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--model", help="an existing checkpoint folder instead of the 7B-shaped one")
    p.add_argument("--scheme", default="int4_wo_128")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="quark-quantize threads (0: all)")
    p.add_argument("--calibration", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--calib-seq-len", type=int, default=128)
    p.add_argument("--out", default=os.path.join(HERE, "results", "rtn-throughput.json"))
    a = p.parse_args()

    model = a.model or benchlib.llama_7b(a.build, with_tokenizer=a.calibration)
    scratch = os.path.join(a.build, "bench-out", "rtn")
    os.makedirs(os.path.dirname(scratch), exist_ok=True)
    threads = ["--num-threads", str(a.threads)]
    parameters = parameter_count(model)

    checkpoint_bytes, warmup = copy_checkpoint(model)
    print(f"warm-up copy: {checkpoint_bytes / 1e9:.2f} GB in {warmup:.2f} s", flush=True)
    copies, runs, rss, store, output_bytes = [], [], [], [], 0
    for repeat in range(a.repeats):
        _, seconds = copy_checkpoint(model)
        copies.append(seconds)
        seconds, report = quantize(a.build, model, scratch, a.scheme, threads)
        runs.append(seconds)
        rss.append(report["peak_rss_bytes"])
        store.append(report["timings"]["quantize_weights_s"])
        output_bytes = report["output_bytes"]
        print(f"[{repeat + 1}/{a.repeats}] copy {copies[-1]:.2f} s, {a.scheme} "
              f"{runs[-1]:.2f} s (weights {store[-1]:.2f} s), peak RSS "
              f"{rss[-1] / 2**20:.0f} MiB", flush=True)
    copy_median, rtn_median = statistics.median(copies), statistics.median(runs)
    result = {
        "benchmark": "rtn-throughput", "cpu": benchlib.cpu_model(),
        "cores": os.cpu_count(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "model": model, "checkpoint_bytes": checkpoint_bytes, "parameters": parameters,
        "scheme": a.scheme, "repeats": a.repeats,
        "copy_seconds": copies, "copy_seconds_median": copy_median,
        "copy_bytes_per_s": checkpoint_bytes / copy_median,
        "rtn_seconds": runs, "rtn_seconds_median": rtn_median,
        "rtn_quantize_weights_seconds": store,
        "rtn_weights_per_s": parameters / rtn_median,
        "rtn_bytes_per_s": checkpoint_bytes / rtn_median,
        "ratio_to_copy": copy_median / rtn_median,
        "rtn_peak_rss_bytes": rss, "rtn_peak_rss_bytes_max": max(rss),
        "output_bytes": output_bytes,
    }
    targets = result["ratio_to_copy"] >= 0.5 and max(rss) < 2e9
    print(f"RTN {a.scheme}: {result['rtn_weights_per_s'] / 1e9:.2f} G weights/s, "
          f"{result['ratio_to_copy']:.2f}x copy bandwidth "
          f"({result['copy_bytes_per_s'] / 1e9:.2f} GB/s), peak RSS "
          f"{max(rss) / 2**20:.0f} MiB", flush=True)

    if a.calibration:
        seconds, report = quantize(a.build, model, scratch, "fp8",
                                   threads + ["--num_calib_data", "1",
                                              "--seq_len", str(a.calib_seq_len)])
        calibration = report["calibration"]
        timings = report["timings"]
        split = {key: calibration[key] for key in ("forward_s", "observe_s", "tokenize_s")}
        result["calibration"] = {
            "scheme": "fp8", "windows": calibration["windows"],
            "seq_len": calibration["seq_len"], "observers": calibration["observers"],
            "wall_seconds": seconds, "calibrate_seconds": timings["calibrate_s"],
            "split_seconds": split,
            "forward_fraction": split["forward_s"] / timings["calibrate_s"],
            "quantize_weights_seconds": timings["quantize_weights_s"],
            "peak_rss_bytes": report["peak_rss_bytes"],
        }
        targets = targets and result["calibration"]["forward_fraction"] > 0.5
        print(f"calibration fp8 ({calibration['windows']} window of "
              f"{calibration['seq_len']} tokens): {timings['calibrate_s']:.1f} s, "
              f"forward {100 * result['calibration']['forward_fraction']:.0f}%, "
              f"observers {split['observe_s']:.2f} s, tokenizing {split['tokenize_s']:.2f} s; "
              f"peak RSS {report['peak_rss_bytes'] / 2**20:.0f} MiB", flush=True)
    result["meets_target"] = targets
    benchlib.write_result(a.out, result)
    return 0 if targets else 1


if __name__ == "__main__":
    sys.exit(main())
