//===- QuantConfig.cpp - Quark's three-level quantization config ----------===//

#include "quark/Config/QuantConfig.h"

#include "quark/Support/Json.h"
#include "quark/Target/QuarkSpecJson.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <limits>

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

bool mlir::quark::fnmatch(llvm::StringRef name, llvm::StringRef pattern) {
  // Iterative glob with one backtracking point per '*', as translate() +
  // re.match in CPython behaves for these metacharacters.
  size_t n = 0, p = 0, starP = llvm::StringRef::npos, starN = 0;
  auto matchClass = [&](size_t &at, char c) -> std::optional<bool> {
    // pattern[at] == '['; returns nullopt when the class is unterminated
    // (then '[' is literal, as in Python).
    size_t i = at + 1;
    bool negate = i < pattern.size() && pattern[i] == '!';
    if (negate)
      ++i;
    size_t first = i;
    bool matched = false;
    while (i < pattern.size() && (pattern[i] != ']' || i == first)) {
      if (i + 2 < pattern.size() && pattern[i + 1] == '-' &&
          pattern[i + 2] != ']') {
        matched |= pattern[i] <= c && c <= pattern[i + 2];
        i += 3;
      } else {
        matched |= pattern[i] == c;
        ++i;
      }
    }
    if (i >= pattern.size())
      return std::nullopt;
    at = i + 1;
    return matched != negate;
  };
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starN = n;
      continue;
    }
    if (p < pattern.size()) {
      if (pattern[p] == '?') {
        ++p, ++n;
        continue;
      }
      if (pattern[p] == '[') {
        size_t next = p;
        if (std::optional<bool> ok = matchClass(next, name[n])) {
          if (*ok) {
            p = next, ++n;
            continue;
          }
        } else if (name[n] == '[') {
          ++p, ++n;
          continue;
        }
      } else if (pattern[p] == name[n]) {
        ++p, ++n;
        continue;
      }
    }
    if (starP == llvm::StringRef::npos)
      return false;
    p = starP + 1;
    n = ++starN;
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

std::vector<std::string>
mlir::quark::expandExcludes(llvm::ArrayRef<std::string> patterns) {
  std::vector<std::string> expanded;
  for (const std::string &pattern : patterns) {
    if (!llvm::StringRef(pattern).ends_with(".*"))
      expanded.push_back(pattern + ".*");
    expanded.push_back(pattern);
  }
  return expanded;
}

