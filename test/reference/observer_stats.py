#!/usr/bin/python3
"""Per-tensor calibration statistics from the PyTorch reference model.

Runs the first --windows windows of --seq-len tokens of --dataset (the
folder's SentencePiece tokenizer, BOS once at the start, as quark-calibrate
cuts them) through test/reference/hf_reference.py and records, for every
linear layer, the running minimum and maximum of its input, and of its
output for the layers named by --outputs (fnmatch patterns). Prints JSON:
{"<layer>.input": [min, max], "<layer>.output": [min, max], ...}.

    observer_stats.py MODEL_DIR --dataset FILE --seq-len 128 --windows 4

With --compare MLIR it reads the calibrated quark.observe ops of that file
instead of printing, and checks that every per-tensor observer agrees with
the reference to --rtol, exiting 1 with the worst mismatch otherwise.

With --histogram percentile|mse the statistic is the maximum Quark's
percentile or MSE observer selects (histogram_golden.py's implementation,
over windows run --batch-size at a time as the calibration batches them):
the compiled side's is computed the same way from the histogram the
calibration stored, so the comparison checks what calibration collected.
"""

import argparse
import fnmatch
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference  # noqa: E402
import histogram_golden  # noqa: E402


def reference_stats(a):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.model_dir, "tokenizer.model"))
    with open(a.dataset, encoding="utf-8") as f:
        ids = [sp.bos_id()] + sp.encode(f.read())
    config = hf_reference.hfmodel.read_config(a.model_dir)
    weights = hf_reference.Weights(a.model_dir)
    stats = {}
    histograms = {}

    def record(name, tensor):
        if a.histogram:
            if name not in histograms:
                bins = 4200 if a.histogram == "percentile" else 2048
                histograms[name] = histogram_golden.Histogram(bins, True, a.histogram == "percentile")
            histograms[name].observe(tensor.reshape(-1))
            return
        low, high = float(tensor.min()), float(tensor.max())
        if name in stats:
            low, high = min(low, stats[name][0]), max(high, stats[name][1])
        stats[name] = [low, high]

    plain_linear = hf_reference.Weights.linear

    def observed_linear(self, x, prefix, bias=False):
        record(prefix + ".input", x)
        y = plain_linear(self, x, prefix, bias)
        if any(fnmatch.fnmatchcase(prefix, p) for p in a.outputs):
            record(prefix + ".output", y)
        return y

    hf_reference.Weights.linear = observed_linear
    with torch.no_grad():
        for first in range(0, a.windows, a.batch_size):
            count = min(a.batch_size, a.windows - first)
            window = torch.as_tensor(ids[first * a.seq_len:(first + count) * a.seq_len]).view(count, a.seq_len)
            hf_reference.llama_family(config, weights, window)
    for name, histogram in histograms.items():
        stats[name] = [0.0, selected_max(histogram, a)]
    return stats


def selected_max(histogram, a):
    if a.histogram == "percentile":
        return histogram_golden.percentile_max(histogram)
    return histogram_golden.mse_max(histogram, a.dtype, True)


OBSERVE = re.compile(r'quark\.observe .*?\{(.*)\}')


def scalar(attrs, key):
    m = re.search(key + r' = dense<([^>]*)> : tensor<f32>', attrs)
    return float(m.group(1)) if m else None


def floats(attrs, key):
    """A 1-D f32 elements attribute, printed as hex or as a list."""
    m = re.search(key + r' = dense<([^>]*)> : tensor<\d+xf32>', attrs)
    if not m:
        return None
    text = m.group(1)
    if text.startswith('"0x'):
        return torch.frombuffer(bytearray.fromhex(text[3:-1]), dtype=torch.float32).clone()
    return torch.tensor([float(v) for v in text.strip("[]").split(",")], dtype=torch.float32)


def compiled_stats(path, a):
    stats = {}
    with open(path) as f:
        for line in f:
            m = OBSERVE.search(line)
            if not m:
                continue
            attrs = m.group(1)
            name = re.search(r'name = "([^"]*)"', attrs).group(1)
            if a.histogram:
                counts, edges = floats(attrs, "histogram"), floats(attrs, "histogram_edges")
                if counts is None or edges is None:
                    sys.exit(f"{path}: observer {name} has no histogram")
                histogram = histogram_golden.Histogram(len(counts), True, a.histogram == "percentile")
                histogram.hist, histogram.edges = counts, edges
                stats[name] = [0.0, selected_max(histogram, a)]
                continue
            low, high = scalar(attrs, "min_values"), scalar(attrs, "max_values")
            if low is None or high is None:
                sys.exit(f"{path}: observer {name} is not a calibrated per-tensor observer")
            stats[name] = [low, high]
    return stats


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--dataset", required=True)
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--windows", type=int, required=True)
    p.add_argument("--outputs", nargs="*", default=["*k_proj", "*v_proj"])
    p.add_argument("--compare", help="calibrated MLIR to check against the reference")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--histogram", choices=["percentile", "mse"])
    p.add_argument("--dtype", default="int8", help="MSE: int8, uint8, int4, uint4 or fp8_e4m3")
    a = p.parse_args()
    torch.set_num_threads(1)
    reference = reference_stats(a)
    if not a.compare:
        json.dump(reference, sys.stdout, indent=1, sort_keys=True)
        print()
        return
    compiled = compiled_stats(a.compare, a)
    if not compiled:
        sys.exit(f"{a.compare}: no quark.observe ops")
    worst, worst_name = 0.0, None
    for name, (low, high) in sorted(compiled.items()):
        if name not in reference:
            sys.exit(f"{name}: observed by the compiler but not a tensor of the reference")
        for got, want in ((low, reference[name][0]), (high, reference[name][1])):
            error = abs(got - want) / max(abs(want), 1e-12)
            if error > worst:
                worst, worst_name = error, f"{name}: {got} vs reference {want}"
    missing = sorted(set(reference) - set(compiled))
    print(f"{len(compiled)} observers compared, {len(missing)} reference tensors unobserved, "
          f"worst relative difference {worst:.3g}" + (f" ({worst_name})" if worst_name else ""))
    if worst > a.rtol:
        sys.exit(1)


if __name__ == "__main__":
    main()
