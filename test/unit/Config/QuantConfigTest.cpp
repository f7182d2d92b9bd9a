//===- QuantConfigTest.cpp - Quark's config model, schemes, templates -----===//

#include "quark/Config/QuantSchemes.h"

#include "quark/Target/QuarkSpecJson.h"

#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::quark;
namespace json = llvm::json;

namespace {

class QuantConfigTest : public testing::Test {
protected:
  QuantConfigTest() { context.loadDialect<QuarkDialect>(); }

  /// Collects diagnostics instead of printing them.
  std::function<InFlightDiagnostic()> errors() {
    return [this] { return mlir::emitError(UnknownLoc::get(&context)); };
  }
  QuantConfig build(const SchemeRequest &request,
                    llvm::StringRef modelType = "llama") {
    FailureOr<QuantConfig> config =
        buildQuantConfig(&context, modelType, request, errors());
    EXPECT_TRUE(succeeded(config));
    return succeeded(config) ? *config : QuantConfig();
  }
  static TensorSpecAttr weightOf(LayerSpecAttr layer) {
    return layer ? dyn_cast_or_null<TensorSpecAttr>(layer.getWeight())
                 : TensorSpecAttr();
  }
  static TensorSpecAttr inputOf(LayerSpecAttr layer) {
    return layer ? dyn_cast_or_null<TensorSpecAttr>(layer.getInputTensors())
                 : TensorSpecAttr();
  }
  static TensorSpecAttr outputOf(LayerSpecAttr layer) {
    return layer ? dyn_cast_or_null<TensorSpecAttr>(layer.getOutputTensors())
                 : TensorSpecAttr();
  }

