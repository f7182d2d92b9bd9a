//===- HfExport.cpp - Quark hf_format export ------------------------------===//
//
// Manifest first: every file tensor of the export (name, dtype, shape and a
// producer of its bytes) is collected from the IR and checked before a byte
// is written; then the producers run one tensor at a time into shards, so
// memory holds one tensor, not the model.
//
//===----------------------------------------------------------------------===//

#include "quark/Target/HfFormat.h"

#include "HfCommon.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Config/QuantConfig.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/AtomicFile.h"
#include "quark/Support/Json.h"
#include "quark/Support/MiniFloat.h"
#include "quark/Support/QuarkHfLayout.h"
#include "quark/Support/ReadFile.h"
#include "quark/Support/Safetensors.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Target/StoredWeights.h"

#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cctype>
#include <cstdio>
#include <functional>
#include <map>

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

namespace {

class ManifestBuilder {
public:
  ManifestBuilder(ModuleOp module, const HfExportOptions &options,
                  WeightStore &store)
      : module(module), options(options), store(store), reader(store),
        floatDType(modelDType(module)),
        modelFloat(floatTypeOf(module.getContext(), floatDType)) {}

  LogicalResult build() {
    // Quantized linears first: they claim their parameters.
    WalkResult result = module.walk([&](LinearOp linear) {
      return failed(addLinear(linear)) ? WalkResult::interrupt()
                                       : WalkResult::advance();
    });
    if (result.wasInterrupted())
      return failure();
    // Then every weight still read from the model checkpoint, as stored.
    if (failed(forEachCheckpointParam(
            module, claimed, [&](ParamOp param) { return addCopy(param); })))
      return failure();
    llvm::sort(tensors, [](const ManifestTensor &a, const ManifestTensor &b) {
      return a.name < b.name;
    });
    return success();
  }

  std::vector<ManifestTensor> tensors;
  /// Layers written as quantized and as float (awq's modules_to_not_convert).
  std::vector<std::string> quantizedLayers, floatLayers;
  /// custom_mode awq: the group size all layers share.
  int64_t awqGroupSize = 0;

private:
  LogicalResult add(Operation *at, ManifestTensor tensor) {
    if (!names.insert(tensor.name).second)
      return at->emitError()
             << "the export would write tensor '" << tensor.name << "' twice";
    tensors.push_back(std::move(tensor));
    return success();
  }

  LogicalResult addCopy(ParamOp param) {
    std::string name = param.getName().str();
    if (names.contains(name))
      return success(); // tied weights read twice
    llvm::Expected<ManifestTensor> tensor =
        floatParamTensor(param, store, name);
    if (!tensor)
      return param.emitError() << llvm::toString(tensor.takeError());
    return add(param, std::move(*tensor));
  }

  FailureOr<TensorQuantSpec> numericsOf(TensorSpecAttr spec, Operation *at) {
    return getTensorQuantSpec(spec, modelFloat,
                              [&] { return at->emitError(); });
  }

  /// Adds `base` + suffix tensors of `layout` for a parameter.
  LogicalResult
  addScale(Operation *at, const std::string &base, const HfStoredTensor &layout,
           std::function<llvm::Expected<std::vector<float>>()> values) {
    return add(at, {base + layout.suffix, layout.dtype, layout.storedShape,
                    [layout, values]() -> llvm::Expected<ExportBytes> {
                      llvm::Expected<std::vector<float>> v = values();
                      if (!v)
                        return v.takeError();
                      return encodeStoredFloats(layout.layout, layout.dtype,
                                                layout.logicalShape, *v);
                    }});
  }
  LogicalResult
  addCodes(Operation *at, const std::string &name, const HfStoredTensor &layout,
           std::function<llvm::Expected<std::vector<int32_t>>()> values) {
    return add(at, {name, layout.dtype, layout.storedShape,
                    [layout, values]() -> llvm::Expected<ExportBytes> {
                      llvm::Expected<std::vector<int32_t>> v = values();
                      if (!v)
                        return v.takeError();
                      return encodeStoredCodes(layout.layout, layout.dtype,
                                               layout.logicalShape, *v);
                    }});
  }

