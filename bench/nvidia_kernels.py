#!/usr/bin/env python3
"""NVIDIA timings of the quantized kernels from quark-lower-to-nvvm-pipeline.

Two steps, because the machine that builds the project has no GPU:

    /usr/bin/python3 bench/nvidia_kernels.py prepare [--out build/nvidia-kernels]
        (here) compiles the benchmark cases to PTX for sm_90: W8A8 fp8 and
        int8 GEMMs at M = N = K = 4096 (tensor-core mma.sync kernels), fp8
        with per-token activation scales computed per call (ptpc_fp8) at
        4096 and 16 tokens, W4A16
        int4 g128 at N = K = 4096 with 1, 16 and 256 tokens, plus small copies of
        each for the correctness check. Each case is a folder with the PTX
        files, kernels.json (buffers and launches) and case.json.

    python3 bench/nvidia_kernels.py run [--dir build/nvidia-kernels]
        (on a machine with an NVIDIA GPU, CUDA's driver and PyTorch) loads
        the PTX with the CUDA driver API, allocates the buffers kernels.json
        names, fills the inputs, runs the launches, checks the result
        against PyTorch, and times the kernels against PyTorch in the same
        run (alternating, median of several rounds): torch._scaled_mm for
        fp8, torch._int_mm for int8 (a cuBLAS fp16 matmul below 17 rows,
        which torch._int_mm refuses), a cuBLAS fp16 matmul for W4A16. Writes
        bench/results/nvidia-kernels.json with the date and the device.

Correctness: the integer GEMM accumulator must be exact (int32); float
results must lie within 2^-24 (K sum|a*b| + 4 |result|) of a float64
reference: the f32 summation bound plus the epilogue's roundings.
"""

import argparse
import ctypes
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))

CASES = [
    # name, quark-run-kernel arguments, timed
    ("w8a8-fp8-4096", ["--kernel", "w8a8-fp8", "--m", "4096", "--n", "4096", "--k", "4096"], True),
    ("w8a8-int8-4096", ["--kernel", "w8a8-int8", "--m", "4096", "--n", "4096", "--k", "4096"], True),
    # Decoding one token: the int8 GEMM is a split-K kernel with the scale
    # epilogue fused (the matrix cores leave GEMMs of up to 4 rows to it).
    ("w8a8-int8-m1", ["--kernel", "w8a8-int8", "--m", "1", "--n", "4096", "--k", "4096"], True),
    ("w4a16-int4-g128-m1", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                            "--m", "1", "--n", "4096", "--k", "4096"], True),
    ("w4a16-int4-g128-m16", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                             "--m", "16", "--n", "4096", "--k", "4096"], True),
    # Prefill: the tiled kernel (quark-tiled-gemm), weights decoded into
    # shared memory once per 64 rows.
    ("w4a16-int4-g128-m256", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                              "--m", "256", "--n", "4096", "--k", "4096"], True),
    # ptpc_fp8: per-token activation scales and codes computed on the GPU
    # (one fused kernel, quark-fuse-row-chains) before the fp8 GEMM.
    ("w8a8-fp8-ptpc-4096", ["--kernel", "w8a8-fp8", "--dynamic-activations",
                            "--m", "4096", "--n", "4096", "--k", "4096"], True),
    ("w8a8-fp8-ptpc-m16", ["--kernel", "w8a8-fp8", "--dynamic-activations",
                           "--m", "16", "--n", "4096", "--k", "4096"], True),
    # Partial row tiles (M = 100) at a size a CPU-side reference is cheap for.
    ("w8a8-fp8-ptpc-small", ["--kernel", "w8a8-fp8", "--dynamic-activations",
                             "--m", "100", "--n", "256", "--k", "512"], False),
    ("w8a8-fp8-small", ["--kernel", "w8a8-fp8", "--m", "100", "--n", "256", "--k", "512"], False),
    ("w8a8-int8-small", ["--kernel", "w8a8-int8", "--m", "100", "--n", "256", "--k", "512"], False),
    ("w8a8-int8-splitk-small", ["--kernel", "w8a8-int8", "--m", "3", "--n", "256", "--k", "512"], False),
    ("w4a16-int4-g128-small", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                               "--m", "3", "--n", "256", "--k", "512"], False),
    ("w4a16-int4-g128-tiled-small", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                                     "--m", "100", "--n", "256", "--k", "512"], False),
]


