//===- Passes.td - quark conversions to upstream dialects --*- tablegen -*-===//
//
// quark -> linalg, and the steps of the GPU and CPU pipelines that upstream
// MLIR does not provide.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_CONVERSION_PASSES_TD
#define QUARK_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQuarkToLinalg : Pass<"convert-quark-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lowers quantized quark ops to linalg with Quark's numerics";
  let description = [{
    Rewrites `quark.quantize`, `quark.dequantize`, `quark.fake_quant`,
    `quark.unpack`, `quark.storage_cast` and `quark.linear` as
    `linalg.generic` ops over `arith` / `math`, computing exactly what the
    Support numerics compute:

    * integer codes: `clamp(round(x * (1 / max(scale, FLT_MIN))) + zp)` with
      the spec's rounding (half even by default; a NaN gives the zero point),
      dequantized as `float(code - zp) * scale`;
    * narrow floats (fp8 e4m3 / e5m2 and their fnuz forms, e5m3, fp6, fp4):
      `x / scale` encoded round-half-even with saturation by explicit bit
      arithmetic (upstream `arith.truncf` has no lowering for these types on
      the CPU, and its APFloat lowering overflows to NaN), with Quark's
      special cases (fp4 / fp6 drop the sign of zero; NaN keeps the format's
      NaN code or its largest value);
    * scales per tensor, per channel, per group (`k floordiv group`) and per
      block are indexing maps; f32, bf16, f16 and E8M0 scale types decode to
      f32;
    * packed int4 / uint4 (eight per i32 word, `reorder` or `order`) and fp4
      (two per byte) unpack by shifting the word selected by `k floordiv n`.

    Codes become their storage types (`i8`, `i4`, `f8E4M3FN`, `f4E2M1FN`,
    ...), function signatures included. A `quark.linear` becomes a GEMM
    `linalg.generic` over `[M, N, K]` with f32 accumulation; when both its
    operands are dequantized int8 (or both fp8) codes with per-tensor or
    per-row scales, the GEMM multiplies the codes (i32 accumulation for
    int8) and applies `acc * scale_x[m] * scale_w[n]` in an epilogue, the
    form of a W8A8 kernel. The decoding of weights (unpack, dequantize) is
    then fused into the GEMM's body, so a W4A16 GEMM reads packed words and
    scales directly.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"fuseWeightDecoding", "fuse-weight-decoding", "bool",
           /*default=*/"true",
           "fuse unpack / dequantize producers into the GEMMs that read them">,
    Option<"hardwareOcpFp8", "hardware-ocp-fp8", "bool", /*default=*/"false",
           "quantize to OCP fp8 with arith.truncf after Quark's clamp, for "
           "GPUs that convert round-half-even in hardware (gfx950); no CPU "
           "lowering">,
  ];
}

