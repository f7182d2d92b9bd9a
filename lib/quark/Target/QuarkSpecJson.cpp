//===- QuarkSpecJson.cpp - Quark's JSON form of quantization specs --------===//

#include "quark/Target/QuarkSpecJson.h"

#include "quark/Support/Json.h"

#include "quark/Dialect/Quark/IR/QuarkOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

// Quark's QTensorConfig.to_dict() always writes these two observer-memory
// knobs; the compiler has no use for them and writes Quark's defaults.
static constexpr int64_t kQuarkMaxInputNumel = 4 * 1024 * 1024;

template <typename T, typename Fn>
static json::Value optionalValue(const std::optional<T> &value, Fn convert) {
  if (!value)
    return nullptr;
  return convert(*value);
}

FailureOr<json::Value>
mlir::quark::specToJson(TensorSpecAttr spec,
                        function_ref<InFlightDiagnostic()> emitError) {
  for (std::optional<Dtype> dtype :
       {std::optional<Dtype>(spec.getDtype()), spec.getMxElementDtype()})
    if (dtype == Dtype::fp8_e4m3fnuz || dtype == Dtype::fp8_e5m2fnuz)
      return emitError() << stringifyDtype(*dtype)
                         << " is not a Quark file format: checkpoints store "
                            "OCP fp8 and serving engines convert to fnuz when "
                            "loading";
  json::Array blockSize;
  for (int64_t extent : spec.getBlockSize())
    blockSize.push_back(extent);
  auto name = [](auto value) -> json::Value {
    return stringifyEnum(value).str();
  };
  json::Object object{
      {"dtype", stringifyDtype(spec.getDtype()).str()},
      {"is_dynamic", optionalValue(spec.getIsDynamic(),
                                   [](bool b) -> json::Value { return b; })},
      {"qscheme", optionalValue(spec.getQscheme(), name)},
      {"ch_axis", optionalValue(spec.getChAxis(),
                                [](int64_t i) -> json::Value { return i; })},
      {"group_size", optionalValue(spec.getGroupSize(),
                                   [](int64_t i) -> json::Value { return i; })},
      {"block_size", spec.getBlockSize().empty()
                         ? json::Value(nullptr)
                         : json::Value(std::move(blockSize))},
      {"symmetric", optionalValue(spec.getSymmetric(),
                                  [](bool b) -> json::Value { return b; })},
      {"round_method", optionalValue(spec.getRoundMethod(), name)},
      {"scale_type", optionalValue(spec.getScaleType(), name)},
      {"scale_format", optionalValue(spec.getScaleFormat(), name)},
      {"scale_calculation_mode",
       optionalValue(spec.getScaleCalculationMode(), name)},
      {"mx_element_dtype", optionalValue(spec.getMxElementDtype(), name)},
      {"observer_cls", optionalValue(spec.getObserverCls(), name)},
      {"is_scale_quant", spec.getIsScaleQuant()},
      {"enable_buffer_reuse", false},
      {"max_input_numel", kQuarkMaxInputNumel},
  };
  return json::Value(std::move(object));
}

FailureOr<json::Value>
mlir::quark::specFieldToJson(Attribute field,
                             function_ref<InFlightDiagnostic()> emitError) {
  if (!field)
    return json::Value(nullptr);
  if (auto spec = dyn_cast<TensorSpecAttr>(field))
    return specToJson(spec, emitError);
  auto twoStage = cast<TwoStageSpecAttr>(field);
  json::Array stages;
  for (TensorSpecAttr stage : {twoStage.getFirst(), twoStage.getSecond()}) {
    FailureOr<json::Value> value = specToJson(stage, emitError);
    if (failed(value))
      return failure();
    stages.push_back(std::move(*value));
  }
  return json::Value(std::move(stages));
}