  MLIRContext context;
};

TEST(FnmatchTest, MatchesLikePython) {
  EXPECT_TRUE(fnmatch("model.layers.3.self_attn.k_proj", "*k_proj"));
  EXPECT_TRUE(fnmatch("model.layers.3.self_attn.k_proj", "*self_attn*"));
  EXPECT_FALSE(fnmatch("model.layers.3.self_attn.k_proj", "*q_proj"));
  EXPECT_TRUE(fnmatch("lm_head", "lm_head"));
  EXPECT_FALSE(fnmatch("lm_head.x", "lm_head"));
  EXPECT_TRUE(fnmatch("lm_head.x", "lm_head.*"));
  EXPECT_TRUE(fnmatch("model.layers.0.block_sparse_moe.gate", "*.gate"));
  EXPECT_FALSE(fnmatch("model.layers.0.mlp.gate_proj", "*.gate"));
  EXPECT_TRUE(fnmatch("model.layers.7.mlp.up_proj", "model.layers.?.mlp.*"));
  EXPECT_FALSE(fnmatch("model.layers.17.mlp.up_proj", "model.layers.?.mlp.*"));
  EXPECT_TRUE(fnmatch("model.layers.3.mlp", "model.layers.[0-4].mlp"));
  EXPECT_FALSE(fnmatch("model.layers.5.mlp", "model.layers.[0-4].mlp"));
  EXPECT_TRUE(fnmatch("model.layers.5.mlp", "model.layers.[!0-4].mlp"));
  // An unterminated class is a literal '['.
  EXPECT_TRUE(fnmatch("a[b", "a[b"));
  EXPECT_TRUE(fnmatch("", "*"));
  EXPECT_FALSE(fnmatch("", "?"));
}

TEST(FnmatchTest, ExcludeExpansion) {
  EXPECT_EQ(expandExcludes({"lm_head", "*.gate.*"}),
            (std::vector<std::string>{"lm_head.*", "lm_head", "*.gate.*"}));
}

TEST_F(QuantConfigTest, EverySchemeIsAValidQuarkConfig) {
  for (llvm::ArrayRef<llvm::StringRef> names :
       {quantSchemeNames(), legacyQuantSchemeNames()})
    for (llvm::StringRef name : names) {
      llvm::Expected<json::Object> object = quantSchemeLayerJson(name, std::nullopt);
      ASSERT_TRUE(bool(object)) << llvm::toString(object.takeError());
      FailureOr<LayerSpecAttr> layer = layerSpecFromJson(
          &context, json::Value(std::move(*object)), name, errors());
      EXPECT_TRUE(succeeded(layer)) << name.str();
      // Converting back gives Quark's dict again.
      if (succeeded(layer))
        EXPECT_TRUE(succeeded(layerSpecToJson(*layer, errors()))) << name.str();
    }
  // Quark's 27 template schemes and fp8_weight_only.
  EXPECT_EQ(quantSchemeNames().size(), 28u);
  EXPECT_EQ(legacyQuantSchemeNames().size(), 14u);
}

TEST_F(QuantConfigTest, SchemeDetails) {
  auto layerOf = [&](llvm::StringRef scheme, std::optional<int64_t> group = {}) {
    llvm::Expected<json::Object> object = quantSchemeLayerJson(scheme, group);
    EXPECT_TRUE(bool(object));
    return *layerSpecFromJson(&context, json::Value(std::move(*object)), scheme,
                              errors());
  };
  TensorSpecAttr w = weightOf(layerOf("int4_wo_128"));
  EXPECT_EQ(w.getDtype(), Dtype::int4);
  EXPECT_EQ(w.getQscheme(), QSchemeType::per_group);
  EXPECT_EQ(w.getGroupSize(), 128);
  EXPECT_EQ(w.getChAxis(), -1);
  EXPECT_EQ(w.getSymmetric(), true);
  EXPECT_EQ(inputOf(layerOf("int4_wo_128")), TensorSpecAttr());
  TensorSpecAttr fp8Weight = weightOf(layerOf("fp8_weight_only"));
  EXPECT_EQ(fp8Weight.getDtype(), Dtype::fp8_e4m3);
  EXPECT_EQ(fp8Weight.getQscheme(), QSchemeType::per_tensor);
  EXPECT_EQ(inputOf(layerOf("fp8_weight_only")), TensorSpecAttr());
  EXPECT_EQ(weightOf(layerOf("w_int4_per_group_sym", 64)).getGroupSize(), 64);
  EXPECT_EQ(weightOf(layerOf("uint4_wo_32")).getSymmetric(), false);
  // ptpc_fp8: per-channel weights, per-token dynamic activations.
  TensorSpecAttr token = inputOf(layerOf("ptpc_fp8"));
  EXPECT_EQ(token.getQscheme(), QSchemeType::per_channel);
  EXPECT_EQ(token.getChAxis(), 1);
  EXPECT_EQ(token.getIsDynamic(), true);
  // mxfp4: static e8m0 weights, dynamic activations, "even" scales.
  TensorSpecAttr mx = weightOf(layerOf("mxfp4"));
  EXPECT_EQ(mx.getScaleFormat(), ScaleFormatType::e8m0);
  EXPECT_EQ(mx.getScaleCalculationMode(), ScaleCalculationMode::even);
  EXPECT_EQ(inputOf(layerOf("mxfp4")).getIsDynamic(), true);
  // nvfp4: fp4 g16, its scales quantized to fp8 per tensor.
  auto nv = dyn_cast<TwoStageSpecAttr>(layerOf("nvfp4").getWeight());
  ASSERT_TRUE(nv);
  EXPECT_EQ(nv.getFirst().getGroupSize(), 16);
  EXPECT_TRUE(nv.quantizesScales());
  // int4_fp8: progressive fp8 then int4 per channel.
  auto w4a8 = dyn_cast<TwoStageSpecAttr>(layerOf("int4_fp8").getWeight());
  ASSERT_TRUE(w4a8);
  EXPECT_FALSE(w4a8.quantizesScales());
  EXPECT_EQ(w4a8.getSecond().getDtype(), Dtype::int4);

  llvm::Expected<json::Object> bad = quantSchemeLayerJson("int5", std::nullopt);
  ASSERT_FALSE(bool(bad));
  std::string message = llvm::toString(bad.takeError());
  EXPECT_NE(message.find("unknown quantization scheme 'int5'"), std::string::npos);
  EXPECT_NE(message.find("int4_wo_128"), std::string::npos);
  llvm::Expected<json::Object> noGroup = quantSchemeLayerJson("fp8", 64);
  ASSERT_FALSE(bool(noGroup));
  EXPECT_NE(llvm::toString(noGroup.takeError()).find("--group_size does not apply"),
            std::string::npos);
}

TEST_F(QuantConfigTest, ResolutionOrder) {
  SchemeRequest request;
  request.scheme = "fp8";
  request.layerSchemes = {{"*down_proj", "int4_wo_128"},
                          {"model.layers.1.*", "int8"}};
  QuantConfig config = build(request);
  // Default exclusion of the template.
  EXPECT_FALSE(config.resolve("lm_head"));
  EXPECT_EQ(config.exclude, (std::vector<std::string>{"lm_head.*", "lm_head"}));
  // The first matching pattern wins, in the order given.
  EXPECT_EQ(weightOf(config.resolve("model.layers.1.mlp.down_proj")).getDtype(),
            Dtype::int4);
  EXPECT_EQ(weightOf(config.resolve("model.layers.1.mlp.up_proj")).getDtype(),
            Dtype::int8);
  EXPECT_EQ(weightOf(config.resolve("model.layers.0.mlp.up_proj")).getDtype(),
            Dtype::fp8_e4m3);

  // An explicit empty --exclude_layers quantizes lm_head too.
  request.excludeLayers = std::vector<std::string>{};
  EXPECT_TRUE(build(request).resolve("lm_head"));
}

TEST_F(QuantConfigTest, KvCacheAndAttention) {
  SchemeRequest request;
  request.scheme = "int4_wo_128";
  request.kvCacheDtype = "fp8";
  request.attentionDtype = "fp8";
  request.minKvScale = 0.01;
  QuantConfig config = build(request);
  LayerSpecAttr k = config.resolve("model.layers.0.self_attn.k_proj");
  // The weight keeps the scheme; the output (the cache) is fp8 per tensor.
  EXPECT_EQ(weightOf(k).getDtype(), Dtype::int4);
  EXPECT_EQ(outputOf(k).getDtype(), Dtype::fp8_e4m3);
  EXPECT_EQ(outputOf(k).getQscheme(), QSchemeType::per_tensor);
  EXPECT_EQ(outputOf(config.resolve("model.layers.0.self_attn.q_proj")).getDtype(),
            Dtype::fp8_e4m3);
  EXPECT_FALSE(outputOf(config.resolve("model.layers.0.self_attn.o_proj")));
  EXPECT_TRUE(config.softmax);
  EXPECT_EQ(config.kvCacheGroup, (std::vector<std::string>{"*k_proj", "*v_proj"}));
  EXPECT_EQ(config.minKvScale, 0.01);

  // An excluded KV projection still quantizes its cache, and only that.
  request.excludeLayers = std::vector<std::string>{"*self_attn*"};
  QuantConfig excluded = build(request);
  LayerSpecAttr v = excluded.resolve("model.layers.0.self_attn.v_proj");
  EXPECT_FALSE(weightOf(v));
  EXPECT_EQ(outputOf(v).getDtype(), Dtype::fp8_e4m3);
  EXPECT_FALSE(excluded.resolve("model.layers.0.self_attn.o_proj"));
}

TEST_F(QuantConfigTest, MoeExpertsSecondStep) {
  SchemeRequest request;
  request.scheme = "fp8";
  request.moeExpertsSecondStep = "int4_wo_per_channel";
  QuantConfig config = build(request, "mixtral");
  LayerSpecAttr expert =
      config.resolve("model.layers.0.block_sparse_moe.experts.3.w1");
  auto weight = dyn_cast_or_null<TwoStageSpecAttr>(expert.getWeight());
  ASSERT_TRUE(weight);
  EXPECT_EQ(weight.getFirst().getDtype(), Dtype::fp8_e4m3);
  EXPECT_EQ(weight.getSecond().getDtype(), Dtype::int4);
  EXPECT_EQ(weight.getSecond().getQscheme(), QSchemeType::per_channel);
  EXPECT_EQ(inputOf(expert).getDtype(), Dtype::fp8_e4m3);
  // Routers stay in float; attention is plain fp8.
  EXPECT_FALSE(config.resolve("model.layers.0.block_sparse_moe.gate"));
  EXPECT_EQ(weightOf(config.resolve("model.layers.0.self_attn.q_proj")).getDtype(),
            Dtype::fp8_e4m3);

  FailureOr<QuantConfig> dense =
      buildQuantConfig(&context, "llama", request, errors());
  EXPECT_TRUE(failed(dense));
}

TEST_F(QuantConfigTest, JsonAndAttributeRoundTrip) {
  SchemeRequest request;
  request.scheme = "fp8";
  request.kvCacheDtype = "fp8";
  request.layerSchemes = {{"*mlp*", "int8"}, {"*a*", "mxfp4"}};
  QuantConfig config = build(request);

  FailureOr<QuantConfig> fromAttr =
      QuantConfig::fromAttr(config.toAttr(&context), errors());
  ASSERT_TRUE(succeeded(fromAttr));
  EXPECT_EQ(fromAttr->toAttr(&context), config.toAttr(&context));

  FailureOr<json::Value> jsonValue = config.toJson(errors());
  ASSERT_TRUE(succeeded(jsonValue));
  std::string text;
  llvm::raw_string_ostream os(text);
  os << *jsonValue;
  FailureOr<QuantConfig> parsed =
      QuantConfig::fromJson(&context, text, "config.json", errors());
  ASSERT_TRUE(succeeded(parsed));
  // The file lists patterns sorted, as save_pretrained writes config.json
  // (json.dumps(sort_keys=True)), and reading keeps the file's order.
  std::vector<std::string> written, read;
  for (const NamedLayerSpec &entry : config.layers)
    written.push_back(entry.first);
  llvm::sort(written);
  for (const NamedLayerSpec &entry : parsed->layers)
    read.push_back(entry.first);
  EXPECT_EQ(read, written);
  EXPECT_EQ(parsed->global, config.global);
  EXPECT_EQ(parsed->exclude, config.exclude);
  EXPECT_EQ(parsed->kvCache.size(), 2u);
}

TEST_F(QuantConfigTest, JsonKeepsTheFilesPatternOrder) {
  const char *text = R"({"layer_quant_config": {
      "*z*": {"weight": null}, "*a*": {"weight": null}, "*m*": {"weight": null}}})";
  FailureOr<QuantConfig> parsed =
      QuantConfig::fromJson(&context, text, "config.json", errors());
  ASSERT_TRUE(succeeded(parsed));
  ASSERT_EQ(parsed->layers.size(), 3u);
  EXPECT_EQ(parsed->layers[0].first, "*z*");
  EXPECT_EQ(parsed->layers[1].first, "*a*");
  EXPECT_EQ(parsed->layers[2].first, "*m*");
}

