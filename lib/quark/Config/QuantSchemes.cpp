//===- QuantSchemes.cpp - Quark's --quant_scheme names and templates ------===//
//
// Each builder below is one of Quark's spec helper classes
// (Int4PerGroupSpec, FP8E4M3PerTensorSpec, OCP_MXFP4Spec, ...) with the
// defaults of amd/Quark's config.py, producing the QTensorConfig dict that
// Quark's to_dict() writes; each scheme is the QLayerConfig its template.py
// builds.
//
//===----------------------------------------------------------------------===//

#include "quark/Config/QuantSchemes.h"

#include "quark/Target/QuarkSpecJson.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

namespace {
/// A QTensorConfig dict with every key Quark writes.
json::Object tensorSpec(llvm::StringRef dtype) {
  return json::Object{
      {"dtype", dtype.str()},
      {"is_dynamic", nullptr},
      {"qscheme", nullptr},
      {"ch_axis", nullptr},
      {"group_size", nullptr},
      {"block_size", nullptr},
      {"symmetric", nullptr},
      {"round_method", nullptr},
      {"scale_type", nullptr},
      {"scale_format", nullptr},
      {"scale_calculation_mode", nullptr},
      {"mx_element_dtype", nullptr},
      {"observer_cls", nullptr},
      {"is_scale_quant", false},
      {"enable_buffer_reuse", false},
      {"max_input_numel", 4 * 1024 * 1024},
  };
}

json::Value orNull(std::optional<llvm::StringRef> text) {
  return text ? json::Value(text->str()) : json::Value(nullptr);
}

/// Integer specs: Int4/Uint4/Int8 Per{Tensor,Channel,Group}Spec.
json::Object intSpec(llvm::StringRef dtype, llvm::StringRef qscheme,
                     llvm::StringRef observer, bool symmetric, bool dynamic,
                     std::optional<int64_t> chAxis = std::nullopt,
                     std::optional<int64_t> groupSize = std::nullopt,
                     llvm::StringRef scaleType = "float") {
  json::Object spec = tensorSpec(dtype);
  spec["qscheme"] = qscheme.str();
  spec["observer_cls"] = observer.str();
  spec["symmetric"] = symmetric;
  spec["is_dynamic"] = dynamic;
  spec["round_method"] = "half_even";
  spec["scale_type"] = scaleType.str();
  if (chAxis)
    spec["ch_axis"] = *chAxis;
  if (groupSize)
    spec["group_size"] = *groupSize;
  return spec;
}

json::Object int4PerGroup(int64_t groupSize, bool dynamic) {
  return intSpec("int4", "per_group", "PerGroupMinMaxObserver", true, dynamic,
                 -1, groupSize);
}
json::Object uint4PerGroup(int64_t groupSize) {
  return intSpec("uint4", "per_group", "PerGroupMinMaxObserver", false, false,
                 -1, groupSize);
}
json::Object int4PerChannel(llvm::StringRef scaleType = "float") {
  return intSpec("int4", "per_channel", "PerChannelMinMaxObserver", true, false,
                 0, std::nullopt, scaleType);
}
json::Object uint4PerChannel() {
  return intSpec("uint4", "per_channel", "PerChannelMinMaxObserver", false,
                 false, 0);
}
json::Object int8PerTensor() {
  return intSpec("int8", "per_tensor", "PerTensorMinMaxObserver", true, false);
}

/// FP8E4M3PerTensorSpec / FP8E5M3PerTensorSpec: symmetric, half_even,
/// min-max; scale_type None unless given.
json::Object fp8PerTensor(llvm::StringRef dtype, bool dynamic,
                          std::optional<llvm::StringRef> scaleType) {
  json::Object spec = tensorSpec(dtype);
  spec["qscheme"] = "per_tensor";
  spec["observer_cls"] = "PerTensorMinMaxObserver";
  spec["symmetric"] = true;
  spec["is_dynamic"] = dynamic;
  spec["round_method"] = "half_even";
  spec["scale_type"] = orNull(scaleType);
  return spec;
}

/// FP8E4M3PerChannelSpec.
json::Object fp8PerChannel(int64_t chAxis, bool dynamic) {
  return intSpec("fp8_e4m3", "per_channel", "PerChannelMinMaxObserver", true,
                 dynamic, chAxis);
}

/// OCP_MX*Spec: e8m0 power-of-two scales over 32 elements.
json::Object ocpMx(llvm::StringRef dtype, bool dynamic) {
  json::Object spec = tensorSpec(dtype);
  spec["qscheme"] = "per_group";
  spec["observer_cls"] = "PerBlockMXObserver";
  spec["is_dynamic"] = dynamic;
  spec["ch_axis"] = -1;
  spec["group_size"] = 32;
  spec["round_method"] = "half_even";
  spec["scale_type"] = "float";
  spec["scale_format"] = "e8m0";
  spec["scale_calculation_mode"] = "even";
  return spec;
}

/// FP4PerGroupSpec: float32 block scales (the first stage of NVFP4).
json::Object fp4PerGroup(int64_t groupSize, bool dynamic,
                         llvm::StringRef scaleType) {
  json::Object spec = tensorSpec("fp4");
  spec["qscheme"] = "per_group";
  spec["observer_cls"] = "PerBlockMXObserver";
  spec["is_dynamic"] = dynamic;
  spec["ch_axis"] = -1;
  spec["group_size"] = groupSize;
  spec["round_method"] = "half_even";
  spec["scale_type"] = scaleType.str();
  spec["scale_format"] = "float32";
  return spec;
}

/// AmdFP4Spec: fp4 with unsigned e5m3 group scales.
json::Object amdFp4(int64_t groupSize, bool dynamic) {
  json::Object spec = tensorSpec("fp4");
  spec["qscheme"] = "per_group";
  spec["observer_cls"] = "PerBlockMXObserver";
  spec["is_dynamic"] = dynamic;
  spec["ch_axis"] = -1;
  spec["group_size"] = groupSize;
  spec["round_method"] = "half_even";
  spec["scale_type"] = "float8_e5m3";
  spec["scale_format"] = "e5m3";
  return spec;
}

/// MX6Spec / BFP16Spec: block formats without observers.
json::Object blockFormat(llvm::StringRef dtype, int64_t groupSize) {
  json::Object spec = tensorSpec(dtype);
  spec["ch_axis"] = -1;
  spec["group_size"] = groupSize;
  spec["scale_calculation_mode"] = "even";
  return spec;
}

json::Value twoStage(json::Object first, json::Object second, bool scaleQuant) {
  if (scaleQuant)
    second["is_scale_quant"] = true;
  return json::Array{json::Value(std::move(first)),
                     json::Value(std::move(second))};
}

json::Object layer(json::Value weight, json::Value input = nullptr,
                   json::Value output = nullptr) {
  return json::Object{{"input_tensors", std::move(input)},
                      {"output_tensors", std::move(output)},
                      {"weight", std::move(weight)},
                      {"bias", nullptr},
                      {"target_device", nullptr}};
}

json::Object amdFp4GlobalScale(int64_t groupSize) {
  return layer(twoStage(fp4PerGroup(groupSize, false, "float32"),
                        fp8PerTensor("fp8_e5m3", false, "float32"), true),
               twoStage(fp4PerGroup(groupSize, true, "float32"),
                        fp8PerTensor("fp8_e5m3", false, "float32"), true));
}

json::Object nvfp4(bool withInput) {
  return layer(twoStage(fp4PerGroup(16, false, "float32"),
                        fp8PerTensor("fp8_e4m3", false, "float32"), true),
               withInput
                   ? twoStage(fp4PerGroup(16, true, "float32"),
                              fp8PerTensor("fp8_e4m3", false, "float32"), true)
                   : json::Value(nullptr));
}

struct Scheme {
  llvm::StringLiteral name;
  /// The default group size of its integer per-group specs; 0 when it has
  /// none (then --group_size does not apply).
  int64_t groupSize;
  json::Object (*build)(int64_t groupSize);
};

// clang-format off
const Scheme kSchemes[] = {
    {"int4_wo_32", 32, [](int64_t g) { return layer(int4PerGroup(g, false)); }},
    {"int4_wo_64", 64, [](int64_t g) { return layer(int4PerGroup(g, false)); }},
    {"int4_wo_128", 128, [](int64_t g) { return layer(int4PerGroup(g, false)); }},
    {"int4_wo_per_channel", 0, [](int64_t) { return layer(int4PerChannel()); }},
    {"int4_wa_64", 64, [](int64_t g) {
       return layer(int4PerGroup(g, false), int4PerGroup(g, true)); }},
    {"uint4_wo_32", 32, [](int64_t g) { return layer(uint4PerGroup(g)); }},
    {"uint4_wo_64", 64, [](int64_t g) { return layer(uint4PerGroup(g)); }},
    {"uint4_wo_128", 128, [](int64_t g) { return layer(uint4PerGroup(g)); }},
    {"uint4_wo_per_channel", 0, [](int64_t) { return layer(uint4PerChannel()); }},
    {"int8", 0, [](int64_t) { return layer(int8PerTensor(), int8PerTensor()); }},
    {"fp8", 0, [](int64_t) {
       return layer(fp8PerTensor("fp8_e4m3", false, "float"),
                    fp8PerTensor("fp8_e4m3", false, "float")); }},
    // Not in Quark's template: fp8 weights with float activations, the
    // first stage of the INT4-FP8 weight-only MoE recipe (fp8 everywhere,
    // --moe_experts_second_step_config int4_wo_per_channel on experts).
    {"fp8_weight_only", 0, [](int64_t) {
       return layer(fp8PerTensor("fp8_e4m3", false, "float")); }},
    {"ptpc_fp8", 0, [](int64_t) {
       return layer(fp8PerChannel(0, false), fp8PerChannel(1, true)); }},
    {"mxfp4", 0, [](int64_t) {
       return layer(ocpMx("fp4", false), ocpMx("fp4", true)); }},
    {"mxfp4_weight_only", 0, [](int64_t) { return layer(ocpMx("fp4", false)); }},
    {"mxfp6_e3m2", 0, [](int64_t) {
       return layer(ocpMx("fp6_e3m2", false), ocpMx("fp6_e3m2", true)); }},
    {"mxfp6_e2m3", 0, [](int64_t) {
       return layer(ocpMx("fp6_e2m3", false), ocpMx("fp6_e2m3", true)); }},
    {"mxfp4_mxfp6_e2m3", 0, [](int64_t) {
       return layer(ocpMx("fp4", false), ocpMx("fp6_e2m3", true)); }},
    {"mxfp4_fp8", 0, [](int64_t) {
       return layer(ocpMx("fp4", false), fp8PerTensor("fp8_e4m3", false, std::nullopt)); }},
    {"amdfp4", 0, [](int64_t) { return layer(amdFp4(16, false), amdFp4(16, true)); }},
    {"amdfp4_g32", 0, [](int64_t) { return layer(amdFp4(32, false), amdFp4(32, true)); }},
    {"int4_fp8", 0, [](int64_t) {
       return layer(twoStage(fp8PerTensor("fp8_e4m3", false, "float32"),
                             int4PerChannel("float32"), false),
                    fp8PerTensor("fp8_e4m3", true, "float32")); }},
    {"mx6", 0, [](int64_t) {
       return layer(blockFormat("mx6", 32), blockFormat("mx6", 32)); }},
    {"bfp16", 0, [](int64_t) {
       return layer(blockFormat("bfp16", 8), blockFormat("bfp16", 8)); }},
    {"nvfp4", 0, [](int64_t) { return nvfp4(true); }},
    {"fp4_block16_scale_e4m3", 0, [](int64_t) { return nvfp4(true); }},
    {"amdfp4_global16", 0, [](int64_t) { return amdFp4GlobalScale(16); }},
    {"amdfp4_global32", 0, [](int64_t) { return amdFp4GlobalScale(32); }},
};

// Names Quark used before 0.11, as the same QLayerConfigs.
const Scheme kLegacySchemes[] = {
    {"w_fp8_a_fp8", 0, [](int64_t) {
       return layer(fp8PerTensor("fp8_e4m3", false, "float"),
                    fp8PerTensor("fp8_e4m3", false, "float")); }},
    {"w_fp8_a_fp8_o_fp8", 0, [](int64_t) {
       return layer(fp8PerTensor("fp8_e4m3", false, "float"),
                    fp8PerTensor("fp8_e4m3", false, "float"),
                    fp8PerTensor("fp8_e4m3", false, "float")); }},
    {"w_int4_per_group_sym", 128, [](int64_t g) { return layer(int4PerGroup(g, false)); }},
    {"w_uint4_per_group_asym", 128, [](int64_t g) { return layer(uint4PerGroup(g)); }},
    {"w_int8_a_int8_per_tensor_sym", 0, [](int64_t) {
       return layer(int8PerTensor(), int8PerTensor()); }},
    {"w_mxfp4_a_mxfp4", 0, [](int64_t) {
       return layer(ocpMx("fp4", false), ocpMx("fp4", true)); }},
    {"w_mxfp8", 0, [](int64_t) { return layer(ocpMx("fp8_e4m3", false)); }},
    {"w_mxfp8_a_mxfp8", 0, [](int64_t) {
       return layer(ocpMx("fp8_e4m3", false), ocpMx("fp8_e4m3", true)); }},
    {"w_bfp16", 0, [](int64_t) { return layer(blockFormat("bfp16", 8)); }},
    {"w_bfp16_a_bfp16", 0, [](int64_t) {
       return layer(blockFormat("bfp16", 8), blockFormat("bfp16", 8)); }},
    {"w_mx6", 0, [](int64_t) { return layer(blockFormat("mx6", 32)); }},
    {"w_mx6_a_mx6", 0, [](int64_t) {
       return layer(blockFormat("mx6", 32), blockFormat("mx6", 32)); }},
    {"w_fp4_scale_fp8", 0, [](int64_t) { return nvfp4(false); }},
    {"w_fp4_a_fp4_scale_fp8", 0, [](int64_t) { return nvfp4(true); }},
};
// clang-format on

const Scheme *findScheme(llvm::StringRef name) {
  for (const Scheme &scheme : kSchemes)
    if (scheme.name == name)
      return &scheme;
  for (const Scheme &scheme : kLegacySchemes)
    if (scheme.name == name)
      return &scheme;
  return nullptr;
}
} // namespace