std::vector<std::vector<std::string>>
mlir::quark::findPatternGroups(llvm::ArrayRef<std::string> patterns,
                               llvm::ArrayRef<std::string> names) {
  std::vector<std::vector<std::string>> groups;
  if (patterns.empty())
    return groups;
  auto literal = [](llvm::StringRef pattern) {
    std::string text;
    for (char c : pattern)
      if (c != '*')
        text.push_back(c);
    return text;
  };
  auto replaceAll = [](std::string text, llvm::StringRef from,
                       llvm::StringRef to) {
    if (from.empty())
      return text; // Python's replace("", x) inserts x everywhere; no name
                   // would match that
    for (size_t at = text.find(from.str()); at != std::string::npos;
         at = text.find(from.str(), at + to.size()))
      text.replace(at, from.size(), to.str());
    return text;
  };
  llvm::StringSet<> known;
  for (const std::string &name : names)
    known.insert(name);
  std::string first = literal(patterns.front());
  for (const std::string &name : names) {
    if (!fnmatch(name, patterns.front()))
      continue;
    std::vector<std::string> group{name};
    for (const std::string &other : patterns.drop_front()) {
      std::string candidate = replaceAll(name, first, literal(other));
      if (known.contains(candidate))
        group.push_back(candidate);
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

float mlir::quark::sharedKvScale(llvm::ArrayRef<float> scales,
                                 float minKvScale) {
  float shared = -std::numeric_limits<float>::infinity();
  for (float scale : scales)
    shared = std::max(shared, scale);
  return std::max(shared, minKvScale);
}

//===----------------------------------------------------------------------===//
// Resolution
//===----------------------------------------------------------------------===//

bool QuantConfig::isExcluded(llvm::StringRef name) const {
  return llvm::any_of(exclude, [&](const std::string &pattern) {
    return pattern == name || fnmatch(name, pattern);
  });
}

LayerSpecAttr QuantConfig::resolve(llvm::StringRef name) const {
  LayerSpecAttr config;
  bool excluded = isExcluded(name);
  if (!excluded) {
    // An exact name wins over patterns; then the first pattern in order.
    for (const NamedLayerSpec &entry : layers)
      if (entry.first == name) {
        config = entry.second;
        break;
      }
    if (!config)
      for (const NamedLayerSpec &entry : layers)
        if (fnmatch(name, entry.first)) {
          config = entry.second;
          break;
        }
    if (!config)
      for (const NamedLayerSpec &entry : layerTypes)
        if (entry.first == "Linear") {
          config = entry.second;
          break;
        }
    if (!config)
      config = global;
  }
  // KV-cache entries replace the layer's configuration; an excluded layer
  // keeps only the output (cache) quantization.
  for (const NamedLayerSpec &entry : kvCache)
    if (fnmatch(name, entry.first)) {
      config = entry.second;
      if (excluded && config)
        config = LayerSpecAttr::get(config.getContext(), nullptr,
                                    config.getOutputTensors(), nullptr,
                                    nullptr);
    }
  return config;
}

//===----------------------------------------------------------------------===//
// Attribute form
//===----------------------------------------------------------------------===//

static ArrayAttr namedSpecsToAttr(MLIRContext *context,
                                  llvm::ArrayRef<NamedLayerSpec> specs) {
  Builder builder(context);
  llvm::SmallVector<Attribute> entries;
  for (const NamedLayerSpec &entry : specs)
    entries.push_back(
        builder.getArrayAttr({builder.getStringAttr(entry.first), entry.second}));
  return builder.getArrayAttr(entries);
}

static ArrayAttr stringsToAttr(MLIRContext *context,
                               llvm::ArrayRef<std::string> strings) {
  Builder builder(context);
  llvm::SmallVector<Attribute> entries;
  for (const std::string &text : strings)
    entries.push_back(builder.getStringAttr(text));
  return builder.getArrayAttr(entries);
}

DictionaryAttr QuantConfig::toAttr(MLIRContext *context) const {
  Builder builder(context);
  llvm::SmallVector<NamedAttribute> fields;
  if (global)
    fields.push_back(builder.getNamedAttr("global_quant_config", global));
  fields.push_back(builder.getNamedAttr("layer_quant_config",
                                        namedSpecsToAttr(context, layers)));
  fields.push_back(builder.getNamedAttr("layer_type_quant_config",
                                        namedSpecsToAttr(context, layerTypes)));
  fields.push_back(builder.getNamedAttr("kv_cache_quant_config",
                                        namedSpecsToAttr(context, kvCache)));
  fields.push_back(
      builder.getNamedAttr("exclude", stringsToAttr(context, exclude)));
  fields.push_back(builder.getNamedAttr("kv_cache_group",
                                        stringsToAttr(context, kvCacheGroup)));
  if (softmax)
    fields.push_back(builder.getNamedAttr("softmax_quant_spec", softmax));
  fields.push_back(builder.getNamedAttr("min_kv_scale",
                                        builder.getF64FloatAttr(minKvScale)));
  fields.push_back(builder.getNamedAttr("kv_cache_post_rope",
                                        builder.getBoolAttr(kvCachePostRope)));
  if (!algoConfig.empty()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << json::Value(json::Array(algoConfig));
    fields.push_back(
        builder.getNamedAttr("algo_config", builder.getStringAttr(text)));
  }
  return builder.getDictionaryAttr(fields);
}

FailureOr<QuantConfig>
QuantConfig::fromAttr(DictionaryAttr attr,
                      function_ref<InFlightDiagnostic()> emitError) {
  QuantConfig config;
  auto fail = [&](const llvm::Twine &message) -> FailureOr<QuantConfig> {
    emitError() << "'" << kQuantConfigAttr << "': " << message;
    return failure();
  };
  for (NamedAttribute field : attr) {
    llvm::StringRef key = field.getName().getValue();
    Attribute value = field.getValue();
    auto namedSpecs = [&](std::vector<NamedLayerSpec> &out) -> LogicalResult {
      auto list = dyn_cast<ArrayAttr>(value);
      if (!list)
        return failure();
      for (Attribute entry : list) {
        auto pair = dyn_cast<ArrayAttr>(entry);
        if (!pair || pair.size() != 2 || !isa<StringAttr>(pair[0]) ||
            !isa<LayerSpecAttr>(pair[1]))
          return failure();
        out.emplace_back(cast<StringAttr>(pair[0]).str(),
                         cast<LayerSpecAttr>(pair[1]));
      }
      return success();
    };
    auto strings = [&](std::vector<std::string> &out) -> LogicalResult {
      auto list = dyn_cast<ArrayAttr>(value);
      if (!list)
        return failure();
      for (Attribute entry : list) {
        auto text = dyn_cast<StringAttr>(entry);
        if (!text)
          return failure();
        out.push_back(text.str());
      }
      return success();
    };
    if (key == "global_quant_config") {
      config.global = dyn_cast<LayerSpecAttr>(value);
      if (!config.global)
        return fail("'global_quant_config' must be a #quark.layer_spec");
    } else if (key == "layer_quant_config" || key == "layer_type_quant_config" ||
               key == "kv_cache_quant_config") {
      std::vector<NamedLayerSpec> &out =
          key == "layer_quant_config"        ? config.layers
          : key == "layer_type_quant_config" ? config.layerTypes
                                             : config.kvCache;
      if (failed(namedSpecs(out)))
        return fail("'" + key +
                    "' must be a list of [\"pattern\", #quark.layer_spec]");
    } else if (key == "exclude" || key == "kv_cache_group") {
      if (failed(strings(key == "exclude" ? config.exclude
                                          : config.kvCacheGroup)))
        return fail("'" + key + "' must be a list of strings");
    } else if (key == "softmax_quant_spec") {
      config.softmax = dyn_cast<TensorSpecAttr>(value);
      if (!config.softmax)
        return fail("'softmax_quant_spec' must be a #quark.spec");
    } else if (key == "min_kv_scale") {
      auto number = dyn_cast<FloatAttr>(value);
      if (!number)
        return fail("'min_kv_scale' must be a float");
      config.minKvScale = number.getValueAsDouble();
    } else if (key == "kv_cache_post_rope") {
      auto flag = dyn_cast<BoolAttr>(value);
      if (!flag)
        return fail("'kv_cache_post_rope' must be a bool");
      config.kvCachePostRope = flag.getValue();
    } else if (key == "algo_config") {
      auto text = dyn_cast<StringAttr>(value);
      llvm::Expected<json::Value> parsed =
          text ? parseJson(text.getValue())
               : llvm::Expected<json::Value>(llvm::createStringError(
                     llvm::inconvertibleErrorCode(), "not a string"));
      if (!parsed || !parsed->getAsArray()) {
        if (!parsed)
          llvm::consumeError(parsed.takeError());
        return fail("'algo_config' must be a JSON list in a string");
      }
      config.algoConfig = std::move(*parsed->getAsArray());
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  return config;
}

//===----------------------------------------------------------------------===//
// JSON form
//===----------------------------------------------------------------------===//

FailureOr<json::Value>
QuantConfig::toJson(function_ref<InFlightDiagnostic()> emitError) const {
  json::Object root;
  auto layerJson = [&](LayerSpecAttr layer) -> FailureOr<json::Value> {
    if (!layer) // Quark writes an empty QLayerConfig
      return json::Value(json::Object{{"input_tensors", nullptr},
                                      {"output_tensors", nullptr},
                                      {"weight", nullptr},
                                      {"bias", nullptr},
                                      {"target_device", nullptr}});
    return layerSpecToJson(layer, emitError);
  };
  FailureOr<json::Value> globalJson = layerJson(global);
  if (failed(globalJson))
    return failure();
  root["global_quant_config"] = std::move(*globalJson);
  json::Array excludes;
  for (const std::string &pattern : exclude)
    excludes.push_back(pattern);
  root["exclude"] = std::move(excludes);
  root["algo_config"] =
      algoConfig.empty() ? json::Value(nullptr) : json::Value(json::Array(algoConfig));
  if (softmax) {
    FailureOr<json::Value> spec = specToJson(softmax, emitError);
    if (failed(spec))
      return failure();
    root["softmax_quant_spec"] = std::move(*spec);
  } else {
    root["softmax_quant_spec"] = nullptr;
  }
  root["quant_method"] = "quark";
  for (auto [key, specs] :
       {std::pair<llvm::StringRef, const std::vector<NamedLayerSpec> *>{
            "layer_type_quant_config", &layerTypes},
        {"layer_quant_config", &layers},
        {"kv_cache_quant_config", &kvCache}}) {
    json::Object object;
    for (const NamedLayerSpec &entry : *specs) {
      FailureOr<json::Value> spec = layerJson(entry.second);
      if (failed(spec))
        return failure();
      object[entry.first] = std::move(*spec);
    }
    root[key] = std::move(object);
  }
  root["kv_cache_post_rope"] = kvCachePostRope;
  root["quant_mode"] = "eager_mode";
  return json::Value(std::move(root));
}

FailureOr<QuantConfig>
QuantConfig::fromJson(MLIRContext *context, llvm::StringRef text,
                      llvm::StringRef path,
                      function_ref<InFlightDiagnostic()> emitError) {
  auto fail = [&](const llvm::Twine &message) -> FailureOr<QuantConfig> {
    emitError() << path << ": " << message;
    return failure();
  };
  llvm::Expected<json::Value> document = parseJson(text);
  if (!document)
    return fail("invalid JSON: " + llvm::toString(document.takeError()));
  const json::Object *root = document->getAsObject();
  if (!root)
    return fail("expected a JSON object (Quark's quantization_config)");
  // A whole config.json: the configuration is under "quantization_config".
  std::vector<llvm::StringRef> prefix;
  if (const json::Object *nested = root->getObject("quantization_config")) {
    root = nested;
    prefix.push_back("quantization_config");
  }
  if (std::optional<llvm::StringRef> method = root->getString("quant_method"))
    if (*method != "quark")
      return fail("quant_method '" + *method +
                  "' is not a Quark configuration (expected \"quark\")");

  QuantConfig config;
  auto layerFrom = [&](const json::Value &value, llvm::StringRef where,
                       LayerSpecAttr &out) -> LogicalResult {
    if (value.kind() == json::Value::Null)
      return success();
    FailureOr<LayerSpecAttr> layer =
        layerSpecFromJson(context, value, where, emitError);
    if (failed(layer))
      return failure();
    out = *layer;
    return success();
  };
  if (const json::Value *global = root->get("global_quant_config"))
    if (failed(layerFrom(*global, "global_quant_config", config.global)))
      return failure();

  for (auto [key, out] :
       {std::pair<llvm::StringRef, std::vector<NamedLayerSpec> *>{
            "layer_quant_config", &config.layers},
        {"layer_type_quant_config", &config.layerTypes},
        {"kv_cache_quant_config", &config.kvCache}}) {
    const json::Value *value = root->get(key);
    if (!value || value->kind() == json::Value::Null)
      continue;
    const json::Object *object = value->getAsObject();
    if (!object)
      return fail("'" + key + "' must be an object of QLayerConfig dicts");
    // Patterns resolve in the order they are written.
    std::vector<llvm::StringRef> keyPath(prefix);
    keyPath.push_back(key);
    for (const std::string &pattern : orderedKeys(text, keyPath)) {
      const json::Value *entry = object->get(pattern);
      if (!entry)
        continue;
      LayerSpecAttr layer;
      if (failed(layerFrom(*entry, (key + "." + pattern).str(), layer)))
        return failure();
      if (key == "layer_type_quant_config" && pattern != "Linear")
        return fail("layer_type_quant_config '" + pattern +
                    "': only Linear layers are quantized");
      out->emplace_back(pattern, layer);
    }
  }
  if (const json::Value *value = root->get("exclude")) {
    if (value->kind() != json::Value::Null) {
      const json::Array *list = value->getAsArray();
      if (!list)
        return fail("'exclude' must be a list of patterns");
      for (const json::Value &pattern : *list) {
        if (!pattern.getAsString())
          return fail("'exclude' must be a list of patterns");
        config.exclude.push_back(pattern.getAsString()->str());
      }
    }
  }
  if (const json::Value *value = root->get("softmax_quant_spec");
      value && value->kind() != json::Value::Null) {
    FailureOr<TensorSpecAttr> spec =
        specFromJson(context, *value, "softmax_quant_spec", emitError);
    if (failed(spec))
      return failure();
    config.softmax = *spec;
  }
  if (const json::Value *value = root->get("algo_config");
      value && value->kind() != json::Value::Null) {
    if (const json::Array *list = value->getAsArray())
      config.algoConfig = *list;
    else
      config.algoConfig.push_back(*value); // quark < 1.0 wrote one dict
  }
  config.kvCachePostRope = root->getBoolean("kv_cache_post_rope").value_or(false);
  if (const json::Object *exported = root->getObject("export")) {
    config.minKvScale = exported->getNumber("min_kv_scale").value_or(0.0);
    if (const json::Array *group = exported->getArray("kv_cache_group"))
      for (const json::Value &pattern : *group)
        if (pattern.getAsString())
          config.kvCacheGroup.push_back(pattern.getAsString()->str());
  }
  return config;
}
