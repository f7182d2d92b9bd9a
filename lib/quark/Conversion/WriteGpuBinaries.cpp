//===- WriteGpuBinaries.cpp - quark-write-gpu-binaries --------------------===//
//
// The kernel files of gpu.binary ops and kernels.json, the manifest a
// launcher (Runtime/HIP) reads: which kernels a host function launches, in
// which order, with which grid and block, on which buffers.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "KernelBuffers.h"

#include "quark/Support/AtomicFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMAttrs.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/ROCDLDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKWRITEGPUBINARIES
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

llvm::json::Object memrefJson(MemRefType type) {
  return llvm::json::Object{
      {"shape", llvm::json::Array(type.getShape())},
      {"element", typeString(type.getElementType())},
      {"bytes",
       static_cast<int64_t>((type.getNumElements() *
                                 type.getElementType().getIntOrFloatBitWidth() +
                             7) /
                            8)}};
}

std::string fileExtension(gpu::ObjectAttr object) {
  bool nvidia = isa<NVVM::NVVMTargetAttr>(object.getTarget());
  switch (object.getFormat()) {
  case gpu::CompilationTarget::Assembly:
    return nvidia ? "ptx" : "s";
  case gpu::CompilationTarget::Binary:
    return nvidia ? "cubin" : "hsaco";
  case gpu::CompilationTarget::Fatbin:
    return nvidia ? "fatbin" : "hsaco";
  default:
    return "ll";
  }
}

std::string targetChip(Attribute target) {
  if (auto rocdl = dyn_cast<ROCDL::ROCDLTargetAttr>(target))
    return rocdl.getChip().str();
  if (auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(target))
    return nvvm.getChip().str();
  return "target";
}

struct WriteGpuBinariesPass
    : mlir::quark::impl::QuarkWriteGpuBinariesBase<WriteGpuBinariesPass> {
  using QuarkWriteGpuBinariesBase::QuarkWriteGpuBinariesBase;

  /// The manifest holds launches only: a host op that reads or writes a
  /// buffer itself (a copy, a loop no pipeline mapped to the GPU) would be
  /// skipped by every launcher and its result silently lost. Checked before
  /// anything is written.
  static LogicalResult checkHostFunctions(ModuleOp module) {
    bool ok = true;
    for (auto function : module.getOps<func::FuncOp>())
      function.walk([&](Operation *op) {
        auto effects = dyn_cast<MemoryEffectOpInterface>(op);
        if (!effects || isa<gpu::LaunchFuncOp>(op))
          return;
        if (effects.hasEffect<MemoryEffects::Read>() ||
            effects.hasEffect<MemoryEffects::Write>()) {
          op->emitError("accesses a buffer on the host in function '")
              << function.getSymName()
              << "'; the kernel manifest can only launch kernels";
          ok = false;
        }
      });
    return success(ok);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (outputDir.empty()) {
      module.emitError("quark-write-gpu-binaries needs dir=<folder>");
      return signalPassFailure();
    }
    if (failed(checkHostFunctions(module)))
      return signalPassFailure();
    if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
      module.emitError() << "cannot create " << outputDir << ": "
                         << ec.message();
      return signalPassFailure();
    }
    llvm::json::Object files;
    for (auto binary : module.getOps<gpu::BinaryOp>()) {
      for (Attribute attr : binary.getObjects()) {
        auto object = cast<gpu::ObjectAttr>(attr);
        std::string name =
            (binary.getSymName() + "." + targetChip(object.getTarget()) + "." +
             fileExtension(object))
                .str();
        llvm::SmallString<256> path(outputDir);
        llvm::sys::path::append(path, name);
        if (llvm::Error error =
                writeFileAtomically(path, object.getObject().getValue())) {
          module.emitError() << "cannot write " << path << ": "
                             << llvm::toString(std::move(error));
          return signalPassFailure();
        }
        files[binary.getSymName()] = name;
      }
    }

    llvm::json::Array functions;
    for (auto function : module.getOps<func::FuncOp>()) {
      if (function.isExternal())
        continue;
      // Buffers: the function's memref arguments, then its allocations.
      DenseMap<Value, int64_t> buffers;
      llvm::json::Array bufferList;
      for (BlockArgument arg : function.getArguments())
        if (auto type = dyn_cast<MemRefType>(arg.getType())) {
          buffers[arg] = bufferList.size();
          llvm::json::Object entry = memrefJson(type);
          entry["argument"] = static_cast<int64_t>(arg.getArgNumber());
          bufferList.push_back(std::move(entry));
        }
      function.walk([&](memref::AllocOp alloc) {
        buffers[alloc] = bufferList.size();
        llvm::json::Object entry = memrefJson(alloc.getType());
        entry["allocated"] = true;
        bufferList.push_back(std::move(entry));
      });
      // A view of a buffer (collapse / expand / cast) is that buffer.
      auto root = [&](Value value) -> std::optional<int64_t> {
        auto it = buffers.find(baseKeepingViewSource(value));
        if (it == buffers.end())
          return std::nullopt;
        return it->second;
      };
      llvm::json::Array launches;
      bool ok = true;
      function.walk([&](gpu::LaunchFuncOp launch) {
        auto dims = [&](gpu::KernelDim3 dim3) {
          llvm::json::Array values;
          for (Value v : {dim3.x, dim3.y, dim3.z}) {
            std::optional<int64_t> c = getConstantIntValue(v);
            if (!c) {
              launch.emitError("has a launch size that is not a constant");
              ok = false;
            }
            values.push_back(c.value_or(0));
          }
          return values;
        };
        llvm::json::Array args;
        for (Value operand : launch.getKernelOperands()) {
          if (std::optional<int64_t> buffer = root(operand)) {
            args.push_back(llvm::json::Object{{"buffer", *buffer}});
            continue;
          }
          launch.emitError("passes a kernel argument that is not a buffer "
                           "of the function (")
              << operand.getType() << ")";
          ok = false;
        }
        launches.push_back(llvm::json::Object{
            {"module", launch.getKernelModuleName().getValue()},
            {"kernel", launch.getKernelName().getValue()},
            {"grid", dims(launch.getGridSizeOperandValues())},
            {"block", dims(launch.getBlockSizeOperandValues())},
            {"args", std::move(args)}});
      });
      llvm::json::Array results;
      function.walk([&](func::ReturnOp ret) {
        for (Value value : ret.getOperands())
          if (std::optional<int64_t> buffer = root(value))
            results.push_back(*buffer);
      });
      if (!ok)
        return signalPassFailure();
      if (launches.empty())
        continue;
      llvm::json::Object entry{{"name", function.getSymName()},
                               {"buffers", std::move(bufferList)},
                               {"launches", std::move(launches)},
                               {"results", std::move(results)}};
      if (auto layers = function->getAttrOfType<ArrayAttr>("quark.layers")) {
        llvm::json::Array names;
        for (Attribute layer : layers)
          names.push_back(cast<StringAttr>(layer).getValue());
        entry["layers"] = std::move(names);
      }
      functions.push_back(std::move(entry));
    }
    llvm::json::Object manifest{{"format", "quark-kernels/1"},
                                {"binaries", std::move(files)},
                                {"functions", std::move(functions)}};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest)))
       << "\n";
    llvm::SmallString<256> path(outputDir);
    llvm::sys::path::append(path, "kernels.json");
    if (llvm::Error error = writeFileAtomically(path, text)) {
      module.emitError() << "cannot write " << path << ": "
                         << llvm::toString(std::move(error));
      return signalPassFailure();
    }
  }
};

} // namespace
