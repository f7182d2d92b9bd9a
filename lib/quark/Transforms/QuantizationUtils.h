//===- QuantizationUtils.h - Shared pieces of the quantization passes -----===//

#ifndef QUARK_LIB_TRANSFORMS_QUANTIZATIONUTILS_H
#define QUARK_LIB_TRANSFORMS_QUANTIZATIONUTILS_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/HistogramObserver.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Transforms/Calibration.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::quark {

/// The float type Quark's `scale_type = float` means for this module: its
/// `quark.model_dtype` (bf16 for a bf16 model), f32 when absent.
Type modelFloatType(ModuleOp module);

/// How calibration observes for `spec`: a running histogram (the per-tensor
/// histogram, percentile and MSE observers), or running min/max (nullopt).
/// Fails for observers this build does not implement (histogrampro, the
/// power-of-two ONNX-style observers, LSQ/TQT training observers).
FailureOr<std::optional<HistogramMethod>>
observerMethod(TensorSpecAttr spec,
               llvm::function_ref<InFlightDiagnostic()> emitError);

/// The single-stage tensor spec of a QLayerConfig field, or null when the
/// field is empty or two-stage.
TensorSpecAttr singleStage(Attribute field);

/// Scale (f32) and zero-point (i32, null when `spec` has none) tensor
/// types of `spec` applied to a tensor of `type`; errors go to `at`.
FailureOr<std::pair<RankedTensorType, RankedTensorType>>
paramTypes(TensorSpecAttr spec, RankedTensorType type, Operation *at);

/// The minimum and maximum of tensor `name` (from `file`, by default the
/// model checkpoint) of `shape`, streamed in row chunks on all threads:
/// the whole-tensor statistics of a per-tensor weight scale. {0, 0} for an
/// empty tensor.
llvm::Expected<MinMaxStats> streamedExtremes(WeightStore &store,
                                             llvm::StringRef name,
                                             llvm::StringRef file,
                                             llvm::ArrayRef<int64_t> shape);

} // namespace mlir::quark

#endif // QUARK_LIB_TRANSFORMS_QUANTIZATIONUTILS_H
