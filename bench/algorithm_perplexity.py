#!/usr/bin/python3
"""Perplexity of the bundled model under each scheme with and without the
quantization algorithms, as a Markdown table for docs/algorithms.md.

Every row is one `quark-quantize` run: calibration on the bundled
data/tom-sawyer.txt (--num-calib-data windows of --seq-len tokens),
perplexity on the first --num-eval-data windows of data/sherlock-holmes.txt
(text the model never trained on). Results: bench/results/
algorithm-perplexity.json and the table on stdout (or --markdown FILE).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

ROWS = [
    ("int4_wo_128", []),
    ("int4_wo_128", ["gptq"]),
    ("int4_wo_32", []),
    ("int4_wo_32", ["gptq"]),
    ("int4_wo_per_channel", []),
    ("int4_wo_per_channel", ["gptq"]),
    ("uint4_wo_128", []),
    ("uint4_wo_128", ["gptq"]),
    ("w_int8_a_int8_per_tensor_sym", []),
    ("w_int8_a_int8_per_tensor_sym", ["smoothquant"]),
    ("w_int8_a_int8_per_tensor_sym", ["smoothquant", "gptq"]),
    ("fp8", []),
    ("fp8", ["gptq"]),
    ("mxfp4", []),
    ("mxfp4", ["gptq"]),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=os.path.join(ROOT, "models", "tiny-llama"))
    p.add_argument("--num-calib-data", type=int, default=64)
    p.add_argument("--num-eval-data", type=int, default=40)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--build", default=os.environ.get(
        "QUARK_BUILD_DIR", os.path.join(ROOT, "build")))
    p.add_argument("--markdown")
    p.add_argument("--output", default=os.path.join(
        HERE, "results", "algorithm-perplexity.json"))
    args = p.parse_args()
    tool = os.path.join(args.build, "bin", "quark-quantize")
    rows, floats = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for index, (scheme, algos) in enumerate(ROWS):
            report = os.path.join(tmp, f"{index}.json")
            cmd = [tool, "--model_dir", args.model, "--quant_scheme", scheme,
                   "--output_dir", os.path.join(tmp, str(index)),
                   "--num_calib_data", str(args.num_calib_data),
                   "--seq_len", str(args.seq_len), "--tasks", "perplexity",
                   "--eval_dataset",
                   os.path.join(ROOT, "data", "sherlock-holmes.txt"),
                   "--num_eval_data", str(args.num_eval_data),
                   "--report-json", report]
            if algos:
                cmd += ["--quant_algo", ",".join(algos)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            with open(report) as f:
                r = json.load(f)
            floats.add(round(r["perplexity_float"], 6))
            timings = r.get("timings", {})
            rows.append({"scheme": scheme, "algorithms": algos,
                         "perplexity": r["perplexity_quantized"],
                         "float": r["perplexity_float"],
                         "algorithms_s": timings.get("algorithms_s", 0.0)})
            print(f"{scheme} {'+'.join(algos) or 'RTN'}: "
                  f"{r['perplexity_quantized']:.4f}", file=sys.stderr)
    float_ppl = rows[0]["float"]
    lines = [
        f"Float perplexity: **{float_ppl:.4f}**.",
        "",
        "| scheme | algorithms | perplexity | vs float | algorithm time (s) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['scheme']} | {', '.join(row['algorithms']) or 'none (RTN)'}"
            f" | {row['perplexity']:.4f} | {row['perplexity'] - float_ppl:+.4f}"
            f" | {row['algorithms_s']:.1f} |")
    table = "\n".join(lines) + "\n"
    result = {"benchmark": "algorithm-perplexity",
              "date": datetime.date.today().isoformat(),
              "cpu": benchlib.cpu_model(), "model": args.model,
              "num_calib_data": args.num_calib_data,
              "num_eval_data": args.num_eval_data, "seq_len": args.seq_len,
              "float_perplexity": float_ppl, "rows": rows}
    benchlib.write_result(args.output, result)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(table)


if __name__ == "__main__":
    main()
