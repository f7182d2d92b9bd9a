//===- HfCheck.cpp - What vLLM's Quark loader would say about a folder ----===//
//
// Re-reads an hf_format folder from disk (nothing from the export that
// wrote it) and applies the loader rules of quark-semantics.md 2.5: the
// `export` block, the KV-cache group, one scheme per fused q/k/v and
// gate/up module, the recognised weight/input combinations, no quantized
// outputs or biases; and the layout rules of QuarkHfLayout.h for every
// quantized layer's tensors.
//
//===----------------------------------------------------------------------===//

#include "quark/Target/HfFormat.h"

#include "HfCommon.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Config/QuantConfig.h"
#include "quark/InitAll.h"
#include "quark/Support/QuarkHfLayout.h"
#include "quark/Support/ReadFile.h"
#include "quark/Transforms/Calibration.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

namespace {

std::string specText(Attribute spec) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << spec;
  return text;
}

class Checker {
public:
  explicit Checker(llvm::StringRef dir) : dir(dir.str()) {}

  std::vector<HfCheckFinding> run() {
    llvm::SmallString<256> configPath(dir);
    llvm::sys::path::append(configPath, "config.json");
    llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> text =
        readFile(configPath);
    if (!text) {
      error(llvm::toString(text.takeError()));
      return findings;
    }
    llvm::Expected<json::Value> document = json::parse((*text)->getBuffer());
    const json::Object *root = document ? document->getAsObject() : nullptr;
    if (!document)
      llvm::consumeError(document.takeError());
    const json::Object *quantization =
        root ? root->getObject("quantization_config") : nullptr;
    if (!quantization) {
      error(configPath.str().str() + " has no quantization_config object");
      return findings;
    }
    llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>> opened =
        SafetensorsCheckpoint::open(dir);
    if (!opened) {
      error(llvm::toString(opened.takeError()));
      return findings;
    }
    checkpoint = std::move(*opened);
    llvm::StringRef method =
        quantization->getString("quant_method").value_or("");
    if (method == "awq") {
      checkAwq(*quantization);
      return findings;
    }
    if (method != "quark") {
      error("quant_method '" + method.str() +
            "': vLLM's Quark loader reads \"quark\" (and \"awq\" goes to "
            "its AWQ loader)");
      return findings;
    }
    checkQuark(*quantization, (*text)->getBuffer(), configPath);
    flushLayerFindings();
    return findings;
  }

private:
  void error(std::string message) {
    findings.push_back({"error", std::move(message)});
  }
  void warning(std::string message) {
    findings.push_back({"warning", std::move(message)});
  }
  /// One finding per severity and message, however many layers it
  /// concerns (a scheme vLLM lacks is the same finding for every layer).
  void layerFinding(const char *severity, const std::string &layer,
                    const std::string &message) {
    std::pair<std::string, std::string> key(severity, message);
    std::vector<std::string> &layers = layerFindings[key];
    if (layers.empty())
      layerFindingOrder.push_back(key);
    layers.push_back(layer);
  }
  void layerWarning(const std::string &layer, const std::string &message) {
    layerFinding("warning", layer, message);
  }
  void layerError(const std::string &layer, const std::string &message) {
    layerFinding("error", layer, message);
  }
  void flushLayerFindings() {
    for (const auto &key : layerFindingOrder) {
      const std::vector<std::string> &layers = layerFindings[key];
      findings.push_back({key.first, std::to_string(layers.size()) +
                                         " layer(s) (first '" + layers.front() +
                                         "'): " + key.second});
    }
  }

  /// The names of the checkpoint's Linear layers: prefixes of 2-D
  /// `.weight` (or AWQ `.qweight`) tensors, embeddings excepted.
  std::vector<std::string> linearLayers() {
    std::vector<std::string> layers;
    for (const std::string &name : checkpoint->names()) {
      llvm::StringRef ref(name);
      llvm::StringRef prefix;
      if (ref.ends_with(".qweight"))
        prefix = ref.drop_back(8);
      else if (ref.ends_with(".weight"))
        prefix = ref.drop_back(7);
      else
        continue;
      if (checkpoint->find(name)->info->shape.size() != 2 ||
          prefix.contains("embed"))
        continue;
      layers.push_back(prefix.str());
    }
    return layers;
  }

