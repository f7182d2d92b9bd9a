//===- StoredWeights.cpp - Quantized weights as quantize-weights stores them
//===//

#include "quark/Target/StoredWeights.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Support/TensorQuant.h"

using namespace mlir;
using namespace mlir::quark;

std::optional<StoredWeightIR> mlir::quark::matchStoredWeight(Value weight) {
  auto dequantize = weight.getDefiningOp<DequantizeOp>();
  if (!dequantize)
    return std::nullopt;
  StoredWeightIR stored;
  stored.dequantize = dequantize;
  if (dequantize.hasDecodedInput()) {
    stored.firstStage = dequantize;
    stored.firstStageScale =
        dequantize.getScale() ? dequantize.getScale().getDefiningOp<ParamOp>()
                              : ParamOp();
    dequantize = dequantize.getInput().getDefiningOp<DequantizeOp>();
    if (!stored.firstStageScale || !dequantize || dequantize.hasDecodedInput())
      return std::nullopt;
    stored.dequantize = dequantize;
  }
  Value codes = dequantize.getInput();
  if (auto cast = codes.getDefiningOp<StorageCastOp>()) {
    stored.rawCodes = cast.getInput().getDefiningOp<ParamOp>();
  } else if (auto unpack = codes.getDefiningOp<UnpackOp>()) {
    stored.unpack = unpack;
    stored.rawCodes = unpack.getInput().getDefiningOp<ParamOp>();
  }
  if (Value scale = dequantize.getScale()) {
    stored.scale = scale.getDefiningOp<ParamOp>();
    if (auto scaleDequantize = scale.getDefiningOp<DequantizeOp>()) {
      auto cast = scaleDequantize.getInput().getDefiningOp<StorageCastOp>();
      stored.scaleCodes =
          cast ? cast.getInput().getDefiningOp<ParamOp>() : ParamOp();
      stored.scaleOfScales =
          scaleDequantize.getScale()
              ? scaleDequantize.getScale().getDefiningOp<ParamOp>()
              : ParamOp();
      if (!stored.scaleCodes || !stored.scaleOfScales ||
          scaleDequantize.getZeroPoint())
        return std::nullopt;
      stored.scaleDequantize = scaleDequantize;
    }
  }
  if (dequantize.getZeroPoint())
    stored.zeroPoint = dequantize.getZeroPoint().getDefiningOp<ParamOp>();
  if (!stored.rawCodes ||
      (dequantize.getScale() && !stored.scale && !stored.scaleDequantize) ||
      (dequantize.getZeroPoint() && !stored.zeroPoint))
    return std::nullopt;
  return stored;
}

