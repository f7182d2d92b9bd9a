//===- QuantizeWeights.cpp - Weights stored as codes and scales -----------===//
//
// Finds the weights `quark-freeze` fake-quantized (a quark.fake_quant or a
// scale-quantizing quark.two_stage_fake_quant of a quark.param), writes
// their codes and parameters to one safetensors file, streaming one weight
// at a time, and rewrites each into param -> storage_cast -> dequantize.
//
//===----------------------------------------------------------------------===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/Safetensors.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKQUANTIZEWEIGHTS
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// One weight to store.
struct StoredWeight {
  Operation *quantizer;   // the fake_quant / two_stage_fake_quant
  ParamOp param;
  TensorSpecAttr spec;    // the (first-stage) element spec
  TwoStageSpecAttr twoStage;
  TensorQuantSpec numerics;
  TensorQuantSpec secondNumerics;
  TensorDType storage;
  RankedTensorType paramType; // of the scales (and zero points)
  bool hasZeroPoint = false;
};

/// Safetensors dtype holding one code per element.
std::optional<TensorDType> storageDType(const TensorQuantSpec &spec) {
  const DTypeInfo &info = getDTypeInfo(spec.elementType());
  if (info.isInteger()) {
    if (info.bits <= 8)
      return info.isSigned() ? TensorDType::I8 : TensorDType::U8;
    if (info.bits <= 16 && info.isSigned())
      return TensorDType::I16;
    if (info.bits <= 32 && info.isSigned())
      return TensorDType::I32;
    return std::nullopt;
  }
  if (info.kind != DTypeKind::Float)
    return std::nullopt;
  if (info.dtype == QuantDType::FP8E4M3)
    return TensorDType::F8_E4M3;
  if (info.dtype == QuantDType::FP8E5M2)
    return TensorDType::F8_E5M2;
  return TensorDType::U8; // fp6, fp4, e5m3 bit patterns
}

std::vector<uint8_t> encodeCodes(llvm::ArrayRef<int32_t> codes,
                                 TensorDType dtype) {
  size_t width = tensorDTypeSize(dtype);
  std::vector<uint8_t> bytes(codes.size() * width);
  for (size_t i = 0; i < codes.size(); ++i) {
    uint32_t value = static_cast<uint32_t>(codes[i]);
    for (size_t b = 0; b < width; ++b)
      bytes[i * width + b] = static_cast<uint8_t>(value >> (8 * b));
  }
  return bytes;
}

template <typename T>
llvm::ArrayRef<uint8_t> asBytes(llvm::ArrayRef<T> values) {
  return {reinterpret_cast<const uint8_t *>(values.data()),
          values.size() * sizeof(T)};
}

