#!/usr/bin/python3
"""hf_format export of a 7B-shaped model: time and memory against a plain
copy of what it writes.

For each scheme (int4_wo_128 and ptpc_fp8 by default: weight-only and
per-channel fp8, neither needs calibration),
`quark-quantize --model_export hf_format --skip_evaluation` runs on the
random checkpoint with Llama-2-7B shapes (13.5 GB of bf16, built once
under the build folder), and its report gives the export's own time
(`export_s`: reading the stored codes back, re-laying them in Quark's
layout, writing the shards and the config) and the process's peak RSS.
The reference, run right after each export, copies the export's
safetensors shards into another folder (read + write of the same bytes:
the least any exporter does once the codes are stored). The figure is the
ratio of the medians over --repeats alternating runs, copy time / export
time. Targets: ratio >= 0.5; peak RSS < 2 GB.

Results: bench/results/export-throughput.json.
"""

import argparse
import datetime
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

ROOT = benchlib.ROOT


def export(build, model, out, scheme, threads):
    """Runs quark-quantize with an hf_format export; returns its report."""
    shutil.rmtree(out, ignore_errors=True)
    report = out + ".report.json"
    subprocess.run([os.path.join(build, "bin", "quark-quantize"), "--model_dir", model,
                    "--output_dir", out, "--quant_scheme", scheme, "--skip_evaluation",
                    "--model_export", "hf_format", "--num-threads", str(threads),
                    "--report-json", report],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(report) as f:
        result = json.load(f)
    os.remove(report)
    return result


def copy_shards(source, target):
    """Copies the export's safetensors files; returns (bytes, seconds)."""
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    total = 0
    start = time.perf_counter()
    for path in sorted(glob.glob(os.path.join(source, "*.safetensors"))):
        shutil.copyfile(path, os.path.join(target, os.path.basename(path)))
        total += os.path.getsize(path)
    seconds = time.perf_counter() - start
    shutil.rmtree(target)
    return total, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--model", help="an existing checkpoint folder instead of the 7B-shaped one")
    p.add_argument("--schemes", default="int4_wo_128,ptpc_fp8")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="quark-quantize threads (0: all)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "export-throughput.json"))
    a = p.parse_args()

    model = a.model or benchlib.llama_7b(a.build)
    scratch = os.path.join(a.build, "bench-out", "export")
    copy_target = os.path.join(a.build, "bench-out", "export-copy")
    os.makedirs(os.path.dirname(scratch), exist_ok=True)
    result = {
        "benchmark": "export-throughput", "cpu": benchlib.cpu_model(),
        "cores": os.cpu_count(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "model": model, "repeats": a.repeats, "schemes": {},
    }
    meets = True
    for scheme in a.schemes.split(","):
        exports, copies, rss, quantize, output_bytes, shards = [], [], [], [], 0, 0
        for repeat in range(a.repeats):
            report = export(a.build, model, scratch, scheme, a.threads)
            exports.append(report["timings"]["export_s"])
            quantize.append(report["timings"]["quantize_weights_s"])
            rss.append(report["peak_rss_bytes"])
            shards = len(report["export"]["shards"])
            findings = [f for f in report["export"]["check"] if f["severity"] == "error"]
            if findings:
                raise SystemExit(f"{scheme}: the export fails its check: {findings}")
            output_bytes, seconds = copy_shards(scratch, copy_target)
            copies.append(seconds)
            print(f"[{scheme} {repeat + 1}/{a.repeats}] export {exports[-1]:.2f} s, "
                  f"copy of its {output_bytes / 1e9:.2f} GB {copies[-1]:.2f} s, "
                  f"peak RSS {rss[-1] / 2**20:.0f} MiB", flush=True)
        shutil.rmtree(scratch, ignore_errors=True)
        export_median, copy_median = statistics.median(exports), statistics.median(copies)
        entry = {
            "export_seconds": exports, "export_seconds_median": export_median,
            "copy_seconds": copies, "copy_seconds_median": copy_median,
            "ratio_to_copy": copy_median / export_median,
            "output_bytes": output_bytes, "shards": shards,
            "export_bytes_per_s": output_bytes / export_median,
            "quantize_weights_seconds": quantize,
            "peak_rss_bytes": rss, "peak_rss_bytes_max": max(rss),
        }
        entry["meets_target"] = entry["ratio_to_copy"] >= 0.5 and max(rss) < 2e9
        meets = meets and entry["meets_target"]
        result["schemes"][scheme] = entry
        print(f"{scheme}: export {export_median:.2f} s for {output_bytes / 1e9:.2f} GB "
              f"({entry['export_bytes_per_s'] / 1e9:.2f} GB/s), "
              f"{entry['ratio_to_copy']:.2f}x a copy of the output, peak RSS "
              f"{max(rss) / 2**20:.0f} MiB", flush=True)
    result["meets_target"] = meets
    benchlib.write_result(a.out, result)
    return 0 if meets else 1


if __name__ == "__main__":
    sys.exit(main())
