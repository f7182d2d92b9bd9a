//===- VllmAdoptedExport.cpp - Quark's legacy vllm-adopt export -----------===//
//
// Quark 0.1 wrote this format in two steps: LLMModelInfoBuilder described
// the Llama modules (with the tensors named "<module>.<quantizer>_quant_
// scale"), then AmmoConverter rearranged that description into the
// AMMO/TensorRT-LLM layout vLLM's ROCm fork read: q/k/v concatenated into
// one "qkv" weight sharing the largest of their per-tensor scales, the KV
// cache scale the largest of their output scales, gate/up/down as mlp
// fc/gate/proj. Here one walk over the decoder layers builds the JSON and
// the manifest of file tensors together; docs/export.md lists where the
// bytes may differ from Quark's.
//
//===----------------------------------------------------------------------===//

#include "quark/Target/VllmAdopted.h"

#include "HfCommon.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/ModelConfig.h"
#include "quark/Support/AtomicFile.h"
#include "quark/Support/Json.h"
#include "quark/Support/QuarkHfLayout.h"
#include "quark/Support/StoredLayout.h"
#include "quark/Target/StoredWeights.h"
#include "quark/Transforms/Passes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::quark;

namespace {

/// AmmoConverter's quantization types.
enum class LegacyQuant { None, Fp8, Int4Awq, W4A8Awq };

llvm::StringRef legacyQuantName(LegacyQuant quant) {
  switch (quant) {
  case LegacyQuant::None:
    return "";
  case LegacyQuant::Fp8:
    return "fp8";
  case LegacyQuant::Int4Awq:
    return "int4_awq";
  case LegacyQuant::W4A8Awq:
    return "w4a8_awq";
  }
  return "";
}

/// The scale (and zero point) tensor of one quantizer, as its quantizer
/// holds it: the layout's parameter shape, in the dtype hf_format stores
/// that quantizer's scales in.
struct QuantizerTensors {
  TensorQuantSpec numerics;
  std::vector<float> scale;
  llvm::SmallVector<int64_t, 4> shape;
  TensorDType scaleDType = TensorDType::F32;
  /// Written where hf_format writes one (integer dtypes).
  std::optional<std::vector<int32_t>> zeroPoint;
  TensorDType zeroPointDType = TensorDType::I32;
};

/// One linear layer, with the names its tensors get in the file.
struct Linear {
  LinearOp op;
  std::string name;
  int64_t rows = 0, cols = 0;
  std::optional<StoredWeightIR> stored; // a quantized weight
  ParamOp floatWeight;                  // otherwise
  /// The float weight the stored codes were quantized from (name, file),
  /// when quark-quantize-weights recorded it.
  std::optional<std::pair<std::string, std::string>> floatSource;
  std::optional<QuantizerTensors> input, weight, output;
  /// Each quantizer's file tensors are `<quant name>_scale` and
  /// `_zero_point`, as Quark's split_model_info named them
  /// ("<module>.weight_quant_scale"). Merged layers share the first
  /// member's tensors and the largest scale: the names and values the file
  /// holds for this layer (its own, unless merged). The weight's codes are
  /// re-quantized from `weight->scale` to `fileWeightScale` where they
  /// differ.
  std::string inputQuantName, weightQuantName, outputQuantName;
  std::vector<float> fileWeightScale, fileOutputScale;

  /// The structure file's `awq_block_size`: the weight's group size, 0
  /// when it is not quantized per group.
  int64_t awqBlockSize() const {
    return weight && weight->numerics.qscheme == QScheme::PerGroup
               ? weight->numerics.groupSize
               : 0;
  }
};

std::string scaleName(const std::string &quantName) {
  return quantName + "_scale";
}
std::string zeroPointName(const std::string &quantName) {
  return quantName + "_zero_point";
}

OrderedJson nameOrNull(const std::string &name) {
  return name.empty() ? OrderedJson() : OrderedJson(name);
}

OrderedJson normJson(const std::string &weight, double eps) {
  OrderedJson norm = OrderedJson::object();
  norm.add("weight", weight)
      .add("bias", nullptr)
      .add("layernorm_type", "rms")
      .add("eps", eps);
  return norm;
}

/// Elementwise maximum of same-shaped scales.
std::vector<float> maxOf(llvm::ArrayRef<const std::vector<float> *> scales) {
  std::vector<float> result = *scales.front();
  for (const std::vector<float> *other : scales.drop_front())
    for (size_t i = 0; i < result.size(); ++i)
      result[i] = std::max(result[i], (*other)[i]);
  return result;
}

/// OCP e4m3fn bits as the file holds them: ROCm vLLM reads the bytes as
/// e4m3fnuz, where 0x80 is NaN rather than -0, so a negative zero is
/// written as +0 (as vLLM's own e4m3fn-to-fnuz normalization does).
uint8_t fnuzSafeFp8Bits(int32_t code) {
  return code == 0x80 ? 0 : static_cast<uint8_t>(code);
}

/// A layer's FP8 codes at scale `target`: as stored when that is its own
/// scale; else quantized again, as Quark did, from the float weight they
/// came from, or (its source unknown) from their dequantized values, as
/// vLLM does when it merges scales at load.
llvm::Expected<std::vector<int32_t>>
requantizedFp8Codes(const Linear &layer, float target,
                    StoredWeightReader &reader, WeightStore &store) {
  const QuantizerTensors &w = *layer.weight;
  if (w.scale.front() == target)
    return reader.codes(*layer.stored);
  llvm::Expected<QuantLayout> layout =
      QuantLayout::get({layer.rows, layer.cols}, w.numerics);
  if (!layout)
    return layout.takeError();
  std::vector<float> values;
  if (layer.floatSource) {
    llvm::Expected<Tensor> source =
        store.get(layer.floatSource->first, layer.floatSource->second);
    if (!source)
      return source.takeError();
    values = source->floats();
  } else {
    llvm::Expected<std::vector<int32_t>> codes = reader.codes(*layer.stored);
    if (!codes)
      return codes.takeError();
    values.resize(codes->size());
    if (llvm::Error error = dequantizeTensor(w.numerics, *layout, *codes,
                                             {w.scale, {}}, values))
      return std::move(error);
  }
  std::vector<int32_t> codes(values.size());
  if (llvm::Error error =
          quantizeTensor(w.numerics, *layout, values, {{target}, {}}, codes))
    return std::move(error);
  return codes;
}

class LegacyExporter {
public:
  LegacyExporter(ModuleOp module, const VllmAdoptedExportOptions &options,
                 const ModelConfig &config, WeightStore &store)
      : module(module), options(options), config(config), store(store),
        reader(store),
        modelFloat(floatTypeOf(module.getContext(), modelDType(module))) {}

