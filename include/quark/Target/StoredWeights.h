//===- StoredWeights.h - Quantized weights as quantize-weights stores them
//-===//
//
// After quark-quantize-weights a quantized weight reads
//   quark.param (codes) -> storage_cast | unpack -> quark.dequantize
// with its scale and zero point as further quark.param ops (for a
// progressive spec, a second quark.dequantize by the first stage's scale;
// for a scale-quantizing spec (NVFP4), a scale that is itself the
// dequantize of stored fp8 codes by a per-tensor scale). The
// checkpoint exporters (hf_format, GGUF) find that pattern and read the codes
// and parameters back through a WeightStore, one tensor at a time.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TARGET_STOREDWEIGHTS_H
#define QUARK_TARGET_STOREDWEIGHTS_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/StoredLayout.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <vector>

namespace mlir::quark {

/// Where a quantized weight's codes and parameters live in the IR.
struct StoredWeightIR {
  DequantizeOp dequantize; // of the codes
  ParamOp rawCodes;
  UnpackOp unpack; // null for one code per element
  /// The float scales; null when they are stored quantized (NVFP4), as
  /// `scaleCodes` dequantized by `scaleDequantize` at `scaleOfScales`.
  ParamOp scale;
  ParamOp zeroPoint; // null without one
  ParamOp scaleCodes;
  DequantizeOp scaleDequantize;
  ParamOp scaleOfScales;
  /// A progressive spec (int4_fp8): the codes are its second stage, and
  /// this dequantize (the weight) scales their decoded values by the first
  /// stage's scale `firstStageScale`. Null otherwise.
  DequantizeOp firstStage;
  ParamOp firstStageScale;
};

/// The stored form of `weight`, when it is a dequantize of stored codes.
std::optional<StoredWeightIR> matchStoredWeight(Value weight);

/// Runs `fn` on every float weight the checkpoint writes as it is: each
/// quark.param read from the model checkpoint (no file, no layout) or, as an
/// algorithm rewrote it, from a float tensor of another file, other than
/// the `claimed` ones; stops at the first failure.
LogicalResult
forEachCheckpointParam(ModuleOp module,
                       const llvm::DenseSet<Operation *> &claimed,
                       llvm::function_ref<LogicalResult(ParamOp)> fn);

/// Fails (naming the op) where the module computes something a
/// checkpoint of `format` cannot say: an online Hadamard rotation
/// (quark-rotate r4) has no tensor or config field in hf_format or GGUF,
/// and a loader would run the rotated weights without it.
LogicalResult checkCheckpointExpressible(ModuleOp module,
                                         llvm::StringRef format);

/// Reads stored codes and parameters from a WeightStore.
class StoredWeightReader {
public:
  explicit StoredWeightReader(WeightStore &store) : store(store) {}

  /// The codes, unpacked to one int32 each.
  llvm::Expected<std::vector<int32_t>> codes(const StoredWeightIR &stored);
  /// The codes as a file tensor of `dtype` in `layout`
  /// (encodeStoredCodes); int4 codes the IR keeps packed go to an int4
  /// layout without being unpacked.
  llvm::Expected<std::vector<uint8_t>>
  encodedCodes(const StoredWeightIR &stored, const StoredLayout &layout,
               TensorDType dtype);
  /// The codes' own file tensor when its bytes are already encodedCodes'
  /// (fp8 and int8 weights, one code per byte, untransposed); none
  /// otherwise.
  llvm::Expected<std::optional<TensorRef>>
  codesStoredAs(const StoredWeightIR &stored, const StoredLayout &layout,
                TensorDType dtype);
  llvm::Expected<std::vector<float>> floats(ParamOp param);
  /// The float32 scales the codes are dequantized with (decoded from their
  /// stored codes when the scales are quantized).
  llvm::Expected<std::vector<float>> scales(const StoredWeightIR &stored);
  llvm::Expected<std::vector<int32_t>> ints(ParamOp param);
  /// The zero points, or `count` zeros when the quantizer has none.
  llvm::Expected<std::vector<int32_t>> zeroPoints(const StoredWeightIR &stored,
                                                  int64_t count);

private:
  /// The codes' file tensor as stored (packed words, or one code each).
  llvm::Expected<Tensor> rawCodes(const StoredWeightIR &stored);

  WeightStore &store;
};

} // namespace mlir::quark

#endif // QUARK_TARGET_STOREDWEIGHTS_H