def option(args, name):
    return args[args.index(name) + 1]


def prepare(options):
    build = options.build
    os.makedirs(options.out, exist_ok=True)
    for name, args, timed in CASES:
        folder = os.path.join(options.out, name)
        shutil.rmtree(folder, ignore_errors=True)  # no PTX left from older builds
        os.makedirs(folder)
        source = os.path.join(folder, "kernel.mlir")
        with open(source, "w") as f:
            subprocess.run([os.path.join(build, "bin", "quark-run-kernel"), *args, "--emit-quark"],
                           stdout=f, check=True)
        subprocess.run([os.path.join(build, "bin", "quark-opt"), source,
                        f"--quark-lower-to-nvvm-pipeline=chip={options.chip} dir={folder}",
                        "-o", os.devnull], check=True)
        case = {"name": name, "kernel": option(args, "--kernel"), "timed": timed,
                "m": int(option(args, "--m")), "n": int(option(args, "--n")),
                "k": int(option(args, "--k")), "chip": options.chip}
        if case["kernel"] == "w4a16":
            case["group"] = int(option(args, "--group"))
        case["dynamic_activations"] = "--dynamic-activations" in args
        with open(os.path.join(folder, "case.json"), "w") as f:
            json.dump(case, f, indent=2)
        print(f"prepared {folder}", flush=True)


class CudaDriver:
    """The few CUDA driver calls a PTX loader needs, through ctypes."""

    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")

    def check(self, status, what):
        if status != 0:
            text = ctypes.c_char_p()
            self.lib.cuGetErrorString(status, ctypes.byref(text))
            raise RuntimeError(f"{what}: CUDA error {status} ({(text.value or b'').decode()})")

    def load_module(self, ptx_path):
        with open(ptx_path, "rb") as f:
            image = f.read() + b"\0"
        module = ctypes.c_void_p()
        self.check(self.lib.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(image)),
                   f"loading {ptx_path}")
        return module

    def function(self, module, name):
        function = ctypes.c_void_p()
        self.check(self.lib.cuModuleGetFunction(ctypes.byref(function), module, name.encode()),
                   f"finding kernel {name}")
        return function

    def attribute(self, function, attribute):
        value = ctypes.c_int()
        self.check(self.lib.cuFuncGetAttribute(ctypes.byref(value), attribute, function),
                   "reading a kernel attribute")
        return value.value

    def launch(self, function, grid, block, pointers, stream):
        values = [ctypes.c_void_p(p) for p in pointers]
        params = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        self.check(self.lib.cuLaunchKernel(function, *grid, *block, 0, ctypes.c_void_p(stream),
                                           params, None), "launching a kernel")


# cuFuncGetAttribute: CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, LOCAL_SIZE_BYTES,
# NUM_REGS.
ATTRIBUTES = {"shared_bytes": 1, "local_bytes": 3, "registers": 4}