static std::vector<llvm::StringRef> namesOf(llvm::ArrayRef<Scheme> schemes) {
  std::vector<llvm::StringRef> names;
  for (const Scheme &scheme : schemes)
    names.push_back(scheme.name);
  return names;
}

llvm::ArrayRef<llvm::StringRef> mlir::quark::quantSchemeNames() {
  static const std::vector<llvm::StringRef> names = namesOf(kSchemes);
  return names;
}

llvm::ArrayRef<llvm::StringRef> mlir::quark::legacyQuantSchemeNames() {
  static const std::vector<llvm::StringRef> names = namesOf(kLegacySchemes);
  return names;
}

llvm::Expected<json::Object>
mlir::quark::quantSchemeLayerJson(llvm::StringRef name,
                                  std::optional<int64_t> groupSize) {
  const Scheme *scheme = findScheme(name);
  if (!scheme)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("unknown quantization scheme '{0}'; valid schemes: {1} "
                      "(and, from before Quark 0.11: {2})",
                      name, llvm::join(quantSchemeNames(), ", "),
                      llvm::join(legacyQuantSchemeNames(), ", ")));
  if (groupSize && scheme->groupSize == 0)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("--group_size does not apply to '{0}', which has no "
                      "integer per-group spec (its format fixes any block "
                      "size)",
                      name));
  if (groupSize && *groupSize <= 0 && *groupSize != -1)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("--group_size must be positive or -1, not {0}",
                      *groupSize));
  return scheme->build(groupSize.value_or(scheme->groupSize));
}