TEST_F(QuantConfigTest, JsonErrors) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    message = diagnostic.str();
    return success();
  });
  auto parse = [&](llvm::StringRef text) {
    message.clear();
    return QuantConfig::fromJson(&context, text, "cfg.json", errors());
  };
  EXPECT_TRUE(failed(parse("{")));
  EXPECT_NE(message.find("cfg.json: invalid JSON"), std::string::npos);
  EXPECT_TRUE(failed(parse(R"({"quant_method": "awq"})")));
  EXPECT_NE(message.find("not a Quark configuration"), std::string::npos);
  EXPECT_TRUE(failed(parse(R"({"layer_type_quant_config": {"Conv2d": {}}})")));
  EXPECT_NE(message.find("only Linear"), std::string::npos);
  EXPECT_TRUE(failed(parse(
      R"({"global_quant_config": {"weight": {"dtype": "int9"}}})")));
  EXPECT_FALSE(message.empty());
  // A whole config.json works too.
  EXPECT_TRUE(succeeded(parse(R"({"model_type": "llama",
      "quantization_config": {"quant_method": "quark", "exclude": ["lm_head"]}})")));
}

TEST_F(QuantConfigTest, TemplateErrors) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    message = diagnostic.str();
    return success();
  });
  SchemeRequest request;
  request.scheme = "fp8";
  EXPECT_TRUE(failed(buildQuantConfig(&context, "gpt_neox", request, errors())));
  EXPECT_NE(message.find("no quantization template for model type 'gpt_neox'"),
            std::string::npos);
  request.kvCacheDtype = "int8";
  EXPECT_TRUE(failed(buildQuantConfig(&context, "llama", request, errors())));
  EXPECT_NE(message.find("unsupported --kv_cache_dtype 'int8'"), std::string::npos);
}

