#!/usr/bin/python3
"""Opening a checkpoint costs O(header): time and memory on a 7B-shaped one.

Builds (once, cached under the build folder) a random-weight checkpoint
with Llama-2-7B shapes (scripts/make_random_model.py --preset llama-7b,
about 13.5 GB of bf16) and measures, --repeats times:
  * quark-inspect DIR --open-stats: opening and validating the checkpoint
    (headers, offsets, the tensor index) and the process's peak RSS;
  * quark-translate --import-hf DIR: importing it into quark IR.
Targets: opening well under a second; peak RSS far below the file size.
Results: bench/results/checkpoint-open.json.
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, ".."))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--model", help="an existing checkpoint folder instead of the 7B-shaped one")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=os.path.join(HERE, "results", "checkpoint-open.json"))
    a = p.parse_args()

    model = a.model or benchlib.llama_7b(a.build)
    inspect = os.path.join(a.build, "bin", "quark-inspect")
    translate = os.path.join(a.build, "bin", "quark-translate")

    opens, rss, imports = [], [], []
    checkpoint_bytes = ir_bytes = 0
    for _ in range(a.repeats):
        out = subprocess.run([inspect, model, "--open-stats"], check=True,
                             capture_output=True, text=True).stdout
        stats = dict(zip(*[iter(out.split("stats:", 1)[1].split())] * 2))
        opens.append(float(stats["open_s"]))
        rss.append(int(stats["peak_rss_bytes"]))
        checkpoint_bytes = int(stats["checkpoint_bytes"])
        start = time.perf_counter()
        ir = subprocess.run([translate, "--import-hf", model], check=True,
                            capture_output=True).stdout
        imports.append(time.perf_counter() - start)
        ir_bytes = len(ir)
    result = {
        "benchmark": "checkpoint-open", "cpu": benchlib.cpu_model(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "model": model, "checkpoint_bytes": checkpoint_bytes, "repeats": a.repeats,
        "open_seconds": opens, "open_seconds_median": statistics.median(opens),
        "peak_rss_bytes": rss, "peak_rss_bytes_median": statistics.median(rss),
        "rss_fraction_of_checkpoint": statistics.median(rss) / checkpoint_bytes,
        "import_seconds": imports, "import_seconds_median": statistics.median(imports),
        "ir_bytes": ir_bytes,
    }
    result["meets_target"] = (result["open_seconds_median"] < 1.0 and
                              result["rss_fraction_of_checkpoint"] < 0.05)
    print(f"open {result['open_seconds_median'] * 1000:.1f} ms, peak RSS "
          f"{result['peak_rss_bytes_median'] / 2**20:.0f} MiB for a "
          f"{checkpoint_bytes / 2**30:.1f} GiB checkpoint "
          f"({100 * result['rss_fraction_of_checkpoint']:.2f}%), import "
          f"{result['import_seconds_median']:.2f} s, IR {ir_bytes / 1024:.0f} KiB")
    benchlib.write_result(a.out, result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