//===----------------------------------------------------------------------===//
// Templates
//===----------------------------------------------------------------------===//

std::optional<ModelTemplate>
mlir::quark::modelTemplate(llvm::StringRef modelType) {
  // LLMTemplate's entries for the architectures the importer supports.
  ModelTemplate dense{{"*k_proj", "*v_proj"}, {"*q_proj"}, {"lm_head"}, ""};
  if (modelType == "llama" || modelType == "mistral" || modelType == "qwen2" ||
      modelType == "qwen3" || modelType == "opt")
    return dense;
  if (modelType == "mixtral") {
    ModelTemplate moe = dense;
    moe.exclude = {"lm_head", "*.gate", "*.gate.linear"};
    moe.expertLayers = "*.experts.*";
    return moe;
  }
  return std::nullopt;
}

namespace {
/// Builds a QuantConfig the way LLMTemplate.get_config does.
class TemplateBuilder {
public:
  TemplateBuilder(MLIRContext *context, const ModelTemplate &tmpl,
                  function_ref<InFlightDiagnostic()> emitError)
      : context(context), tmpl(tmpl), emitError(emitError) {}

  FailureOr<LayerSpecAttr> schemeLayer(llvm::StringRef scheme,
                                       std::optional<int64_t> groupSize) {
    llvm::Expected<json::Object> object =
        quantSchemeLayerJson(scheme, groupSize);
    if (!object) {
      emitError() << llvm::toString(object.takeError());
      return failure();
    }
    return layerSpecFromJson(context, json::Value(std::move(*object)),
                             ("scheme " + scheme).str(), emitError);
  }

