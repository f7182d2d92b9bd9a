#!/usr/bin/python3
"""Golden vectors for the MX6 / MX9 / BFP16 block simulations.

An independent float32 torch implementation of the block rules described in
docs/numerics.md (shared exponent of the block maximum, one prime bit per
element pair for MX6/MX9, BFP16's one-step exponent bump). Prints C++
initializers that test/unit/Support/BlockFloatTest.cpp pins. Run with Debian's
/usr/bin/python3 (python3-torch).
"""
import torch

torch.manual_seed(7)


def field_exponent(t):
    t = torch.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0)
    return ((t.view(torch.int32) >> 23) & 0xFF) - 127


def mx_two_level(block, quant_bits):
    finite = torch.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    max_exp = field_exponent(finite.abs().max())
    small = (max_exp - field_exponent(block)) >= 1
    pair_small = small.reshape(-1, 2).all(dim=1).repeat_interleave(2)
    shared = max_exp - pair_small.to(torch.int32)
    step = torch.pow(torch.tensor(2.0), (shared - quant_bits + 2).to(torch.float32))
    top = torch.pow(torch.tensor(2.0, dtype=torch.float64), max_exp.to(torch.float64) + 1)
    bound = torch.clamp(top - step.to(torch.float64), max=torch.finfo(torch.float32).max).to(torch.float32)
    max_steps = bound / step
    q = torch.round(block / step)
    q = torch.maximum(torch.minimum(q, max_steps), -max_steps)
    return q * step


def bfp16(block):
    x = torch.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    amax = x.abs().max()

    def step_of(a):
        s = torch.pow(torch.tensor(2.0), torch.floor(torch.log2(a)) - 6)
        return torch.where(s == 0, torch.tensor(torch.finfo(torch.float32).eps), s)

    step = step_of(amax)
    q = torch.clamp(torch.round(x * (1.0 / step)), -129, 128)
    if bool(((q >= 128) | (q < -128)).any()):
        step = step_of(amax * 2)
    q = torch.clamp(torch.round(x * (1.0 / step)), -128, 127)
    return q * step


def fmt(t):
    return "{" + ", ".join(repr(float(v)) + "f" for v in t.tolist()) + "}"


blocks = [
    torch.tensor([1.0, 0.3, -0.2, 0.26, 0.9, -0.05, 0.49, 0.51,
                  0.001, -0.7, 0.125, 0.126, 3.0, -2.9, 0.0, 0.0], dtype=torch.float32),
    (torch.randn(16) * 5).to(torch.float32),
    (torch.randn(16) * 1e-3).to(torch.float32),
]
for name, bits in (("mx6", 5), ("mx9", 8)):
    for i, b in enumerate(blocks):
        print(f"// {name} block {i}")
        print("in:", fmt(b))
        print("out:", fmt(mx_two_level(b, bits)))
bblocks = [
    torch.tensor([1.0, -0.5, 0.25, 0.99, 0.0078125, -1.0, 0.3, 0.7], dtype=torch.float32),
    torch.tensor([127.9, 1.0, -3.0, 64.0, 0.1, -100.0, 12.0, 0.0], dtype=torch.float32),
    torch.tensor([1.99, 0.001, -0.5, 1.0, 1.5, 0.25, -1.98, 0.015625], dtype=torch.float32),
    (torch.randn(8) * 3).to(torch.float32),
]
for i, b in enumerate(bblocks):
    print(f"// bfp16 block {i}")
    print("in:", fmt(b))
    print("out:", fmt(bfp16(b)))