  std::function<llvm::Expected<std::vector<int32_t>>()>
  zerosOrStored(ParamOp zeroPoint, int64_t count) {
    if (!zeroPoint)
      return [count]() -> llvm::Expected<std::vector<int32_t>> {
        return std::vector<int32_t>(static_cast<size_t>(count), 0);
      };
    return [this, zeroPoint]() { return reader.ints(zeroPoint); };
  }

  LogicalResult addLinear(LinearOp linear) {
    std::string name = linear.getName().str();
    LayerSpecAttr layer = linear.getQuantAttr();
    if (!layer) {
      floatLayers.push_back(name);
      return success();
    }
    if (layer.getBias())
      return linear.emitError()
             << "layer '" << name
             << "': quantized biases are not exported (vLLM rejects them)";
    quantizedLayers.push_back(name);
    if (failed(addWeight(linear, name)))
      return failure();
    if (options.customMode == HfCustomMode::Awq) {
      if (layer.getInputTensors() || layer.getOutputTensors())
        return linear.emitError()
               << "layer '" << name
               << "': custom_mode awq holds weight-only int4/uint4 "
                  "per-group layers; this one quantizes activations";
      return success();
    }
    std::string input = name + ".input", output = name + ".output";
    if (auto scaleQuant =
            linear.getInput().getDefiningOp<TwoStageFakeQuantOp>()) {
      if (failed(addScaleQuantActivation(scaleQuant, input, linear)))
        return failure();
      return addActivation(outputQuantizerOf(linear, modelFloat, output),
                           output, linear);
    }
    if (failed(addActivation(
            staticQuantizerOf(linear.getInput(), modelFloat, linear, input),
            input, linear)))
      return failure();
    return addActivation(outputQuantizerOf(linear, modelFloat, output), output,
                         linear);
  }

