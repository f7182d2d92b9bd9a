#!/usr/bin/python3
"""GPTQ on one 4096 x 4096 linear with 2048 calibration tokens, int4
symmetric per-group 128 (Quark's quantizer: scale amax/7.5, codes
round(x * (1/scale)) clamped to [-8, 7]): quark-bench-gptq (C++, OpenBLAS)
against a PyTorch CPU implementation of the same algorithm written here
(the IST-DASLab column loop: Hessian 2/N X^T X, damped Cholesky inverse,
blocks of 128 with error feedback), on the same data and thread count.

They run alternately --repeats times; the figure is the ratio of the
median wall times, ours / PyTorch's (target <= 0.5). The Hessian,
Cholesky and sweep split is reported for both. Also: our time with one
and with two threads (two must not be slower), and the agreement of the
two results (share of identical values; the layer-output error
||(W - Q) X^T|| of each against round-to-nearest's).

Results: bench/results/gptq.json.
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


def quark_int4_group(w, group):
    """Quark's int4 symmetric per-group fake quantization (RTN)."""
    import torch
    rows, cols = w.shape
    g = w.reshape(rows, cols // group, group)
    amax = g.abs().amax(dim=-1, keepdim=True)
    scale = torch.clamp(amax / 7.5, min=2.0 ** -23)
    q = torch.clamp(torch.round(g * (1.0 / scale)), -8, 7)
    return (q * scale).reshape(rows, cols), scale.reshape(rows, -1)


def torch_gptq(w, x, group=128, block=128, percdamp=0.01, samples=4):
    import torch
    t = {}
    start = time.perf_counter()
    cols = w.shape[1]
    H = torch.zeros(cols, cols)
    n = 0
    per = x.shape[0] // samples
    for s in range(samples):
        inp = x[s * per:(s + 1) * per]
        H *= n / (n + 1)
        n += 1
        inp = (2 / n) ** 0.5 * inp
        H += inp.t() @ inp
    t["hessian_s"] = time.perf_counter() - start
    W = w.clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    damp = percdamp * torch.mean(torch.diag(H))
    idx = torch.arange(cols)
    H[idx, idx] += damp
    c0 = time.perf_counter()
    L = torch.linalg.cholesky(H)
    Hinv = torch.cholesky_inverse(L)
    Hinv = torch.linalg.cholesky(Hinv, upper=True)
    t["cholesky_s"] = time.perf_counter() - c0
    s0 = time.perf_counter()
    Q = torch.zeros_like(W)
    scale = None
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(count):
            col = W1[:, i]
            d = Hinv1[i, i]
            if (i1 + i) % group == 0:
                amax = W[:, i1 + i:i1 + i + group].abs().amax(dim=1)
                scale = torch.clamp(amax / 7.5, min=2.0 ** -23)
            q = torch.clamp(torch.round(col * (1.0 / scale)), -8, 7) * scale
            Q1[:, i] = q
            err = (col - q) / d
            W1[:, i:] -= err.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    t["sweep_s"] = time.perf_counter() - s0
    t["total_s"] = time.perf_counter() - start
    return Q, t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--cols", type=int, default=4096)
    p.add_argument("--tokens", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--build", default=os.environ.get(
        "QUARK_BUILD_DIR", os.path.join(HERE, "..", "build")))
    p.add_argument("--output", default=os.path.join(HERE, "results",
                                                    "gptq.json"))
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    tool = os.path.join(args.build, "bin", "quark-bench-gptq")

    rng = np.random.default_rng(0)
    # Correlated activations with outlier channels, as LLM inputs have.
    latent = rng.standard_normal((args.tokens, 32)).astype(np.float32)
    mixing = rng.standard_normal((32, args.cols)).astype(np.float32)
    x = latent @ mixing + 0.3 * rng.standard_normal(
        (args.tokens, args.cols)).astype(np.float32)
    x[:, ::97] *= 10
    w = (0.02 * rng.standard_normal((args.rows, args.cols))).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        wp, xp = os.path.join(tmp, "w.npy"), os.path.join(tmp, "x.npy")
        qp = os.path.join(tmp, "q.npy")
        np.save(wp, w)
        np.save(xp, x)

        def ours(threads, output=None):
            cmd = [tool, "--weight", wp, "--inputs", xp,
                   f"--num-threads={threads}"]
            if output:
                cmd += ["-o", output]
            start = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True,
                                 text=True).stdout
            wall = time.perf_counter() - start
            result = json.loads(out)
            result["wall_s"] = wall
            return result

        wt, xt = torch.from_numpy(w), torch.from_numpy(x)
        ours(args.threads, qp)  # warm-up, and the result to compare
        q_ours = np.load(qp)
        q_torch, _ = torch_gptq(wt, xt)
        runs = {"ours": [], "torch": [], "ours_1_thread": []}
        for _ in range(args.repeats):
            runs["ours"].append(ours(args.threads))
            _, t = torch_gptq(wt, xt)
            runs["torch"].append(t)
            runs["ours_1_thread"].append(ours(1))

    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    q_rtn, _ = quark_int4_group(wt, 128)
    xt64 = xt.double()

    def out_err(q):
        return float(torch.linalg.norm((wt.double() - q.double()) @ xt64.t()))

    err_rtn = out_err(q_rtn)
    err_ours = out_err(torch.from_numpy(q_ours))
    err_torch = out_err(q_torch)
    same = float((torch.from_numpy(q_ours) == q_torch).double().mean())
    ours_total = med("ours", "total_s")
    torch_total = med("torch", "total_s")
    result = {
        "benchmark": "gptq",
        "date": datetime.date.today().isoformat(),
        "cpu": benchlib.cpu_model(),
        "threads": args.threads,
        "shape": [args.rows, args.cols],
        "tokens": args.tokens,
        "scheme": "int4 symmetric per-group 128 (Quark quantizer)",
        "repeats": args.repeats,
        "ours_s": {k: med("ours", k) for k in
                   ("hessian_s", "cholesky_s", "sweep_s", "total_s")},
        "torch_s": {k: med("torch", k) for k in
                    ("hessian_s", "cholesky_s", "sweep_s", "total_s")},
        "ours_one_thread_total_s": med("ours_1_thread", "total_s"),
        "ratio_ours_over_torch": ours_total / torch_total,
        "target_ratio": 0.5,
        "two_threads_over_one": ours_total / med("ours_1_thread", "total_s"),
        "identical_values": same,
        "output_error": {"rtn": err_rtn, "ours": err_ours,
                         "torch": err_torch},
        "torch_version": torch.__version__,
    }
    benchlib.write_result(args.output, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