struct QuantizeWeightsPass
    : mlir::quark::impl::QuarkQuantizeWeightsBase<QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (outputFile.empty()) {
      module.emitError() << "quark-quantize-weights needs output-file";
      return signalPassFailure();
    }
    auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
    if (!modelDir) {
      module.emitError() << "the module has no '" << kModelDirAttr << "'";
      return signalPassFailure();
    }
    llvm::SmallString<256> path(outputFile);
    llvm::sys::fs::make_absolute(path);

    std::vector<StoredWeight> weights;
    if (failed(collect(module, weights)))
      return signalPassFailure();
    if (weights.empty())
      return;

    // Declare everything first: the writer streams tensors in this order.
    std::vector<SafetensorsWriter::Declaration> declarations;
    llvm::StringSet<> declared;
    for (StoredWeight &weight : weights) {
      std::string name = weight.param.getName().str();
      if (!declared.insert(name).second) {
        weight.quantizer->emitError()
            << "weight '" << name << "' is quantized twice";
        return signalPassFailure();
      }
      declarations.push_back(
          {name, weight.storage,
           llvm::SmallVector<int64_t, 4>(weight.param.getType().getShape())});
      declarations.push_back(
          {name + "_scale", TensorDType::F32,
           llvm::SmallVector<int64_t, 4>(weight.paramType.getShape())});
      if (weight.hasZeroPoint)
        declarations.push_back(
            {name + "_zero_point", TensorDType::I32,
             llvm::SmallVector<int64_t, 4>(weight.paramType.getShape())});
      if (weight.twoStage)
        declarations.push_back({name + "_scale_2", TensorDType::F32, {}});
    }
    llvm::Expected<std::unique_ptr<SafetensorsWriter>> writer =
        SafetensorsWriter::create(path, declarations,
                                  {{"format", "quark-mlir"}});
    if (!writer) {
      module.emitError() << llvm::toString(writer.takeError());
      return signalPassFailure();
    }

    WeightStore store(modelDir.str());
    store.setCaching(false);
    for (StoredWeight &weight : weights)
      if (failed(store_(weight, store, **writer, path)))
        return signalPassFailure();
    if (llvm::Error error = (*writer)->finish()) {
      module.emitError() << llvm::toString(std::move(error));
      return signalPassFailure();
    }
  }

  LogicalResult collect(ModuleOp module, std::vector<StoredWeight> &weights) {
    WalkResult result = module.walk([&](Operation *op) {
      TensorSpecAttr spec;
      TwoStageSpecAttr twoStage;
      Value input;
      if (auto fakeQuant = dyn_cast<FakeQuantOp>(op)) {
        spec = fakeQuant.getSpec();
        input = fakeQuant.getInput();
      } else if (auto twoStageOp = dyn_cast<TwoStageFakeQuantOp>(op)) {
        twoStage = twoStageOp.getSpec();
        input = twoStageOp.getInput();
        if (!twoStage.quantizesScales()) {
          ++numSimulated;
          return WalkResult::advance();
        }
        spec = twoStage.getFirst();
      } else {
        return WalkResult::advance();
      }
      auto param = input.getDefiningOp<ParamOp>();
      if (!param)
        return WalkResult::advance(); // an activation
      if (spec.isBlockFloat() || spec.isCast()) {
        ++numSimulated;
        return WalkResult::advance();
      }
      auto emitError = [&] { return op->emitError(); };
      Type element = param.getType().getElementType();
      FailureOr<TensorQuantSpec> numerics =
          getTensorQuantSpec(spec, element, emitError);
      if (failed(numerics))
        return WalkResult::interrupt();
      StoredWeight weight{op, param, spec, twoStage, *numerics, {}, {}, {}, false};
      if (twoStage) {
        FailureOr<TensorQuantSpec> second =
            getTensorQuantSpec(twoStage.getSecond(), element, emitError);
        if (failed(second))
          return WalkResult::interrupt();
        weight.secondNumerics = *second;
      }
      std::optional<TensorDType> storage = storageDType(*numerics);
      if (!storage) {
        op->emitError() << "no storage dtype for "
                        << stringifyDtype(spec.getDtype()) << " codes";
        return WalkResult::interrupt();
      }
      weight.storage = *storage;
      FailureOr<SmallVector<int64_t>> shape =
          getParamShape(spec, param.getType().getShape(), emitError);
      if (failed(shape))
        return WalkResult::interrupt();
      weight.paramType =
          RankedTensorType::get(*shape, Float32Type::get(&getContext()));
      weight.hasZeroPoint = numerics->hasZeroPoint();
      weights.push_back(weight);
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }

  /// Quantizes one weight, writes it, and rewrites its IR.
  LogicalResult store_(StoredWeight &weight, WeightStore &store,
                       SafetensorsWriter &writer, llvm::StringRef path) {
    Operation *op = weight.quantizer;
    std::string name = weight.param.getName().str();
    llvm::Expected<Tensor> values =
        store.get(name, weight.param.getFile().value_or(""));
    if (!values)
      return op->emitError() << llvm::toString(values.takeError());
    llvm::Expected<QuantLayout> layout =
        QuantLayout::get(values->shape(), weight.numerics);
    if (!layout)
      return op->emitError() << llvm::toString(layout.takeError());

    // The parameters quark-freeze computed: a weight's own statistics,
    // its MX block scales, or NVFP4's quantized block scales.
    QuantParams params;
    float secondScale = 0.0f;
    if (weight.twoStage) {
      float amax = 0.0f;
      for (float x : values->floats())
        amax = std::max(amax, std::fabs(x));
      secondScale = scaleQuantSecondScale(weight.numerics,
                                          weight.secondNumerics, amax);
      llvm::Expected<std::vector<float>> scales = scaleQuantBlockScales(
          weight.numerics, weight.secondNumerics, *layout, values->floats(),
          secondScale);
      if (!scales)
        return op->emitError() << llvm::toString(scales.takeError());
      params.scales = std::move(*scales);
    } else {
      llvm::Expected<QuantParams> computed =
          computeDynamicParams(weight.numerics, *layout, values->floats());
      if (!computed)
        return op->emitError() << llvm::toString(computed.takeError());
      params = std::move(*computed);
    }
    std::vector<int32_t> codes(values->floats().size());
    if (llvm::Error error = quantizeTensor(weight.numerics, *layout,
                                           values->floats(), params, codes))
      return op->emitError() << "'" << name
                             << "': " << llvm::toString(std::move(error));
    auto write = [&](llvm::StringRef tensor,
                     llvm::ArrayRef<uint8_t> bytes) -> LogicalResult {
      if (llvm::Error error = writer.write(tensor, bytes))
        return op->emitError() << llvm::toString(std::move(error));
      return success();
    };
    if (failed(write(name, encodeCodes(codes, weight.storage))) ||
        failed(write(name + "_scale", asBytes(llvm::ArrayRef(params.scales)))))
      return failure();
    if (weight.hasZeroPoint &&
        failed(write(name + "_zero_point",
                     asBytes(llvm::ArrayRef(params.zeroPoints)))))
      return failure();
    if (weight.twoStage &&
        failed(write(name + "_scale_2",
                     asBytes(llvm::ArrayRef<float>(&secondScale, 1)))))
      return failure();

    // param (codes) -> storage_cast -> dequantize, replacing the quantizer.
    OpBuilder builder(op);
    Location loc = op->getLoc();
    RankedTensorType weightType = weight.param.getType();
    Type codeElement = getCodeElementType(weight.spec, builder.getF32Type());
    Type storageElement = StorageCastOp::getStorageElementType(codeElement);
    StringAttr file = builder.getStringAttr(path);
    auto rawCodes = ParamOp::create(
        builder, loc, RankedTensorType::get(weightType.getShape(), storageElement),
        builder.getStringAttr(name), file);
    auto codeValues = StorageCastOp::create(
        builder, loc, RankedTensorType::get(weightType.getShape(), codeElement),
        rawCodes);
    Value scale = ParamOp::create(builder, loc, weight.paramType,
                                  builder.getStringAttr(name + "_scale"), file);
    Value zeroPoint;
    if (weight.hasZeroPoint)
      zeroPoint = ParamOp::create(
          builder, loc,
          RankedTensorType::get(weight.paramType.getShape(),
                                builder.getI32Type()),
          builder.getStringAttr(name + "_zero_point"), file);
    auto dequantized = DequantizeOp::create(builder, loc, weightType,
                                            codeValues, weight.spec, scale,
                                            zeroPoint);
    op->getResult(0).replaceAllUsesWith(dequantized.getResult());
    // The freeze-time parameter computation goes with its quantizer.
    SmallVector<Operation *> producers;
    for (Value operand : op->getOperands())
      if (Operation *producer = operand.getDefiningOp())
        if (isa<ComputeQParamsOp>(producer))
          producers.push_back(producer);
    op->erase();
    for (Operation *producer : producers)
      if (producer->use_empty())
        producer->erase();
    if (weight.param->use_empty())
      weight.param->erase();
    ++numStored;
    return success();
  }
};
} // namespace