  /// The logical shape of a weight held as `stored` in `layout`.
  static llvm::SmallVector<int64_t, 4>
  logicalFromStored(const StoredLayout &layout,
                    llvm::ArrayRef<int64_t> stored) {
    llvm::SmallVector<int64_t, 4> shape(stored);
    if (!shape.empty()) {
      int64_t &last = shape.back();
      switch (layout.packing) {
      case StoredLayout::Packing::None:
        break;
      case StoredLayout::Packing::Int4:
        last *= 8;
        break;
      case StoredLayout::Packing::Fp4:
        last *= 2;
        break;
      case StoredLayout::Packing::Fp6:
        last = last / 3 * 4;
        break;
      }
    }
    if (layout.transposed && shape.size() == 2)
      std::swap(shape[0], shape[1]);
    return shape;
  }

  /// Checks one file tensor against its expected dtype and shape.
  void expectTensor(const std::string &name, const HfStoredTensor &expected,
                    llvm::StringRef why) {
    std::optional<TensorRef> tensor = checkpoint->find(name);
    if (!tensor) {
      error("tensor '" + name + "' is missing (" + why.str() + ")");
      return;
    }
    if (tensor->info->dtype != expected.dtype ||
        llvm::ArrayRef<int64_t>(tensor->info->shape) !=
            llvm::ArrayRef<int64_t>(expected.storedShape))
      error("tensor '" + name + "' is " +
            tensorDTypeName(tensor->info->dtype).str() +
            shapeText(tensor->info->shape) + "; " + why.str() +
            " stores it as " + tensorDTypeName(expected.dtype).str() +
            shapeText(expected.storedShape) + " (layout '" +
            expected.layout.str() + "')");
  }

  /// The layout a spec implies for a weight whose codes are stored as
  /// `codesName` (with `twoStage`: a two-stage weight whose stored stage is
  /// `spec`), or nullopt (with a finding) when it has none.
  std::optional<HfQuantizedTensor>
  weightLayout(const std::string &layer, TensorSpecAttr spec,
               TwoStageSpecAttr twoStage, const std::string &codesName,
               Int4PackOrder order, llvm::SmallVector<int64_t, 4> &logical) {
    FailureOr<TensorQuantSpec> numerics =
        getTensorQuantSpec(spec, modelFloat, [&] { return emitError(loc()); });
    if (failed(numerics)) {
      error("layer '" + layer + "': " + specText(spec) +
            " cannot be evaluated");
      return std::nullopt;
    }
    std::optional<TensorRef> codes = checkpoint->find(codesName);
    if (!codes) {
      error("tensor '" + codesName + "' is missing");
      return std::nullopt;
    }
    // Shapes of the stored codes decide the logical shape (packing widens
    // the last stored dimension by a known factor).
    llvm::Expected<HfQuantizedTensor> probe =
        quarkHfLayout(*numerics, {8, 8}, {1, 1}, /*isWeight=*/true, order);
    if (!probe) {
      error("layer '" + layer + "' (" + specText(spec) +
            "): " + llvm::toString(probe.takeError()));
      return std::nullopt;
    }
    logical = logicalFromStored(probe->codes->layout, codes->info->shape);
    llvm::Expected<QuantLayout> quantLayout =
        QuantLayout::get(logical, *numerics);
    if (!quantLayout) {
      error("layer '" + layer +
            "': " + llvm::toString(quantLayout.takeError()));
      return std::nullopt;
    }
    std::optional<HfOtherStage> other;
    if (twoStage) {
      FailureOr<TensorQuantSpec> resolved =
          getTensorQuantSpec(twoStage.getOtherStage(), modelFloat,
                             [&] { return emitError(loc()); });
      if (failed(resolved)) {
        error("layer '" + layer + "': " + specText(twoStage.getOtherStage()) +
              " cannot be evaluated");
        return std::nullopt;
      }
      other = HfOtherStage{*resolved, twoStage.quantizesScales()};
    }
    llvm::Expected<HfQuantizedTensor> layout = quarkHfWeightLayout(
        *numerics, other, logical, quantLayout->paramShape(), order);
    if (!layout) {
      error("layer '" + layer + "': " + llvm::toString(layout.takeError()));
      return std::nullopt;
    }
    return *layout;
  }