  LogicalResult addWeight(LinearOp linear, const std::string &name) {
    Value weight = linear.getWeight();
    auto weightType = cast<RankedTensorType>(weight.getType());
    std::string weightName = name + ".weight";
    std::optional<StoredWeightIR> stored = matchStoredWeight(weight);
    if (!stored) {
      if (auto param = weight.getDefiningOp<ParamOp>())
        return success(); // a float weight: copied with the rest
      Operation *producer = weight.getDefiningOp();
      return linear.emitError()
             << "layer '" << name << "': its weight is quantized by '"
             << (producer ? producer->getName().getStringRef() : "?")
             << "', which has no stored form (block formats stay "
                "fake-quantized); Quark's hf_format cannot hold it";
    }
    claimed.insert(stored->rawCodes);
    TensorSpecAttr spec = stored->dequantize.getSpec();
    FailureOr<TensorQuantSpec> numerics = numericsOf(spec, linear);
    if (failed(numerics))
      return failure();
    llvm::SmallVector<int64_t, 4> shape(weightType.getShape());
    llvm::Expected<QuantLayout> quantLayout =
        QuantLayout::get(shape, *numerics);
    if (!quantLayout)
      return linear.emitError()
             << "layer '" << name
             << "': " << llvm::toString(quantLayout.takeError());
    llvm::SmallVector<int64_t, 4> paramShape(quantLayout->paramShape());
    // The stage not stored as codes: a progressive weight's first (it adds
    // its per-tensor scale), a scale-quantizing (NVFP4) weight's second
    // (the block scales are its codes).
    std::optional<HfOtherStage> other;
    if (DequantizeOp otherStage =
            stored->firstStage ? stored->firstStage : stored->scaleDequantize) {
      FailureOr<TensorQuantSpec> otherSpec =
          numericsOf(otherStage.getSpec(), linear);
      if (failed(otherSpec))
        return failure();
      other = HfOtherStage{*otherSpec, !stored->firstStage};
    }
    if (stored->scaleCodes)
      claimed.insert(stored->scaleCodes);
    llvm::Expected<HfQuantizedTensor> layout = quarkHfWeightLayout(
        *numerics, other, shape, paramShape, options.packOrder);
    if (!layout)
      return linear.emitError() << "layer '" << name << "' (" << spec
                                << "): " << llvm::toString(layout.takeError());
    StoredWeightIR ir = *stored;
    TensorQuantSpec quant = *numerics;
    int64_t paramCount = quantLayout->numParams();
    auto scales = [this, ir]() { return reader.scales(ir); };
    auto zeroPoints = zerosOrStored(ir.zeroPoint, paramCount);

    if (options.customMode == HfCustomMode::Awq) {
      if (ir.firstStage)
        return linear.emitError()
               << "layer '" << name
               << "': custom_mode awq holds int4/uint4 per-group weights, "
                  "not a progressive (int4_fp8) one";
      return addAwqWeight(linear, name, quant, *layout, ir, paramShape);
    }

    if (options.fakeQuantized) {
      // The dequantized weight, rounded to the model's dtype as the IR's
      // dequantize result is.
      TensorDType dtype = floatDType;
      llvm::SmallVector<int64_t, 4> logical(shape);
      if (failed(add(linear, {weightName, dtype, shape,
                              [this, ir, quant, logical, dtype,
                               zeroPoints]() -> llvm::Expected<ExportBytes> {
                                llvm::Expected<std::vector<int32_t>> codes =
                                    reader.codes(ir);
                                if (!codes)
                                  return codes.takeError();
                                llvm::Expected<std::vector<float>> scale =
                                    reader.scales(ir);
                                if (!scale)
                                  return scale.takeError();
                                QuantParams params;
                                params.scales = std::move(*scale);
                                if (quant.hasZeroPoint()) {
                                  llvm::Expected<std::vector<int32_t>> zp =
                                      zeroPoints();
                                  if (!zp)
                                    return zp.takeError();
                                  params.zeroPoints = std::move(*zp);
                                }
                                llvm::Expected<QuantLayout> layout =
                                    QuantLayout::get(logical, quant);
                                if (!layout)
                                  return layout.takeError();
                                std::vector<float> values(codes->size());
                                if (llvm::Error error = dequantizeTensor(
                                        quant, *layout, *codes, params, values))
                                  return std::move(error);
                                if (ir.firstStage) {
                                  llvm::Expected<std::vector<float>> first =
                                      reader.floats(ir.firstStageScale);
                                  if (!first)
                                    return first.takeError();
                                  for (float &value : values)
                                    value *= first->front();
                                }
                                return encodeStoredFloats(StoredLayout(), dtype,
                                                          logical, values);
                              }})))
        return failure();
    } else if (failed(add(
                   linear,
                   {weightName, layout->codes->dtype,
                    layout->codes->storedShape,
                    [this, ir,
                     codes = *layout->codes]() -> llvm::Expected<ExportBytes> {
                      llvm::Expected<std::optional<TensorRef>> same =
                          reader.codesStoredAs(ir, codes.layout, codes.dtype);
                      if (!same)
                        return same.takeError();
                      if (*same)
                        return ExportBytes::borrowed(**same);
                      return reader.encodedCodes(ir, codes.layout, codes.dtype);
                    }}))) {
      return failure();
    }
    if (layout->scaleOfScales) {
      // The stored fp8 codes as they are, and their per-tensor scale.
      if (failed(
              addCodes(linear, weightName + layout->scale.suffix, layout->scale,
                       [this, ir]() { return reader.ints(ir.scaleCodes); })) ||
          failed(addScale(
              linear, weightName, *layout->scaleOfScales,
              [this, ir]() { return reader.floats(ir.scaleOfScales); })))
        return failure();
    } else if (failed(addScale(linear, weightName, layout->scale, scales))) {
      return failure();
    }
    if (layout->firstStageScale &&
        failed(addScale(
            linear, weightName, *layout->firstStageScale,
            [this, ir]() { return reader.floats(ir.firstStageScale); })))
      return failure();
    if (layout->zeroPoint &&
        failed(addCodes(linear, weightName + layout->zeroPoint->suffix,
                        *layout->zeroPoint, zeroPoints)))
      return failure();
    return success();
  }