class CaseRunner:
    """One compiled case: its modules, buffers and launches."""

    def __init__(self, torch, driver, folder):
        self.torch = torch
        self.driver = driver
        with open(os.path.join(folder, "case.json")) as f:
            self.case = json.load(f)
        with open(os.path.join(folder, "kernels.json")) as f:
            manifest = json.load(f)
        self.function = manifest["functions"][0]
        modules = {}
        self.launches = []
        for launch in self.function["launches"]:
            module = launch["module"]
            if module not in modules:
                modules[module] = driver.load_module(os.path.join(folder, manifest["binaries"][module]))
            kernel = driver.function(modules[module], launch["kernel"])
            facts = {name: driver.attribute(kernel, a) for name, a in ATTRIBUTES.items()}
            self.launches.append((launch, kernel, facts))
        self.buffers = [torch.zeros(b["bytes"], dtype=torch.uint8, device="cuda")
                        for b in self.function["buffers"]]

    def view(self, index, dtype, shape):
        return self.buffers[index].view(dtype).view(shape)

    def argument(self, number):
        """The buffer of the function's argument `number`."""
        for index, b in enumerate(self.function["buffers"]):
            if b.get("argument") == number:
                return index
        raise KeyError(f"{self.case['name']}: no buffer for argument {number}")

    def run(self, only=None):
        stream = self.torch.cuda.current_stream().cuda_stream
        for launch, kernel, _ in self.launches:
            if only is not None and launch["module"] != only:
                continue
            pointers = [self.buffers[a["buffer"]].data_ptr() for a in launch["args"]]
            self.driver.launch(kernel, launch["grid"], launch["block"], pointers, stream)

    def result(self):
        index = self.function["results"][0]
        m, n = self.case["m"], self.case["n"]
        return self.view(index, self.torch.float32, (m, n))

    def matrix_core_module(self):
        """The launch whose kernel uses the tensor cores (the GEMM), by its
        grid of 64x64 tiles."""
        m, n = self.case["m"], self.case["n"]
        for launch, _, _ in self.launches:
            if launch["grid"][:2] == [n // 64, (m + 63) // 64] and launch["block"][0] == 256:
                return launch["module"]
        return None


def time_ms(torch, work, iterations, rounds):
    times = []
    for _ in range(rounds):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iterations):
            work()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / iterations)
    return times


def within_f32_bound(torch, got, reference, magnitude, k):
    """|got - reference| <= 2^-24 (K * magnitude + 4 |reference|),
    elementwise: K roundings of the f32 sums, a few of the epilogue."""
    bound = 2.0 ** -24 * (k * magnitude + 4 * reference.abs())
    error = (got.double() - reference).abs()
    return bool((error <= bound).all()), float(error.max()), float((error / bound.clamp_min(1e-300)).max())


FLT_MIN = 2.0 ** -126


def w8a8_inputs(torch, runner, fp8):
    """Fills x, w codes, sw (and the static sx); returns the float64
    reference of the output, the accumulator's magnitude bound, and what
    PyTorch's side of the timing needs: the codes, the activation scales
    (per tensor, or per token as [m, 1]) and the weight scales."""
    c = runner.case
    m, n, k = c["m"], c["n"], c["k"]
    dynamic = c.get("dynamic_activations", False)
    # Arguments: x, [sx,] w codes, sw (a dynamic kernel computes sx itself).
    x = runner.view(runner.argument(0), torch.float32, (m, k))
    w_arg, sw_arg = (1, 2) if dynamic else (2, 3)
    sw = runner.view(runner.argument(sw_arg), torch.float32, (n,))
    x.copy_(torch.randn(m, k, device="cuda"))
    # A few exact zeros of both signs: -0 quantizes to the fp8 code 0x80.
    x[:, :8] = torch.tensor([0.0, -0.0] * 4, device="cuda")
    sw.copy_(torch.rand(n, device="cuda") * 0.01 + 0.001)
    largest = 448.0 if fp8 else 127.0
    if dynamic:
        # computeDynamicParams in f32: amax / largest per token, 2^-23 for a
        # zero scale.
        sx = x.abs().amax(dim=1, keepdim=True) / largest
        sx = torch.where(sx == 0, torch.full_like(sx, 2.0 ** -23), sx)
    else:
        sx = runner.view(runner.argument(1), torch.float32, ())
        sx.fill_(float(x.abs().max()) / largest)
    if fp8:
        # Float codes: x / s, round half even, saturated.
        a = (x / sx).clamp(-448, 448).to(torch.float8_e4m3fn)
        w = runner.view(runner.argument(w_arg), torch.float8_e4m3fn, (n, k))
        w.copy_((torch.randn(n, k, device="cuda") * 64).clamp(-448, 448).to(torch.float8_e4m3fn))
        accumulator = a.double() @ w.double().t()
        magnitude = a.double().abs() @ w.double().abs().t()
    else:
        # Integer codes: x * (1 / max(s, FLT_MIN)) in f32, round half even
        # (torch.round), clamped: the kernel's formula, not x / s, whose
        # rounding differs near ties.
        inverse = 1.0 / sx.clamp_min(FLT_MIN)
        a = torch.round(x * inverse).clamp(-128, 127).to(torch.int8)
        w = runner.view(runner.argument(w_arg), torch.int8, (n, k))
        w.copy_(torch.randint(-128, 128, (n, k), device="cuda", dtype=torch.int8))
        # Exact in float64 (|sum| < 2^53); torch._int_mm refuses few rows.
        accumulator = a.double() @ w.double().t()
        magnitude = torch.zeros_like(accumulator)  # exact accumulation
    row_scale = sx.double() if dynamic else float(sx)
    reference = accumulator * row_scale * sw.double()
    return reference, magnitude.abs() * row_scale * sw.double(), a, w, sx, sw