FailureOr<json::Value>
mlir::quark::layerSpecToJson(LayerSpecAttr layer,
                             function_ref<InFlightDiagnostic()> emitError) {
  json::Object object;
  std::pair<StringRef, Attribute> fields[] = {
      {"input_tensors", layer.getInputTensors()},
      {"output_tensors", layer.getOutputTensors()},
      {"weight", layer.getWeight()},
      {"bias", layer.getBias()}};
  for (auto [key, field] : fields) {
    FailureOr<json::Value> value = specFieldToJson(field, emitError);
    if (failed(value))
      return failure();
    object[key] = std::move(*value);
  }
  object["target_device"] = nullptr;
  return json::Value(std::move(object));
}

//===----------------------------------------------------------------------===//
// Parsing
//===----------------------------------------------------------------------===//

namespace {
/// Reads the optional fields of one JSON dict with typed errors.
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef path,
              function_ref<InFlightDiagnostic()> emitError)
      : object(object), path(path), emitError(emitError) {}

  bool failed() const { return hasError; }

  /// A field that is absent or null reads as std::nullopt.
  const json::Value *get(StringRef key) {
    const json::Value *value = object.get(key);
    return value && value->kind() != json::Value::Null ? value : nullptr;
  }

  std::optional<bool> boolean(StringRef key, StringRef legacyKey = {}) {
    const json::Value *value = get(key);
    if (!value && !legacyKey.empty())
      value = get(legacyKey);
    if (!value)
      return std::nullopt;
    if (std::optional<bool> b = value->getAsBoolean())
      return b;
    error(key, "a boolean");
    return std::nullopt;
  }

  std::optional<int64_t> integer(StringRef key, StringRef legacyKey = {}) {
    const json::Value *value = get(key);
    if (!value && !legacyKey.empty())
      value = get(legacyKey);
    if (!value)
      return std::nullopt;
    if (std::optional<int64_t> i = value->getAsInteger())
      return i;
    error(key, "an integer");
    return std::nullopt;
  }

  template <typename EnumT>
  std::optional<EnumT>
  enumeration(StringRef key, std::optional<EnumT> (*symbolize)(StringRef),
              uint64_t maxValue, StringRef (*stringify)(EnumT)) {
    const json::Value *value = get(key);
    if (!value)
      return std::nullopt;
    std::optional<StringRef> text = value->getAsString();
    std::optional<EnumT> parsed = text ? symbolize(*text) : std::nullopt;
    if (parsed)
      return parsed;
    std::string allowed;
    for (uint64_t i = 0; i <= maxValue; ++i) {
      if (!allowed.empty())
        allowed += ", ";
      allowed += stringify(static_cast<EnumT>(i)).str();
    }
    error(key, "one of " + allowed);
    return std::nullopt;
  }

  SmallVector<int64_t> integerList(StringRef key) {
    SmallVector<int64_t> values;
    const json::Value *value = get(key);
    if (!value)
      return values;
    const json::Array *array = value->getAsArray();
    if (!array) {
      error(key, "a list of integers");
      return values;
    }
    for (const json::Value &element : *array) {
      std::optional<int64_t> i = element.getAsInteger();
      if (!i) {
        error(key, "a list of integers");
        return {};
      }
      values.push_back(*i);
    }
    return values;
  }

private:
  void error(StringRef key, const Twine &expected) {
    if (!hasError)
      emitError() << path << "." << key << ": expected " << expected;
    hasError = true;
  }

  const json::Object &object;
  StringRef path;
  function_ref<InFlightDiagnostic()> emitError;
  bool hasError = false;
};
} // namespace