  LogicalResult build();

  /// fp8fnuz_config.json, with the path the loader opens the weights by.
  OrderedJson fnuzConfigFor(llvm::StringRef weightsPath) const {
    OrderedJson config = OrderedJson::object();
    config.add("quantized_weights", weightsPath)
        .add("shard_layers", shardLayers)
        .add("quant_layers", quantLayers)
        .add("scaling_factors", scalingFactors);
    return config;
  }

  std::vector<ManifestTensor> tensors;
  OrderedJson modelJson;
  LegacyQuant quant = LegacyQuant::None;
  int64_t requantized = 0, requantizedFromCodes = 0;

private:
  LogicalResult add(ManifestTensor tensor) {
    if (!names.insert(tensor.name).second)
      return module.emitError()
             << "the export would write tensor '" << tensor.name << "' twice";
    tensors.push_back(std::move(tensor));
    return success();
  }
  LogicalResult addFloats(const std::string &name, TensorDType dtype,
                          llvm::ArrayRef<int64_t> shape,
                          std::vector<float> values) {
    llvm::SmallVector<int64_t, 4> dims(shape);
    return add({name, dtype, dims, [dtype, dims, values]() {
                  return encodeStoredFloats(StoredLayout(), dtype, dims,
                                            values);
                }});
  }
  LogicalResult addInts(const std::string &name, TensorDType dtype,
                        llvm::ArrayRef<int64_t> shape,
                        std::vector<int32_t> values) {
    llvm::SmallVector<int64_t, 4> dims(shape);
    return add({name, dtype, dims, [dtype, dims, values]() {
                  return encodeStoredCodes(StoredLayout(), dtype, dims, values);
                }});
  }
  LogicalResult addFloatParam(ParamOp param, const std::string &name) {
    llvm::Expected<ManifestTensor> tensor =
        floatParamTensor(param, store, name);
    if (!tensor)
      return param.emitError() << llvm::toString(tensor.takeError());
    return add(std::move(*tensor));
  }
  /// The scale under `name` (once: merged layers share it).
  LogicalResult addScale(const std::string &name, const QuantizerTensors &q,
                         std::vector<float> values) {
    if (names.contains(name))
      return success();
    return addFloats(name, q.scaleDType, q.shape, std::move(values));
  }
  LogicalResult addZeroPoint(const std::string &name,
                             const std::optional<QuantizerTensors> &q) {
    if (!q || !q->zeroPoint || names.contains(name))
      return success();
    return addInts(name, q->zeroPointDType, q->shape, *q->zeroPoint);
  }

  FailureOr<QuantizerTensors> quantizerTensors(const TensorQuantSpec &numerics,
                                               llvm::ArrayRef<int64_t> shape,
                                               llvm::ArrayRef<int64_t> params,
                                               std::vector<float> scales,
                                               std::vector<int32_t> zeros,
                                               bool isWeight, Operation *at,
                                               llvm::StringRef what);
  FailureOr<Linear> linear(const std::string &name);
  LogicalResult checkLinear(const Linear &layer);
  FailureOr<OrderedJson> weightJson(const std::string &fileName,
                                    llvm::ArrayRef<Linear *> parts,
                                    const std::vector<float> &scale);
  FailureOr<OrderedJson> plainLinear(Linear &layer);
  LogicalResult addLayer(int64_t index, OrderedJson &layers);
  void mergeGateUp(Linear &up, Linear &gate);
  FailureOr<ParamOp> floatParam(const std::string &name);