  void checkAwq(const json::Object &config) {
    if (config.getInteger("bits").value_or(0) != 4)
      error("AWQ checkpoints hold 4-bit weights ('bits': 4)");
    if (!config.getBoolean("zero_point").value_or(false))
      error("vLLM's AWQ kernels need 'zero_point': true");
    int64_t groupSize = config.getInteger("group_size").value_or(0);
    if (groupSize <= 0) {
      error("'group_size' must be positive");
      return;
    }
    for (const std::string &layer : linearLayers()) {
      std::optional<TensorRef> qweight = checkpoint->find(layer + ".qweight");
      if (!qweight)
        continue; // a float layer (modules_to_not_convert)
      llvm::ArrayRef<int64_t> stored = qweight->info->shape;
      int64_t in = stored[0], out = stored[1] * 8;
      auto expect = [&](const std::string &name, TensorDType dtype,
                        llvm::SmallVector<int64_t, 4> shape) {
        HfStoredTensor tensor{"", dtype, shape, shape, StoredLayout()};
        expectTensor(name, tensor, "AutoAWQ's GEMM layout");
      };
      if (qweight->info->dtype != TensorDType::I32)
        error("tensor '" + layer + ".qweight' must be I32");
      if (in % groupSize) {
        error("layer '" + layer + "': input features " + std::to_string(in) +
              " are not a multiple of group_size " + std::to_string(groupSize));
        continue;
      }
      expect(layer + ".qzeros", TensorDType::I32, {in / groupSize, out / 8});
      expect(layer + ".scales", TensorDType::F16, {in / groupSize, out});
    }
  }

