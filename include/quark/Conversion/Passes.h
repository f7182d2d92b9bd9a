//===- Passes.h - quark conversions and GPU pipelines -----------*- C++ -*-===//

#ifndef QUARK_CONVERSION_PASSES_H
#define QUARK_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

#include <optional>
#include <string>

namespace mlir {
class OpPassManager;
namespace quark {

#define GEN_PASS_DECL
#include "quark/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quark/Conversion/Passes.h.inc"

/// Options of quark-lower-to-rocdl-pipeline.
struct RocdlPipelineOptions : public PassPipelineOptions<RocdlPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("AMD GPU: gfx942, gfx90a, gfx950, gfx1100"),
      llvm::cl::init("gfx942")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("folder with amdgcn/bitcode and llvm/bin/ld.lld (default: "
                     "$ROCM_PATH, else the one the build set up)"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: bin (HSACO), isa, llvm"),
      llvm::cl::init("bin")};
  PassOptions::Option<std::string> outputDir{
      *this, "dir",
      llvm::cl::desc("write the kernels and kernels.json here (optional)"),
      llvm::cl::init("")};
};

/// Options of quark-lower-to-nvvm-pipeline.
struct NvvmPipelineOptions : public PassPipelineOptions<NvvmPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("NVIDIA GPU: sm_90, sm_80, ..."),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX ISA version feature (fp8 mma.sync needs +ptx84)"),
      llvm::cl::init("+ptx84")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: isa (PTX), bin (cubin, "
                     "needs ptxas), fatbin"),
      llvm::cl::init("isa")};
  PassOptions::Option<std::string> outputDir{
      *this, "dir",
      llvm::cl::desc("write the kernels and kernels.json here (optional)"),
      llvm::cl::init("")};
};

/// The matrix instructions quark-gemm-to-matrix-cores emits.
enum class MatrixInstructionSet {
  /// amdgpu.mfma 16x16xK, waves of 64 lanes.
  AmdMfma,
  /// mma.sync.aligned.m16n8k32, warps of 32 lanes.
  NvidiaMmaSync,
};

/// What a chip's matrix cores offer the W8A8 GEMMs
/// (quark-gemm-to-matrix-cores).
struct MatrixCoreTarget {
  MatrixInstructionSet instructions;
  /// K of the int8 instruction (32, or 16 for the MFMA on gfx90a).
  int64_t int8K;
  /// fp8 x fp8 instructions exist (K = 32).
  bool fp8;
  /// They read fnuz codes (gfx942) rather than OCP ones (gfx950, NVIDIA).
  bool fp8IsFnuz;
  /// arith.truncf to OCP fp8 becomes a hardware conversion
  /// (v_cvt_pk_fp8_f32 / v_cvt_pk_bf8_f32, gfx950).
  bool ocpFp8Conversion;
};
/// The matrix cores of `chip` (gfx942, gfx950, gfx90a, sm_80 and later),
/// or none (gfx1100, older and unknown chips). NVIDIA fp8 needs sm_89 and
/// PTX ISA 8.4 (`ptxVersion` >= 84).
std::optional<MatrixCoreTarget> getMatrixCoreTarget(llvm::StringRef chip,
                                                    unsigned ptxVersion = 84);

/// Options of quark-lower-to-cpu-pipeline.
struct CpuPipelineOptions : public PassPipelineOptions<CpuPipelineOptions> {
  PassOptions::Option<std::string> emulateMatrixCores{
      *this, "emulate-matrix-cores",
      llvm::cl::desc("run the W8A8 GEMMs as this GPU's matrix-core kernel, "
                     "emulated on the CPU (gfx942, gfx950, gfx90a, sm_80, "
                     "sm_90, ...)"),
      llvm::cl::init("")};
  PassOptions::Option<bool> emulateSplitK{
      *this, "emulate-split-k",
      llvm::cl::desc("run GEMMs with few rows as the GPU pipelines' split-K "
                     "kernel, emulated on the CPU"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> emulateTiledGemm{
      *this, "emulate-tiled-gemm",
      llvm::cl::desc("run the remaining GEMMs as the GPU pipelines' tiled "
                     "kernel, emulated on the CPU"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> emulateRowChains{
      *this, "emulate-row-chains",
      llvm::cl::desc("run row-local op chains (dynamic quantizers) as the GPU "
                     "pipelines' fused row kernels, emulated on the CPU"),
      llvm::cl::init(false)};
};

/// quark -> linalg -> bufferized loops -> gpu kernels -> ROCDL -> HSACO.
void buildQuarkToRocdlPipeline(OpPassManager &pm,
                               const RocdlPipelineOptions &options);
/// The same kernels for NVIDIA: NVVM -> PTX / cubin.
void buildQuarkToNvvmPipeline(OpPassManager &pm,
                              const NvvmPipelineOptions &options);
/// quark -> linalg -> loops -> LLVM dialect for the host CPU, with C
/// interfaces (`_mlir_ciface_<fn>`) and results as out-parameters: what
/// quark-run-kernel JIT-compiles.
void buildQuarkToCpuPipeline(OpPassManager &pm,
                             const CpuPipelineOptions &options = {});

/// Registers the three pipelines with the pass registry.
void registerQuarkPipelines();

/// The ROCm toolkit folder the build prepared (amdgcn/bitcode and
/// llvm/bin/ld.lld as links to Debian's files), or "" if none.
std::string defaultRocmToolkitPath();

} // namespace quark
} // namespace mlir

#endif // QUARK_CONVERSION_PASSES_H