FailureOr<TensorSpecAttr>
mlir::quark::specFromJson(MLIRContext *context, const json::Value &value,
                          StringRef path,
                          function_ref<InFlightDiagnostic()> emitError) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return emitError() << path << ": expected a QTensorConfig dict";
  FieldReader reader(*object, path, emitError);
  std::optional<Dtype> dtype = reader.enumeration<Dtype>(
      "dtype", symbolizeDtype, getMaxEnumValForDtype(), stringifyDtype);
  if (!dtype && !reader.failed())
    return emitError() << path << ".dtype: required";
  auto qscheme = reader.enumeration<QSchemeType>(
      "qscheme", symbolizeQSchemeType, getMaxEnumValForQSchemeType(),
      stringifyQSchemeType);
  // Quark < 1.0 wrote "axis" and "dynamic".
  std::optional<int64_t> chAxis = reader.integer("ch_axis", "axis");
  std::optional<int64_t> groupSize = reader.integer("group_size");
  SmallVector<int64_t> blockSize = reader.integerList("block_size");
  std::optional<bool> symmetric = reader.boolean("symmetric");
  std::optional<bool> isDynamic = reader.boolean("is_dynamic", "dynamic");
  auto round = reader.enumeration<RoundType>("round_method", symbolizeRoundType,
                                             getMaxEnumValForRoundType(),
                                             stringifyRoundType);
  auto scaleType = reader.enumeration<ScaleType>(
      "scale_type", symbolizeScaleType, getMaxEnumValForScaleType(),
      stringifyScaleType);
  auto scaleFormat = reader.enumeration<ScaleFormatType>(
      "scale_format", symbolizeScaleFormatType,
      getMaxEnumValForScaleFormatType(), stringifyScaleFormatType);
  auto calculation = reader.enumeration<ScaleCalculationMode>(
      "scale_calculation_mode", symbolizeScaleCalculationMode,
      getMaxEnumValForScaleCalculationMode(), stringifyScaleCalculationMode);
  auto mxElement =
      reader.enumeration<Dtype>("mx_element_dtype", symbolizeDtype,
                                getMaxEnumValForDtype(), stringifyDtype);
  auto observer = reader.enumeration<ObserverClass>(
      "observer_cls", symbolizeObserverClass, getMaxEnumValForObserverClass(),
      stringifyObserverClass);
  std::optional<bool> isScaleQuant = reader.boolean("is_scale_quant");
  if (reader.failed())
    return failure();
  auto prefixed = [&]() { return emitError() << path << ": "; };
  TensorSpecAttr spec = TensorSpecAttr::getChecked(
      prefixed, context, *dtype, qscheme, chAxis, groupSize,
      ArrayRef<int64_t>(blockSize), symmetric, isDynamic, round, scaleType,
      scaleFormat, calculation, mxElement, observer,
      isScaleQuant.value_or(false));
  if (!spec)
    return failure();
  return spec;
}

FailureOr<Attribute>
mlir::quark::specFieldFromJson(MLIRContext *context, const json::Value &value,
                               StringRef path,
                               function_ref<InFlightDiagnostic()> emitError) {
  if (value.kind() == json::Value::Null)
    return Attribute();
  const json::Array *stages = value.getAsArray();
  if (!stages)
    return specFromJson(context, value, path, emitError);
  if (stages->size() != 2)
    return emitError() << path
                       << ": a two-stage spec lists exactly two "
                          "QTensorConfig dicts, got "
                       << stages->size();
  FailureOr<TensorSpecAttr> first =
      specFromJson(context, (*stages)[0], (path + "[0]").str(), emitError);
  if (failed(first))
    return failure();
  FailureOr<TensorSpecAttr> second =
      specFromJson(context, (*stages)[1], (path + "[1]").str(), emitError);
  if (failed(second))
    return failure();
  auto prefixed = [&]() { return emitError() << path << ": "; };
  TwoStageSpecAttr twoStage =
      TwoStageSpecAttr::getChecked(prefixed, context, *first, *second);
  if (!twoStage)
    return failure();
  return Attribute(twoStage);
}

