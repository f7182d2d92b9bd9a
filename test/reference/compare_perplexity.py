#!/usr/bin/python3
"""Compares the perplexity of two reports (quark-quantize --report-json, or
a model's training_eval.json) within a relative tolerance.

    compare_perplexity.py A.json B.json [--rtol 1e-6] [--key-a K] [--key-b K]

--key-a / --key-b name the perplexity field of each file (default
"perplexity"; a quantizing run reports "perplexity_quantized").

Both must also agree on seq_len and windows when both give them.
"""

import argparse
import json
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rtol", type=float, default=1e-6)
    p.add_argument("--key-a", default="perplexity")
    p.add_argument("--key-b", default="perplexity")
    a = p.parse_args()
    with open(a.a) as f:
        first = json.load(f)
    with open(a.b) as f:
        second = json.load(f)
    for key in ("seq_len", "windows", "tokens"):
        if key in first and key in second and first[key] != second[key]:
            sys.exit(f"{key}: {first[key]} != {second[key]}")
    x, y = first[a.key_a], second[a.key_b]
    difference = abs(x - y) / abs(y)
    print(f"perplexity {x!r} vs {y!r}: relative difference {difference:.3e}")
    if not difference <= a.rtol:
        sys.exit(f"perplexities differ by {difference:.3e} > {a.rtol:.0e}")


if __name__ == "__main__":
    main()