def w4a16_inputs(torch, runner):
    c = runner.case
    m, n, k, group = c["m"], c["n"], c["k"], c["group"]
    x = runner.view(runner.argument(0), torch.float32, (m, k))
    packed = runner.view(runner.argument(1), torch.int32, (n, k // 8))
    scales = runner.view(runner.argument(2), torch.float32, (n, k // group))
    x.copy_(torch.randn(m, k, device="cuda"))
    # Every bit pattern is eight valid int4 codes.
    packed.copy_(torch.randint(-2 ** 31, 2 ** 31, (n, k // 8), device="cuda", dtype=torch.int64)
                 .to(torch.int32))
    scales.copy_(torch.rand(n, k // group, device="cuda") * 0.02 + 0.001)
    # pack_method "reorder": nibble slot i of a word holds element
    # [0, 2, 4, 6, 1, 3, 5, 7][i] of its group of eight.
    order = [0, 2, 4, 6, 1, 3, 5, 7]
    codes = torch.empty(n, k // 8, 8, device="cuda", dtype=torch.int64)
    words = packed.to(torch.int64) & 0xFFFFFFFF
    for slot, element in enumerate(order):
        nibble = (words >> (4 * slot)) & 0xF
        codes[:, :, element] = (nibble ^ 8) - 8
    weights = codes.reshape(n, k).double() * scales.double().repeat_interleave(group, dim=1)
    reference = x.double() @ weights.t()
    magnitude = x.double().abs() @ weights.abs().t()
    return reference, magnitude, weights


def run_case(torch, driver, folder, iterations, rounds):
    runner = CaseRunner(torch, driver, folder)
    c = runner.case
    m, n, k = c["m"], c["n"], c["k"]
    kind = c["kernel"]
    if kind == "w4a16":
        reference, magnitude, weights = w4a16_inputs(torch, runner)
    else:
        reference, magnitude, a, w, sx, sw = w8a8_inputs(torch, runner, fp8=(kind == "w8a8-fp8"))
    runner.run()
    torch.cuda.synchronize()
    ok, max_error, bound_use = within_f32_bound(torch, runner.result(), reference, magnitude, k)
    record = {"case": c["name"], "m": m, "n": n, "k": k, "correct": ok,
              "max_abs_error": max_error, "max_error_over_bound": bound_use,
              "kernels": [dict(module=l["module"], grid=l["grid"], block=l["block"], **facts)
                          for l, _, facts in runner.launches]}
    print(f"{c['name']}: {'correct' if ok else 'WRONG'} (max error {max_error:.3g}, "
          f"{bound_use:.3g} of the f32 bound)", flush=True)
    if not c["timed"] or not ok:
        return record
    flops = 2.0 * m * n * k
    sides = {"quark (all launches)": runner.run}
    gemm = runner.matrix_core_module()
    if gemm:
        sides["quark (matrix-core GEMM)"] = lambda: runner.run(only=gemm)
    if kind == "w8a8-fp8" and c.get("dynamic_activations"):
        # What a PyTorch ptpc_fp8 linear does per call: per-token scales and
        # codes, then the row-wise scaled fp8 GEMM (cuBLASLt / CUTLASS).
        x = runner.view(runner.argument(0), torch.float32, (m, k))
        sw_row = sw.view(1, n)

        def torch_ptpc():
            scale = (x.abs().amax(dim=1, keepdim=True) / 448.0).clamp_min(2.0 ** -23)
            codes = (x / scale).clamp(-448, 448).to(torch.float8_e4m3fn)
            return torch._scaled_mm(codes, w.t(), scale_a=scale, scale_b=sw_row,
                                    out_dtype=torch.bfloat16)
        reference_name = ("torch per-token quantization + torch._scaled_mm "
                          "(row-wise scales, bf16 out)")
        sides[reference_name] = torch_ptpc
    elif kind == "w8a8-fp8":
        one = torch.ones((), device="cuda")
        reference_name = "torch._scaled_mm (cuBLASLt fp8, per-tensor scales, bf16 out)"
        sides[reference_name] = lambda: torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one,
                                                         out_dtype=torch.bfloat16)
    elif kind == "w8a8-int8" and m > 16:
        reference_name = "torch._int_mm (cuBLAS int8)"
        sides[reference_name] = lambda: torch._int_mm(a, w.t())
    else:
        # W4A16, and int8 below 17 rows (torch._int_mm takes more rows
        # only): the fp16 GEMM / GEMV the quantized one replaces.
        x16 = runner.view(runner.argument(0), torch.float32, (m, k)).half()
        w16 = (weights if kind == "w4a16" else w).half()
        reference_name = "torch.matmul fp16 (cuBLAS)"
        sides[reference_name] = lambda: torch.matmul(x16, w16.t())
    for work in sides.values():  # warm-up
        work()
    torch.cuda.synchronize()
    times = {name: [] for name in sides}
    for _ in range(rounds):  # alternate the sides
        for name, work in sides.items():
            times[name].extend(time_ms(torch, work, iterations, 1))
    medians = {name: statistics.median(t) for name, t in times.items()}
    record["reference"] = reference_name
    record["median_ms"] = medians
    record["tflops"] = {name: flops / (ms * 1e-3) / 1e12 for name, ms in medians.items()}
    record["speedup_vs_reference"] = {name: medians[reference_name] / ms
                                      for name, ms in medians.items() if name != reference_name}
    for name, ms in medians.items():
        print(f"  {name:60} {ms * 1e3:10.1f} us  {record['tflops'][name]:8.2f} TFLOP/s", flush=True)
    return record


def run(options):
    try:
        import torch
    except ImportError:
        print("nvidia_kernels.py run: PyTorch is not installed", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("nvidia_kernels.py run: no CUDA GPU is visible (torch.cuda.is_available() is false)",
              file=sys.stderr)
        return 2
    torch.manual_seed(0)
    torch.zeros(1, device="cuda")  # makes the primary context current
    driver = CudaDriver()
    folders = sorted(d for d in os.listdir(options.dir)
                     if os.path.exists(os.path.join(options.dir, d, "case.json")))
    if not folders:
        print(f"nvidia_kernels.py run: no prepared cases in {options.dir}", file=sys.stderr)
        return 2
    records = [run_case(torch, driver, os.path.join(options.dir, d), options.iterations,
                        options.rounds) for d in folders]
    result = {"date": datetime.date.today().isoformat(),
              "device": torch.cuda.get_device_name(),
              "torch": torch.__version__, "cuda": torch.version.cuda,
              "compiler": "quark-lower-to-nvvm-pipeline (LLVM/MLIR 22, Debian) -> PTX, "
                          "JIT-compiled by the CUDA driver",
              "cases": records}
    os.makedirs(os.path.dirname(options.out), exist_ok=True)
    with open(options.out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(options.out + ".tmp", options.out)
    print(f"wrote {options.out}")
    return 0 if all(r["correct"] for r in records) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="compile the cases to PTX (no GPU needed)")
    p.add_argument("--build", default=os.environ.get("QUARK_BUILD_DIR", os.path.join(ROOT, "build")))
    p.add_argument("--out", default=os.path.join(ROOT, "build", "nvidia-kernels"))
    p.add_argument("--chip", default="sm_90")
    r = sub.add_parser("run", help="load, check and time the cases on an NVIDIA GPU")
    r.add_argument("--dir", default=os.path.join(ROOT, "build", "nvidia-kernels"))
    r.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "nvidia-kernels.json"))
    r.add_argument("--iterations", type=int, default=20)
    r.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    if options.command == "prepare":
        prepare(options)
        return 0
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
