//===- HfReload.cpp - A quantized hf_format checkpoint back into IR -------===//
//
// The model is imported as usual, with Linear weights allowed to be stored
// quantized; the checkpoint's quantization_config is attached and resolved
// per layer; then every quantized layer reads its stored tensors:
//  * weights: quark.param in the file's layout (QuarkHfLayout.h) ->
//    quark.storage_cast -> quark.dequantize with the stored scales and zero
//    points, so the IR decodes exactly the bytes vLLM would load; a
//    fake_quantized checkpoint's float weights get a quark.fake_quant with
//    the stored parameters;
//  * static activations: a quark.fake_quant whose parameters are the stored
//    input_scale / output_scale (constants, as after quark-freeze);
//  * dynamic quantizers: quark-freeze places them, as after calibration.
//
//===----------------------------------------------------------------------===//

#include "quark/Target/HfFormat.h"

#include "HfCommon.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Config/QuantConfig.h"
#include "quark/Support/QuarkHfLayout.h"
#include "quark/Support/ReadFile.h"
#include "quark/Transforms/Calibration.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

namespace {

/// AutoAWQ's quantization_config as the equivalent Quark configuration:
/// uint4 asymmetric per-group weight-only.
std::string awqAsQuarkConfig(const json::Object &awq) {
  int64_t groupSize = awq.getInteger("group_size").value_or(128);
  json::Object weight{
      {"dtype", "uint4"},
      {"is_dynamic", false},
      {"qscheme", "per_group"},
      {"ch_axis", -1},
      {"group_size", groupSize},
      {"symmetric", false},
      {"round_method", "half_even"},
      {"scale_type", "float"},
      {"observer_cls", "PerGroupMinMaxObserver"},
  };
  json::Array exclude;
  if (const json::Array *modules = awq.getArray("modules_to_not_convert"))
    for (const json::Value &module : *modules)
      if (std::optional<llvm::StringRef> name = module.getAsString())
        exclude.push_back(*name);
  json::Value config = json::Object{
      {"quant_method", "quark"},
      {"global_quant_config", json::Object{{"weight", std::move(weight)}}},
      {"exclude", std::move(exclude)},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << config;
  return text;
}

class Reloader {
public:
  Reloader(ModuleOp module, const SafetensorsCheckpoint &checkpoint,
           Int4PackOrder order, bool awq)
      : module(module), checkpoint(checkpoint), order(order), awq(awq),
        modelFloat(floatTypeOf(module.getContext(), modelDType(module))) {}

  LogicalResult run() {
    WalkResult result = module.walk([&](LinearOp linear) {
      return failed(reloadLayer(linear)) ? WalkResult::interrupt()
                                         : WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }

private:
  /// The file tensor `name`, checked against what `expected` says.
  FailureOr<TensorRef> stored(LinearOp at, const std::string &name,
                              const HfStoredTensor &expected,
                              TensorSpecAttr spec) {
    std::optional<TensorRef> tensor = checkpoint.find(name);
    if (!tensor)
      return at.emitError() << "the checkpoint has no tensor '" << name
                            << "', which " << spec << " needs";
    if (tensor->info->dtype != expected.dtype ||
        llvm::ArrayRef<int64_t>(tensor->info->shape) !=
            llvm::ArrayRef<int64_t>(expected.storedShape))
      return at.emitError()
             << "tensor '" << name << "' is "
             << tensorDTypeName(tensor->info->dtype)
             << shapeText(tensor->info->shape) << "; " << spec
             << " is stored as " << tensorDTypeName(expected.dtype)
             << shapeText(expected.storedShape) << " (layout '"
             << expected.layout.str() << "')";
    return *tensor;
  }

  FailureOr<std::vector<float>> readFloats(LinearOp at, const std::string &name,
                                           const HfStoredTensor &expected,
                                           TensorSpecAttr spec) {
    FailureOr<TensorRef> tensor = stored(at, name, expected, spec);
    if (failed(tensor))
      return failure();
    llvm::Expected<std::vector<float>> values =
        decodeStoredFloats(expected.layout, expected.dtype, tensor->info->shape,
                           expected.logicalShape, tensor->bytes());
    if (!values)
      return at.emitError() << "tensor '" << name
                            << "': " << llvm::toString(values.takeError());
    return std::move(*values);
  }

  FailureOr<std::vector<int32_t>> readCodes(LinearOp at,
                                            const std::string &name,
                                            const HfStoredTensor &expected,
                                            TensorSpecAttr spec) {
    FailureOr<TensorRef> tensor = stored(at, name, expected, spec);
    if (failed(tensor))
      return failure();
    llvm::Expected<std::vector<int32_t>> values =
        decodeStoredCodes(expected.layout, expected.dtype, tensor->info->shape,
                          expected.logicalShape, tensor->bytes());
    if (!values)
      return at.emitError() << "tensor '" << name
                            << "': " << llvm::toString(values.takeError());
    return std::move(*values);
  }

  /// A quark.param of `name` holding `expected`, in its file layout.
  Value storedParam(OpBuilder &builder, Location loc, const std::string &name,
                    const HfStoredTensor &expected, Type element) {
    StringAttr layout;
    if (!expected.layout.isIdentity())
      layout = builder.getStringAttr(expected.layout.str());
    return ParamOp::create(
        builder, loc, RankedTensorType::get(expected.logicalShape, element),
        builder.getStringAttr(name), StringAttr(), layout);
  }

  /// Constant parameters of a static quantizer read from the file.
  LogicalResult constantParams(OpBuilder &builder, LinearOp at,
                               const std::string &base,
                               const HfQuantizedTensor &layout,
                               const TensorQuantSpec &numerics,
                               TensorSpecAttr spec, Value &scale,
                               Value &zeroPoint) {
    FailureOr<std::vector<float>> scales =
        readFloats(at, base + layout.scale.suffix, layout.scale, spec);
    if (failed(scales))
      return failure();
    auto scaleType =
        RankedTensorType::get(layout.scale.logicalShape, builder.getF32Type());
    scale = arith::ConstantOp::create(builder, at.getLoc(),
                                      makeFloats(scaleType, *scales));
    if (numerics.hasZeroPoint()) {
      FailureOr<std::vector<int32_t>> zeros = readCodes(
          at, base + layout.zeroPoint->suffix, *layout.zeroPoint, spec);
      if (failed(zeros))
        return failure();
      auto zeroType = RankedTensorType::get(layout.scale.logicalShape,
                                            builder.getI32Type());
      zeroPoint = arith::ConstantOp::create(
          builder, at.getLoc(),
          DenseElementsAttr::get(zeroType, llvm::ArrayRef<int32_t>(*zeros)));
    }
    return success();
  }

  FailureOr<TensorSpecAttr> singleSpec(LinearOp linear, Attribute field,
                                       llvm::StringRef what) {
    if (!field)
      return TensorSpecAttr();
    if (auto spec = dyn_cast<TensorSpecAttr>(field))
      return spec;
    return linear.emitError()
           << "layer '" << linear.getName() << "': its " << what
           << " spec is two-stage, which reloading does "
              "not handle yet";
  }

  /// The file tensors of `spec`; with `twoStage`, those of a two-stage
  /// weight whose stored stage is `spec`.
  FailureOr<HfQuantizedTensor>
  layoutOf(LinearOp linear, TensorSpecAttr spec, TensorQuantSpec &numerics,
           llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> paramShape,
           bool isWeight, TwoStageSpecAttr twoStage = {}) {
    FailureOr<TensorQuantSpec> resolved = getTensorQuantSpec(
        spec, modelFloat, [&] { return linear.emitError(); });
    if (failed(resolved))
      return failure();
    numerics = *resolved;
    llvm::SmallVector<int64_t, 4> params(paramShape);
    if (isWeight) {
      llvm::Expected<QuantLayout> quantLayout =
          QuantLayout::get(shape, numerics);
      if (!quantLayout)
        return linear.emitError()
               << "layer '" << linear.getName()
               << "': " << llvm::toString(quantLayout.takeError());
      params.assign(quantLayout->paramShape().begin(),
                    quantLayout->paramShape().end());
    }
    std::optional<HfOtherStage> other;
    if (twoStage) {
      FailureOr<TensorQuantSpec> resolvedOther =
          getTensorQuantSpec(twoStage.getOtherStage(), modelFloat,
                             [&] { return linear.emitError(); });
      if (failed(resolvedOther))
        return failure();
      other = HfOtherStage{*resolvedOther, twoStage.quantizesScales()};
    }
    llvm::Expected<HfQuantizedTensor> layout =
        isWeight ? quarkHfWeightLayout(numerics, other, shape, params, order)
                 : quarkHfLayout(numerics, shape, params, isWeight, order);
    if (!layout)
      return linear.emitError()
             << "layer '" << linear.getName() << "' (" << spec
             << "): " << llvm::toString(layout.takeError());
    if (awq && isWeight) {
      // AutoAWQ: qweight / qzeros / scales, AWQ interleave, fp16 scales.
      layout->codes->suffix = "";
      layout->codes->layout.int4Order = Int4PackOrder::Reorder;
      layout->zeroPoint->layout.int4Order = Int4PackOrder::Reorder;
      layout->scale.dtype = TensorDType::F16;
    }
    return *layout;
  }

  LogicalResult reloadLayer(LinearOp linear) {
    LayerSpecAttr layer = linear.getQuantAttr();
    if (!layer)
      return success();
    std::string name = linear.getName().str();
    // A progressive weight (int4_fp8) stores its second stage's codes, a
    // scale-quantizing one (NVFP4) its first stage's.
    auto twoStage = dyn_cast_or_null<TwoStageSpecAttr>(layer.getWeight());
    FailureOr<TensorSpecAttr> weightSpec =
        twoStage ? FailureOr<TensorSpecAttr>(twoStage.getStoredStage())
                 : singleSpec(linear, layer.getWeight(), "weight");
    // NVFP4 inputs: a dynamic first stage and the stored second scale.
    auto scaleQuantInput =
        dyn_cast_or_null<TwoStageSpecAttr>(layer.getInputTensors());
    FailureOr<TensorSpecAttr> inputSpec =
        scaleQuantInput ? FailureOr<TensorSpecAttr>(TensorSpecAttr())
                        : singleSpec(linear, layer.getInputTensors(), "input");
    FailureOr<TensorSpecAttr> outputSpec =
        singleSpec(linear, layer.getOutputTensors(), "output");
    if (failed(weightSpec) || failed(inputSpec) || failed(outputSpec))
      return failure();
    OpBuilder builder(linear);
    Location loc = linear.getLoc();
    if (*weightSpec &&
        failed(reloadWeight(builder, linear, *weightSpec, twoStage)))
      return failure();
    if (scaleQuantInput &&
        failed(reloadScaleQuantInput(builder, linear, scaleQuantInput)))
      return failure();

    if (*inputSpec && needsCalibration(*inputSpec)) {
      Value scale, zeroPoint;
      if (failed(activationParams(builder, linear, name + ".input", *inputSpec,
                                  scale, zeroPoint)))
        return failure();
      Value input = linear.getInput();
      auto quantized = FakeQuantOp::create(builder, loc, input.getType(), input,
                                           *inputSpec, scale, zeroPoint);
      linear.getInputMutable().assign(quantized);
    }
    if (*outputSpec && needsCalibration(*outputSpec)) {
      builder.setInsertionPointAfter(linear);
      Value scale, zeroPoint;
      if (failed(activationParams(builder, linear, name + ".output",
                                  *outputSpec, scale, zeroPoint)))
        return failure();
      Value result = linear.getResult();
      auto quantized =
          FakeQuantOp::create(builder, loc, result.getType(), result,
                              *outputSpec, scale, zeroPoint);
      result.replaceAllUsesExcept(quantized, quantized);
    }
    return success();
  }

  LogicalResult activationParams(OpBuilder &builder, LinearOp linear,
                                 const std::string &base, TensorSpecAttr spec,
                                 Value &scale, Value &zeroPoint) {
    auto type = cast<RankedTensorType>(linear.getInput().getType());
    FailureOr<SmallVector<int64_t>> paramShape = getParamShape(
        spec, type.getShape(), [&] { return linear.emitError(); });
    if (failed(paramShape))
      return failure();
    TensorQuantSpec numerics;
    FailureOr<HfQuantizedTensor> layout =
        layoutOf(linear, spec, numerics, {}, *paramShape, /*isWeight=*/false);
    if (failed(layout))
      return failure();
    return constantParams(builder, linear, base, *layout, numerics, spec, scale,
                          zeroPoint);
  }

  /// An NVFP4 input quantizer: the block scales come from each input, the
  /// per-tensor second scale from `<layer>.input_scale_2`.
  LogicalResult reloadScaleQuantInput(OpBuilder &builder, LinearOp linear,
                                      TwoStageSpecAttr spec) {
    std::string name = linear.getName().str() + ".input_scale_2";
    if (!spec.quantizesScalesPerCall())
      return linear.emitError()
             << "layer '" << linear.getName() << "': the input spec " << spec
             << " is two-stage, which reloading handles for NVFP4 (dynamic "
                "fp4, static fp8 scale) only";
    FailureOr<std::vector<float>> value =
        readFloats(linear, name, quarkHfScaleOfScales(), spec.getSecond());
    if (failed(value))
      return failure();
    auto scalarType = RankedTensorType::get({}, builder.getF32Type());
    Value secondScale = arith::ConstantOp::create(
        builder, linear.getLoc(), makeFloats(scalarType, *value));
    Value input = linear.getInput();
    auto quantized = TwoStageFakeQuantOp::create(
        builder, linear.getLoc(), input.getType(), input, spec, secondScale);
    linear.getInputMutable().assign(quantized);
    return success();
  }

  /// `spec` is the spec of the stored codes; `twoStage`, when set, a
  /// progressive spec (whose first stage's per-tensor scale multiplies the
  /// dequantized codes) or a scale-quantizing one (whose block scales are
  /// stored as its second stage's codes).
  LogicalResult reloadWeight(OpBuilder &builder, LinearOp linear,
                             TensorSpecAttr spec, TwoStageSpecAttr twoStage) {
    // The stage not stored as codes: a progressive spec's first (its scale
    // multiplies the decoded codes), a scale-quantizing spec's second (its
    // codes are the block scales). The layout says which: firstStageScale
    // or scaleOfScales.
    TensorSpecAttr otherStage =
        twoStage ? twoStage.getOtherStage() : TensorSpecAttr();
    std::string name = linear.getName().str();
    Value weight = linear.getWeight();
    auto weightType = cast<RankedTensorType>(weight.getType());
    TensorQuantSpec numerics;
    FailureOr<HfQuantizedTensor> layout =
        layoutOf(linear, spec, numerics, weightType.getShape(), {},
                 /*isWeight=*/true, twoStage);
    if (failed(layout))
      return failure();
    std::string codesName = name + (awq ? ".qweight" : ".weight");
    std::string scaleName =
        awq ? name + ".scales" : codesName + layout->scale.suffix;
    std::string zeroName =
        awq ? name + ".qzeros"
            : codesName + (layout->zeroPoint ? layout->zeroPoint->suffix : "");
    Location loc = linear.getLoc();
    auto placeholder = weight.getDefiningOp<ParamOp>();

    std::optional<TensorRef> file = checkpoint.find(codesName);
    if (file &&
        llvm::ArrayRef<int64_t>(file->info->shape) == weightType.getShape() &&
        isModelFloatTensorDType(file->info->dtype)) {
      // fake_quantized: the float weight holds the dequantized values; its
      // quantizer keeps the stored parameters. A progressive weight's
      // stored values are the model's weight as they are.
      // (AutoAWQ folders are always real-quantized.)
      if (twoStage) {
        // Quantizing them again (from the data, as a two-stage spec does)
        // would not reproduce them: the layer reads them as they are.
        LayerSpecAttr layer = linear.getQuantAttr();
        linear.setQuantAttr(LayerSpecAttr::get(
            linear.getContext(), layer.getInputTensors(),
            layer.getOutputTensors(), Attribute(), layer.getBias()));
        return success();
      }
      Value scale, zeroPoint;
      if (failed(constantParams(builder, linear, codesName, *layout, numerics,
                                spec, scale, zeroPoint)))
        return failure();
      auto quantized = FakeQuantOp::create(builder, loc, weightType, weight,
                                           spec, scale, zeroPoint);
      linear.getWeightMutable().assign(quantized);
      return success();
    }

    if (failed(stored(linear, codesName, *layout->codes, spec)) ||
        failed(stored(linear, scaleName, layout->scale, spec)) ||
        (layout->scaleOfScales &&
         failed(stored(linear, codesName + layout->scaleOfScales->suffix,
                       *layout->scaleOfScales, otherStage))) ||
        (numerics.hasZeroPoint() &&
         failed(stored(linear, zeroName, *layout->zeroPoint, spec))) ||
        (layout->firstStageScale &&
         failed(stored(linear, codesName + layout->firstStageScale->suffix,
                       *layout->firstStageScale, otherStage))))
      return failure();
    Type codeElement = getCodeElementType(spec, builder.getF32Type());
    Type storage = StorageCastOp::getStorageElementType(codeElement);
    Value raw = storedParam(builder, loc, codesName, *layout->codes, storage);
    Value codes = StorageCastOp::create(
        builder, loc, RankedTensorType::get(weightType.getShape(), codeElement),
        raw);
    Value scale;
    if (layout->scaleOfScales) {
      // fp8 codes of the block scales, dequantized by their per-tensor scale.
      Type scaleElement = getCodeElementType(otherStage, builder.getF32Type());
      Value rawScales =
          storedParam(builder, loc, scaleName, layout->scale,
                      StorageCastOp::getStorageElementType(scaleElement));
      Value scaleCodes = StorageCastOp::create(
          builder, loc,
          RankedTensorType::get(layout->scale.logicalShape, scaleElement),
          rawScales);
      Value scaleOfScales =
          storedParam(builder, loc, codesName + layout->scaleOfScales->suffix,
                      *layout->scaleOfScales, builder.getF32Type());
      scale =
          DequantizeOp::create(builder, loc,
                               RankedTensorType::get(layout->scale.logicalShape,
                                                     builder.getF32Type()),
                               scaleCodes, otherStage, scaleOfScales, Value());
    } else {
      scale = storedParam(builder, loc, scaleName, layout->scale,
                          builder.getF32Type());
    }
    Value zeroPoint;
    if (numerics.hasZeroPoint())
      zeroPoint = storedParam(builder, loc, zeroName, *layout->zeroPoint,
                              builder.getI32Type());
    Value dequantized;
    if (layout->firstStageScale) {
      // Codes -> the first stage's values (float32) -> times its scale.
      Value values = DequantizeOp::create(
          builder, loc,
          RankedTensorType::get(weightType.getShape(), builder.getF32Type()),
          codes, spec, scale, zeroPoint);
      Value firstScale =
          storedParam(builder, loc, codesName + layout->firstStageScale->suffix,
                      *layout->firstStageScale, builder.getF32Type());
      dequantized = DequantizeOp::create(builder, loc, weightType, values,
                                         otherStage, firstScale, Value());
    } else {
      dequantized = DequantizeOp::create(builder, loc, weightType, codes, spec,
                                         scale, zeroPoint);
    }
    linear.getWeightMutable().assign(dequantized);
    if (placeholder && placeholder->use_empty())
      placeholder->erase();
    return success();
  }

  ModuleOp module;
  const SafetensorsCheckpoint &checkpoint;
  Int4PackOrder order;
  bool awq;
  Type modelFloat;
};

} // namespace

FailureOr<OwningOpRef<ModuleOp>>
mlir::quark::importQuantizedHfModel(MLIRContext *context, llvm::StringRef dir,
                                    Location loc) {
  context->loadDialect<QuarkDialect, arith::ArithDialect>();
  llvm::SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> text =
      readFile(configPath);
  if (!text)
    return emitError(loc) << llvm::toString(text.takeError());
  llvm::Expected<json::Value> document = json::parse((*text)->getBuffer());
  if (!document)
    return emitError(loc) << configPath << ": invalid JSON: "
                          << llvm::toString(document.takeError());
  const json::Object *root = document->getAsObject();
  const json::Object *quantization =
      root ? root->getObject("quantization_config") : nullptr;
  if (!quantization)
    return emitError(loc) << configPath
                          << " has no quantization_config: not a quantized "
                             "checkpoint (evaluate it with --model_dir)";
  llvm::StringRef method = quantization->getString("quant_method").value_or("");
  bool awq = method == "awq";
  if (!awq && method != "quark")
    return emitError(loc) << configPath << ": quant_method '" << method
                          << "' (reloading reads \"quark\" and \"awq\")";
  auto emitConfigError = [&] { return emitError(loc); };
  FailureOr<QuantConfig> config =
      awq ? QuantConfig::fromJson(context, awqAsQuarkConfig(*quantization),
                                  configPath, emitConfigError)
          : QuantConfig::fromJson(context, (*text)->getBuffer(), configPath,
                                  emitConfigError);
  if (failed(config))
    return failure();
  Int4PackOrder order = Int4PackOrder::Reorder;
  if (const json::Object *exported = quantization->getObject("export"))
    if (std::optional<llvm::StringRef> pack =
            exported->getString("pack_method")) {
      std::optional<Int4PackOrder> parsed = parseInt4PackOrder(pack->str());
      if (!parsed)
        return emitError(loc) << configPath << ": export.pack_method '" << *pack
                              << "' (order, reorder)";
      order = *parsed;
    }

  HuggingFaceImportOptions options;
  options.quantizedLinearWeights = true;
  FailureOr<OwningOpRef<ModuleOp>> module =
      importHuggingFaceModel(context, dir, loc, options);
  if (failed(module))
    return failure();
  (**module)->setAttr(kQuantConfigAttr, config->toAttr(context));
  PassManager resolve(context);
  resolve.addPass(createQuarkApplyConfig());
  if (failed(resolve.run(**module)))
    return failure();

  llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>> checkpoint =
      SafetensorsCheckpoint::open(dir);
  if (!checkpoint)
    return emitError(loc) << llvm::toString(checkpoint.takeError());
  Reloader reloader(**module, **checkpoint, order, awq);
  if (failed(reloader.run()))
    return failure();
  // Dynamic quantizers (and MX) derive their parameters per call.
  PassManager freeze(context);
  freeze.addPass(createQuarkFreeze());
  if (failed(freeze.run(**module)))
    return failure();
  return std::move(*module);
}
