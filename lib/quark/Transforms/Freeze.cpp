//===- Freeze.cpp - Fixed quantization from statistics and weights --------===//
//
// After calibration every quantizer of the model is placed:
//  * a filled quark.observe becomes a quark.fake_quant with the scale (and
//    zero point) Quark computes from its statistics, as constants;
//  * a weight gets quark.compute_qparams on itself feeding a
//    quark.fake_quant (a static weight observer sees exactly the weight,
//    so its parameters are a function of the weight; the IR stays small and
//    the executor computes them once). MX and block formats need no
//    parameter operands;
//  * dynamic inputs and outputs get a quark.fake_quant that derives its
//    parameters per call.
//
//===----------------------------------------------------------------------===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Config/QuantConfig.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKFREEZE
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// `fake_quant(value)` with parameters the input derives itself: none for
/// MX, block formats and casts, `compute_qparams(value)` otherwise.
FailureOr<Value> quantizeFromData(OpBuilder &builder, Location loc,
                                  Value value, TensorSpecAttr spec,
                                  Operation *at) {
  Value scale, zeroPoint;
  bool derivesOwnScales = spec.isBlockFloat() || spec.isCast() ||
                          spec.getDtype() == Dtype::mx ||
                          spec.getScaleFormat() == ScaleFormatType::e8m0;
  auto type = cast<RankedTensorType>(value.getType());
  // Dynamic specs compute their parameters inside fake_quant; a static
  // spec applied to the data it was calibrated on (a weight) takes them as
  // operands, from compute_qparams.
  if (!derivesOwnScales && !spec.getIsDynamic().value_or(false)) {
    FailureOr<std::pair<RankedTensorType, RankedTensorType>> types =
        paramTypes(spec, type, at);
    if (failed(types))
      return failure();
    auto params = ComputeQParamsOp::create(builder, loc, types->first,
                                           types->second, value, spec);
    scale = params.getScale();
    zeroPoint = params.getZeroPoint();
  }
  return FakeQuantOp::create(builder, loc, type, value, spec, scale, zeroPoint)
      .getResult();
}

