#!/usr/bin/python3
"""Checks a quark-quantize --report-json against what the run asked for.

    check_quantize_report.py REPORT.json [--max-ppl-ratio R]
        [--shared-kv-scales] [--layer NAME=WEIGHT_DESCRIPTION ...]
        [--absent NAME ...] [--same-quantized OTHER.json]

--max-ppl-ratio     perplexity_quantized / perplexity_float must lie in
                    [1 / R, R]: the quantized model is neither broken nor
                    suspiciously identical to a different model.
--shared-kv-scales  every layer's k_proj and v_proj output scales are equal
                    (Quark's _build_kv_scale shares one per layer).
--layer             the named layer's weight is described exactly so.
--absent            the named layer is not quantized (excluded).
--same-quantized    the other report's quantized perplexity is identical.
"""

import argparse
import json
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("report")
    p.add_argument("--max-ppl-ratio", type=float)
    p.add_argument("--shared-kv-scales", action="store_true")
    p.add_argument("--layer", action="append", default=[])
    p.add_argument("--absent", action="append", default=[])
    p.add_argument("--same-quantized")
    a = p.parse_args()
    with open(a.report) as f:
        report = json.load(f)
    layers = {layer["name"]: layer for layer in report.get("layers", [])}
    problems = []
    if a.max_ppl_ratio:
        ratio = report["perplexity_quantized"] / report["perplexity_float"]
        print(f"perplexity ratio quantized / float: {ratio:.4f}")
        if not 1 / a.max_ppl_ratio <= ratio <= a.max_ppl_ratio:
            problems.append(f"ratio {ratio} outside [1/{a.max_ppl_ratio}, "
                            f"{a.max_ppl_ratio}]")
    if a.shared_kv_scales:
        pairs = 0
        for name, layer in layers.items():
            if name.endswith(".k_proj"):
                other = layers[name[:-len("k_proj")] + "v_proj"]
                pairs += 1
                if layer["output_scale"] is None or \
                        layer["output_scale"] != other["output_scale"]:
                    problems.append(f"{name}: output scale {layer['output_scale']}"
                                    f" != v_proj's {other['output_scale']}")
        if pairs == 0:
            problems.append("no k_proj layers in the report")
    for entry in a.layer:
        name, description = entry.split("=", 1)
        got = layers.get(name, {}).get("weight")
        if got != description:
            problems.append(f"{name}: weight is {got!r}, expected {description!r}")
    for name in a.absent:
        if name in layers:
            problems.append(f"{name}: quantized, expected excluded")
    if a.same_quantized:
        with open(a.same_quantized) as f:
            other = json.load(f)
        if other["perplexity_quantized"] != report["perplexity_quantized"]:
            problems.append(f"quantized perplexity {report['perplexity_quantized']!r}"
                            f" != {other['perplexity_quantized']!r}")
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