  /// AutoAWQ's layout: qweight / qzeros int32 [in, out/8] in the AWQ
  /// interleave, unsigned codes (a symmetric int4 code c is c + 8 with zero
  /// point 8), scales [in/G, out] in fp16.
  LogicalResult addAwqWeight(LinearOp linear, const std::string &name,
                             const TensorQuantSpec &quant,
                             const HfQuantizedTensor &layout, StoredWeightIR ir,
                             llvm::ArrayRef<int64_t> paramShape) {
    const DTypeInfo &info = getDTypeInfo(quant.dtype);
    if (!info.isInteger() || info.bits != 4 ||
        quant.qscheme != QScheme::PerGroup)
      return linear.emitError()
             << "layer '" << name
             << "': custom_mode awq holds int4/uint4 per-group weights, "
                "not "
             << ir.dequantize.getSpec();
    if (awqGroupSize && awqGroupSize != quant.groupSize)
      return linear.emitError()
             << "layer '" << name << "': custom_mode awq needs one group size "
             << "for all layers (" << awqGroupSize << " and " << quant.groupSize
             << ")";
    awqGroupSize = quant.groupSize;
    int32_t offset = info.isSigned() ? 8 : 0;
    StoredLayout packed = layout.codes->layout;
    packed.int4Order = Int4PackOrder::Reorder;
    packed.int4Signed = false;
    HfStoredTensor qweight = *layout.codes;
    qweight.layout = packed;
    HfStoredTensor qzeros = *layout.zeroPoint;
    qzeros.layout = packed;
    HfStoredTensor scales = layout.scale;
    scales.dtype = TensorDType::F16;
    int64_t count = 1;
    for (int64_t dim : paramShape)
      count *= dim;
    auto zeroPoints = zerosOrStored(ir.zeroPoint, count);
    if (failed(addCodes(
            linear, name + ".qweight", qweight,
            [this, ir, offset]() -> llvm::Expected<std::vector<int32_t>> {
              llvm::Expected<std::vector<int32_t>> codes = reader.codes(ir);
              if (codes)
                for (int32_t &code : *codes)
                  code += offset;
              return codes;
            })))
      return failure();
    if (failed(addCodes(
            linear, name + ".qzeros", qzeros,
            [zeroPoints, offset]() -> llvm::Expected<std::vector<int32_t>> {
              llvm::Expected<std::vector<int32_t>> zp = zeroPoints();
              if (zp)
                for (int32_t &value : *zp)
                  value += offset;
              return zp;
            })))
      return failure();
    scales.suffix = "";
    return add(linear,
               {name + ".scales", scales.dtype, scales.storedShape,
                [this, ir, scales]() mutable -> llvm::Expected<ExportBytes> {
                  llvm::Expected<std::vector<float>> values = reader.scales(ir);
                  if (!values)
                    return values.takeError();
                  for (float value : *values)
                    if (decodeFloat16(encodeFloat16(value)) != value)
                      return makeExportError("an AWQ scale of '" +
                                             ir.scale.getName().str() + "' (" +
                                             std::to_string(value) +
                                             ") is not exact in fp16");
                  return encodeStoredFloats(scales.layout, scales.dtype,
                                            scales.logicalShape, *values);
                }});
  }

  /// `<base>_scale_2` of an NVFP4 activation quantizer: its first stage is
  /// dynamic (block scales from each input) and stores nothing; its second
  /// stage's calibrated per-tensor scale is what vLLM's QuarkNVFP4 loads.
  LogicalResult addScaleQuantActivation(TwoStageFakeQuantOp quantizer,
                                        const std::string &base,
                                        LinearOp linear) {
    TwoStageSpecAttr spec = quantizer.getSpec();
    DenseElementsAttr secondScale;
    if (!spec.quantizesScalesPerCall() || !quantizer.getSecondScale() ||
        !matchPattern(quantizer.getSecondScale(), m_Constant(&secondScale)) ||
        secondScale.getNumElements() != 1)
      return linear.emitError()
             << "'" << base << "': " << spec
             << " has no hf_format form (NVFP4 activations, a dynamic fp4 "
                "first stage and a calibrated per-tensor second scale, do)";
    float value = *secondScale.getValues<float>().begin();
    return addScale(linear, base, quarkHfScaleOfScales(),
                    [value]() -> llvm::Expected<std::vector<float>> {
                      return std::vector<float>{value};
                    });
  }

