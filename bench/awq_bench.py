#!/usr/bin/python3
"""AWQ on one Llama-shaped MLP (hidden 1024, intermediate 2816; SwiGLU)
with 4096 calibration tokens, uint4 asymmetric per-group 128 (Quark's
quantizer: min/max widened to include 0, scale (max-min)/15, zero point
-round(min/scale), codes round(x * (1/scale)) + zp clamped to [0, 15]):
quark-bench-awq (C++, OpenBLAS) against a PyTorch CPU implementation of
llm-awq's search written here, on the same data and thread count:

  scales  for each group (post_attention_layernorm -> gate/up, up -> down):
          ratio k/20, s = mean|x|^ratio clamped at 1e-4 and normalised,
          W <- Q(W*s)/s, loss = mean squared error of the group's linear
          outputs over all tokens (computed on the tokens);
  clip    per (output row, group of 128), max|w| * (1 - i/20) for i < 10,
          error = mean over 512 subsampled tokens (llm-awq's
          n_sample_token) of the group's partial output, on the scaled
          weights and the scaled inputs.

quark-bench-awq scores the same objectives from each input's second moment
(2/T) X^T X instead of the tokens (see include/quark/Algorithms/Awq.h), over
all tokens for the clip as well.

They run alternately --repeats times; reported: median wall times and the
ratio ours / PyTorch's, the phase split, our time with one and with two
threads, the chosen ratios of both, and the MLP output error (mean squared,
against the float MLP, on the calibration tokens) of round-to-nearest,
ours and PyTorch's.

Results: bench/results/awq.json.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402


def quark_uint4_group(w, group):
    """Quark's uint4 asymmetric per-group fake quantization of w [rows, cols]."""
    import torch
    rows, cols = w.shape
    g = w.reshape(rows, cols // group, group)
    lo = torch.clamp(g.amin(dim=-1, keepdim=True), max=0)
    hi = torch.clamp(g.amax(dim=-1, keepdim=True), min=0)
    scale = torch.clamp((hi - lo) / 15, min=2.0 ** -23)
    zp = torch.clamp(-torch.round(lo / scale), 0, 15)
    q = torch.clamp(torch.round(g * (1.0 / scale)) + zp, 0, 15)
    return ((q - zp) * scale).reshape(rows, cols)


def torch_awq(x, gate, up, down, group=128, grid=20, clip_tokens=512):
    import torch
    t = {}
    start = time.perf_counter()
    h = torch.nn.functional.silu(x @ gate.t()) * (x @ up.t())
    t["statistics_s"] = time.perf_counter() - start

    def search(inp, weights):
        x_max = inp.abs().view(-1, inp.shape[-1]).mean(0)
        org = [inp @ w.t() for w in weights]
        best, best_ratio, best_scales = float("inf"), -1, None
        for k in range(grid):
            ratio = k / grid
            s = x_max.pow(ratio).clamp(min=1e-4)
            s = s / (s.max() * s.min()).sqrt()
            loss = 0.0
            count = 0
            for w, o in zip(weights, org):
                wq = quark_uint4_group(w * s.view(1, -1), group) / s.view(1, -1)
                loss += float(((inp @ wq.t()) - o).float().pow(2).sum())
                count += o.numel()
            loss /= count
            if loss < best:
                best, best_ratio, best_scales = loss, ratio, s
        return best_scales, best_ratio

    s0 = time.perf_counter()
    s1, r1 = search(x, [gate, up])
    gate = gate * s1.view(1, -1)
    up = up * s1.view(1, -1)
    s2, r2 = search(h, [down])
    up = up / s2.view(-1, 1)
    down = down * s2.view(1, -1)
    t["scale_search_s"] = time.perf_counter() - s0

    def clip(w, inp):
        # llm-awq auto_clip_layer: [tokens] subsampled, batches of 64 rows.
        inp = inp[0::max(1, inp.shape[0] // clip_tokens)]
        inp = inp.reshape(1, inp.shape[0], -1, group)
        rows = w.shape[0]
        w_all = w.reshape(rows, 1, -1, group)
        best_max = []
        for b in range(0, rows, 64):
            wb = w_all[b:b + 64]
            org_max = wb.abs().amax(dim=-1, keepdim=True)
            best = org_max.clone()
            min_errs = torch.ones_like(org_max) * 1e9
            org_out = (inp * wb).sum(dim=-1)
            for i in range(int(grid * 0.5)):
                max_val = org_max * (1 - i / grid)
                cur = torch.clamp(wb, -max_val, max_val)
                q = quark_uint4_group(cur.reshape(cur.shape[0], -1), group)
                q = q.reshape(wb.shape)
                err = ((inp * q).sum(dim=-1) - org_out).pow(2).mean(dim=1)
                err = err.view(min_errs.shape)
                better = err < min_errs
                min_errs[better] = err[better]
                best[better] = max_val[better]
            best_max.append(best)
        best_max = torch.cat(best_max, dim=0)
        return torch.clamp(w_all, -best_max, best_max).reshape(w.shape)

    c0 = time.perf_counter()
    xs = x / s1.view(1, -1)
    hs = h / s2.view(1, -1)
    gate, up, down = clip(gate, xs), clip(up, xs), clip(down, hs)
    t["clip_s"] = time.perf_counter() - c0
    t["total_s"] = time.perf_counter() - start
    quantized = {"gate_q": quark_uint4_group(gate, group),
                 "up_q": quark_uint4_group(up, group),
                 "down_q": quark_uint4_group(down, group),
                 "s1": s1, "s2": s2}
    return quantized, t, (r1, r2)


def mlp(x, gate, up, down, s1=None):
    import torch
    if s1 is not None:
        x = x / s1.view(1, -1)
    return (torch.nn.functional.silu(x @ gate.t()) * (x @ up.t())) @ down.t()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--intermediate", type=int, default=2816)
    p.add_argument("--tokens", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--build", default=os.environ.get(
        "QUARK_BUILD_DIR", os.path.join(HERE, "..", "build")))
    p.add_argument("--output", default=os.path.join(HERE, "results",
                                                    "awq.json"))
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    tool = os.path.join(args.build, "bin", "quark-bench-awq")

    rng = np.random.default_rng(0)
    hidden, inter = args.hidden, args.intermediate
    # Normed hidden states with a few outlier channels, as LLM MLP inputs
    # have; Gaussian weights.
    latent = rng.standard_normal((args.tokens, 32)).astype(np.float32)
    mixing = rng.standard_normal((32, hidden)).astype(np.float32) / 6
    x = latent @ mixing + 0.5 * rng.standard_normal(
        (args.tokens, hidden)).astype(np.float32)
    x[:, rng.choice(hidden, 8, replace=False)] *= 20
    scale = 1 / np.sqrt(hidden)
    gate = (scale * rng.standard_normal((inter, hidden))).astype(np.float32)
    up = (scale * rng.standard_normal((inter, hidden))).astype(np.float32)
    down = (rng.standard_normal((hidden, inter)) /
            np.sqrt(inter)).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, array in (("x", x), ("gate", gate), ("up", up),
                            ("down", down)):
            paths[name] = os.path.join(tmp, name + ".npy")
            np.save(paths[name], array)
        out_dir = os.path.join(tmp, "out")
        os.makedirs(out_dir)

        def ours(threads, output=False):
            cmd = [tool, "--inputs", paths["x"], "--gate", paths["gate"],
                   "--up", paths["up"], "--down", paths["down"],
                   f"--num-threads={threads}"]
            if output:
                cmd += ["-o", out_dir]
            start = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True,
                                 text=True).stdout
            result = json.loads(out)
            result["wall_s"] = time.perf_counter() - start
            return result

        xt, gt, ut, dt = (torch.from_numpy(a) for a in (x, gate, up, down))
        first = ours(args.threads, output=True)  # warm-up, and the result
        q_ours = {n: torch.from_numpy(np.load(os.path.join(out_dir, n + ".npy")))
                  for n in ("gate_q", "up_q", "down_q", "s1", "s2")}
        q_torch, _, torch_ratios = torch_awq(xt, gt, ut, dt)
        runs = {"ours": [], "torch": [], "ours_1_thread": []}
        for _ in range(args.repeats):
            runs["ours"].append(ours(args.threads))
            _, t, _ = torch_awq(xt, gt, ut, dt)
            runs["torch"].append(t)
            runs["ours_1_thread"].append(ours(1))

    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    reference = mlp(xt, gt, ut, dt).double()

    def error(q):
        out = mlp(xt, q["gate_q"], q["up_q"], q["down_q"], q["s1"])
        return float((out.double() - reference).pow(2).mean())

    rtn = {"gate_q": quark_uint4_group(gt, 128), "up_q": quark_uint4_group(ut, 128),
           "down_q": quark_uint4_group(dt, 128), "s1": torch.ones(hidden)}
    keys = ("statistics_s", "scale_search_s", "clip_s", "total_s")
    ours_total, torch_total = med("ours", "total_s"), med("torch", "total_s")
    result = {
        "benchmark": "awq",
        "date": datetime.date.today().isoformat(),
        "cpu": benchlib.cpu_model(),
        "threads": args.threads,
        "mlp": {"hidden": hidden, "intermediate": inter},
        "tokens": args.tokens,
        "scheme": "uint4 asymmetric per-group 128 (Quark quantizer)",
        "repeats": args.repeats,
        "ours_s": {k: med("ours", k) for k in keys},
        "torch_s": {k: med("torch", k) for k in keys},
        "ours_one_thread_total_s": med("ours_1_thread", "total_s"),
        "ratio_ours_over_torch": ours_total / torch_total,
        "two_threads_over_one": ours_total / med("ours_1_thread", "total_s"),
        "chosen_ratios": {"ours": [first["ratio_norm"], first["ratio_up"]],
                          "torch": list(torch_ratios)},
        "mlp_output_mse": {"rtn": error(rtn), "ours": error(q_ours),
                           "torch": error(q_torch)},
        "torch_version": torch.__version__,
    }
    benchlib.write_result(args.output, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
