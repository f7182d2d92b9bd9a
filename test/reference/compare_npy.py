#!/usr/bin/python3
"""Compares two .npy arrays: same shape, max |a - b| <= --atol.

    compare_npy.py a.npy b.npy --atol 1e-4
Prints the maximum absolute difference; exits 1 when over the tolerance.
"""
import argparse
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--atol", type=float, required=True)
    args = parser.parse_args()
    a, b = np.load(args.a), np.load(args.b)
    if a.shape != b.shape:
        print(f"shape mismatch: {a.shape} vs {b.shape}")
        return 1
    diff = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    print(f"max abs diff {diff:.3e} (tolerance {args.atol:.1e}) over {a.size} values")
    return 0 if diff <= args.atol else 1


if __name__ == "__main__":
    sys.exit(main())