  /// `<base>_scale` (and `_zero_point`) of a static activation quantizer.
  LogicalResult addActivation(FailureOr<std::optional<StaticQuantizer>> found,
                              const std::string &base, LinearOp linear) {
    if (failed(found))
      return failure();
    if (!*found)
      return success(); // float, or dynamic: no stored parameters
    const StaticQuantizer &quantizer = **found;
    llvm::Expected<HfQuantizedTensor> layout =
        quarkHfLayout(quantizer.numerics, {}, quantizer.paramShape,
                      /*isWeight=*/false, options.packOrder);
    if (!layout)
      return linear.emitError()
             << "'" << base << "': " << llvm::toString(layout.takeError());
    std::vector<float> scales = quantizer.scales;
    if (failed(addScale(linear, base, layout->scale,
                        [scales]() -> llvm::Expected<std::vector<float>> {
                          return scales;
                        })))
      return failure();
    if (layout->zeroPoint) {
      std::vector<int32_t> zeros = quantizer.zeroPoints.empty()
                                       ? std::vector<int32_t>(scales.size(), 0)
                                       : quantizer.zeroPoints;
      if (failed(addCodes(linear, base + layout->zeroPoint->suffix,
                          *layout->zeroPoint,
                          [zeros]() -> llvm::Expected<std::vector<int32_t>> {
                            return zeros;
                          })))
        return failure();
    }
    return success();
  }

  ModuleOp module;
  const HfExportOptions &options;
  WeightStore &store;
  StoredWeightReader reader;
  TensorDType floatDType;
  Type modelFloat;
  llvm::StringSet<> names;
  llvm::DenseSet<Operation *> claimed;
};

/// The files of a tokenizer and generation settings that travel with a
/// Hugging Face model.
bool isCompanionFile(llvm::StringRef name) {
  return name.starts_with("tokenizer") || name == "special_tokens_map.json" ||
         name == "added_tokens.json" || name == "vocab.json" ||
         name == "vocab.txt" || name == "merges.txt" ||
         name == "generation_config.json" ||
         name.starts_with("chat_template") ||
         name == "preprocessor_config.json";
}

std::string shardName(size_t index, size_t count) {
  if (count == 1)
    return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors",
                index + 1, count);
  return name;
}

llvm::Error writeJson(llvm::StringRef path, const json::Value &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  // As transformers' save_pretrained (json.dumps, indent 2, sorted keys).
  printPythonJson(os, value);
  os << "\n";
  return writeFileAtomically(path, text);
}

/// The input shard (file name) each exported tensor comes from: its own
/// name's, or else its layer's weight's (`<layer>.weight_scale`,
/// `.input_scale`, `.qweight`, ... live beside `<layer>.weight`). Tensors
/// with neither go to the first shard.
llvm::Expected<std::vector<std::string>>
inputShardsOf(llvm::StringRef modelDir, const ManifestBuilder &manifest) {
  llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>> input =
      SafetensorsCheckpoint::open(modelDir);
  if (!input)
    return input.takeError();
  std::string first =
      llvm::sys::path::filename((*input)->files().front()->path()).str();
  std::vector<std::string> homes;
  for (const ManifestTensor &tensor : manifest.tensors) {
    llvm::StringRef name = tensor.name;
    std::optional<TensorRef> source = (*input)->find(name);
    if (!source)
      source = (*input)->find((name.rsplit('.').first + ".weight").str());
    homes.push_back(
        source ? llvm::sys::path::filename(source->file->path()).str() : first);
  }
  return homes;
}