  void checkQuark(const json::Object &config, llvm::StringRef text,
                  llvm::StringRef path) {
    const json::Object *exported = config.getObject("export");
    if (!exported)
      error("quantization_config has no 'export' block: vLLM's "
            "QuarkConfig.from_config requires it");
    Int4PackOrder order = Int4PackOrder::Reorder;
    bool fakeQuantized = false;
    if (exported) {
      if (std::optional<llvm::StringRef> pack =
              exported->getString("pack_method")) {
        if (std::optional<Int4PackOrder> parsed =
                parseInt4PackOrder(pack->str()))
          order = *parsed;
        else
          error("export.pack_method '" + pack->str() +
                "' is neither order nor reorder");
      }
      fakeQuantized =
          exported->getString("weight_format").value_or("") == "fake_quantized";
      if (fakeQuantized)
        warning("weight_format fake_quantized: vLLM loads the weights as "
                "high-precision values; serving quantized needs "
                "real_quantized");
    }

    DialectRegistry registry;
    registerAllQuarkDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    std::string diagnostics;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      diagnostics += diag.str();
      return success();
    });
    FailureOr<QuantConfig> parsed = QuantConfig::fromJson(
        &context, text, path, [&] { return emitError(loc()); });
    if (failed(parsed)) {
      error("quantization_config does not parse: " + diagnostics);
      return;
    }
    modelFloat = floatTypeOf(&context, TensorDType::BF16);
    if (std::optional<TensorRef> embed = [&]() -> std::optional<TensorRef> {
          for (const std::string &name : checkpoint->names())
            if (llvm::StringRef(name).ends_with("embed_tokens.weight"))
              return checkpoint->find(name);
          return std::nullopt;
        }())
      modelFloat = floatTypeOf(&context, embed->info->dtype);

    // KV cache: one fp8 per-tensor output spec across the group.
    llvm::StringSet<> kvPatterns;
    Attribute kvSpec;
    if (exported)
      if (const json::Array *group = exported->getArray("kv_cache_group"))
        for (const json::Value &pattern : *group)
          if (std::optional<llvm::StringRef> text = pattern.getAsString())
            kvPatterns.insert(*text);
    for (const NamedLayerSpec &entry : parsed->layers) {
      bool inGroup = false;
      for (const auto &pattern : kvPatterns)
        if (fnmatch(entry.first, pattern.getKey()))
          inGroup = true;
      if (!inGroup)
        continue;
      Attribute output =
          entry.second ? entry.second.getOutputTensors() : Attribute();
      if (kvSpec && output != kvSpec)
        error("layer_quant_config entries of kv_cache_group differ in "
              "output_tensors; vLLM needs one KV-cache spec");
      kvSpec = output;
    }
    if (!kvPatterns.empty()) {
      auto spec = dyn_cast_or_null<TensorSpecAttr>(kvSpec);
      if (!spec)
        error("kv_cache_group is set but no matching layer_quant_config "
              "entry has an output spec");
      else if (spec.getDtype() != Dtype::fp8_e4m3 ||
               spec.getQSchemeOrDefault() != QSchemeType::per_tensor)
        error("the KV cache spec is " + specText(spec) +
              "; vLLM's QuarkKVCacheMethod accepts fp8_e4m3 per_tensor only");
    }
    auto isKvLayer = [&](llvm::StringRef layer) {
      for (const auto &pattern : kvPatterns)
        if (fnmatch(layer, pattern.getKey()) || layer.ends_with(".q_proj"))
          return true;
      return false;
    };

    llvm::StringMap<LayerSpecAttr> resolved;
    for (const std::string &layer : linearLayers()) {
      LayerSpecAttr spec = parsed->resolve(layer);
      resolved[layer] = spec;
      std::optional<TensorRef> weight = checkpoint->find(layer + ".weight");
      bool floatWeight = weight && isModelFloatTensorDType(weight->info->dtype);
      if (!spec || !spec.getWeight()) {
        if (!floatWeight)
          error("layer '" + layer +
                "' is stored quantized but the config leaves it in float "
                "(vLLM does not infer exclusions from dtypes: list it in "
                "'exclude' only if it is float)");
        continue;
      }
      checkScheme(layer, spec, isKvLayer(layer));
      if (spec.getBias())
        error("layer '" + layer +
              "': a quantized bias (vLLM raises "
              "NotImplementedError)");
      auto weightSpec = dyn_cast<TensorSpecAttr>(spec.getWeight());
      // A progressive weight stores its second stage's codes (parameters
      // with the `_2` suffix) and its first stage's per-tensor scale; a
      // scale-quantizing (NVFP4) one its first stage's codes, the block
      // scales as fp8 codes and their per-tensor `_scale_2`.
      auto twoStage = dyn_cast<TwoStageSpecAttr>(spec.getWeight());
      if (twoStage)
        weightSpec = twoStage.getStoredStage();
      if (fakeQuantized) {
        if (!floatWeight)
          error("layer '" + layer +
                "': weight_format fake_quantized, but its weight is stored "
                "as codes");
        continue;
      }
      llvm::SmallVector<int64_t, 4> logical;
      std::optional<HfQuantizedTensor> layout = weightLayout(
          layer, weightSpec, twoStage, layer + ".weight", order, logical);
      if (!layout)
        continue;
      std::string why = "the config's weight spec " +
                        specText(twoStage ? spec.getWeight() : weightSpec);
      std::string codesName = layer + ".weight";
      expectTensor(codesName, *layout->codes, why);
      expectTensor(codesName + layout->scale.suffix, layout->scale, why);
      if (layout->zeroPoint)
        expectTensor(codesName + layout->zeroPoint->suffix, *layout->zeroPoint,
                     why);
      if (layout->firstStageScale)
        expectTensor(codesName + layout->firstStageScale->suffix,
                     *layout->firstStageScale, why);
      if (layout->scaleOfScales)
        expectTensor(codesName + layout->scaleOfScales->suffix,
                     *layout->scaleOfScales, why);
      checkActivation(layer, spec.getInputTensors(), ".input_scale", order);
    }
    checkFusedShards(resolved);
  }

  /// A static input's scale must be stored; dynamic ones must not be.
  void checkActivation(const std::string &layer, Attribute field,
                       llvm::StringRef suffix, Int4PackOrder order) {
    std::string base = layer + suffix.drop_back(6).str(); // ".input"
    if (auto twoStage = dyn_cast_or_null<TwoStageSpecAttr>(field)) {
      // NVFP4: the dynamic first stage stores nothing, the static second
      // stage its per-tensor scale (vLLM's QuarkNVFP4 input_scale_2).
      if (twoStage.quantizesScalesPerCall())
        expectTensor(base + "_scale_2", quarkHfScaleOfScales(),
                     "its NVFP4 input spec " + specText(twoStage));
      return;
    }
    auto spec = dyn_cast_or_null<TensorSpecAttr>(field);
    if (!needsCalibration(spec))
      return;
    FailureOr<TensorQuantSpec> numerics =
        getTensorQuantSpec(spec, modelFloat, [&] { return emitError(loc()); });
    if (failed(numerics))
      return;
    llvm::SmallVector<int64_t, 4> paramShape;
    if (spec.getQSchemeOrDefault() != QSchemeType::per_tensor) {
      error("layer '" + layer + "': a static " +
            stringifyQSchemeType(spec.getQSchemeOrDefault()).str() +
            " input spec (vLLM takes static activations per tensor only)");
      return;
    }
    llvm::Expected<HfQuantizedTensor> layout =
        quarkHfLayout(*numerics, {}, paramShape, /*isWeight=*/false, order);
    if (!layout) {
      error("layer '" + layer + "': " + llvm::toString(layout.takeError()));
      return;
    }
    expectTensor(base + "_scale", layout->scale,
                 "its static input spec " + specText(spec));
    if (layout->zeroPoint)
      expectTensor(base + "_zero_point", *layout->zeroPoint,
                   "its static input spec " + specText(spec));
  }

  /// vLLM's scheme predicates (quark.py _get_scheme_from_config).
  void checkScheme(const std::string &layer, LayerSpecAttr spec, bool kv) {
    if (spec.getOutputTensors() && !kv)
      error("layer '" + layer +
            "': quantized outputs outside the KV cache (vLLM raises "
            "NotImplementedError)");
    auto weight = dyn_cast<TensorSpecAttr>(spec.getWeight());
    Attribute inputField = spec.getInputTensors();
    if (!weight) {
      auto twoStage = cast<TwoStageSpecAttr>(spec.getWeight());
      bool nvfp4 = twoStage.getFirst().getDtype() == Dtype::fp4 &&
                   twoStage.getSecond().getDtype() == Dtype::fp8_e4m3;
      TensorSpecAttr first = twoStage.getFirst(), second = twoStage.getSecond();
      bool int4Fp8 =
          first.getDtype() == Dtype::fp8_e4m3 && !first.isDynamic() &&
          first.getQSchemeOrDefault() == QSchemeType::per_tensor &&
          second.getDtype() == Dtype::int4 && !second.isDynamic() &&
          second.getQSchemeOrDefault() == QSchemeType::per_channel &&
          second.isSymmetric() && second.getChAxis().value_or(0) == 0;
      if (!nvfp4 && !int4Fp8) {
        layerError(layer, "vLLM has no scheme for the two-stage weight " +
                              specText(twoStage) +
                              " (its Quark schemes take [fp4, fp8_e4m3] "
                              "scale-quantized weights, QuarkNVFP4, and "
                              "[fp8_e4m3, int4] experts, W4A8)");
        return;
      }
      if (nvfp4) {
        // quark.py QuarkNVFP4: weight [fp4 g16 static, fp8 per-tensor],
        // input [fp4 g16 dynamic, fp8 per-tensor static].
        auto input = dyn_cast_or_null<TwoStageSpecAttr>(inputField);
        bool inputNvfp4 =
            input && input.quantizesScalesPerCall() &&
            input.getFirst().getDtype() == Dtype::fp4 &&
            input.getFirst().getGroupSize().value_or(0) == 16 &&
            input.getSecond().getDtype() == Dtype::fp8_e4m3 &&
            input.getSecond().getQSchemeOrDefault() == QSchemeType::per_tensor;
        bool weightNvfp4 =
            first.getGroupSize().value_or(0) == 16 && !first.isDynamic() &&
            second.getQSchemeOrDefault() == QSchemeType::per_tensor;
        if (!weightNvfp4 || !inputNvfp4)
          error("layer '" + layer +
                "': vLLM's QuarkNVFP4 takes weight [fp4 "
                "per_group 16 static, fp8_e4m3 per_tensor] with input [fp4 "
                "per_group 16 dynamic, fp8_e4m3 per_tensor static]; got "
                "weight " +
                specText(twoStage) + ", input " +
                (inputField ? specText(inputField) : std::string("float")));
        return;
      }
      if (!int4Fp8)
        return;
      // quark_moe.py QuarkW4A8Fp8MoEMethod; linear layers take no
      // multi-entry weight spec but NVFP4's.
      if (!llvm::StringRef(layer).contains(".experts.")) {
        error("layer '" + layer +
              "': a progressive fp8 -> int4 weight outside the MoE experts "
              "(vLLM's Quark linear schemes take two-stage weights for "
              "NVFP4 only)");
        return;
      }
      auto input = dyn_cast_or_null<TensorSpecAttr>(inputField);
      if (!input || input.getDtype() != Dtype::fp8_e4m3 ||
          (!input.isDynamic() &&
           input.getQSchemeOrDefault() != QSchemeType::per_tensor)) {
        error("layer '" + layer +
              "': a progressive fp8 -> int4 expert weight with input " +
              (input ? specText(input) : std::string("float")) +
              " (vLLM's QuarkW4A8Fp8MoEMethod needs fp8_e4m3 activations, "
              "dynamic or static per tensor)");
        return;
      }
      layerWarning(layer, "W4A8 (int4_fp8) experts run on ROCm with AITER's "
                          "fused MoE only");
      return;
    }
    auto input = dyn_cast_or_null<TensorSpecAttr>(inputField);
    Dtype w = weight.getDtype();
    QSchemeType wq = weight.getQSchemeOrDefault();
    bool wStatic = !weight.isDynamic();
    auto mxWeight = [&] {
      return (w == Dtype::fp4 || w == Dtype::fp6_e2m3 ||
              w == Dtype::fp6_e3m2) &&
             wq == QSchemeType::per_group && weight.getGroupSize() == 32 &&
             weight.getScaleFormat() == ScaleFormatType::e8m0;
    };
    if (w == Dtype::fp8_e4m3 && wStatic &&
        (wq == QSchemeType::per_tensor || wq == QSchemeType::per_channel)) {
      if (!input) {
        layerWarning(layer, "fp8 weight-only; vLLM's Quark schemes pair fp8 "
                            "weights with fp8 activations (QuarkW8A8Fp8)");
        return;
      }
      if (input.getDtype() == Dtype::fp8_e4m3 &&
          (input.isDynamic() ||
           input.getQSchemeOrDefault() == QSchemeType::per_tensor))
        return; // QuarkW8A8Fp8
    } else if (w == Dtype::int8 && wStatic && weight.isSymmetric() &&
               (wq == QSchemeType::per_tensor ||
                wq == QSchemeType::per_channel)) {
      if (input && input.getDtype() == Dtype::int8 &&
          ((!input.isDynamic() &&
            input.getQSchemeOrDefault() == QSchemeType::per_tensor) ||
           (input.isDynamic() &&
            input.getQSchemeOrDefault() == QSchemeType::per_channel)))
        return; // QuarkW8A8Int8
    } else if (mxWeight() && wStatic) {
      if (input && input.getDtype() == Dtype::fp8_e4m3 && !input.isDynamic() &&
          input.getQSchemeOrDefault() == QSchemeType::per_tensor)
        return; // QuarkW4A8_MXFP4_FP8
      if (input && !input.isDynamic() && input.usesMXScales()) {
        error("layer '" + layer +
              "': static MX activations (vLLM's "
              "QuarkOCP_MX raises NotImplementedError)");
        return;
      }
      layerWarning(layer, "OCP MX weights run natively on gfx950 (MI355) "
                          "only; vLLM emulates them elsewhere");
      return; // QuarkOCP_MX
    } else if ((w == Dtype::int4 || w == Dtype::uint4) &&
               wq == QSchemeType::per_group && !input) {
      layerWarning(layer, "int4/uint4 per-group weight-only loads through "
                          "QuarkW4A16Int4 in vLLM trees with PR #48606 "
                          "(2026); older vLLM needs --custom_mode awq");
      return;
    }
    layerError(layer, "vLLM has no Quark scheme for weight " +
                          specText(weight) + " with input " +
                          (input ? specText(input) : std::string("float")));
  }

  /// q/k/v and gate/up run fused in vLLM: one scheme per fused module.
  void checkFusedShards(const llvm::StringMap<LayerSpecAttr> &resolved) {
    auto strip = [](LayerSpecAttr spec, bool kv) -> std::string {
      if (!spec)
        return "float";
      // vLLM deletes the KV group's (and q_proj's) output specs first.
      std::string text =
          specText(spec.getWeight()) + "|" +
          (spec.getInputTensors() ? specText(spec.getInputTensors())
                                  : std::string("-"));
      if (!kv && spec.getOutputTensors())
        text += "|" + specText(spec.getOutputTensors());
      return text;
    };
    const std::vector<std::vector<std::string>> fused = {
        {"q_proj", "k_proj", "v_proj"}, {"gate_proj", "up_proj"}};
    for (const auto &entry : resolved) {
      llvm::StringRef name = entry.getKey();
      for (const std::vector<std::string> &group : fused) {
        if (!name.ends_with("." + group.front()))
          continue;
        llvm::StringRef base = name.drop_back(group.front().size());
        std::string first = strip(entry.getValue(), true);
        for (size_t i = 1; i < group.size(); ++i) {
          auto other = resolved.find((base + group[i]).str());
          if (other == resolved.end())
            continue;
          if (strip(other->getValue(), true) != first)
            error("'" + base.str() + "{" + group.front() + "," + group[i] +
                  "}' have different schemes; vLLM runs them fused and "
                  "requires all to use the same scheme");
        }
        auto twoStage =
            entry.getValue()
                ? dyn_cast<TwoStageSpecAttr>(entry.getValue().getWeight())
                : TwoStageSpecAttr();
        if (twoStage && twoStage.quantizesScales())
          checkSharedGlobalScales(base, group);
      }
    }
  }

  /// NVFP4 shards a server fuses need one `weight_scale_2` (and one
  /// `input_scale_2`): vLLM's QuarkNVFP4 keeps the largest and warns, and
  /// the other shards' fp8 block scales are then read against it.
  void checkSharedGlobalScales(llvm::StringRef base,
                               const std::vector<std::string> &group) {
    for (llvm::StringRef suffix : {".weight_scale_2", ".input_scale_2"}) {
      std::vector<std::pair<std::string, float>> scales;
      for (const std::string &layer : group) {
        std::string name = (base + layer + suffix).str();
        std::optional<TensorRef> tensor = checkpoint->find(name);
        if (!tensor || tensor->info->dtype != TensorDType::F32 ||
            tensor->bytes().size() != sizeof(float))
          continue; // expectTensor reports it
        float value;
        std::memcpy(&value, tensor->bytes().data(), sizeof(float));
        scales.push_back({layer, value});
      }
      bool differ = llvm::any_of(scales, [&](const auto &scale) {
        return scale.second != scales.front().second;
      });
      if (!differ)
        continue;
      // The group and its values name the layers: one warning for all.
      std::string values;
      for (const auto &[layer, value] : scales)
        values += (values.empty() ? "" : ", ") + layer + " " +
                  llvm::formatv("{0:e}", value).str();
      layerWarning(base.str() + "{" + values + "}",
                   "fused NVFP4 shards with different " +
                       suffix.drop_front().str() +
                       ": vLLM keeps the largest and warns, and reads the "
                       "other shards' fp8 block scales against it "
                       "(quark-quantize shares one with "
                       "--shared_scale_groups, its default for NVFP4)");
    }
  }

  Location loc() { return UnknownLoc::get(&context); }

  std::string dir;
  std::unique_ptr<SafetensorsCheckpoint> checkpoint;
  std::vector<HfCheckFinding> findings;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>>
      layerFindings;
  std::vector<std::pair<std::string, std::string>> layerFindingOrder;
  MLIRContext context;
  Type modelFloat;
};

} // namespace

std::vector<HfCheckFinding> mlir::quark::checkHfFormat(llvm::StringRef dir) {
  Checker checker(dir);
  return checker.run();
}