struct FreezePass : mlir::quark::impl::QuarkFreezeBase<FreezePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Type modelFloat = modelFloatType(module);

    SmallVector<ObserveOp> observers;
    module.walk([&](ObserveOp op) { observers.push_back(op); });
    for (ObserveOp op : observers)
      if (failed(freezeObserver(op, modelFloat)))
        return signalPassFailure();

    if (failed(shareKvScales(module, modelFloat)))
      return signalPassFailure();

    WalkResult attention = module.walk([&](AttentionOp op) {
      return failed(freezeSoftmax(op, modelFloat)) ? WalkResult::interrupt()
                                                   : WalkResult::advance();
    });
    if (attention.wasInterrupted())
      return signalPassFailure();

    WalkResult result = module.walk([&](LinearOp linear) {
      return failed(freezeLayer(linear)) ? WalkResult::interrupt()
                                         : WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
  }

  /// Quark's export writes one scale for the K and V projections of a layer
  /// (ModelPostProcessor._build_kv_scale): the larger of their output
  /// scales, raised to min_kv_scale. It is applied here, so that what is
  /// evaluated is what vLLM will run. Groups whose members are not all
  /// statically per-tensor quantized keep their scales, as in Quark; so does
  /// everything when the global config quantizes every output.
  LogicalResult shareKvScales(ModuleOp module, Type modelFloat) {
    auto attr = module->getAttrOfType<DictionaryAttr>(kQuantConfigAttr);
    if (!attr)
      return success();
    FailureOr<QuantConfig> config =
        QuantConfig::fromAttr(attr, [&] { return module.emitError(); });
    if (failed(config))
      return failure();
    if (config->kvCacheGroup.empty() ||
        (config->global && config->global.getOutputTensors()))
      return success();
    std::vector<std::string> names;
    llvm::StringMap<LinearOp> byName;
    module.walk([&](LinearOp linear) {
      names.push_back(linear.getName().str());
      byName[linear.getName()] = linear;
    });
    for (const std::vector<std::string> &group :
         findPatternGroups(config->kvCacheGroup, names)) {
      SmallVector<FakeQuantOp> quantizers;
      SmallVector<float> scales;
      for (const std::string &name : group) {
        LinearOp linear = byName.lookup(name);
        Value result = linear.getResult();
        auto quantizer = result.hasOneUse()
                             ? dyn_cast<FakeQuantOp>(*result.getUsers().begin())
                             : FakeQuantOp();
        if (!quantizer || !quantizer.getScale() || quantizer.getZeroPoint() ||
            quantizer.getSpec().getQscheme() != QSchemeType::per_tensor)
          break;
        DenseElementsAttr scale;
        if (!matchPattern(quantizer.getScale(), m_Constant(&scale)))
          break;
        quantizers.push_back(quantizer);
        scales.push_back(readFloats(scale).front());
      }
      if (quantizers.size() != group.size())
        continue;
      FailureOr<TensorQuantSpec> numerics = getTensorQuantSpec(
          quantizers.front().getSpec(), modelFloat,
          [&] { return quantizers.front().emitError(); });
      if (failed(numerics))
        return failure();
      float shared = sharedKvScale(
          scales, roundScale(static_cast<float>(config->minKvScale),
                             numerics->scalePrecision));
      for (FakeQuantOp quantizer : quantizers) {
        OpBuilder builder(quantizer);
        Value scale = arith::ConstantOp::create(
            builder, quantizer.getLoc(),
            makeFloats(cast<ShapedType>(quantizer.getScale().getType()),
                       {shared}));
        Operation *old = quantizer.getScale().getDefiningOp();
        quantizer.getScaleMutable().assign(scale);
        if (old->use_empty())
          old->erase();
      }
    }
    return success();
  }

  /// Quark's softmax_quant_spec: the probabilities' per-tensor scale from
  /// their calibrated maximum (the minimum is 0: masked probabilities).
  LogicalResult freezeSoftmax(AttentionOp op, Type modelFloat) {
    TensorSpecAttr spec = op.getSoftmaxSpecAttr();
    if (!spec || op.getSoftmaxScaleAttr())
      return success();
    if (!op.getSoftmaxMaxAttr())
      return op.emitError() << "its softmax_spec needs the probabilities' "
                               "maximum: run quark-calibrate first";
    FailureOr<TensorQuantSpec> numerics =
        getTensorQuantSpec(spec, modelFloat, [&] { return op.emitError(); });
    if (failed(numerics))
      return failure();
    MinMaxStats stats{
        {0.0f}, {static_cast<float>(op.getSoftmaxMaxAttr().getValueAsDouble())}};
    llvm::Expected<QuantParams> params = computeQuantParams(*numerics, stats);
    if (!params)
      return op.emitError() << llvm::toString(params.takeError());
    op.setSoftmaxScaleAttr(FloatAttr::get(Float32Type::get(&getContext()),
                                          params->scales.front()));
    ++numActivations;
    return success();
  }

  /// The scale-quantizing two-stage spec `op` calibrates, when the layer it
  /// feeds (or that feeds it) quantizes that value with one.
  static TwoStageSpecAttr scaleQuantOf(ObserveOp op) {
    auto twoStage = [](Attribute field) {
      auto spec = dyn_cast_or_null<TwoStageSpecAttr>(field);
      return spec && spec.quantizesScales() ? spec : TwoStageSpecAttr();
    };
    for (Operation *user : op->getUsers())
      if (auto linear = dyn_cast<LinearOp>(user))
        if (linear.getQuantAttr() && linear.getInput() == op.getResult())
          return twoStage(linear.getQuantAttr().getInputTensors());
    if (auto linear = op.getInput().getDefiningOp<LinearOp>())
      if (linear.getQuantAttr())
        return twoStage(linear.getQuantAttr().getOutputTensors());
    return {};
  }

  /// The observer's range: its min/max, or what its histogram method
  /// selects from its histogram.
  static FailureOr<MinMaxStats> observedRange(ObserveOp op,
                                              const TensorQuantSpec &spec) {
    StringRef name = op.getName().value_or("quark.observe");
    if (!op.getMinValues() && !op.getHistogram())
      return op.emitError() << "'" << name
                            << "' has no statistics: run quark-calibrate "
                               "first";
    if (op.getMinValues())
      return MinMaxStats{readFloats(*op.getMinValues()),
                         readFloats(*op.getMaxValues())};
    FailureOr<std::optional<HistogramMethod>> method =
        observerMethod(op.getSpec(), [&] { return op.emitError(); });
    if (failed(method))
      return failure();
    if (!*method)
      return op.emitError() << "'" << name << "' carries a histogram, but its "
                               "observer does not use one";
    HistogramStats histogram{readFloats(*op.getHistogram()),
                             readFloats(*op.getHistogramEdges())};
    llvm::Expected<MinMaxStats> range =
        histogramRange(**method, spec, histogram);
    if (!range)
      return op.emitError() << "'" << name
                            << "': " << llvm::toString(range.takeError());
    return std::move(*range);
  }

  LogicalResult freezeObserver(ObserveOp op, Type modelFloat) {
    StringRef name = op.getName().value_or("quark.observe");
    auto emitError = [&] { return op.emitError(); };
    if (TwoStageSpecAttr twoStage = scaleQuantOf(op))
      return freezeScaleQuantObserver(op, twoStage, modelFloat);
    FailureOr<TensorQuantSpec> spec =
        getTensorQuantSpec(op.getSpec(), modelFloat, emitError);
    if (failed(spec))
      return failure();
    FailureOr<MinMaxStats> stats = observedRange(op, *spec);
    if (failed(stats))
      return failure();
    llvm::Expected<QuantParams> params = computeQuantParams(*spec, *stats);
    if (!params)
      return op.emitError() << "'" << name
                            << "': " << llvm::toString(params.takeError());
    // Histogram observers are per-tensor: one scalar parameter.
    SmallVector<int64_t> paramShape;
    if (op.getMinValues())
      paramShape.assign(op.getMinValues()->getType().getShape().begin(),
                        op.getMinValues()->getType().getShape().end());
    auto scaleType =
        RankedTensorType::get(paramShape, Float32Type::get(&getContext()));
    OpBuilder builder(op);
    Value scale = arith::ConstantOp::create(builder, op.getLoc(),
                                            makeFloats(scaleType, params->scales));
    Value zeroPoint;
    if (!params->zeroPoints.empty())
      zeroPoint = arith::ConstantOp::create(
          builder, op.getLoc(),
          makeCodes(RankedTensorType::get(scaleType.getShape(),
                                          builder.getI32Type()),
                    params->zeroPoints));
    auto fakeQuant =
        FakeQuantOp::create(builder, op.getLoc(), op.getInput().getType(),
                            op.getInput(), op.getSpec(), scale, zeroPoint);
    op.replaceAllUsesWith(fakeQuant.getResult());
    op.erase();
    ++numActivations;
    return success();
  }

  /// NVFP4-style activations: the observer measured the tensor's amax, which
  /// fixes the second stage's scale; block scales stay per call.
  LogicalResult freezeScaleQuantObserver(ObserveOp op, TwoStageSpecAttr spec,
                                         Type modelFloat) {
    auto emitError = [&] { return op.emitError(); };
    FailureOr<TensorQuantSpec> first =
        getTensorQuantSpec(spec.getFirst(), modelFloat, emitError);
    FailureOr<TensorQuantSpec> second =
        getTensorQuantSpec(spec.getSecond(), modelFloat, emitError);
    if (failed(first) || failed(second))
      return failure();
    FailureOr<MinMaxStats> stats = observedRange(op, *second);
    if (failed(stats))
      return failure();
    float amax = 0.0f;
    for (const std::vector<float> &values : {stats->min, stats->max})
      for (float value : values)
        amax = std::max(amax, std::fabs(value));
    float secondScale = scaleQuantSecondScale(*first, *second, amax);
    OpBuilder builder(op);
    auto scalarType = RankedTensorType::get({}, builder.getF32Type());
    Value scale = arith::ConstantOp::create(
        builder, op.getLoc(), makeFloats(scalarType, {secondScale}));
    auto fakeQuant = TwoStageFakeQuantOp::create(
        builder, op.getLoc(), op.getInput().getType(), op.getInput(), spec,
        scale);
    op.replaceAllUsesWith(fakeQuant.getResult());
    op.erase();
    ++numActivations;
    return success();
  }

  /// A quantizer for `value` under `field` (single or two-stage) with
  /// parameters from the data itself.
  FailureOr<Value> quantizeField(OpBuilder &builder, Location loc, Value value,
                                 Attribute field, Operation *at) {
    if (auto twoStage = dyn_cast<TwoStageSpecAttr>(field))
      return TwoStageFakeQuantOp::create(builder, loc, value.getType(), value,
                                         twoStage, Value())
          .getResult();
    return quantizeFromData(builder, loc, value, cast<TensorSpecAttr>(field),
                            at);
  }

  /// Whether `field` needs calibrated parameters.
  static bool fieldNeedsCalibration(Attribute field) {
    if (auto twoStage = dyn_cast<TwoStageSpecAttr>(field))
      return twoStage.quantizesScales() &&
             needsCalibration(twoStage.getSecond());
    return needsCalibration(cast<TensorSpecAttr>(field));
  }

  LogicalResult freezeLayer(LinearOp linear) {
    LayerSpecAttr layer = linear.getQuantAttr();
    if (!layer)
      return success();
    StringRef name = linear.getName();
    if (layer.getBias())
      return linear.emitError() << "'" << name
                                << "': quantized biases are not supported "
                                   "(vLLM rejects them too)";
    OpBuilder builder(linear);
    Location loc = linear.getLoc();
    auto isPlaced = [](Operation *op) {
      return isa_and_nonnull<FakeQuantOp, TwoStageFakeQuantOp>(op);
    };

    // Weight: already frozen when it is not the bare parameter any more.
    if (Attribute field = layer.getWeight();
        field && linear.getWeight().getDefiningOp<ParamOp>()) {
      FailureOr<Value> quantized =
          quantizeField(builder, loc, linear.getWeight(), field, linear);
      if (failed(quantized))
        return failure();
      linear.getWeightMutable().assign(*quantized);
      ++numWeights;
    }

    // Input: calibrated through an observer, or derived per call.
    if (Attribute field = layer.getInputTensors()) {
      bool placed = isPlaced(linear.getInput().getDefiningOp());
      if (!placed && fieldNeedsCalibration(field))
        return linear.emitError()
               << "'" << name
               << "': its static input spec needs calibration: run "
                  "quark-insert-observers and quark-calibrate first";
      if (!placed) {
        FailureOr<Value> quantized =
            quantizeField(builder, loc, linear.getInput(), field, linear);
        if (failed(quantized))
          return failure();
        linear.getInputMutable().assign(*quantized);
        ++numActivations;
      }
    }

    // Output: as the input, after the layer.
    if (Attribute field = layer.getOutputTensors()) {
      Value result = linear.getResult();
      bool placed =
          result.hasOneUse() && isPlaced(*result.getUsers().begin());
      if (!placed && fieldNeedsCalibration(field))
        return linear.emitError()
               << "'" << name
               << "': its static output spec needs calibration: run "
                  "quark-insert-observers and quark-calibrate first";
      if (!placed) {
        builder.setInsertionPointAfter(linear);
        FailureOr<Value> quantized =
            quantizeField(builder, loc, result, field, linear);
        if (failed(quantized))
          return failure();
        result.replaceAllUsesExcept(*quantized, quantized->getDefiningOp());
        ++numActivations;
      }
    }
    return success();
  }
};
} // namespace
