#!/usr/bin/python3
"""Golden values for the histogram observers (percentile, MSE, histogram).

An independent torch implementation of the algorithm docs/numerics.md
describes for Quark's PerTensorHistogramObserver / PercentileObserver /
MSEObserver: a running torch.histc histogram (linspace edges, grown by whole
bins with arange edges), the percentile's cumulative search, and the MSE
search over bin centres with torch's fake quantization. It feeds the same
deterministic batches as test/unit/Support/HistogramObserverTest.cpp and
prints C++ initializers that the test pins. Run with Debian's
/usr/bin/python3 (python3-torch).
"""
import torch

EPS = torch.finfo(torch.float32).eps
TINY = torch.finfo(torch.float32).tiny


def batch(seed, count, factor):
    """The LCG batch of the C++ test: exact multiples of 1/1024, every
    seventh value zero."""
    state = seed
    values = []
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        v = ((state >> 40) % 20001 - 10000) / 1024.0 * factor
        values.append(0.0 if i % 7 == 0 else v)
    return torch.tensor(values, dtype=torch.float32)


class Histogram:
    def __init__(self, bins, symmetric, skip_zeros):
        self.bins, self.symmetric, self.skip_zeros = bins, symmetric, skip_zeros
        self.hist = None
        self.edges = None

    def observe(self, x):
        x = x.float()
        if self.skip_zeros:
            x = x[x != 0]
        if self.symmetric:
            x = x.abs()
            x_min, x_max = torch.tensor(0.0), x.max()
        else:
            x_min, x_max = x.min(), x.max()
        if x_min == x_max:
            span = max(abs(float(x_min)), 1.0) * self.bins * EPS
            x_max = torch.tensor(float(x_min) + max(span, TINY), dtype=torch.float32)
        if self.hist is None:
            self.hist = torch.histc(x, bins=self.bins, min=float(x_min), max=float(x_max))
            self.edges = torch.linspace(float(x_min), float(x_max), self.bins + 1)
            return
        if x_min < self.edges[0]:
            width = (self.edges[1] - self.edges[0]).item()
            self.bins += int(((self.edges[0] - x_min) / width).ceil().item())
            self.edges = torch.arange(float(x_min - width), self.edges[-1].item(), width)
        if x_max > self.edges[-1]:
            width = (self.edges[1] - self.edges[0]).item()
            self.bins += int(((x_max - self.edges[-1]) / width).ceil().item())
            self.edges = torch.arange(self.edges[0].item(), float(x_max + width), width)
        hist = torch.histc(x, bins=self.bins, min=self.edges[0].item(), max=self.edges[-1].item())
        hist[: self.hist.numel()] += self.hist
        self.hist = hist


def percentile_max(h, percentile=99.99999999):
    total = h.hist.sum()
    cdf = torch.cumsum(h.hist / total, dim=0)
    target = min(percentile / 100.0, cdf[-1].item())
    idx = (cdf >= target).nonzero().min().item()
    return h.edges[idx].item()


def round_e4m3(y):
    """Round-to-nearest-even to float8 e4m3fn (what .to(torch.float8_e4m3fn)
    does, spelled out: Debian's torch predates the dtype)."""
    magnitude = y.abs()
    exponent = torch.floor(torch.log2(torch.clamp(magnitude, min=2.0 ** -6)))
    quantum = torch.pow(2.0, exponent - 3)
    return torch.round(y / quantum) * quantum


def int_range(dtype):
    return {"int8": (-128, 127), "uint8": (0, 255), "int4": (-8, 7), "uint4": (0, 15)}[dtype]


def mse_max(h, dtype, symmetric, start_bin=2045):
    centers = (h.edges[1:] + h.edges[:-1]) / 2
    start = min(start_bin, max(0, len(centers) - 1))
    errors = []
    for i in range(start, len(centers)):
        amax = centers[i]
        if dtype == "fp8_e4m3":
            scale = amax / 448.0
            q = round_e4m3(torch.clamp(centers / scale, -448.0, 448.0)) * scale
        else:
            qmin, qmax = int_range(dtype)
            if symmetric:
                scale = torch.clamp(amax / (float(qmax - qmin) / 2), min=EPS)
                zp = 0
            else:
                scale = torch.clamp(amax / float(qmax - qmin), min=EPS)
                zp = qmin
            q = torch.fake_quantize_per_tensor_affine(centers, float(scale), zp, qmin, qmax)
        errors.append(((q - centers) ** 2 * h.hist).mean())
    best = int(torch.argmin(torch.stack(errors)))
    return centers[start + best].item()


def hexf(v):
    return float(v).hex()


def main():
    batches = [batch(11, 5000, 1.0), batch(12, 5000, 3.0), batch(13, 5000, 2.0)]
    cases = [
        ("percentile_int8", 4200, True, True, lambda h: percentile_max(h)),
        ("mse_int8", 2048, True, False, lambda h: mse_max(h, "int8", True)),
        ("mse_fp8", 2048, True, False, lambda h: mse_max(h, "fp8_e4m3", True)),
        ("mse_uint8_asym", 2048, False, False, lambda h: mse_max(h, "uint8", False)),
        ("histogram_asym", 2048, False, False, lambda h: h.edges[-1].item()),
    ]
    for name, bins, symmetric, skip_zeros, select in cases:
        h = Histogram(bins, symmetric, skip_zeros)
        for b in batches:
            h.observe(b)
        print(f"  // {name}")
        print(f"  {{{h.hist.numel()}, {h.edges.numel()}, {hexf(h.hist.sum())}, "
              f"{hexf(h.edges[0])}, {hexf(h.edges[-1])}, {hexf(h.edges[h.edges.numel() // 3])}, "
              f"{hexf(select(h))}}},")


if __name__ == "__main__":
    main()
