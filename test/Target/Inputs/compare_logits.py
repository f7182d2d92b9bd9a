"""Compares two runs' logits ([positions, vocab] .npy) as next-token
probability distributions: the largest absolute probability difference,
the mean KL divergence and the top-1 agreement.

  compare_logits.py RUN.npy REF.npy --max-prob-diff X [--min-top1 F]
      [--closer-than OTHER.npy --ratio R]

--closer-than: RUN must be at least 1/R times closer (in max probability
difference) to REF than OTHER is, so a quantized model's runtime agreeing
with its quantized reference is told apart from agreeing with the float
model. Exits 1 when a bound fails."""
import argparse
import sys

import numpy as np


def probabilities(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted.astype(np.float64))
    return e / e.sum(axis=-1, keepdims=True)


def load(path, shape=None):
    a = np.load(path)
    return a.reshape(shape if shape is not None else (-1, a.shape[-1]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("ref")
    p.add_argument("--max-prob-diff", type=float, required=True)
    p.add_argument("--min-top1", type=float, default=0.0)
    p.add_argument("--closer-than")
    p.add_argument("--ratio", type=float, default=4.0)
    args = p.parse_args()
    run = load(args.run)
    ref = load(args.ref, run.shape)
    pr, pf = probabilities(run), probabilities(ref)
    diff = float(np.abs(pr - pf).max())
    kl = float(np.mean(np.sum(pf * (np.log(pf) - np.log(pr)), axis=-1)))
    top1 = float(np.mean(run.argmax(-1) == ref.argmax(-1)))
    print(f"positions {run.shape[0]}, max prob diff {diff:.5f}, "
          f"mean KL {kl:.6f}, top-1 agreement {top1:.3f}")
    ok = diff <= args.max_prob_diff and top1 >= args.min_top1
    if args.closer_than:
        other = probabilities(load(args.closer_than, run.shape))
        other_diff = float(np.abs(other - pf).max())
        print(f"other vs ref: max prob diff {other_diff:.5f} "
              f"(ratio {other_diff / max(diff, 1e-12):.1f})")
        ok = ok and diff * args.ratio <= other_diff
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