  /// get_layer_quant_config with a pattern as the name, then
  /// _resolve_projection_base_spec when only global matched.
  std::optional<LayerSpecAttr> projectionBase(const QuantConfig &config,
                                              llvm::StringRef pattern) {
    if (config.isExcluded(pattern))
      return std::nullopt;
    for (const NamedLayerSpec &entry : config.layers)
      if (entry.first == pattern || fnmatch(pattern, entry.first))
        return entry.second;
    for (const NamedLayerSpec &entry : config.layerTypes)
      if (entry.first == "Linear")
        return entry.second;
    llvm::StringRef leaf = pattern.rsplit('.').second.empty()
                               ? pattern
                               : pattern.rsplit('.').second;
    leaf = leaf.trim('*');
    for (const NamedLayerSpec &entry : config.layers) {
      llvm::StringRef key = entry.first;
      if ((!leaf.empty() && key.ends_with(leaf)) ||
          llvm::any_of(
              llvm::ArrayRef<llvm::StringRef>{"self_attn", "self_attention",
                                              "attn", "attention"},
              [&](llvm::StringRef token) { return key.contains(token); }))
        return entry.second;
    }
    return config.global;
  }

  LayerSpecAttr withOutput(LayerSpecAttr base, TensorSpecAttr output) {
    return LayerSpecAttr::get(context, base ? base.getInputTensors() : nullptr,
                              output, base ? base.getWeight() : nullptr,
                              nullptr);
  }

