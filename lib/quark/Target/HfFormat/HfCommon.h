//===- HfCommon.h - Shared pieces of the safetensors exporters --*- C++ -*-===//
//
// The hf_format exporter and the legacy vllm-adopt exporter both collect a
// manifest of file tensors from the quantized IR before a byte is written,
// then produce them one at a time into a folder that is renamed into place
// whole.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_TARGET_HFFORMAT_HFCOMMON_H
#define QUARK_LIB_TARGET_HFFORMAT_HFCOMMON_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/Safetensors.h"
#include "quark/Support/TensorQuant.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::quark {

/// The file dtype of the module's `quark.model_dtype` (F32 when absent).
inline TensorDType modelDType(ModuleOp module) {
  auto dtype = module->getAttrOfType<StringAttr>(kModelDtypeAttr);
  if (dtype && dtype.getValue() == "bfloat16")
    return TensorDType::BF16;
  if (dtype && dtype.getValue() == "float16")
    return TensorDType::F16;
  return TensorDType::F32;
}

/// The IR float type of a float file dtype.
inline Type floatTypeOf(MLIRContext *context, TensorDType dtype) {
  Builder builder(context);
  if (dtype == TensorDType::BF16)
    return builder.getBF16Type();
  if (dtype == TensorDType::F16)
    return builder.getF16Type();
  return builder.getF32Type();
}

inline llvm::Error makeExportError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// A tensor's file bytes: a buffer built for the export, or the tensor as
/// a mapped input file already holds it (copied float weights, fp8 codes),
/// which goes to the output without a buffer of its size and hands its
/// pages back once written.
class ExportBytes {
public:
  ExportBytes(std::vector<uint8_t> built) : built(std::move(built)) {}
  static ExportBytes borrowed(TensorRef source) {
    ExportBytes bytes({});
    bytes.source = source;
    return bytes;
  }
  size_t size() const { return source ? source->bytes().size() : built.size(); }
  /// Appends the bytes to the tensor `writer` is writing.
  llvm::Error writeTo(SafetensorsWriter &writer) && {
    if (!source)
      return writer.append(std::move(built));
    // Read ahead while the writer copies the first pages out.
    source->prefetchPages();
    llvm::Error error = writer.append(source->bytes());
    source->releasePages();
    return error;
  }

private:
  std::vector<uint8_t> built;
  std::optional<TensorRef> source;
};

/// One tensor of an export: its name, file dtype and shape, and how to
/// produce its bytes (run once, when the tensor is written).
struct ManifestTensor {
  std::string name;
  TensorDType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  std::function<llvm::Expected<ExportBytes>()> produce;

  uint64_t byteSize() const;
};

/// The file tensor of a float weight the model reads as it is (`param`):
/// the checkpoint's bytes, or, where an algorithm rewrote it into a file of
/// its own, its values in the checkpoint's dtype for that tensor (the
/// param's dtype for a tensor the algorithm added, such as an untied
/// lm_head). Written under `name`.
llvm::Expected<ManifestTensor>
floatParamTensor(ParamOp param, WeightStore &store, const std::string &name);

/// The parameters of a static quantizer of an activation: a
/// quark.fake_quant whose scale (and zero point) are constants.
struct StaticQuantizer {
  FakeQuantOp op;
  TensorQuantSpec numerics;
  std::vector<float> scales;
  std::vector<int32_t> zeroPoints; // empty without a zero point
  llvm::SmallVector<int64_t, 4> paramShape;
};

/// The static quantizer producing `value`, if any. `dynamic` is set when a
/// quantizer derives its parameters per call instead. Fails (naming `base`
/// at `at`) for quantizers no checkpoint can hold: two-stage (NVFP4)
/// activations and static ones whose parameters are not constants.
FailureOr<std::optional<StaticQuantizer>>
staticQuantizerOf(Value value, Type modelFloat, Operation *at,
                  llvm::StringRef base, bool *dynamic = nullptr);

/// The static quantizer of a linear's output (its one user), if any.
FailureOr<std::optional<StaticQuantizer>>
outputQuantizerOf(LinearOp linear, Type modelFloat, llvm::StringRef base);

/// Writes `tensors` (in that order) to the safetensors file `path`.
llvm::Error
writeSafetensorsFile(llvm::StringRef path,
                     llvm::ArrayRef<const ManifestTensor *> tensors,
                     const std::map<std::string, std::string> &metadata);

/// The absolute, dot-free form of `path`.
llvm::SmallString<256> absolutePath(llvm::StringRef path);

/// Whether `dir` exists and has no entries.
bool isEmptyDirectory(llvm::StringRef dir);

/// Fills a fresh temporary folder beside `target` with `fill`, then puts its
/// files in place: as the folder `target` itself (replacing an old one) when
/// `wholeFolder`, else each file moved into `target` (created if needed,
/// replacing files of the same names). A failing `fill` leaves nothing
/// behind and `target` as it was.
llvm::Error
publishFolder(llvm::StringRef target, bool wholeFolder,
              llvm::function_ref<llvm::Error(llvm::StringRef dir)> fill);

} // namespace mlir::quark

#endif // QUARK_LIB_TARGET_HFFORMAT_HFCOMMON_H