def QuarkSplitKGemm : Pass<"quark-split-k-gemm", "::mlir::func::FuncOp"> {
  let summary = "Runs GEMMs with few rows (decode-time GEMVs) as split-K "
                "GPU kernels";
  let description = [{
    After bufferization, replaces each GEMM of `convert-quark-to-linalg`
    that is left as a `linalg.generic` (W4A16, MXFP4, W8A8 shapes the
    matrix cores do not take or leave to it: int8 with at most their
    `split-k-rows`) and has at most `max-rows` rows by a
    `gpu.launch` that splits K across threads. The generic kernel gives
    one thread a whole output element and its K loop; at batch 1 and
    N = 4096 that is 4096 threads walking their own weight rows.

    Here a workgroup of 256 threads computes 8 output columns for every
    row: 32 threads per column, thread `l` of a column taking the run
    `32 i + l` of c consecutive codes in step i (so the 32 threads of a
    column read 32 consecutive runs) for all rows at once, keeping one
    partial sum per row. c is 16 bytes of weight codes (32 int4 / fp4, 16
    int8) when K is a multiple of 32 c and c x rows is at most 128, so
    that each thread has more weight bytes in flight; 8 otherwise. The partial sums meet in workgroup memory (8 x 32 x rows) and,
    after a barrier, 8 x rows threads add their column's 32 partials in
    lane order. The GEMM body (decode, scale, product) is cloned from the
    `linalg.generic`, so every fused decode works unchanged. A W8A8 scale
    epilogue (the elementwise op reading the accumulator) is applied to
    each sum before it is stored, as in the matrix-core kernels, so it is
    no launch of its own.

    Applies when the body accumulates by one addition (`arith.addf` /
    `arith.addi` of the output), M is static and at most `max-rows`, N is a
    multiple of 8 and K of 256. A float result adds in another order than
    the generic kernel's K loop (the partials, then their sum), so it
    matches to rounding, not bit for bit; integer results are exact.

    With `emulate`, the same kernel is built as host loops (all threads'
    partials, then all threads' reductions), for `quark-run-kernel
    --emulate-split-k`.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
  let options = [
    Option<"maxRows", "max-rows", "int64_t", /*default=*/"16",
           "largest M (tokens) that gets the split-K kernel">,
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "build the same kernel as host loops, so the CPU can check it">,
  ];
}

def QuarkCopiesToLinalg : Pass<"quark-copies-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Rewrites memref.copy as linalg.copy, so that GPU pipelines "
                "run buffer copies as kernels";
  let description = [{
    Bufferization inserts `memref.copy` where a tensor is overwritten while
    still read. In a GPU pipeline's host function such a copy would be a
    host access to device memory that no launcher performs (the manifest
    lists launches only); as `linalg.copy` it is mapped to a kernel like any
    other linalg op, and `quark-fuse-row-chains` can take it into a chain.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def QuarkFuseRowChains : Pass<"quark-fuse-row-chains", "::mlir::func::FuncOp"> {
  let summary = "Runs chains of linalg ops that pass data only within rows "
                "(dynamic quantizers) as one GPU kernel, a workgroup per row";
  let description = [{
    After the GEMM kernels are built, takes each run of consecutive
    `linalg.generic` / `linalg.fill` ops (allocations, views and constants
    may stand between them) that share their first loop's extent (the
    rows) and exchange data only within a row: every buffer the run writes
    is indexed by that loop in its first dimension by every op of the run
    that touches it, and the views between keep that dimension. A dynamic
    quantizer is such a run: the statistics' fills, the chunked reduction,
    its merge, the scale formula and the quantization (a per-token fp8
    activation: eight launches; NVFP4's block scales and codes: five).

    The run becomes one `gpu.launch` with a workgroup per row. The ops run
    in turn, a barrier between them; thread t computes output elements
    `t, t + T, ...` of the op's row (its parallel loops after the first,
    linearized with the innermost fastest), each with the op's reduction
    loops in order inside and the op's body cloned, so every output element
    is computed as the op computes it and the result is the run's bit for
    bit. T is the widest op's elements per row rounded up to a power of
    two, from 64 to 256.

    GEMMs (`quark.gemm`) are left to their own kernels. A run is fused when
    it has two ops or more and its widest op has at least 64 elements per
    row, or the whole run fits one workgroup; an op with more than 128
    elements per thread keeps its own launch.

    With `emulate`, the same kernel is built as host loops (per row, each
    op's threads in turn), for `quark-run-kernel --emulate-row-chains`.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
  let options = [
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "build the same kernel as host loops, so the CPU can check it">,
  ];
}

def QuarkTiledGemm : Pass<"quark-tiled-gemm", "::mlir::func::FuncOp"> {
  let summary = "Runs the remaining GEMMs (W4A16 / MXFP4 prefill) as tiled "
                "GPU kernels with decoded operands in workgroup memory";
  let description = [{
    After the matrix-core and split-K steps, replaces each GEMM of
    `convert-quark-to-linalg` still left as a `linalg.generic` (weight-only
    int4 / uint4 / MXFP4 / progressive GEMMs with more rows than split-K
    takes, W8A8 shapes or chips without matrix cores) by a `gpu.launch`
    that reuses each decoded weight for 64 rows. The generic kernel gives
    every output element its own thread and K loop, so each weight is
    decoded once per row and no thread shares what it read.

    A workgroup of 256 threads computes a 64 x 64 output tile. Per step of
    16 k, the threads decode the tile's 64 x 16 weights and evaluate its
    64 x 16 activation terms (both cloned from the GEMM body: the body's
    product is split into its row side and its column side) into workgroup
    memory, then, after a barrier, each thread accumulates its 4 x 4
    outputs (rows `ty + 16 i`, columns `tx + 16 j`) with the body's own
    multiply and add in k order. The sum is therefore the generic kernel's,
    bit for bit. Rows past M read the last row and are not stored. A W8A8
    scale epilogue is applied to each sum as it is stored.

    Applies when the body adds one product `row side x column side` to the
    output, N is a multiple of 64 and K of 16. With `emulate`, the same
    kernel runs as host loops (threads in turn between the barriers,
    accumulators in memory), for `quark-run-kernel --emulate-tiled-gemm`.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
  let options = [
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "build the same kernel as host loops, so the CPU can check it">,
  ];
}

def QuarkGemmToMatrixCores
    : Pass<"quark-gemm-to-matrix-cores", "::mlir::func::FuncOp"> {
  let summary = "Runs the W8A8 GEMMs on the GPU's matrix cores (AMD MFMA, "
                "NVIDIA mma.sync)";
  let description = [{
    After bufferization, replaces each code-domain GEMM of
    `convert-quark-to-linalg` (int8 codes with i32 accumulation, or OCP fp8
    e4m3 / e5m2 codes with f32 accumulation) by a `gpu.launch` of 256
    threads per 64x64 output tile. Every K step of 64 codes copies both
    operand tiles into workgroup memory (16 bytes per thread, rows padded
    to 80 bytes), then each wave (warp) multiplies its part of the tile as
    2x2 blocks of the chip's matrix instruction:

    - AMD (four waves of 64, 32x32 each): `amdgpu.mfma` 16x16xK, K = 32 for
      int8 and fp8 on gfx942 / gfx950, 16 for int8 on gfx90a.
    - NVIDIA (eight warps of 32, 32x16 each): `mma.sync.m16n8k32` (the
      `llvm.nvvm.mma.m16n8k32.row.col.*` intrinsics), s8 from sm_80 and
      e4m3 / e5m2 from sm_89 when `ptx` is at least 84 (PTX ISA 8.4).

    The elementwise scale epilogue that reads the accumulator (scales, bias,
    result type) is fused: each lane applies its body to its accumulator
    elements and stores the results, so the accumulator never goes to
    memory. The `linalg.fill` that zeroed it is dropped.

    int8 results are exact (integer accumulation), so they equal the CPU
    kernel bit for bit. fp8 products are exact in f32 but the hardware adds
    them in its own order. gfx942's fp8 MFMAs read fnuz codes: an OCP code
    read as fnuz is worth half (the biases differ by one), so the kernel
    maps 0x80 (OCP -0, fnuz NaN) to +0 and scales the accumulator by 4;
    OCP NaN codes (0x7f, 0xff), which Quark's saturating quantizer only
    produces from NaN inputs, read as +-240 there. gfx950 and NVIDIA read
    OCP codes as they are.

    int8 GEMMs with at most `split-k-rows` rows (decode: one token or a
    few) are left to `quark-split-k-gemm` when its kernel takes them: a
    64-row tile would compute 63 rows of padding for one token, and N / 64
    workgroups are too few to stream the weights (64 at N = 4096, against
    512 split-K workgroups). fp8 GEMMs stay here at every M: the SIMD units
    would decode every fp8 code in software, the matrix cores read them as
    they are.

    GEMMs whose N or K is not a multiple of 64, and chips without these
    instructions (gfx1100, fp8 on gfx90a and before sm_89), keep the
    generic kernel.

    With `emulate`, the same kernel is built as host loops instead (the
    threads of a workgroup one after another between the kernel's barriers,
    each matrix instruction computed from its lanes' fragments with the
    operand layout the kernel assumes), so `quark-run-kernel
    --emulate-matrix-cores` checks the tiling, LDS staging, fragment
    addressing, row guards and the fnuz conversion on the CPU.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::amdgpu::AMDGPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"gfx942\"",
           "GPU whose matrix cores to use (gfx942, gfx950, gfx90a, sm_80 "
           "and later)">,
    Option<"ptx", "ptx", "unsigned", /*default=*/"84",
           "PTX ISA version of the NVIDIA kernels, times ten (fp8 mma.sync "
           "needs 84)">,
    Option<"splitKRows", "split-k-rows", "int64_t", /*default=*/"4",
           "int8 GEMMs with at most this many rows are left to "
           "quark-split-k-gemm when it takes them (0: none)">,
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "build the same kernel as host loops that emulate the threads "
           "and the matrix instructions, so the CPU can check its tiling and "
           "staging">,
  ];
}

def QuarkMapParallelLoops : Pass<"quark-map-parallel-loops",
                                 "::mlir::func::FuncOp"> {
  let summary = "Tiles parallel loops into workgroups shaped by their extents";
  let description = [{
    Tiles every outermost `scf.parallel` into workgroups of `threads`
    threads and maps it to GPU ids, replacing a fixed
    `scf-parallel-loop-tiling` + `gpu-map-parallel-loops`. The innermost
    dimension gets as many threads as it can use (a power of two up to
    `threads`) and is mapped to x, so neighbouring threads touch
    neighbouring elements; the next dimension gets the rest on y (and a
    third on z). A batch-1 GEMV over (1, 4096) becomes 1x256-thread tiles
    instead of 16x16 tiles of which one row works. Tiles have constant
    sizes with the bounds checked inside (no min/max bounds), so every loop
    maps to the GPU whatever its extents.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "threads per workgroup (a power of two)">,
  ];
}

def QuarkOutlineLinearKernels : Pass<"quark-outline-linear-kernels",
                                     "::mlir::ModuleOp"> {
  let summary = "Extracts every quantized linear layer as a kernel function";
  let description = [{
    For each `quark.linear` whose weight is decoded from stored codes
    (`quark.dequantize`, through `quark.unpack` for packed codes), builds a
    function taking the activation (with `tokens` rows), the stored codes,
    scales and zero points, and returning the output. Layers with the same
    shapes and specs share one kernel; the module then holds only these
    kernel functions (the model is dropped) and each carries
    `quark.layers`, the names of the layers it serves.
  }];
  let options = [
    Option<"tokens", "tokens", "int64_t", /*default=*/"16",
           "rows of the activation (tokens in a batch) the kernels are built for">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::quark::QuarkDialect"];
}

def QuarkAnnotateKernelArguments : Pass<"quark-annotate-kernel-arguments",
                                        "::mlir::ModuleOp"> {
  let summary = "Marks outlined kernels' buffer arguments aligned, and "
                "noalias where no other argument views the same buffer";
  let description = [{
    After `gpu-kernel-outlining`: for each `gpu.func` launched from one
    `gpu.launch_func`, every memref argument whose operand is the base of a
    host function argument or of a `memref.alloc` (through expand / collapse
    shapes and casts, which keep the base pointer) gets `llvm.align`
    (`alignment` bytes), and `llvm.noalias` when no other operand of the
    launch is a view of the same buffer. The lowering to NVVM / ROCDL copies
    both onto the kernel's pointers.

    This is the launchers' contract made visible to LLVM: they allocate
    every buffer themselves (hipMalloc, the CUDA allocator: 256-byte
    aligned), one per host function argument. With it NVPTX merges a
    GEMV's neighbouring activation loads into 16-byte loads and reads
    weights through the read-only cache (`ld.global.nc`). A caller passing
    its own buffers must pass distinct buffers aligned to `alignment`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"16",
           "bytes every buffer the launcher passes is aligned to">,
  ];
}

def QuarkWriteGpuBinaries : Pass<"quark-write-gpu-binaries",
                                 "::mlir::ModuleOp"> {
  let summary = "Writes the kernels of gpu.binary ops and a launch manifest";
  let description = [{
    Writes each object of every `gpu.binary` to
    `<dir>/<binary>.<chip>.<hsaco|cubin|ptx|s>` and `<dir>/kernels.json`:
    for every host function, its memref arguments (shape and element type)
    and its `gpu.launch_func` ops in order, with the kernel's grid and block
    sizes and where each kernel argument comes from (a function argument or
    a buffer the function allocates). The HIP launcher runs a function from
    this manifest. Files are written atomically.
  }];
  let options = [
    Option<"outputDir", "dir", "std::string", /*default=*/"",
           "folder to write the kernel files into (created if missing)">,
  ];
}

#endif // QUARK_CONVERSION_PASSES_TD