  ModuleOp module;
  const VllmAdoptedExportOptions &options;
  const ModelConfig &config;
  WeightStore &store;
  StoredWeightReader reader;
  Type modelFloat;
  llvm::StringMap<LinearOp> linears;
  llvm::StringMap<ParamOp> floatParams;
  llvm::StringSet<> names;
  // fp8fnuz_config.json, by vLLM module name.
  OrderedJson shardLayers = OrderedJson::object();
  OrderedJson quantLayers = OrderedJson::array();
  OrderedJson scalingFactors = OrderedJson::object();
};

FailureOr<QuantizerTensors> LegacyExporter::quantizerTensors(
    const TensorQuantSpec &numerics, llvm::ArrayRef<int64_t> shape,
    llvm::ArrayRef<int64_t> params, std::vector<float> scales,
    std::vector<int32_t> zeros, bool isWeight, Operation *at,
    llvm::StringRef what) {
  llvm::Expected<HfQuantizedTensor> layout =
      quarkHfLayout(numerics, shape, params, isWeight, Int4PackOrder::Reorder);
  if (!layout)
    return at->emitError() << "'" << what
                           << "': " << llvm::toString(layout.takeError());
  QuantizerTensors result;
  result.numerics = numerics;
  result.shape.assign(params.begin(), params.end());
  result.scaleDType = layout->scale.dtype;
  result.scale = std::move(scales);
  if (layout->zeroPoint) {
    result.zeroPointDType = layout->zeroPoint->dtype;
    if (zeros.empty())
      zeros.assign(result.scale.size(), 0);
    result.zeroPoint = std::move(zeros);
  }
  return result;
}

FailureOr<Linear> LegacyExporter::linear(const std::string &name) {
  auto found = linears.find(name);
  if (found == linears.end())
    return module.emitError()
           << "the vllm-adopt format describes Llama decoder layers; the "
              "model has no linear layer '"
           << name << "'";
  Linear layer;
  layer.op = found->second;
  layer.name = name;
  layer.inputQuantName = name + ".input_quant";
  layer.weightQuantName = name + ".weight_quant";
  layer.outputQuantName = name + ".output_quant";
  auto weightType = cast<RankedTensorType>(layer.op.getWeight().getType());
  layer.rows = weightType.getDimSize(0);
  layer.cols = weightType.getDimSize(1);
  if (layer.op.getBias())
    return layer.op.emitError()
           << "layer '" << name
           << "': the vllm-adopt export writes Llama layers, which have no "
              "biases";
  layer.stored = matchStoredWeight(layer.op.getWeight());
  if (layer.stored) {
    if (auto source = layer.stored->rawCodes->getAttrOfType<DictionaryAttr>(
            kQuantizedFromAttr))
      if (auto sourceName = source.getAs<StringAttr>("name")) {
        auto sourceFile = source.getAs<StringAttr>("file");
        layer.floatSource = std::make_pair(
            sourceName.str(), sourceFile ? sourceFile.str() : std::string());
      }
    if (layer.stored->firstStage)
      return layer.op.emitError()
             << "layer '" << name
             << "': the vllm-adopt format has no two-stage (progressive) "
                "weights";
    FailureOr<TensorQuantSpec> numerics =
        getTensorQuantSpec(layer.stored->dequantize.getSpec(), modelFloat,
                           [&] { return layer.op.emitError(); });
    if (failed(numerics))
      return failure();
    llvm::Expected<QuantLayout> quantLayout =
        QuantLayout::get({layer.rows, layer.cols}, *numerics);
    if (!quantLayout)
      return layer.op.emitError()
             << "layer '" << name
             << "': " << llvm::toString(quantLayout.takeError());
    llvm::Expected<std::vector<float>> scales = reader.scales(*layer.stored);
    if (!scales)
      return layer.op.emitError() << llvm::toString(scales.takeError());
    llvm::Expected<std::vector<int32_t>> zeros =
        reader.zeroPoints(*layer.stored, quantLayout->numParams());
    if (!zeros)
      return layer.op.emitError() << llvm::toString(zeros.takeError());
    FailureOr<QuantizerTensors> weight = quantizerTensors(
        *numerics, {layer.rows, layer.cols}, quantLayout->paramShape(),
        std::move(*scales), std::move(*zeros), /*isWeight=*/true, layer.op,
        name + ".weight");
    if (failed(weight))
      return failure();
    layer.weight = std::move(*weight);
  } else {
    layer.floatWeight = layer.op.getWeight().getDefiningOp<ParamOp>();
    if (!layer.floatWeight)
      return layer.op.emitError()
             << "layer '" << name
             << "': its weight has no stored form (block formats stay "
                "fake-quantized); the vllm-adopt format cannot hold it";
  }
  bool dynamic = false;
  std::string inputBase = name + ".input";
  FailureOr<std::optional<StaticQuantizer>> input = staticQuantizerOf(
      layer.op.getInput(), modelFloat, layer.op, inputBase, &dynamic);
  if (failed(input))
    return failure();
  if (dynamic)
    return layer.op.emitError()
           << "layer '" << name
           << "': the vllm-adopt format stores static activation scales; "
              "this layer quantizes its input dynamically";
  std::string outputBase = name + ".output";
  FailureOr<std::optional<StaticQuantizer>> output =
      outputQuantizerOf(layer.op, modelFloat, outputBase);
  if (failed(output))
    return failure();
  for (auto [found, slot, base] :
       {std::make_tuple(&*input, &layer.input, inputBase),
        std::make_tuple(&*output, &layer.output, outputBase)}) {
    if (!*found)
      continue;
    StaticQuantizer &q = **found;
    FailureOr<QuantizerTensors> tensors =
        quantizerTensors(q.numerics, {}, q.paramShape, q.scales, q.zeroPoints,
                         /*isWeight=*/false, layer.op, base);
    if (failed(tensors))
      return failure();
    *slot = std::move(*tensors);
  }
  if (layer.weight)
    layer.fileWeightScale = layer.weight->scale;
  if (layer.output)
    layer.fileOutputScale = layer.output->scale;
  return layer;
}

/// The quantization type of a layer's weight (and input), as
/// AmmoConverter reads it from the first layer's q_proj.
FailureOr<LegacyQuant> classify(const Linear &layer) {
  LinearOp op = layer.op;
  if (!layer.weight)
    return LegacyQuant::None;
  const TensorQuantSpec &w = layer.weight->numerics;
  if (w.dtype == QuantDType::FP8E4M3 && w.qscheme == QScheme::PerTensor)
    return LegacyQuant::Fp8;
  if (w.dtype == QuantDType::Int4 && w.qscheme == QScheme::PerGroup) {
    if (!layer.input)
      return LegacyQuant::Int4Awq;
    if (layer.input->numerics.dtype == QuantDType::Int8)
      return LegacyQuant::W4A8Awq;
  }
  return op.emitError()
         << "layer '" << layer.name
         << "': the vllm-adopt format holds FP8 per-tensor weights (fp8) or "
            "INT4 per-group weights, weight-only or with INT8 inputs "
            "(int4_awq, w4a8_awq); this layer's weight is "
         << DequantizeOp(layer.stored->dequantize).getSpec()
         << (layer.input ? " with a quantized input" : "");
}

LogicalResult LegacyExporter::checkLinear(const Linear &layer) {
  LinearOp op = layer.op;
  if (!layer.weight) {
    if (layer.input || layer.output)
      return op.emitError()
             << "layer '" << layer.name
             << "': a float weight with quantized activations has no "
                "vllm-adopt form";
    return success();
  }
  FailureOr<LegacyQuant> kind = classify(layer);
  if (failed(kind))
    return failure();
  if (*kind != quant)
    return op.emitError()
           << "layer '" << layer.name << "' is "
           << (legacyQuantName(*kind).empty() ? "float"
                                              : legacyQuantName(*kind))
           << " but the first layer's q_proj, which sets the format's one "
              "quantization type, is "
           << (legacyQuantName(quant).empty() ? "float"
                                              : legacyQuantName(quant));
  const TensorQuantSpec &w = layer.weight->numerics;
  if (quant != LegacyQuant::Fp8) {
    if (!w.symmetric || (w.axis != 1 && w.axis != -1))
      return op.emitError()
             << "layer '" << layer.name
             << "': int4 weights are packed as symmetric codes in groups "
                "along the input dimension";
    if (layer.rows % 2)
      return op.emitError()
             << "layer '" << layer.name << "': " << layer.rows
             << " output rows; int4 weights pack two rows per byte";
  }
  if (quant == LegacyQuant::Fp8 && layer.input &&
      (layer.input->numerics.dtype != QuantDType::FP8E4M3 ||
       layer.input->numerics.qscheme != QScheme::PerTensor))
    return op.emitError()
           << "layer '" << layer.name
           << "': FP8 layers of the vllm-adopt format take FP8 per-tensor "
              "inputs";
  return success();
}

/// The weight tensor of one or more linears concatenated along the output
/// dimension (q/k/v), and its JSON name. FP8 weights are re-quantized to
/// `scale` where their own is different.
FailureOr<OrderedJson>
LegacyExporter::weightJson(const std::string &fileName,
                           llvm::ArrayRef<Linear *> parts,
                           const std::vector<float> &scale) {
  int64_t rows = 0, cols = parts.front()->cols;
  for (Linear *part : parts)
    rows += part->rows;
  if (!parts.front()->weight) {
    if (parts.size() != 1)
      return parts.front()->op.emitError()
             << "layer '" << parts.front()->name
             << "': a float q/k/v has no vllm-adopt qkv form";
    if (failed(addFloatParam(parts.front()->floatWeight, fileName)))
      return failure();
    return OrderedJson(fileName);
  }
  std::vector<Linear> copies;
  for (Linear *part : parts)
    copies.push_back(*part);
  StoredWeightReader *codesReader = &reader;
  if (quant == LegacyQuant::Fp8) {
    for (Linear *part : parts)
      if (part->weight->scale.front() != scale.front()) {
        ++requantized;
        if (!part->floatSource)
          ++requantizedFromCodes;
      }
    float target = scale.front();
    WeightStore *floats = &store;
    if (failed(add({fileName,
                    TensorDType::I8,
                    {rows, cols},
                    [copies, codesReader, floats,
                     target]() -> llvm::Expected<ExportBytes> {
                      std::vector<uint8_t> bytes;
                      for (const Linear &part : copies) {
                        llvm::Expected<std::vector<int32_t>> codes =
                            requantizedFp8Codes(part, target, *codesReader,
                                                *floats);
                        if (!codes)
                          return codes.takeError();
                        for (int32_t code : *codes)
                          bytes.push_back(fnuzSafeFp8Bits(code));
                      }
                      return bytes;
                    }})))
      return failure();
    return OrderedJson(fileName);
  }
  // int4: AmmoConverter's int4x2 bytes [rows/2, cols], output rows 2r and
  // 2r+1 in the low and high nibble.
  if (failed(add({fileName,
                  TensorDType::I8,
                  {rows / 2, cols},
                  [copies, codesReader, cols]() -> llvm::Expected<ExportBytes> {
                    std::vector<int32_t> all;
                    for (const Linear &part : copies) {
                      llvm::Expected<std::vector<int32_t>> codes =
                          codesReader->codes(*part.stored);
                      if (!codes)
                        return codes.takeError();
                      all.insert(all.end(), codes->begin(), codes->end());
                    }
                    size_t pairs = all.size() / static_cast<size_t>(2 * cols);
                    std::vector<uint8_t> bytes(all.size() / 2);
                    for (size_t r = 0; r < pairs; ++r)
                      for (int64_t c = 0; c < cols; ++c) {
                        int32_t low = all[(2 * r) * cols + c];
                        int32_t high = all[(2 * r + 1) * cols + c];
                        bytes[r * cols + c] = static_cast<uint8_t>(
                            (low & 0xF) | ((high & 0xF) << 4));
                      }
                    return bytes;
                  }})))
    return failure();
  return OrderedJson(fileName);
}

/// AmmoConverter's _convert_linear_info: a layer of its own.
FailureOr<OrderedJson> LegacyExporter::plainLinear(Linear &layer) {
  FailureOr<OrderedJson> weight =
      weightJson(layer.name + ".weight", {&layer}, layer.fileWeightScale);
  if (failed(weight))
    return failure();
  // Each quantizer's scale (the merged one where merged) and zero point.
  std::string input, weightScale, output;
  for (auto [quantizer, quantName, values, scale] :
       {std::make_tuple(&layer.input, &layer.inputQuantName,
                        layer.input ? &layer.input->scale : nullptr, &input),
        std::make_tuple(&layer.weight, &layer.weightQuantName,
                        &layer.fileWeightScale, &weightScale),
        std::make_tuple(&layer.output, &layer.outputQuantName,
                        &layer.fileOutputScale, &output)}) {
    if (!*quantizer)
      continue;
    *scale = scaleName(*quantName);
    if (failed(addScale(*scale, **quantizer, *values)) ||
        failed(addZeroPoint(zeroPointName(*quantName), *quantizer)))
      return failure();
  }
  OrderedJson json = OrderedJson::object();
  json.add("weight", std::move(*weight))
      .add("bias", nullptr)
      .add("activation_scaling_factor", nameOrNull(input))
      .add("weight_scaling_factor", nameOrNull(weightScale))
      .add("awq_block_size", layer.awqBlockSize())
      .add("output_scaling_factor", nameOrNull(output));
  return json;
}

/// Quark's default merge group ["*up_proj", "*gate_proj"]: with symmetric
/// per-tensor weights both take the larger scale under up_proj's name, and
/// so do their outputs when both quantize them the same way.
void LegacyExporter::mergeGateUp(Linear &up, Linear &gate) {
  auto perTensorSymmetric = [](const std::optional<QuantizerTensors> &q) {
    return q && q->numerics.qscheme == QScheme::PerTensor &&
           (!q->zeroPoint ||
            llvm::all_of(*q->zeroPoint, [](int32_t z) { return z == 0; }));
  };
  if (!perTensorSymmetric(up.weight) || !perTensorSymmetric(gate.weight))
    return;
  up.fileWeightScale = gate.fileWeightScale =
      maxOf({&up.weight->scale, &gate.weight->scale});
  gate.weightQuantName = up.weightQuantName;
  if (!perTensorSymmetric(up.output) || !perTensorSymmetric(gate.output))
    return;
  up.fileOutputScale = gate.fileOutputScale =
      maxOf({&up.output->scale, &gate.output->scale});
  gate.outputQuantName = up.outputQuantName;
}

FailureOr<ParamOp> LegacyExporter::floatParam(const std::string &name) {
  auto found = floatParams.find(name);
  if (found == floatParams.end())
    return module.emitError() << "the vllm-adopt export needs the float "
                                 "tensor '"
                              << name << "', which the model does not read";
  return found->second;
}

/// The vLLM parameters of one module for fp8fnuz_config.json: per shard,
/// the file tensor of each scaling factor.
OrderedJson shardFactors(llvm::ArrayRef<OrderedJson> input,
                         llvm::ArrayRef<OrderedJson> weight,
                         llvm::ArrayRef<OrderedJson> output) {
  OrderedJson factors = OrderedJson::object();
  for (auto [key, values] : {std::make_pair("activation_scaling_factor", input),
                             std::make_pair("weight_scaling_factor", weight),
                             std::make_pair("output_scaling_factor", output)}) {
    OrderedJson list = OrderedJson::array();
    for (const OrderedJson &value : values)
      list.push(value);
    factors.add(key, std::move(list));
  }
  return factors;
}

/// A quantizer's scale tensor in the file, or null without the quantizer.
OrderedJson scaleOrNull(const std::optional<QuantizerTensors> &quantizer,
                        const std::string &quantName) {
  return quantizer ? OrderedJson(scaleName(quantName)) : OrderedJson();
}

/// shardFactors of vLLM modules made of the linears `shards`.
OrderedJson linearFactors(llvm::ArrayRef<const Linear *> shards) {
  std::vector<OrderedJson> input, weight, output;
  for (const Linear *layer : shards) {
    input.push_back(scaleOrNull(layer->input, layer->inputQuantName));
    weight.push_back(scaleOrNull(layer->weight, layer->weightQuantName));
    output.push_back(scaleOrNull(layer->output, layer->outputQuantName));
  }
  return shardFactors(input, weight, output);
}

LogicalResult LegacyExporter::addLayer(int64_t index, OrderedJson &layers) {
  std::string prefix = "model.layers." + std::to_string(index);
  std::string attn = prefix + ".self_attn", mlp = prefix + ".mlp";
  std::vector<Linear> parts;
  for (const char *name : {".q_proj", ".k_proj", ".v_proj", ".o_proj"}) {
    FailureOr<Linear> layer = linear(attn + name);
    if (failed(layer))
      return failure();
    parts.push_back(std::move(*layer));
  }
  for (const char *name : {".gate_proj", ".up_proj", ".down_proj"}) {
    FailureOr<Linear> layer = linear(mlp + name);
    if (failed(layer))
      return failure();
    parts.push_back(std::move(*layer));
  }
  if (index == 0) {
    FailureOr<LegacyQuant> kind = classify(parts[0]);
    if (failed(kind))
      return failure();
    quant = *kind;
  }
  for (const Linear &layer : parts)
    if (failed(checkLinear(layer)))
      return failure();
  Linear &q = parts[0], &k = parts[1], &v = parts[2], &o = parts[3];
  Linear &gate = parts[4], &up = parts[5], &down = parts[6];

  // qkv (AmmoConverter._build_qkv).
  std::string qkv = attn + ".qkv";
  bool anyWeight = q.weight || k.weight || v.weight;
  if (anyWeight && !(q.weight && k.weight && v.weight))
    return q.op.emitError() << "'" << attn
                            << "': q/k/v must all be quantized or all float "
                               "to form the vllm-adopt qkv";
  std::vector<float> qkvScale;
  std::string qkvScaleName;
  if (anyWeight) {
    if (q.weight->numerics.qscheme == QScheme::PerTensor) {
      qkvScale = maxOf({&q.weight->scale, &k.weight->scale, &v.weight->scale});
    } else {
      for (Linear *part : {&q, &k, &v})
        qkvScale.insert(qkvScale.end(), part->weight->scale.begin(),
                        part->weight->scale.end());
    }
    qkvScaleName = scaleName(qkv + ".weight_quant");
    QuantizerTensors merged = *q.weight;
    if (merged.numerics.qscheme != QScheme::PerTensor)
      merged.shape[0] = q.rows + k.rows + v.rows;
    if (failed(addScale(qkvScaleName, merged, qkvScale)))
      return failure();
  }
  FailureOr<OrderedJson> qkvWeight =
      weightJson(qkv + ".weight", {&q, &k, &v}, qkvScale);
  if (failed(qkvWeight))
    return failure();
  std::string qkvInput, qkvOutput;
  bool anyInput = q.input || k.input || v.input;
  if (anyInput && !(q.input && k.input && v.input))
    return q.op.emitError() << "'" << attn
                            << "': q/k/v quantize their shared input "
                               "differently";
  if (anyInput) {
    qkvInput = scaleName(qkv + ".input_quant");
    if (failed(addScale(
            qkvInput, *q.input,
            maxOf({&q.input->scale, &k.input->scale, &v.input->scale}))))
      return failure();
  }
  if (q.output && k.output && v.output) {
    qkvOutput = scaleName(qkv + ".output_quant");
    if (failed(addScale(
            qkvOutput, *q.output,
            maxOf({&q.output->scale, &k.output->scale, &v.output->scale}))))
      return failure();
  }
  // The KV cache scale: the largest output scale of q/k/v.
  std::vector<const std::vector<float> *> outputs;
  const QuantizerTensors *firstOutput = nullptr;
  for (Linear *part : {&q, &k, &v})
    if (part->output) {
      outputs.push_back(&part->output->scale);
      if (!firstOutput)
        firstOutput = &*part->output;
    }
  std::string kvScale;
  OrderedJson kvDtype;
  if (firstOutput) {
    kvScale = prefix + ".kv_cache_scaling_factor";
    if (failed(addScale(kvScale, *firstOutput, maxOf(outputs))))
      return failure();
    llvm::StringRef dtype = dtypeName(firstOutput->numerics.dtype);
    if (dtype.contains("fp8"))
      kvDtype = OrderedJson("FP8");
    else if (dtype.contains("int8"))
      kvDtype = OrderedJson("INT8");
  }
  // q/k/v zero points stay under their own names, as Quark's did.
  for (Linear *part : {&q, &k, &v})
    for (auto [quantName, quantizer] :
         {std::make_pair(&part->inputQuantName, &part->input),
          std::make_pair(&part->weightQuantName, &part->weight),
          std::make_pair(&part->outputQuantName, &part->output)})
      if (failed(addZeroPoint(zeroPointName(*quantName), *quantizer)))
        return failure();
  OrderedJson qkvJson = OrderedJson::object();
  qkvJson.add("weight", std::move(*qkvWeight))
      .add("bias", nullptr)
      .add("activation_scaling_factor", nameOrNull(qkvInput))
      .add("weights_scaling_factor", nameOrNull(qkvScaleName))
      .add("output_scaling_factor", nameOrNull(qkvOutput))
      .add("awq_block_size", q.awqBlockSize());

  FailureOr<OrderedJson> dense = plainLinear(o);
  if (failed(dense))
    return failure();
  OrderedJson attention = OrderedJson::object();
  attention.add("qkv", std::move(qkvJson))
      .add("kv_cache_scaling_factor", nameOrNull(kvScale))
      .add("kv_cache_dtype", std::move(kvDtype))
      .add("dense", std::move(*dense));

  if (options.mergeGateUp)
    mergeGateUp(up, gate);
  FailureOr<OrderedJson> fc = plainLinear(gate);
  if (failed(fc))
    return failure();
  FailureOr<OrderedJson> gateJson = plainLinear(up);
  if (failed(gateJson))
    return failure();
  FailureOr<OrderedJson> proj = plainLinear(down);
  if (failed(proj))
    return failure();
  OrderedJson mlpJson = OrderedJson::object();
  mlpJson.add("fc", std::move(*fc))
      .add("gate", std::move(*gateJson))
      .add("proj", std::move(*proj))
      .add("hidden_act", llvm::StringRef(config.hiddenAct).lower());

  FailureOr<ParamOp> inputNorm = floatParam(prefix + ".input_layernorm.weight");
  FailureOr<ParamOp> postNorm =
      floatParam(prefix + ".post_attention_layernorm.weight");
  if (failed(inputNorm) || failed(postNorm) ||
      failed(addFloatParam(*inputNorm, prefix + ".input_layernorm.weight")) ||
      failed(addFloatParam(*postNorm,
                           prefix + ".post_attention_layernorm.weight")))
    return failure();

  OrderedJson layer = OrderedJson::object();
  layer.add("quantization", legacyQuantName(quant))
      .add("decoder_type", config.modelType)
      .add("input_layernorm",
           normJson(prefix + ".input_layernorm.weight", config.normEpsilon))
      .add("mlp_layernorm", nullptr)
      .add("attention", std::move(attention))
      .add("post_layernorm",
           normJson(prefix + ".post_attention_layernorm.weight",
                    config.normEpsilon))
      .add("mlp", std::move(mlpJson))
      .add("num_attention_heads", config.numHeads)
      .add("attention_head_size", q.rows / config.numHeads)
      .add("num_kv_heads", config.numKVHeads)
      .add("max_position_embeddings", config.maxPositionEmbeddings)
      .add("rotary_pct", 0)
      .add("parallel_attention", false)
      .add("apply_residual_connection_post_layernorm", false)
      .add("use_cache", true)
      .add("rope_ratio", 1.0)
      .add("seq_length", 0);
  layers.push(std::move(layer));

  // fp8fnuz_config.json: vLLM's fused modules and where their shards'
  // weights and scaling factors are in the file.
  auto shardNames = [](llvm::ArrayRef<std::string> files) {
    OrderedJson list = OrderedJson::array();
    for (const std::string &file : files)
      list.push(file);
    return list;
  };
  shardLayers.add(attn + ".qkv_proj", shardNames({qkv + ".weight"}));
  shardLayers.add(mlp + ".gate_up_proj",
                  shardNames({gate.name + ".weight", up.name + ".weight"}));
  if (q.weight)
    quantLayers.push(attn + ".qkv_proj");
  if (o.weight)
    quantLayers.push(attn + ".o_proj");
  if (gate.weight && up.weight)
    quantLayers.push(mlp + ".gate_up_proj");
  if (down.weight)
    quantLayers.push(mlp + ".down_proj");
  scalingFactors.add(attn + ".qkv_proj",
                     shardFactors({nameOrNull(qkvInput)},
                                  {nameOrNull(qkvScaleName)},
                                  {nameOrNull(qkvOutput)}));
  scalingFactors.add(attn + ".o_proj", linearFactors({&o}));
  scalingFactors.add(mlp + ".gate_up_proj", linearFactors({&gate, &up}));
  scalingFactors.add(mlp + ".down_proj", linearFactors({&down}));
  OrderedJson kv = OrderedJson::object();
  kv.add("kv_cache_scaling_factor", nameOrNull(kvScale));
  scalingFactors.add(attn + ".attn", std::move(kv));
  return success();
}

LogicalResult LegacyExporter::build() {
  if (config.family != ModelFamily::Llama &&
      config.family != ModelFamily::Mistral)
    return module.emitError()
           << "the vllm-adopt format describes Llama models (Quark's "
              "LlamaModelInfoBuilder); this is a "
           << config.familyName() << " model ('" << config.modelType << "')";
  module.walk([&](LinearOp op) { linears[op.getName()] = op; });
  if (failed(forEachCheckpointParam(module, {}, [&](ParamOp param) {
        floatParams.try_emplace(param.getName(), param);
        return success();
      })))
    return failure();

  OrderedJson layers = OrderedJson::array();
  for (int64_t i = 0; i < config.numLayers; ++i)
    if (failed(addLayer(i, layers)))
      return failure();

  FailureOr<ParamOp> embed = floatParam("model.embed_tokens.weight");
  FailureOr<ParamOp> norm = floatParam("model.norm.weight");
  if (failed(embed) || failed(norm) ||
      failed(addFloatParam(*embed, "model.embed_tokens.weight")) ||
      failed(addFloatParam(*norm, "model.norm.weight")))
    return failure();
  FailureOr<Linear> head = linear("lm_head");
  if (failed(head) || failed(checkLinear(*head)))
    return failure();
  FailureOr<OrderedJson> headJson = plainLinear(*head);
  if (failed(headJson))
    return failure();
  if (head->weight) {
    quantLayers.push("lm_head");
    scalingFactors.add("lm_head", linearFactors({&*head}));
  }

  auto dtypeAttr = module->getAttrOfType<StringAttr>(kModelDtypeAttr);
  OrderedJson vocabEmbedding = OrderedJson::object();
  vocabEmbedding.add("weight", "model.embed_tokens.weight");
  modelJson = OrderedJson::object();
  modelJson.add("version", 0.1)
      .add("quantization", legacyQuantName(quant))
      .add("dtype", dtypeAttr ? dtypeAttr.getValue() : "float32")
      .add("vocab_size", config.vocabSize)
      .add("rank", 0)
      .add("tensor_parallel", 1)
      .add("pipeline_parallel", 1)
      .add("vocab_embedding", std::move(vocabEmbedding))
      .add("positional_embedding", nullptr)
      .add("ln_embed", nullptr)
      .add("layers", std::move(layers))
      .add("final_layernorm", nullptr)
      .add("ln_f", normJson("model.norm.weight", config.normEpsilon))
      .add("lm_head", std::move(*headJson))
      .add("share_embedding_table", false);

  llvm::sort(tensors, [](const ManifestTensor &a, const ManifestTensor &b) {
    return a.name < b.name;
  });
  return success();
}

llvm::Error writeText(llvm::StringRef dir, llvm::StringRef name,
                      const OrderedJson &json) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, name);
  std::string text;
  llvm::raw_string_ostream os(text);
  json.print(os, /*indent=*/4);
  return writeFileAtomically(path, text);
}

} // namespace