  FailureOr<TensorSpecAttr> fp8OutputSpec() {
    return specFromJson(
        context, json::Value(fp8PerTensor("fp8_e4m3", false, std::nullopt)),
        "fp8 output spec", emitError);
  }

  MLIRContext *context;
  const ModelTemplate &tmpl;
  function_ref<InFlightDiagnostic()> emitError;
};
} // namespace

FailureOr<QuantConfig>
mlir::quark::buildQuantConfig(MLIRContext *context, llvm::StringRef modelType,
                              const SchemeRequest &request,
                              function_ref<InFlightDiagnostic()> emitError) {
  std::optional<ModelTemplate> tmpl = modelTemplate(modelType);
  if (!tmpl) {
    emitError() << "no quantization template for model type '" << modelType
                << "' (templates: llama, mistral, qwen2, qwen3, mixtral, opt)";
    return failure();
  }
  if (!request.kvCacheDtype.empty() && request.kvCacheDtype != "fp8") {
    emitError() << "unsupported --kv_cache_dtype '" << request.kvCacheDtype
                << "' (supported: fp8)";
    return failure();
  }
  if (request.minKvScale < 0 || std::isnan(request.minKvScale)) {
    emitError() << "--min_kv_scale must be >= 0, got " << request.minKvScale;
    return failure();
  }
  if (request.minKvScale != 0 && request.kvCacheDtype.empty()) {
    // Quark applies min_kv_scale only to the KV cache scales it exports.
    emitError() << "--min_kv_scale applies to the KV cache: it needs "
                   "--kv_cache_dtype fp8";
    return failure();
  }
  if (!request.attentionDtype.empty() && request.attentionDtype != "fp8") {
    emitError() << "unsupported --attention_dtype '" << request.attentionDtype
                << "' (supported: fp8)";
    return failure();
  }
  TemplateBuilder builder(context, *tmpl, emitError);
  QuantConfig config;
  FailureOr<LayerSpecAttr> global =
      builder.schemeLayer(request.scheme, request.groupSize);
  if (failed(global))
    return failure();
  config.global = *global;
  config.exclude = expandExcludes(request.excludeLayers ? *request.excludeLayers
                                                        : tmpl->exclude);
  config.minKvScale = request.minKvScale;
  config.kvCacheGroup = tmpl->kvLayers;

  if (!request.moeExpertsSecondStep.empty()) {
    if (tmpl->expertLayers.empty()) {
      emitError() << "--moe_experts_second_step_config: model type '"
                  << modelType << "' has no MoE experts";
      return failure();
    }
    FailureOr<LayerSpecAttr> second =
        builder.schemeLayer(request.moeExpertsSecondStep, std::nullopt);
    if (failed(second))
      return failure();
    auto firstWeight =
        dyn_cast_or_null<TensorSpecAttr>(config.global.getWeight());
    auto secondWeight = dyn_cast_or_null<TensorSpecAttr>((*second).getWeight());
    if (!firstWeight || !secondWeight) {
      emitError() << "--moe_experts_second_step_config needs single-stage "
                     "weight specs in both '"
                  << request.scheme << "' and '" << request.moeExpertsSecondStep
                  << "'";
      return failure();
    }
    auto progressive = TwoStageSpecAttr::getChecked(emitError, context,
                                                    firstWeight, secondWeight);
    if (!progressive)
      return failure();
    config.layers.emplace_back(
        tmpl->expertLayers,
        LayerSpecAttr::get(context, config.global.getInputTensors(), nullptr,
                           progressive, nullptr));
  }
  for (const auto &[pattern, scheme] : request.layerSchemes) {
    FailureOr<LayerSpecAttr> layer = builder.schemeLayer(scheme, std::nullopt);
    if (failed(layer))
      return failure();
    config.layers.emplace_back(pattern, *layer);
  }
  if (!request.kvCacheDtype.empty()) {
    FailureOr<TensorSpecAttr> spec = builder.fp8OutputSpec();
    if (failed(spec))
      return failure();
    for (const std::string &pattern : tmpl->kvLayers) {
      std::optional<LayerSpecAttr> base =
          builder.projectionBase(config, pattern);
      LayerSpecAttr entry =
          builder.withOutput(base ? *base : LayerSpecAttr(), *spec);
      if (base)
        config.layers.emplace_back(pattern, entry);
      config.kvCache.emplace_back(pattern, entry);
    }
  }
  if (!request.attentionDtype.empty()) {
    FailureOr<TensorSpecAttr> spec = builder.fp8OutputSpec();
    if (failed(spec))
      return failure();
    config.softmax = *spec;
    for (const std::string &pattern : tmpl->qLayers) {
      std::optional<LayerSpecAttr> base =
          builder.projectionBase(config, pattern);
      if (!base)
        continue;
      config.layers.emplace_back(pattern, builder.withOutput(*base, *spec));
    }
  }
  return config;
}
