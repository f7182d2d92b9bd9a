#!/usr/bin/python3
"""Writes a copy of a Hugging Face folder whose linear weights are
fake-quantized with Quark's integer weight-only formulas, in PyTorch and
independently of the C++ numerics: the reference side of the quantized
perplexity test.

    fake_quantize_checkpoint.py MODEL OUT --bits 4 [--group-size 128]
        [--asymmetric] [--exclude lm_head]

Per group of --group-size input features (or per output channel when it is
omitted), from the bf16 weights as float32:
  symmetric  scale = max(|min|, |max|) / ((qmax - qmin) / 2), floored at
             float32 eps; zero point 0; int range [-2^(b-1), 2^(b-1) - 1]
  asymmetric (uint) scale = (max(max, 0) - min(min, 0)) / (qmax - qmin),
             zero point clamp(qmin - round(min(min, 0) / scale)) from that
             float32 scale
The scale is then rounded to bf16 (Quark's scale_type "float" is the model's
dtype), codes are clamp(round_half_even(w * (1 / scale)) + zp), and the
dequantized weights (codes - zp) * scale are stored as bf16.
"""

import argparse
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import hfmodel  # noqa: E402

EPS = torch.finfo(torch.float32).eps


def fake_quantize(w, bits, group_size, asymmetric):
    rows, cols = w.shape
    group = group_size or cols
    if cols % group:
        sys.exit(f"{cols} input features are not a multiple of group size {group}")
    g = w.reshape(rows, cols // group, group)
    lo = torch.clamp(g.amin(dim=-1, keepdim=True), max=0)
    hi = torch.clamp(g.amax(dim=-1, keepdim=True), min=0)
    if asymmetric:
        qmin, qmax = 0, 2**bits - 1
        scale = torch.clamp((hi - lo) / float(qmax - qmin), min=EPS)
        # The zero point comes from the float32 scale; only then is the
        # scale rounded to the model's dtype (calculate_int_quant_params).
        zero = torch.clamp(qmin - torch.round(lo / scale), qmin, qmax)
        scale = scale.to(torch.bfloat16).float()
    else:
        qmin, qmax = -(2**(bits - 1)), 2**(bits - 1) - 1
        scale = torch.clamp(torch.maximum(-lo, hi) / ((qmax - qmin) / 2.0), min=EPS)
        scale = scale.to(torch.bfloat16).float()
        zero = torch.zeros_like(scale)
    codes = torch.clamp(torch.round(g * (1.0 / scale)) + zero, qmin, qmax)
    return ((codes - zero) * scale).reshape(rows, cols)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group-size", type=int, default=0)
    p.add_argument("--asymmetric", action="store_true")
    p.add_argument("--exclude", action="append", default=[])
    p.add_argument("--dtype", default="BF16", choices=["BF16", "F32"])
    a = p.parse_args()

    tensors = hfmodel.read_checkpoint(a.model)
    os.makedirs(a.out, exist_ok=True)
    for name in os.listdir(a.model):
        if not name.endswith(".safetensors") and not name.endswith(".index.json"):
            path = os.path.join(a.model, name)
            if os.path.isfile(path):
                shutil.copy(path, a.out)
    entries = []
    for name, array in tensors.items():
        layer = name[:-len(".weight")] if name.endswith(".weight") else None
        quantize = (layer is not None and array.ndim == 2 and "embed" not in name
                    and "norm" not in name and layer not in a.exclude)
        values = torch.from_numpy(np.array(array, dtype=np.float32))
        if quantize:
            values = fake_quantize(values, a.bits, a.group_size, a.asymmetric)
        result = values.numpy()
        entries.append((name, tuple(result.shape), lambda r=result: r))
    hfmodel.write_checkpoint(a.out, entries, dtype=a.dtype)


if __name__ == "__main__":
    main()