std::vector<std::string>
mlir::quark::vllmAdoptedFileNames(llvm::StringRef modelType, bool fp8) {
  std::vector<std::string> names{(modelType + ".json").str(),
                                 (modelType + ".safetensors").str()};
  if (fp8)
    names.push_back("fp8fnuz_config.json");
  return names;
}

FailureOr<VllmAdoptedExportResult>
mlir::quark::exportVllmAdopted(ModuleOp module,
                               const VllmAdoptedExportOptions &options) {
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return module.emitError() << "the module has no '" << kModelDirAttr << "'";
  if (options.outputDir.empty())
    return module.emitError()
           << "the vllm_adopted_safetensors export needs an output folder";
  if (failed(checkCheckpointExpressible(module, "vllm_adopted_safetensors")))
    return failure();
  llvm::Expected<ModelConfig> config = readModelConfig(modelDir.getValue());
  if (!config)
    return module.emitError() << llvm::toString(config.takeError());

  llvm::SmallString<256> out = absolutePath(options.outputDir);
  WeightStore store(modelDir.getValue().str());
  store.setCaching(false);
  LegacyExporter exporter(module, options, *config, store);
  if (failed(exporter.build()))
    return failure();
  bool fp8 = exporter.quant == LegacyQuant::Fp8;

  VllmAdoptedExportResult result;
  result.quantization = legacyQuantName(exporter.quant).str();
  result.files = vllmAdoptedFileNames(config->modelType, fp8);
  const std::string &jsonName = result.files[0];
  const std::string &weightsName = result.files[1];
  for (const std::string &file : result.files) {
    llvm::SmallString<256> path(out);
    llvm::sys::path::append(path, file);
    if (!options.overwrite && llvm::sys::fs::exists(path))
      return module.emitError()
             << path << " exists; pass --overwrite to replace it";
  }
  llvm::SmallString<256> weightsPath(out);
  llvm::sys::path::append(weightsPath, weightsName);
  result.tensors = static_cast<int64_t>(exporter.tensors.size());
  result.requantizedWeights = exporter.requantized;
  result.requantizedFromCodes = exporter.requantizedFromCodes;

  std::vector<const ManifestTensor *> tensors;
  for (const ManifestTensor &tensor : exporter.tensors)
    tensors.push_back(&tensor);
  if (llvm::Error error = publishFolder(
          out, /*wholeFolder=*/false, [&](llvm::StringRef dir) -> llvm::Error {
            llvm::SmallString<256> path(dir);
            llvm::sys::path::append(path, weightsName);
            if (llvm::Error error = writeSafetensorsFile(path, tensors, {}))
              return error;
            if (llvm::Error error =
                    writeText(dir, jsonName, exporter.modelJson))
              return error;
            // The loader opens the weights by this path, from wherever
            // vLLM runs: the absolute path where they end up.
            if (fp8)
              return writeText(dir, result.files[2],
                               exporter.fnuzConfigFor(weightsPath));
            return llvm::Error::success();
          }))
    return module.emitError() << llvm::toString(std::move(error));
  return result;
}
