//===- Pipelines.cpp - quark kernels to HSACO, PTX and the host CPU -------===//
//
// The pipelines are upstream passes in a fixed order after
// convert-quark-to-linalg; they are written as textual pipelines so that
// each step reads as it would on the mlir-opt command line.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::quark;

#ifndef QUARK_ROCM_TOOLKIT_DIR
#define QUARK_ROCM_TOOLKIT_DIR ""
#endif

std::string mlir::quark::defaultRocmToolkitPath() {
  if (std::optional<std::string> env = llvm::sys::Process::GetEnv("ROCM_PATH"))
    return *env;
  return QUARK_ROCM_TOOLKIT_DIR;
}

/// quark -> linalg (with `linalgOptions`) -> tensors bufferized to memrefs
/// with identity layouts: where the GPU and CPU pipelines start.
static std::string bufferizedLinalg(const std::string &linalgOptions) {
  return "convert-quark-to-linalg" + linalgOptions +
         ", canonicalize, cse, "
         "one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map}, ";
}

/// ... -> parallel loops -> outlined gpu kernels. Each kernel thread
/// computes one element of a 256-thread tile shaped by the loop's extents
/// (the reduction of a GEMM stays a loop in the thread). `gemmStep` runs first
/// on the bufferized functions: the target's own GEMM kernels
/// (quark-gemm-to-matrix-cores), or none; then GEMMs with few rows become
/// split-K kernels (quark-split-k-gemm).
static std::string kernelPrefix(const std::string &linalgOptions,
                                const std::string &gemmStep) {
  return bufferizedLinalg(linalgOptions) +
         "func.func(quark-copies-to-linalg, " + gemmStep +
         "quark-split-k-gemm, quark-tiled-gemm, quark-fuse-row-chains, "
         "convert-linalg-to-parallel-loops, "
         "quark-map-parallel-loops, "
         "convert-parallel-loops-to-gpu), "
         "canonicalize, gpu-launch-sink-index-computations, "
         "gpu-kernel-outlining, quark-annotate-kernel-arguments, lower-affine, "
         "convert-scf-to-cf, canonicalize, "
         "cse";
}

static void addPipeline(OpPassManager &pm, const std::string &text) {
  if (failed(parsePassPipeline(text, pm, llvm::errs())))
    llvm::report_fatal_error("quark: invalid built-in pass pipeline");
}

static std::string writeStep(const std::string &dir) {
  return dir.empty() ? std::string()
                     : ", quark-write-gpu-binaries{dir=" + dir + "}";
}

void mlir::quark::buildQuarkToRocdlPipeline(
    OpPassManager &pm, const RocdlPipelineOptions &options) {
  std::string toolkit = options.toolkit.empty() ? defaultRocmToolkitPath()
                                                : std::string(options.toolkit);
  std::string chip = options.chip;
  std::optional<MatrixCoreTarget> cores = getMatrixCoreTarget(chip);
  if (cores && cores->instructions != MatrixInstructionSet::AmdMfma)
    cores.reset();
  bool ocpFp8 = cores && cores->ocpFp8Conversion;
  std::string text =
      kernelPrefix(ocpFp8 ? "{hardware-ocp-fp8=true}" : "",
                   cores ? "quark-gemm-to-matrix-cores{chip=" + chip + "}, "
                         : "") +
      ", rocdl-attach-target{chip=" + chip + "}, gpu.module(" +
      (ocpFp8 ? "convert-arith-to-amdgpu{chipset=" + chip + "}, " : "") +
      "convert-gpu-to-rocdl{chipset=" + chip +
      " runtime=HIP use-bare-ptr-memref-call-conv=true}, "
      "reconcile-unrealized-casts), " +
      "gpu-module-to-binary{format=" + std::string(options.format) +
      " toolkit=" + toolkit + "}" + writeStep(options.outputDir);
  addPipeline(pm, text);
}

/// The PTX ISA version (times ten) a `+ptxNN` feature string asks for, or 0.
static unsigned ptxVersion(StringRef features) {
  unsigned version = 0;
  SmallVector<StringRef> parts;
  features.split(parts, ',');
  for (StringRef feature : parts)
    if (feature.consume_front("+ptx"))
      (void)feature.getAsInteger(10, version);
  return version;
}

void mlir::quark::buildQuarkToNvvmPipeline(OpPassManager &pm,
                                           const NvvmPipelineOptions &options) {
  std::string chip = options.chip;
  unsigned ptx = ptxVersion(options.features);
  std::optional<MatrixCoreTarget> cores = getMatrixCoreTarget(chip, ptx);
  std::string gemmStep =
      cores && cores->instructions == MatrixInstructionSet::NvidiaMmaSync
          ? "quark-gemm-to-matrix-cores{chip=" + chip +
                " ptx=" + std::to_string(ptx) + "}, "
          : "";
  std::string text =
      kernelPrefix("", gemmStep) +
      ", nvvm-attach-target{chip=" + std::string(options.chip) +
      " features=" + std::string(options.features) +
      "}, gpu.module(convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=true}, "
      "reconcile-unrealized-casts), gpu-module-to-binary{format=" +
      std::string(options.format) + "}" + writeStep(options.outputDir);
  addPipeline(pm, text);
}

void mlir::quark::buildQuarkToCpuPipeline(OpPassManager &pm,
                                          const CpuPipelineOptions &options) {
  std::string emulate =
      options.emulateMatrixCores.empty()
          ? std::string()
          : "quark-gemm-to-matrix-cores{chip=" + options.emulateMatrixCores +
                " emulate=true}, ";
  if (options.emulateSplitK)
    emulate += "quark-split-k-gemm{emulate=true}, ";
  if (options.emulateTiledGemm)
    emulate += "quark-tiled-gemm{emulate=true}, ";
  if (options.emulateRowChains)
    emulate += "quark-fuse-row-chains{emulate=true}, ";
  addPipeline(pm, bufferizedLinalg("") + "func.func(quark-copies-to-linalg, " +
                      emulate +
                      "convert-linalg-to-loops), lower-affine, "
                      "convert-scf-to-cf, expand-strided-metadata, "
                      "convert-vector-to-llvm, finalize-memref-to-llvm, "
                      "convert-math-to-llvm, convert-arith-to-llvm, "
                      "convert-func-to-llvm, convert-cf-to-llvm, "
                      "reconcile-unrealized-casts");
}

void mlir::quark::registerQuarkPipelines() {
  PassPipelineRegistration<RocdlPipelineOptions>(
      "quark-lower-to-rocdl-pipeline",
      "quark kernels to AMD GPU code objects (HSACO) through linalg, gpu and "
      "ROCDL",
      buildQuarkToRocdlPipeline);
  PassPipelineRegistration<NvvmPipelineOptions>(
      "quark-lower-to-nvvm-pipeline",
      "quark kernels to NVIDIA PTX / cubin through linalg, gpu and NVVM",
      buildQuarkToNvvmPipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "quark-lower-to-cpu-pipeline",
      "quark kernels to the LLVM dialect for the host CPU (what "
      "quark-run-kernel JIT-compiles)",
      buildQuarkToCpuPipeline);
}
