#!/usr/bin/python3
"""Perplexity under each scheme with and without the quantization
algorithms, as Markdown tables for docs/algorithms.md, on two models:

  tiny-llama           the bundled model (models/tiny-llama);
  tiny-llama-outliers  the same model given the activation outliers of large
                       LLMs by scripts/make_outlier_model.py: power-of-two
                       factors moved between norms/up_proj and the linears
                       reading them, so it computes the same function (same
                       float perplexity) but quantizes like a large model.

Every row is one `quark-quantize` run: calibration on the bundled
data/tom-sawyer.txt (--num-calib-data windows of --seq-len tokens),
perplexity on the first --num-eval-data windows of data/sherlock-holmes.txt
(text the model never trained on). Results: bench/results/
algorithm-perplexity.json and the tables on stdout (or --markdown FILE).
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

# (scheme, --quant_algo list, extra quark-quantize arguments)
ROWS = [
    ("int4_wo_128", [], []),
    ("int4_wo_128", ["awq"], []),
    ("int4_wo_128", ["gptq"], []),
    ("int4_wo_128", ["rotation", "gptq"], []),
    ("int4_wo_32", [], []),
    ("int4_wo_32", ["awq"], []),
    ("int4_wo_32", ["gptq"], []),
    ("int4_wo_32", ["rotation", "gptq"], []),
    ("w_int8_a_int8_per_tensor_sym", [], []),
    ("w_int8_a_int8_per_tensor_sym", ["smoothquant"], []),
    ("w_int8_a_int8_per_tensor_sym", ["autosmoothquant"], []),
    ("w_int8_a_int8_per_tensor_sym", ["rotation"], []),
    ("w_int8_a_int8_per_tensor_sym", ["rotation"], ["--rotation_r4"]),
    ("fp8", [], []),
    ("fp8", ["rotation"], []),
    ("fp8", ["rotation"], ["--rotation_r4"]),
]


def label(algos, extra):
    names = [("rotation (R1+R4)" if a == "rotation" and "--rotation_r4" in extra
              else "rotation (R1)" if a == "rotation" else a) for a in algos]
    return ", ".join(names) or "none (RTN)"


def run_table(tool, model, args, tmp):
    rows = []
    for index, (scheme, algos, extra) in enumerate(ROWS):
        report = os.path.join(tmp, f"{index}.json")
        out = os.path.join(tmp, f"{os.path.basename(model)}-{index}")
        cmd = [tool, "--model_dir", model, "--quant_scheme", scheme,
               "--output_dir", out,
               "--num_calib_data", str(args.num_calib_data),
               "--seq_len", str(args.seq_len), "--tasks", "perplexity",
               "--eval_dataset",
               os.path.join(ROOT, "data", "sherlock-holmes.txt"),
               "--num_eval_data", str(args.num_eval_data),
               "--report-json", report] + extra
        if algos:
            cmd += ["--quant_algo", ",".join(algos)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(report) as f:
            r = json.load(f)
        timings = r.get("timings", {})
        rows.append({"scheme": scheme, "algorithms": algos, "extra": extra,
                     "label": label(algos, extra),
                     "perplexity": r["perplexity_quantized"],
                     "float": r["perplexity_float"],
                     "algorithms_s": timings.get("algorithms_s", 0.0)})
        print(f"{os.path.basename(model)} {scheme} {rows[-1]['label']}: "
              f"{r['perplexity_quantized']:.4f}", file=sys.stderr, flush=True)
    return rows


def markdown(name, rows):
    float_ppl = rows[0]["float"]
    lines = [
        f"**{name}**: float perplexity **{float_ppl:.4f}**.",
        "",
        "| scheme | algorithms | perplexity | vs float | algorithm time (s) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['scheme']} | {row['label']}"
            f" | {row['perplexity']:.4f} | {row['perplexity'] - float_ppl:+.4f}"
            f" | {row['algorithms_s']:.1f} |")
    return "\n".join(lines) + "\n"


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
    tables, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        outliers = os.path.join(tmp, "tiny-llama-outliers")
        subprocess.run([sys.executable,
                        os.path.join(ROOT, "scripts", "make_outlier_model.py"),
                        args.model, outliers], check=True,
                       stdout=subprocess.DEVNULL)
        for name, model in (("tiny-llama", args.model),
                            ("tiny-llama-outliers", outliers)):
            rows = run_table(tool, model, args, tmp)
            results[name] = {"float_perplexity": rows[0]["float"],
                             "rows": rows}
            tables.append(markdown(name, rows))
    table = "\n".join(tables)
    result = {"benchmark": "algorithm-perplexity",
              "date": datetime.date.today().isoformat(),
              "cpu": benchlib.cpu_model(), "model": args.model,
              "num_calib_data": args.num_calib_data,
              "num_eval_data": args.num_eval_data, "seq_len": args.seq_len,
              "models": results}
    benchlib.write_result(args.output, result)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(table)


if __name__ == "__main__":
    main()