/// Serializes the manifest into `dir` (which exists and is empty).
llvm::Error writeFolder(ModuleOp module, const ManifestBuilder &manifest,
                        const json::Value &quantizationConfig,
                        const HfExportOptions &options, llvm::StringRef dir,
                        HfExportResult &result) {
  llvm::StringRef modelDir =
      module->getAttrOfType<StringAttr>(kModelDirAttr).getValue();
  // Shards: tensors in name order, a new shard when the next would pass
  // the limit; or the input's shards, each tensor in its source's.
  std::vector<std::vector<const ManifestTensor *>> shards(1);
  std::vector<std::string> shardFiles;
  if (options.keepInputShards) {
    llvm::Expected<std::vector<std::string>> homes =
        inputShardsOf(modelDir, manifest);
    if (!homes)
      return homes.takeError();
    std::map<std::string, std::vector<const ManifestTensor *>> byFile;
    for (size_t i = 0; i < manifest.tensors.size(); ++i)
      byFile[(*homes)[i]].push_back(&manifest.tensors[i]);
    shards.clear();
    for (auto &[file, tensors] : byFile) {
      shardFiles.push_back(file);
      shards.push_back(std::move(tensors));
    }
  } else {
    uint64_t shardBytes = 0;
    for (const ManifestTensor &tensor : manifest.tensors) {
      uint64_t size = tensor.byteSize();
      if (!shards.back().empty() && shardBytes + size > options.maxShardBytes) {
        shards.emplace_back();
        shardBytes = 0;
      }
      shards.back().push_back(&tensor);
      shardBytes += size;
    }
    for (size_t s = 0; s < shards.size(); ++s)
      shardFiles.push_back(shardName(s, shards.size()));
  }
  for (const ManifestTensor &tensor : manifest.tensors) {
    result.tensorBytes += tensor.byteSize();
    ++result.tensors;
  }
  json::Object weightMap;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string &file = shardFiles[s];
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, file);
    for (const ManifestTensor *tensor : shards[s])
      weightMap[tensor->name] = file;
    if (llvm::Error error =
            writeSafetensorsFile(path, shards[s], {{"format", "pt"}}))
      return error;
    result.shards.push_back(file);
  }
  if (shards.size() > 1 || shardFiles.front() != "model.safetensors") {
    llvm::SmallString<256> index(dir);
    llvm::sys::path::append(index, "model.safetensors.index.json");
    json::Object document{
        {"metadata", json::Object{{"total_size",
                                   static_cast<int64_t>(result.tensorBytes)}}},
        {"weight_map", std::move(weightMap)}};
    if (llvm::Error error = writeJson(index, std::move(document)))
      return error;
  }

  // config.json: the model's, with quantization_config.
  llvm::SmallString<256> configIn(modelDir);
  llvm::sys::path::append(configIn, "config.json");
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> configText =
      readFile(configIn);
  if (!configText)
    return configText.takeError();
  llvm::Expected<json::Value> config = json::parse((*configText)->getBuffer());
  if (!config || !config->getAsObject())
    return makeExportError(configIn + ": not a JSON object");
  (*config->getAsObject())["quantization_config"] = quantizationConfig;
  // A head an algorithm untied (quark-rotate) is its own tensor now.
  bool ownHead = false;
  module.walk(
      [&](ParamOp param) { ownHead |= param.getName() == "lm_head.weight"; });
  if (ownHead)
    (*config->getAsObject())["tie_word_embeddings"] = false;
  llvm::SmallString<256> configOut(dir);
  llvm::sys::path::append(configOut, "config.json");
  if (llvm::Error error = writeJson(configOut, *config))
    return error;

  // Tokenizer and generation files.
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(modelDir, ec), end;
       it != end && !ec; it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    if (!isCompanionFile(name))
      continue;
    llvm::SmallString<256> target(dir);
    llvm::sys::path::append(target, name);
    if (std::error_code copy = llvm::sys::fs::copy_file(it->path(), target))
      return makeExportError(it->path() + ": cannot copy: " + copy.message());
  }
  if (ec)
    return makeExportError(modelDir + ": " + ec.message());
  return llvm::Error::success();
}

