"""Compares two runs' logits ([positions, vocab] .npy) as next-token
probability distributions: the largest absolute probability difference,
the mean KL divergence and the top-1 agreement.

  compare_logits.py RUN.npy REF.npy --max-prob-diff X [--min-top1 F]
      [--closer-than OTHER.npy --ratio R [--per-position]]
      [--within-noise NOISE.npy ... [--slack S]]

--closer-than: RUN must be at least 1/R times closer (in max probability
difference) to REF than OTHER is, so a quantized model's runtime agreeing
with its quantized reference is told apart from agreeing with the float
model.
--per-position: the ratio is the median over positions of OTHER's to
RUN's max probability difference at that position. For MoE models, where
rounding noise flips a near-tied expert choice at the odd position and
moves that position's logits as much as quantization does.

--within-noise: REF's own runs under rounding noise (perturb_scales.py);
RUN's max probability difference and mean KL to REF must each be at most S
times (default 1.5) the largest of the noise runs' (or 1e-3 and 1e-6). For models with
activation quantizers, whose logits are discontinuous in their inputs.
Exits 1 when a bound fails."""
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


def distances(run, ref):
    """Max probability difference, mean KL(ref || run), top-1 agreement."""
    pr, pf = probabilities(run), probabilities(ref)
    diff = float(np.abs(pr - pf).max())
    kl = float(np.mean(np.sum(pf * (np.log(pf) - np.log(pr)), axis=-1)))
    top1 = float(np.mean(run.argmax(-1) == ref.argmax(-1)))
    return diff, kl, top1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("ref")
    p.add_argument("--max-prob-diff", type=float, required=True)
    p.add_argument("--min-top1", type=float, default=0.0)
    p.add_argument("--closer-than")
    p.add_argument("--ratio", type=float, default=4.0)
    p.add_argument("--per-position", action="store_true")
    p.add_argument("--within-noise", nargs="+", default=[])
    p.add_argument("--slack", type=float, default=1.5)
    args = p.parse_args()
    run = load(args.run)
    ref = load(args.ref, run.shape)
    pf = probabilities(ref)
    diff, kl, top1 = distances(run, ref)
    print(f"positions {run.shape[0]}, max prob diff {diff:.5f}, "
          f"mean KL {kl:.6f}, top-1 agreement {top1:.3f}")
    ok = diff <= args.max_prob_diff and top1 >= args.min_top1
    if args.closer_than:
        other = probabilities(load(args.closer_than, run.shape))
        other_diff = float(np.abs(other - pf).max())
        if args.per_position:
            run_at = np.abs(probabilities(run) - pf).max(axis=-1)
            other_at = np.abs(other - pf).max(axis=-1)
            ratio = float(np.median(other_at / np.maximum(run_at, 1e-12)))
            print(f"other vs ref: max prob diff {other_diff:.5f} "
                  f"(median ratio per position {ratio:.1f})")
        else:
            ratio = other_diff / max(diff, 1e-12)
            print(f"other vs ref: max prob diff {other_diff:.5f} "
                  f"(ratio {ratio:.1f})")
        ok = ok and ratio >= args.ratio
    if args.within_noise:
        noise = [distances(load(n, run.shape), ref) for n in args.within_noise]
        noise_diff = max(d for d, _, _ in noise)
        noise_kl = max(k for _, k, _ in noise)
        print(f"noise runs vs ref: max prob diff up to {noise_diff:.5f}, "
              f"mean KL up to {noise_kl:.6f}")
        # Floors: agreement to float32 summation noise when the noise runs
        # happen to flip no code at all.
        ok = (ok and diff <= max(args.slack * noise_diff, 1e-3)
              and kl <= max(args.slack * noise_kl, 1e-6))
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