FailureOr<LayerSpecAttr>
mlir::quark::layerSpecFromJson(MLIRContext *context, const json::Value &value,
                               StringRef path,
                               function_ref<InFlightDiagnostic()> emitError) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return emitError() << path << ": expected a QLayerConfig dict";
  Attribute fields[4];
  StringRef keys[4] = {"input_tensors", "output_tensors", "weight", "bias"};
  for (int i = 0; i < 4; ++i) {
    const json::Value *field = object->get(keys[i]);
    if (!field)
      continue;
    FailureOr<Attribute> parsed = specFieldFromJson(
        context, *field, (path + "." + keys[i]).str(), emitError);
    if (failed(parsed))
      return failure();
    fields[i] = *parsed;
  }
  auto prefixed = [&]() { return emitError() << path << ": "; };
  LayerSpecAttr layer = LayerSpecAttr::getChecked(
      prefixed, context, fields[0], fields[1], fields[2], fields[3]);
  if (!layer)
    return failure();
  return layer;
}

//===----------------------------------------------------------------------===//
// Translations
//===----------------------------------------------------------------------===//

// Specs travel as module attributes named "quark.<key>": the JSON key with
// the dialect prefix that module attribute names need.
static constexpr StringLiteral kSpecAttrPrefix = "quark.";

/// Module attributes holding specs, as a JSON object keyed by attribute name.
static LogicalResult exportSpecs(Operation *op, raw_ostream &output) {
  json::Object result;
  auto emitError = [&]() { return op->emitError(); };
  for (NamedAttribute named : op->getDiscardableAttrs()) {
    Attribute attr = named.getValue();
    FailureOr<json::Value> value = failure();
    if (auto layer = dyn_cast<LayerSpecAttr>(attr))
      value = layerSpecToJson(layer, emitError);
    else if (isa<TensorSpecAttr, TwoStageSpecAttr>(attr))
      value = specFieldToJson(attr, emitError);
    else
      continue;
    if (failed(value))
      return failure();
    StringRef key = named.getName().getValue();
    key.consume_front(kSpecAttrPrefix);
    result[key] = std::move(*value);
  }
  output << llvm::formatv("{0:2}", json::Value(std::move(result))) << "\n";
  return success();
}

/// The inverse: a JSON object of specs becomes a module with one attribute
/// "quark.<key>" per key.
static OwningOpRef<Operation *> importSpecs(llvm::SourceMgr &sourceMgr,
                                            MLIRContext *context) {
  context->loadDialect<QuarkDialect>();
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  Location loc =
      FileLineColLoc::get(context, buffer->getBufferIdentifier(), 1, 1);
  auto emitError = [&]() { return mlir::emitError(loc); };
  llvm::Expected<json::Value> parsed = parseJson(buffer->getBuffer());
  if (!parsed) {
    emitError() << "invalid JSON: " << llvm::toString(parsed.takeError());
    return nullptr;
  }
  const json::Object *object = parsed->getAsObject();
  if (!object) {
    emitError() << "expected a JSON object of specs";
    return nullptr;
  }
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  for (const auto &[key, value] : *object) {
    const json::Object *dict = value.getAsObject();
    FailureOr<Attribute> attr = failure();
    if (dict && !dict->get("dtype"))
      attr = layerSpecFromJson(context, value, key, emitError);
    else
      attr = specFieldFromJson(context, value, key, emitError);
    if (failed(attr))
      return nullptr;
    if (*attr)
      (*module)->setAttr((kSpecAttrPrefix + StringRef(key)).str(), *attr);
  }
  return OwningOpRef<Operation *>(module.release());
}

void mlir::quark::registerQuarkSpecJsonTranslations() {
  static TranslateFromMLIRRegistration toJson(
      "quark-spec-to-json",
      "Print the module's quantization specs in Quark's JSON form", exportSpecs,
      [](DialectRegistry &registry) { registry.insert<QuarkDialect>(); });
  static TranslateToMLIRRegistration fromJson(
      "json-to-quark-spec",
      "Parse Quark JSON specs into quark dialect attributes", importSpecs);
}