/// `quantization_config` of the export.
FailureOr<json::Value> quantizationConfigJson(ModuleOp module,
                                              const ManifestBuilder &manifest,
                                              const HfExportOptions &options) {
  auto attr = module->getAttrOfType<DictionaryAttr>(kQuantConfigAttr);
  if (!attr)
    return module.emitError()
           << "the module has no '" << kQuantConfigAttr
           << "': export a model quark-quantize (or quark-attach-config) "
              "configured";
  auto emitError = [&] { return module.emitError(); };
  FailureOr<QuantConfig> config = QuantConfig::fromAttr(attr, emitError);
  if (failed(config))
    return failure();
  if (options.customMode == HfCustomMode::Awq) {
    json::Array notConverted;
    for (const std::string &layer : manifest.floatLayers)
      notConverted.push_back(layer);
    return json::Value(json::Object{
        {"quant_method", "awq"},
        {"bits", 4},
        {"group_size", manifest.awqGroupSize},
        {"zero_point", true},
        {"version", "gemm"},
        {"modules_to_not_convert", std::move(notConverted)},
    });
  }
  FailureOr<json::Value> json = config->toJson(emitError);
  if (failed(json))
    return failure();
  // The group names the projections whose output scales form the KV
  // cache's; without a KV-cache config there is none, and vLLM would look
  // for one.
  json::Array kvGroup;
  if (!config->kvCache.empty())
    for (const std::string &pattern : config->kvCacheGroup)
      kvGroup.push_back(pattern);
  (*json->getAsObject())["export"] = json::Object{
      {"weight_merge_groups", nullptr},
      {"kv_cache_group", std::move(kvGroup)},
      {"min_kv_scale", config->minKvScale},
      {"weight_format",
       options.fakeQuantized ? "fake_quantized" : "real_quantized"},
      {"pack_method", std::string(int4PackOrderName(options.packOrder))},
  };
  return json;
}

} // namespace

std::optional<uint64_t> mlir::quark::parseShardSize(llvm::StringRef text) {
  text = text.trim();
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) ||
          text[digits] == '.'))
    ++digits;
  double number;
  if (digits == 0 || text.take_front(digits).getAsDouble(number))
    return std::nullopt;
  std::string unit = text.drop_front(digits).trim().upper();
  double scale;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KB")
    scale = 1e3;
  else if (unit == "MB")
    scale = 1e6;
  else if (unit == "GB")
    scale = 1e9;
  else if (unit == "KIB")
    scale = 1024.0;
  else if (unit == "MIB")
    scale = 1024.0 * 1024;
  else if (unit == "GIB")
    scale = 1024.0 * 1024 * 1024;
  else
    return std::nullopt;
  double bytes = number * scale;
  if (bytes < 1)
    return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

llvm::Error mlir::quark::checkHfExportTarget(llvm::StringRef modelDir,
                                             const HfExportOptions &options) {
  if (options.outputDir.empty())
    return makeExportError("hf_format export needs an output folder");
  llvm::SmallString<256> out = absolutePath(options.outputDir);
  if (out == absolutePath(modelDir))
    return makeExportError(out + ": the export would replace its own input");
  if (llvm::sys::fs::exists(out) && !options.overwrite &&
      !isEmptyDirectory(out))
    return makeExportError(out +
                           " is not empty; pass --overwrite to replace it");
  return llvm::Error::success();
}

FailureOr<HfExportResult>
mlir::quark::exportHfFormat(ModuleOp module, const HfExportOptions &options) {
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return module.emitError() << "the module has no '" << kModelDirAttr << "'";
  if (llvm::Error error = checkHfExportTarget(modelDir.getValue(), options))
    return module.emitError() << llvm::toString(std::move(error));
  if (failed(checkCheckpointExpressible(module, "hf_format")))
    return failure();
  llvm::SmallString<256> out = absolutePath(options.outputDir);

  WeightStore store(modelDir.getValue().str());
  store.setCaching(false);
  ManifestBuilder manifest(module, options, store);
  if (failed(manifest.build()))
    return failure();
  FailureOr<json::Value> config =
      quantizationConfigJson(module, manifest, options);
  if (failed(config))
    return failure();

  // Everything goes into a fresh folder beside the target, renamed into
  // place once complete.
  HfExportResult result;
  if (llvm::Error error =
          publishFolder(out, /*wholeFolder=*/true, [&](llvm::StringRef dir) {
            return writeFolder(module, manifest, *config, options, dir, result);
          }))
    return module.emitError() << llvm::toString(std::move(error));
  return result;
}
