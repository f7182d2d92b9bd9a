//===- Layerwise.cpp - Run an algorithm decoder layer by decoder layer ---===//

#include "Layerwise.h"

#include "QuantizationUtils.h"

#include "quark/Algorithms/SmoothQuant.h"
#include "quark/Analysis/ScalingGroups.h"
#include "quark/Analysis/SpecNumerics.h"
#include "quark/Config/QuantConfig.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Support/AtomicFile.h"
#include "quark/Support/Progress.h"
#include "quark/Support/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/xxhash.h"

using namespace mlir;
using namespace mlir::quark;

llvm::Error mlir::quark::layerError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

namespace {

/// What one finished layer changed, as progress.json records it.
struct LayerRecord {
  std::string block;
  std::string file;                   // relative to the algorithm's folder
  std::vector<std::string> updated;   // param names now read from `file`
  std::vector<std::string> quantized; // linears quantized with stored params
};

llvm::json::Value toJson(const LayerRecord &record) {
  llvm::json::Array updated, quantized;
  for (const std::string &name : record.updated)
    updated.push_back(name);
  for (const std::string &name : record.quantized)
    quantized.push_back(name);
  return llvm::json::Object{{"block", record.block},
                            {"file", record.file},
                            {"updated", std::move(updated)},
                            {"quantized", std::move(quantized)}};
}

std::optional<LayerRecord> recordFromJson(const llvm::json::Value &value) {
  const llvm::json::Object *object = value.getAsObject();
  if (!object)
    return std::nullopt;
  LayerRecord record;
  std::optional<llvm::StringRef> block = object->getString("block");
  std::optional<llvm::StringRef> file = object->getString("file");
  const llvm::json::Array *updated = object->getArray("updated");
  const llvm::json::Array *quantized = object->getArray("quantized");
  if (!block || !file || !updated || !quantized)
    return std::nullopt;
  record.block = block->str();
  record.file = file->str();
  for (auto [list, out] : {std::make_pair(updated, &record.updated),
                           std::make_pair(quantized, &record.quantized)})
    for (const llvm::json::Value &name : *list) {
      std::optional<llvm::StringRef> text = name.getAsString();
      if (!text)
        return std::nullopt;
      out->push_back(text->str());
    }
  return record;
}

/// The scale and zero-point types of `linear`'s quantized weight.
FailureOr<std::pair<RankedTensorType, RankedTensorType>>
weightParamTypes(LinearOp linear, TensorSpecAttr spec) {
  return paramTypes(spec, cast<RankedTensorType>(linear.getWeight().getType()),
                    linear);
}

TensorSpecAttr weightSpecOf(LinearOp linear) {
  LayerSpecAttr layer = linear.getQuantAttr();
  return layer ? singleStage(layer.getWeight()) : TensorSpecAttr();
}

/// Points the layer's IR at what `record` says its file holds: updated
/// params read from it; quantized weights become fake_quant with the
/// stored parameters.
LogicalResult applyRecord(BlockOp block, const LayerRecord &record,
                          llvm::StringRef path) {
  llvm::StringSet<> updated, quantized;
  for (const std::string &name : record.updated)
    updated.insert(name);
  for (const std::string &name : record.quantized)
    quantized.insert(name);
  MLIRContext *context = block.getContext();
  StringAttr file = StringAttr::get(context, path);
  size_t found = 0;
  // A param read from the checkpoint or from an earlier algorithm's file.
  block.getBody().walk([&](ParamOp param) {
    if (updated.contains(param.getName()) && !param.getLayout()) {
      param.setFileAttr(file);
      ++found;
    }
  });
  if (found != record.updated.size())
    return block.emitError()
           << "'" << block.getName() << "': "
           << record.updated.size() - std::min(found, record.updated.size())
           << " updated weights of " << path << " are not params of this layer";
  size_t linears = 0;
  WalkResult walk = block.getBody().walk([&](LinearOp linear) {
    if (!quantized.contains(linear.getName()))
      return WalkResult::advance();
    ++linears;
    TensorSpecAttr spec = weightSpecOf(linear);
    auto weight = linear.getWeight().getDefiningOp<ParamOp>();
    if (!spec || !weight) {
      linear.emitError() << "'" << linear.getName()
                         << "' is recorded as quantized in " << path
                         << " but has no plain weight and weight spec";
      return WalkResult::interrupt();
    }
    FailureOr<std::pair<RankedTensorType, RankedTensorType>> types =
        weightParamTypes(linear, spec);
    if (failed(types))
      return WalkResult::interrupt();
    OpBuilder builder(linear);
    Location loc = linear.getLoc();
    std::string name = weight.getName().str();
    Value scale = ParamOp::create(builder, loc, types->first,
                                  builder.getStringAttr(name + "_scale"), file,
                                  StringAttr());
    Value zeroPoint;
    if (types->second)
      zeroPoint = ParamOp::create(builder, loc, types->second,
                                  builder.getStringAttr(name + "_zero_point"),
                                  file, StringAttr());
    Value fakeQuant =
        FakeQuantOp::create(builder, loc, weight.getType(), weight.getResult(),
                            spec, scale, zeroPoint);
    linear.getWeightMutable().assign(fakeQuant);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (linears != record.quantized.size())
    return block.emitError()
           << "'" << block.getName() << "': quantized layers of " << path
           << " are missing from this layer";
  return success();
}

/// Writes what `context` changed to `path` and returns its record.
llvm::Expected<LayerRecord> writeLayer(LayerContext &context,
                                       llvm::StringRef path,
                                       llvm::StringRef relative) {
  LayerRecord record;
  record.block = context.getBlock().getName().str();
  record.file = relative.str();
  std::vector<ParamFileEntry> entries;
  llvm::DenseSet<Operation *> quantizedWeights;
  for (const LayerContext::Quantized &entry : context.quantized()) {
    LinearOp linear = entry.linear;
    quantizedWeights.insert(linear.getWeight().getDefiningOp());
  }
  for (const auto &[constParam, value] : context.updates()) {
    ParamOp param = constParam;
    record.updated.push_back(param.getName().str());
    // Quantized weights stay float32: their values lie on the grid of
    // float32 scales.
    entries.push_back(rewrittenParamEntry(
        param, value, /*keepFloat32=*/quantizedWeights.contains(param)));
  }
  for (const LayerContext::Quantized &entry : context.quantized()) {
    LinearOp linear = entry.linear;
    TensorSpecAttr spec = weightSpecOf(linear);
    auto weight = linear.getWeight().getDefiningOp<ParamOp>();
    if (!spec || !weight)
      return layerError("'" + linear.getName() +
                        "' has no plain weight and weight spec");
    FailureOr<std::pair<RankedTensorType, RankedTensorType>> types =
        weightParamTypes(linear, spec);
    if (failed(types))
      return layerError("'" + linear.getName() + "': no parameter shape");
    record.quantized.push_back(linear.getName().str());
    std::string name = weight.getName().str();
    if (static_cast<int64_t>(entry.params.scales.size()) !=
        types->first.getNumElements())
      return layerError(llvm::formatv("'{0}': {1} scales for a parameter "
                                      "tensor of {2}",
                                      linear.getName(),
                                      entry.params.scales.size(),
                                      types->first.getNumElements()));
    auto bytesOf = [](const auto &values) {
      auto bytes = reinterpret_cast<const uint8_t *>(values.data());
      return std::vector<uint8_t>(bytes,
                                  bytes + values.size() * sizeof(values[0]));
    };
    entries.push_back({name + "_scale", TensorDType::F32,
                       llvm::SmallVector<int64_t, 4>(types->first.getShape()),
                       bytesOf(entry.params.scales)});
    if (types->second)
      entries.push_back(
          {name + "_zero_point", TensorDType::I32,
           llvm::SmallVector<int64_t, 4>(types->second.getShape()),
           bytesOf(entry.params.zeroPoints)});
  }
  if (llvm::Error error = writeParamFile(path, std::move(entries)))
    return std::move(error);
  return record;
}

/// progress.json of an algorithm's checkpoint folder.
struct Progress {
  std::string fingerprint;
  std::vector<LayerRecord> layers;
};

llvm::Error saveProgress(llvm::StringRef path, const Progress &progress,
                         llvm::StringRef algorithm) {
  llvm::json::Array layers;
  for (const LayerRecord &record : progress.layers)
    layers.push_back(toJson(record));
  llvm::json::Object root{{"algorithm", algorithm},
                          {"fingerprint", progress.fingerprint},
                          {"layers", std::move(layers)}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  return writeFileAtomically(path, text);
}

llvm::Expected<Progress> loadProgress(llvm::StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return layerError(path + ": " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return layerError(path + ": " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  std::optional<llvm::StringRef> fingerprint =
      root ? root->getString("fingerprint") : std::nullopt;
  const llvm::json::Array *layers = root ? root->getArray("layers") : nullptr;
  if (!fingerprint || !layers)
    return layerError(path + ": expected {\"fingerprint\": ..., \"layers\": "
                             "[...]}");
  Progress progress;
  progress.fingerprint = fingerprint->str();
  for (const llvm::json::Value &entry : *layers) {
    std::optional<LayerRecord> record = recordFromJson(entry);
    if (!record)
      return layerError(path + ": a malformed layer record");
    progress.layers.push_back(std::move(*record));
  }
  return progress;
}

/// What a checkpoint must agree on to be resumed: the IR the pass starts
/// from (weights, earlier algorithms, the quantization config), the
/// algorithm's settings and the calibration data.
std::string fingerprintOf(ModuleOp module, const LayerwiseOptions &options) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().elideLargeElementsAttrs(64));
  const CalibrationOptions &calibration = options.calibration;
  uint64_t datasetSize = 0;
  (void)llvm::sys::fs::file_size(calibration.dataset, datasetSize);
  os << "\n"
     << options.algorithm << "\n"
     << llvm::json::Value(llvm::json::Object(options.algoConfig)) << "\n"
     << llvm::json::Value(llvm::json::Object(options.extraSettings)) << "\n"
     << calibration.dataset << " " << datasetSize << " "
     << calibration.tokenizerDir << " " << calibration.seqLen << " "
     << calibration.numCalibData << " " << calibration.batchSize;
  return llvm::utohexstr(llvm::xxh3_64bits(llvm::StringRef(text)),
                         /*LowerCase=*/true);
}

} // namespace

LogicalResult mlir::quark::recordAlgoConfig(ModuleOp module,
                                            llvm::json::Object entry) {
  auto attr = module->getAttrOfType<DictionaryAttr>(kQuantConfigAttr);
  if (!attr)
    return module.emitError() << "the module has no '" << kQuantConfigAttr
                              << "': run quark-attach-config first";
  FailureOr<QuantConfig> config =
      QuantConfig::fromAttr(attr, [&] { return module.emitError(); });
  if (failed(config))
    return failure();
  // `model.layers` for layers named `model.layers.N`.
  if (BlockOp first = firstDecoderLayer(module)) {
    llvm::StringRef name = first.getName();
    size_t dot = name.rfind('.');
    entry["model_decoder_layers"] =
        dot == llvm::StringRef::npos ? "" : name.take_front(dot).str();
  }
  config->algoConfig.push_back(llvm::json::Value(std::move(entry)));
  module->setAttr(kQuantConfigAttr, config->toAttr(module.getContext()));
  return success();
}

llvm::Expected<std::vector<std::vector<Tensor>>>
LayerContext::run(std::function<llvm::Error(LinearOp, const Tensor &)> hook,
                  bool keepOutputs) {
  // A fresh executor: its caches hold weight values as they were.
  Executor executor(store);
  executor.linearHook = std::move(hook);
  std::vector<std::vector<Tensor>> outputs;
  for (const std::vector<Tensor> &arguments : inputs) {
    llvm::Expected<std::vector<Tensor>> out =
        executor.runRegion(block.getBody(), arguments);
    if (!out)
      return out.takeError();
    if (keepOutputs)
      outputs.push_back(std::move(*out));
  }
  return outputs;
}

llvm::Expected<Tensor> LayerContext::read(ParamOp param) {
  return store.get(param.getName(), param.getFile().value_or(""));
}

void LayerContext::update(ParamOp param, Tensor value) {
  store.set(param.getName(), value, param.getFile().value_or(""));
  for (auto &entry : updated)
    if (entry.first == param) {
      entry.second = std::move(value);
      return;
    }
  updated.emplace_back(param, std::move(value));
}

void LayerContext::releaseUpdates() {
  for (auto &[param, value] : updated)
    store.unset(param.getName(), param.getFile().value_or(""));
}

void LayerContext::setQuantized(LinearOp linear, QuantParams params) {
  quantizedWeights.push_back({linear, std::move(params)});
}

LogicalResult mlir::quark::runLayerwise(
    ModuleOp module, const LayerwiseOptions &options,
    llvm::function_ref<llvm::Error(LayerContext &)> processLayer) {
  auto fail = [&](const llvm::Twine &message) -> LogicalResult {
    module.emitError() << options.algorithm << ": " << message;
    return failure();
  };
  FailureOr<AlgorithmModule> target = getAlgorithmModule(
      module, options.algorithm, options.checkpointDir, "per-layer results");
  if (failed(target))
    return failure();
  StringAttr modelDir = target->modelDir;
  func::FuncOp forward = target->forward;
  SmallVector<BlockOp> blocks;
  for (Operation &op : forward.front())
    if (auto block = dyn_cast<BlockOp>(op))
      blocks.push_back(block);
  if (blocks.empty())
    return fail("@forward has no decoder layers (quark.block)");
  for (size_t i = 1; i < blocks.size(); ++i)
    if (!llvm::equal(blocks[i].getInputs(), blocks[i - 1].getResults()))
      return fail("'" + blocks[i].getName() +
                  "' does not take the outputs of the layer before it; the "
                  "layers must follow one another");

  // The checkpoint folder: fresh, resumed, or refused.
  llvm::SmallString<256> folder(options.checkpointDir);
  llvm::sys::fs::make_absolute(folder);
  llvm::sys::path::append(folder, options.algorithm);
  llvm::SmallString<256> progressPath(folder);
  llvm::sys::path::append(progressPath, "progress.json");
  Progress progress;
  progress.fingerprint = fingerprintOf(module, options);
  llvm::StringMap<LayerRecord> done;
  if (llvm::sys::fs::exists(progressPath)) {
    if (options.resume) {
      llvm::Expected<Progress> earlier = loadProgress(progressPath);
      if (!earlier)
        return fail(llvm::toString(earlier.takeError()));
      if (earlier->fingerprint != progress.fingerprint)
        return fail(folder + " was written by a run with a different model, "
                             "configuration, algorithm settings or "
                             "calibration data; remove it or pass "
                             "--overwrite to start over");
      for (LayerRecord &record : earlier->layers)
        done[record.block] = record;
    } else if (options.overwrite) {
      if (std::error_code ec = llvm::sys::fs::remove_directories(folder))
        return fail(folder + ": cannot remove: " + ec.message());
    } else {
      return fail(folder + " holds an earlier run's per-layer results; pass "
                           "--resume to continue it or --overwrite to start "
                           "over");
    }
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(folder))
    return fail(folder + ": cannot create: " + ec.message());

  FailureOr<CalibrationBatches> data =
      loadCalibrationBatches(module, options.calibration);
  if (failed(data))
    return failure();

  WeightStore store(modelDir.str());
  store.setCaching(false);
  Type modelFloat = modelFloatType(module);
  std::vector<std::vector<Tensor>> inputs;
  {
    Executor executor(store);
    llvm::Expected<std::vector<std::vector<Tensor>>> first =
        executor.runUntil(forward, data->batches, blocks.front());
    if (!first)
      return fail(llvm::toString(first.takeError()));
    inputs = std::move(*first);
  }

  ProgressBar bar(options.algorithm, static_cast<int64_t>(blocks.size()),
                  "layers");
  int64_t finished = 0;
  for (BlockOp block : blocks) {
    std::string name = block.getName().str();
    LayerContext context(block, inputs, store, modelFloat);
    auto earlier = done.find(name);
    if (earlier != done.end()) {
      llvm::SmallString<256> path(folder);
      llvm::sys::path::append(path, earlier->second.file);
      if (!llvm::sys::fs::exists(path))
        return fail(path + " is listed in " + progressPath +
                    " but does not exist");
      if (failed(applyRecord(block, earlier->second, path)))
        return failure();
      progress.layers.push_back(earlier->second);
    } else {
      if (llvm::Error error = processLayer(context))
        return fail("'" + name + "': " + llvm::toString(std::move(error)));
      std::string relative = name + ".safetensors";
      llvm::SmallString<256> path(folder);
      llvm::sys::path::append(path, relative);
      llvm::Expected<LayerRecord> record = writeLayer(context, path, relative);
      if (!record)
        return fail("'" + name + "': " + llvm::toString(record.takeError()));
      // The layer reads its file from now on.
      context.releaseUpdates();
      if (failed(applyRecord(block, *record, path)))
        return failure();
      progress.layers.push_back(std::move(*record));
      if (llvm::Error error =
              saveProgress(progressPath, progress, options.algorithm))
        return fail(llvm::toString(std::move(error)));
    }
    // The next layer's inputs: this layer's outputs as it now is.
    llvm::Expected<std::vector<std::vector<Tensor>>> outputs =
        context.run(nullptr, /*keepOutputs=*/true);
    if (!outputs)
      return fail("'" + name + "': " + llvm::toString(outputs.takeError()));
    inputs = std::move(*outputs);
    bar.update(++finished);
  }
  bar.finish();
  return recordAlgoConfig(module, options.algoConfig);
}

llvm::json::Array mlir::quark::scalingLayersConfig(ModuleOp module) {
  llvm::json::Array entries;
  BlockOp first = firstDecoderLayer(module);
  if (!first)
    return entries;
  for (ScalingGroup &group : findScalingGroups(first)) {
    llvm::json::Array layers;
    std::string common;
    for (auto [index, constConsumer] : llvm::enumerate(group.consumers)) {
      LinearOp consumer = constConsumer;
      std::string name = layerRelativeName(consumer.getName(), first);
      layers.push_back(name);
      std::string parent = llvm::StringRef(name).rsplit('.').first.str();
      common = index == 0 ? parent : (common == parent ? common : "");
    }
    entries.push_back(llvm::json::Object{
        {"prev_op", layerRelativeName(group.producerName(), first)},
        {"layers", std::move(layers)},
        {"inp", layerRelativeName(group.consumers.front().getName(), first)},
        {"module2inspect", group.consumers.size() > 1 && !common.empty()
                               ? llvm::json::Value(common)
                               : llvm::json::Value(nullptr)}});
  }
  return entries;
}

FailureOr<std::optional<TensorQuantSpec>>
mlir::quark::elementwiseWeightNumerics(
    LinearOp linear, Type modelFloat,
    llvm::function_ref<void(llvm::StringRef)> unsupported) {
  LayerSpecAttr layer = linear.getQuantAttr();
  if (!layer || !layer.getWeight() ||
      !linear.getWeight().getDefiningOp<ParamOp>())
    return std::optional<TensorQuantSpec>();
  auto spec = dyn_cast<TensorSpecAttr>(layer.getWeight());
  if (!spec) {
    unsupported("has a two-stage weight spec");
    return std::optional<TensorQuantSpec>();
  }
  FailureOr<TensorQuantSpec> numerics =
      getTensorQuantSpec(spec, modelFloat, [&] { return linear.emitError(); });
  if (failed(numerics))
    return failure();
  if (!ElementFakeQuantizer::supports(*numerics)) {
    unsupported("has a cast or block-format weight spec");
    return std::optional<TensorQuantSpec>();
  }
  if (cast<ShapedType>(linear.getWeight().getType()).getRank() != 2) {
    unsupported("has a weight that is not a matrix");
    return std::optional<TensorQuantSpec>();
  }
  return std::optional<TensorQuantSpec>(*numerics);
}

ParamFileEntry mlir::quark::rewrittenParamEntry(ParamOp param,
                                                const Tensor &value,
                                                bool keepFloat32) {
  std::vector<float> values(value.floats().begin(), value.floats().end());
  // A float weight is kept in the precision the model declares for it
  // (bf16, fp16): what an export writes and the model computes with.
  if (!keepFloat32) {
    ScalePrecision precision =
        floatTypePrecision(param.getType().getElementType());
    for (float &x : values)
      x = roundScale(x, precision); // rounds as torch's .to(dtype)
  }
  auto bytes = reinterpret_cast<const uint8_t *>(values.data());
  return {param.getName().str(), TensorDType::F32,
          llvm::SmallVector<int64_t, 4>(value.shape()),
          std::vector<uint8_t>(bytes, bytes + values.size() * sizeof(float))};
}

llvm::Error mlir::quark::writeParamFile(llvm::StringRef path,
                                        std::vector<ParamFileEntry> entries) {
  std::vector<SafetensorsWriter::Declaration> declarations;
  for (const ParamFileEntry &entry : entries)
    declarations.push_back({entry.name, entry.dtype, entry.shape});
  llvm::Expected<std::unique_ptr<SafetensorsWriter>> writer =
      SafetensorsWriter::create(path, declarations, {{"format", "quark-mlir"}});
  if (!writer)
    return writer.takeError();
  for (ParamFileEntry &entry : entries)
    if (llvm::Error error = (*writer)->write(entry.name, entry.bytes))
      return error;
  return (*writer)->finish();
}

FailureOr<AlgorithmModule>
mlir::quark::getAlgorithmModule(ModuleOp module, llvm::StringRef algorithm,
                                llvm::StringRef checkpointDir,
                                llvm::StringRef what) {
  auto fail = [&](const llvm::Twine &message) {
    module.emitError() << algorithm << ": " << message;
    return failure();
  };
  if (checkpointDir.empty())
    return fail("needs a checkpoint folder (checkpoint-dir) for the " + what);
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return fail(llvm::Twine("the module has no '") + kModelDirAttr + "'");
  auto forward = module.lookupSymbol<func::FuncOp>(kForwardFunction);
  if (!forward || forward.isExternal())
    return fail("the module has no @forward function");
  return AlgorithmModule{modelDir, forward};
}

std::pair<int64_t, int64_t> mlir::quark::matrixShape(const Tensor &value) {
  int64_t rows = value.shape().empty() ? 1 : value.shape().front();
  return {rows, rows == 0 ? 0 : value.numElements() / rows};
}

llvm::Error mlir::quark::foldGroupScales(LayerContext &layer,
                                         const ScalingGroup &group,
                                         llvm::ArrayRef<Tensor> consumerWeights,
                                         llvm::ArrayRef<float> scales) {
  for (auto [constConsumer, weight] :
       llvm::zip(group.consumers, consumerWeights)) {
    LinearOp consumer = constConsumer;
    Tensor scaled = weight.clone();
    auto [rows, cols] = matrixShape(scaled);
    scaleColumns(scaled.floats(), rows, cols, scales);
    layer.update(consumer.getWeight().getDefiningOp<ParamOp>(),
                 std::move(scaled));
  }
  for (ParamOp param : group.producerParams) {
    llvm::Expected<Tensor> value = layer.read(param);
    if (!value)
      return value.takeError();
    Tensor divided = value->clone();
    auto [rows, cols] = matrixShape(divided);
    if (rows != group.channels)
      return layerError(llvm::formatv("'{0}' has {1} rows for {2} channels",
                                      param.getName(), rows, group.channels));
    divideRows(divided.floats(), rows, cols, scales);
    layer.update(param, std::move(divided));
  }
  return llvm::Error::success();
}

llvm::Expected<llvm::MapVector<Operation *, TensorQuantSpec>>
mlir::quark::layerWeightNumerics(
    LayerContext &layer,
    llvm::function_ref<void(LinearOp, llvm::StringRef)> unsupported) {
  llvm::MapVector<Operation *, TensorQuantSpec> numerics;
  WalkResult walked = layer.getBlock().getBody().walk([&](LinearOp linear) {
    FailureOr<std::optional<TensorQuantSpec>> spec = elementwiseWeightNumerics(
        linear, layer.getModelFloat(),
        [&](llvm::StringRef why) { unsupported(linear, why); });
    if (failed(spec))
      return WalkResult::interrupt();
    if (*spec)
      numerics.insert({linear, **spec});
    return WalkResult::advance();
  });
  if (walked.wasInterrupted())
    return layerError("a weight spec does not resolve");
  return numerics;
}

std::string mlir::quark::layerRelativeName(llvm::StringRef name,
                                           BlockOp block) {
  llvm::StringRef rest = name;
  if (rest.consume_front(block.getName()) && rest.consume_front("."))
    return rest.str();
  return name.str();
}

BlockOp mlir::quark::firstDecoderLayer(ModuleOp module) {
  BlockOp first;
  module.walk([&](BlockOp block) {
    if (!first)
      first = block;
    return first ? WalkResult::interrupt() : WalkResult::advance();
  });
  return first;
}