LogicalResult mlir::quark::forEachCheckpointParam(
    ModuleOp module, const llvm::DenseSet<Operation *> &claimed,
    llvm::function_ref<LogicalResult(ParamOp)> fn) {
  WalkResult result = module.walk([&](ParamOp param) {
    // A float param with a file that no quantizer reads as its scale is a
    // weight an algorithm rewrote (SmoothQuant's norms); other params with
    // files hold stored codes and parameters, which their layer claims.
    bool quantParam = llvm::any_of(param->getUses(), [](OpOperand &use) {
      return isa<DequantizeOp, FakeQuantOp, QuantizeOp>(use.getOwner()) &&
             use.getOperandNumber() > 0;
    });
    bool rewritten = param.getFile() && !quantParam &&
                     isa<FloatType>(param.getType().getElementType());
    if ((param.getFile() && !rewritten) || param.getLayout() ||
        claimed.contains(param))
      return WalkResult::advance();
    return failed(fn(param)) ? WalkResult::interrupt() : WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

LogicalResult mlir::quark::checkCheckpointExpressible(ModuleOp module,
                                                      llvm::StringRef format) {
  WalkResult result = module.walk([&](HadamardOp rotation) {
    rotation.emitError() << "an online Hadamard rotation (quark-rotate r4) "
                            "has no representation in a "
                         << format
                         << " checkpoint; rotate without r4 to export";
    return WalkResult::interrupt();
  });
  return failure(result.wasInterrupted());
}

llvm::Expected<std::vector<int32_t>>
StoredWeightReader::codes(const StoredWeightIR &stored) {
  llvm::Expected<Tensor> words = rawCodes(stored);
  if (!words)
    return words.takeError();
  llvm::ArrayRef<int32_t> ints = words->ints();
  if (!stored.unpack)
    return std::vector<int32_t>(ints.begin(), ints.end());
  UnpackOp unpack = stored.unpack;
  auto codeType = cast<RankedTensorType>(unpack.getType());
  return unpackCodes(codeType.getElementType(), codeType.getShape(), ints,
                     unpack.getPackMethod());
}

llvm::Expected<Tensor>
StoredWeightReader::rawCodes(const StoredWeightIR &stored) {
  ParamOp raw = stored.rawCodes;
  return store.getCodes(raw.getName(), raw.getFile().value_or(""));
}

llvm::Expected<std::vector<uint8_t>>
StoredWeightReader::encodedCodes(const StoredWeightIR &stored,
                                 const StoredLayout &layout,
                                 TensorDType dtype) {
  DequantizeOp dequantize = stored.dequantize;
  auto codeType = cast<RankedTensorType>(dequantize.getInput().getType());
  auto element = dyn_cast<quant::QuantizedType>(codeType.getElementType());
  bool packedInt4 = stored.unpack && element &&
                    element.getStorageTypeIntegralWidth() == 4 &&
                    layout.packing == StoredLayout::Packing::Int4;
  if (!packedInt4) {
    llvm::Expected<std::vector<int32_t>> values = codes(stored);
    if (!values)
      return values.takeError();
    return encodeStoredCodes(layout, dtype, codeType.getShape(), *values);
  }
  llvm::Expected<Tensor> words = rawCodes(stored);
  if (!words)
    return words.takeError();
  UnpackOp unpack = stored.unpack;
  return encodePackedInt4Codes(layout, dtype, codeType.getShape(),
                               words->ints(),
                               toPackOrder(unpack.getPackMethod()));
}

llvm::Expected<std::optional<TensorRef>>
StoredWeightReader::codesStoredAs(const StoredWeightIR &stored,
                                  const StoredLayout &layout,
                                  TensorDType dtype) {
  if (stored.unpack || !layout.isIdentity())
    return std::optional<TensorRef>();
  ParamOp raw = stored.rawCodes;
  llvm::Expected<TensorRef> source =
      store.locate(raw.getName(), raw.getFile().value_or(""));
  if (!source)
    return source.takeError();
  // A one-byte code is its low byte in any one-byte dtype; wider codes need
  // the same dtype.
  TensorDType sourceDType = source->info->dtype;
  DequantizeOp dequantize = stored.dequantize;
  auto codeType = cast<RankedTensorType>(dequantize.getInput().getType());
  if (tensorDTypeSize(sourceDType) != tensorDTypeSize(dtype) ||
      (sourceDType != dtype && tensorDTypeSize(dtype) != 1) ||
      llvm::ArrayRef<int64_t>(source->info->shape) != codeType.getShape())
    return std::optional<TensorRef>();
  return std::optional<TensorRef>(*source);
}

llvm::Expected<std::vector<float>> StoredWeightReader::floats(ParamOp param) {
  llvm::Expected<Tensor> value =
      store.get(param.getName(), param.getFile().value_or(""));
  if (!value)
    return value.takeError();
  return std::vector<float>(value->floats().begin(), value->floats().end());
}

llvm::Expected<std::vector<float>>
StoredWeightReader::scales(const StoredWeightIR &stored) {
  if (!stored.scaleDequantize)
    return floats(stored.scale);
  llvm::Expected<std::vector<int32_t>> codes = ints(stored.scaleCodes);
  if (!codes)
    return codes.takeError();
  llvm::Expected<std::vector<float>> scaleOfScales =
      floats(stored.scaleOfScales);
  if (!scaleOfScales)
    return scaleOfScales.takeError();
  DequantizeOp scaleDequantize = stored.scaleDequantize;
  auto type = cast<RankedTensorType>(scaleDequantize.getType());
  FailureOr<TensorQuantSpec> spec =
      getTensorQuantSpec(scaleDequantize.getSpec(), type.getElementType(),
                         [&] { return scaleDequantize.emitError(); });
  if (failed(spec))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unsupported spec of quantized scales");
  llvm::Expected<QuantLayout> layout = QuantLayout::get(type.getShape(), *spec);
  if (!layout)
    return layout.takeError();
  QuantParams params;
  params.scales = std::move(*scaleOfScales);
  std::vector<float> values(codes->size());
  if (llvm::Error error =
          dequantizeTensor(*spec, *layout, *codes, params, values))
    return std::move(error);
  return values;
}

llvm::Expected<std::vector<int32_t>> StoredWeightReader::ints(ParamOp param) {
  llvm::Expected<Tensor> value =
      store.getCodes(param.getName(), param.getFile().value_or(""));
  if (!value)
    return value.takeError();
  return std::vector<int32_t>(value->ints().begin(), value->ints().end());
}

llvm::Expected<std::vector<int32_t>>
StoredWeightReader::zeroPoints(const StoredWeightIR &stored, int64_t count) {
  if (!stored.zeroPoint)
    return std::vector<int32_t>(static_cast<size_t>(count), 0);
  return ints(stored.zeroPoint);
}
