"""Checks two .npy arrays agree: max |a - b| <= bound * max |b|.

  max_abs_diff.py A.npy B.npy --relative-bound X"""
import argparse
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--relative-bound", type=float, required=True)
    args = p.parse_args()
    a, b = np.load(args.a), np.load(args.b)
    if a.shape != b.shape:
        sys.exit(f"shapes differ: {a.shape} vs {b.shape}")
    diff = float(np.abs(a.astype(np.float64) - b).max())
    scale = float(np.abs(b).max())
    print(f"max abs diff {diff:.3g} of max abs {scale:.3g}")
    if diff > args.relative_bound * scale:
        sys.exit(f"difference {diff:.3g} exceeds {args.relative_bound} * "
                 f"{scale:.3g}")


if __name__ == "__main__":
    main()