TEST(KvCacheScales, GroupsEachKProjWithItsVProj) {
  std::vector<std::string> names = {
      "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
      "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.k_proj",
      "model.layers.1.self_attn.v_proj", "model.layers.2.self_attn.k_proj"};
  std::vector<std::vector<std::string>> groups =
      findPatternGroups({"*k_proj", "*v_proj"}, names);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0], (std::vector<std::string>{
                           "model.layers.0.self_attn.k_proj",
                           "model.layers.0.self_attn.v_proj"}));
  EXPECT_EQ(groups[1][1], "model.layers.1.self_attn.v_proj");
  // A k_proj without its v_proj forms a group of one, as in Quark.
  EXPECT_EQ(groups[2], (std::vector<std::string>{
                           "model.layers.2.self_attn.k_proj"}));
  // Python's str.replace replaces every occurrence of the literal text.
  EXPECT_EQ(findPatternGroups({"*k_proj", "*v_proj"},
                              {"k_proj.k_proj", "v_proj.v_proj"})[0],
            (std::vector<std::string>{"k_proj.k_proj", "v_proj.v_proj"}));
  EXPECT_TRUE(findPatternGroups({}, names).empty());
}

TEST(KvCacheScales, MaxOfKAndVRaisedToTheMinimum) {
  // k observed amax 4.48, v 8.96: FP8 scales 0.01 and 0.02; both use 0.02.
  EXPECT_EQ(sharedKvScale({4.48f / 448.0f, 8.96f / 448.0f}, 0.0f),
            8.96f / 448.0f);
  EXPECT_EQ(sharedKvScale({0.5f, 0.25f}, 0.0f), 0.5f);
  // --min_kv_scale raises a smaller shared scale, never lowers one.
  EXPECT_EQ(sharedKvScale({0.01f, 0.02f}, 1.0f), 1.0f);
  EXPECT_EQ(sharedKvScale({0.01f, 0.02f}, 0.015f), 0.02f);
}

} // namespace
