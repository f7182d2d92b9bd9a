//===- HuggingFace.cpp - Hugging Face folders into quark IR ---------------===//
//
// One builder per decoder family, mirroring the Hugging Face modeling code:
// modeling_llama (llama, mistral, qwen2, qwen3 share it), modeling_mixtral
// and modeling_opt. Layer and tensor names are the Hugging Face module
// paths, so the IR's linear layers carry exactly the names Quark's layer
// patterns and exported tensors use.
//
//===----------------------------------------------------------------------===//

#include "quark/Import/HuggingFace.h"

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Support/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>

using namespace mlir;
using namespace mlir::quark;

namespace {

/// Emits the ops of one model into a function, taking weights from the
/// checkpoint header. The first error stops the import.
class ModelBuilder {
public:
  ModelBuilder(OpBuilder &builder, Location loc, const ModelConfig &config,
               const SafetensorsCheckpoint &checkpoint)
      : b(builder), loc(loc), config(config), checkpoint(checkpoint) {
    f32 = b.getF32Type();
  }

  bool failed() const { return hasError; }

  /// [batch, sequence, features] activations.
  RankedTensorType activation(int64_t features) const {
    return RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic, features}, f32);
  }

  /// Set when Linear weights may be stored quantized: their type.
  Type quantizedWeightType;

  /// A checkpoint tensor with the shape the architecture requires. A
  /// Linear weight (`linearWeight`) of a quantized checkpoint may be stored
  /// as codes (or under AutoAWQ's names): it gets a float param of the
  /// logical shape, which the quantized-checkpoint reader replaces.
  Value param(const Twine &nameTwine, ArrayRef<int64_t> shape,
              bool linearWeight = false) {
    std::string name = nameTwine.str();
    if (hasError)
      return {};
    std::optional<TensorRef> tensor = checkpoint.find(name);
    if (linearWeight && quantizedWeightType &&
        (!tensor || !isModelFloatTensorDType(tensor->info->dtype) ||
         llvm::ArrayRef<int64_t>(tensor->info->shape) != shape))
      return ParamOp::create(
          b, loc, RankedTensorType::get(shape, quantizedWeightType),
          b.getStringAttr(name), StringAttr(), /*layout=*/StringAttr());
    if (!tensor)
      return fail("the checkpoint has no tensor '" + name + "', which a " +
                  config.familyName() + " model needs");
    if (llvm::ArrayRef<int64_t>(tensor->info->shape) != shape) {
      std::string expected, actual;
      llvm::raw_string_ostream e(expected), a(actual);
      llvm::interleave(shape, e, "x");
      llvm::interleave(tensor->info->shape, a, "x");
      return fail("tensor '" + name + "' has shape [" + actual +
                  "], the config implies [" + expected + "]");
    }
    Type element;
    switch (tensor->info->dtype) {
    case TensorDType::BF16:
      element = b.getBF16Type();
      break;
    case TensorDType::F16:
      element = b.getF16Type();
      break;
    case TensorDType::F32:
      element = f32;
      break;
    default:
      return fail("tensor '" + name + "' is " +
                  tensorDTypeName(tensor->info->dtype) +
                  "; the importer takes bf16, fp16 or fp32 (unquantized) "
                  "checkpoints");
    }
    return ParamOp::create(b, loc, RankedTensorType::get(shape, element),
                           b.getStringAttr(name), StringAttr(),
                           /*layout=*/StringAttr());
  }

  Value linear(Value input, const Twine &prefix, int64_t in, int64_t out,
               bool bias) {
    Value weight = param(prefix + ".weight", {out, in}, /*linearWeight=*/true);
    Value biasValue = bias ? param(prefix + ".bias", {out}) : Value();
    if (hasError)
      return {};
    auto inputType = cast<RankedTensorType>(input.getType());
    SmallVector<int64_t> shape(inputType.getShape());
    shape.back() = out;
    return LinearOp::create(b, loc, RankedTensorType::get(shape, f32), input,
                            weight, biasValue, b.getStringAttr(prefix.str()),
                            LayerSpecAttr());
  }

  Value rmsNorm(Value input, const Twine &prefix, int64_t size,
                std::optional<int64_t> groupSize = std::nullopt) {
    Value weight = param(prefix + ".weight", {groupSize.value_or(size)});
    if (hasError)
      return {};
    return RMSNormOp::create(b, loc, input.getType(), input, weight,
                             b.getF64FloatAttr(config.normEpsilon),
                             groupSize ? b.getI64IntegerAttr(*groupSize)
                                       : IntegerAttr(),
                             b.getStringAttr(prefix.str()));
  }

  Value layerNorm(Value input, const Twine &prefix, int64_t size) {
    Value weight = param(prefix + ".weight", {size});
    Value bias = param(prefix + ".bias", {size});
    if (hasError)
      return {};
    return LayerNormOp::create(b, loc, input.getType(), input, weight, bias,
                               b.getF64FloatAttr(config.normEpsilon),
                               b.getStringAttr(prefix.str()));
  }

  Value rope(Value input) {
    RopeScalingAttr scaling;
    if (const std::optional<RopeScalingConfig> &rope = config.ropeScaling) {
      bool llama3 = rope->type == "llama3";
      scaling = RopeScalingAttr::get(
          b.getContext(), rope->type, b.getF64FloatAttr(rope->factor),
          llama3 ? b.getF64FloatAttr(rope->lowFreqFactor) : FloatAttr(),
          llama3 ? b.getF64FloatAttr(rope->highFreqFactor) : FloatAttr(),
          llama3 ? b.getI64IntegerAttr(rope->originalMaxPositionEmbeddings)
                 : IntegerAttr());
    }
    return RopeOp::create(b, loc, input.getType(), input,
                          b.getI64IntegerAttr(config.headDim),
                          b.getF64FloatAttr(config.ropeTheta), scaling);
  }

  Value attention(Value q, Value k, Value v) {
    auto slidingWindow = config.slidingWindow
                             ? b.getI64IntegerAttr(*config.slidingWindow)
                             : IntegerAttr();
    return AttentionOp::create(
        b, loc, activation(config.numHeads * config.headDim), q, k, v,
        b.getI64IntegerAttr(config.numHeads),
        b.getI64IntegerAttr(config.numKVHeads),
        b.getI64IntegerAttr(config.headDim),
        b.getF64FloatAttr(1.0 / std::sqrt(static_cast<double>(config.headDim))),
        slidingWindow, TensorSpecAttr(), FloatAttr(), FloatAttr());
  }

  ActivationKind activationKind() const {
    return *symbolizeActivationKind(config.hiddenAct);
  }

  Value add(Value lhs, Value rhs) {
    return arith::AddFOp::create(b, loc, lhs, rhs);
  }

  /// Opens a quark.block named `name` over `input`; `build` fills the body
  /// from the block argument and returns the value to yield.
  Value block(const Twine &name, Value input,
              function_ref<Value(Value)> build) {
    auto op = BlockOp::create(b, loc, TypeRange{input.getType()},
                              b.getStringAttr(name.str()), ValueRange{input});
    Block *body = b.createBlock(&op.getBody(), {}, {input.getType()}, {loc});
    Value result = build(body->getArgument(0));
    if (!hasError)
      YieldOp::create(b, loc, ValueRange{result});
    b.setInsertionPointAfter(op);
    return op.getResult(0);
  }

  OpBuilder &b;
  Location loc;
  const ModelConfig &config;
  const SafetensorsCheckpoint &checkpoint;
  Type f32;
  std::string error;

private:
  Value fail(const Twine &message) {
    if (!hasError)
      error = message.str();
    hasError = true;
    return {};
  }
  bool hasError = false;
};

/// The attention half of a llama-family decoder layer, returning the
/// residual stream after it.
Value llamaAttention(ModelBuilder &m, Value x, const std::string &prefix) {
  const ModelConfig &c = m.config;
  int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim;
  Value normed = m.rmsNorm(x, prefix + ".input_layernorm", c.hiddenSize);
  if (m.failed())
    return {};
  std::string attn = prefix + ".self_attn";
  Value q = m.linear(normed, attn + ".q_proj", c.hiddenSize, qDim, c.qkvBias);
  Value k = m.linear(normed, attn + ".k_proj", c.hiddenSize, kvDim, c.qkvBias);
  Value v = m.linear(normed, attn + ".v_proj", c.hiddenSize, kvDim, c.qkvBias);
  if (m.failed())
    return {};
  if (c.qkNorm) {
    q = m.rmsNorm(q, attn + ".q_norm", qDim, c.headDim);
    k = m.rmsNorm(k, attn + ".k_norm", kvDim, c.headDim);
    if (m.failed())
      return {};
  }
  Value context = m.attention(m.rope(q), m.rope(k), v);
  Value out =
      m.linear(context, attn + ".o_proj", qDim, c.hiddenSize, c.oProjBias);
  if (m.failed())
    return {};
  return m.add(x, out);
}

/// SwiGLU-style MLP: down(act(gate(x)) * up(x)).
Value gatedMLP(ModelBuilder &m, Value x, const std::string &gate,
               const std::string &up, const std::string &down, bool bias) {
  const ModelConfig &c = m.config;
  Value g = m.linear(x, gate, c.hiddenSize, c.intermediateSize, bias);
  Value u = m.linear(x, up, c.hiddenSize, c.intermediateSize, bias);
  if (m.failed())
    return {};
  Value act = GatedActivationOp::create(m.b, m.loc, g.getType(), g, u,
                                        m.activationKind());
  return m.linear(act, down, c.intermediateSize, c.hiddenSize, bias);
}

Value mixtralMoE(ModelBuilder &m, Value x, const std::string &prefix) {
  const ModelConfig &c = m.config;
  std::string moe = prefix + ".block_sparse_moe";
  Value logits = m.linear(x, moe + ".gate", c.hiddenSize, c.numExperts, false);
  if (m.failed())
    return {};
  auto routed = cast<RankedTensorType>(logits.getType());
  SmallVector<int64_t> shape(routed.getShape());
  shape.back() = c.expertsPerToken;
  auto router = TopKRouterOp::create(
      m.b, m.loc, RankedTensorType::get(shape, m.f32),
      RankedTensorType::get(shape, m.b.getI32Type()), logits,
      m.b.getI64IntegerAttr(c.expertsPerToken), m.b.getBoolAttr(true));
  auto op = MoEOp::create(m.b, m.loc, x.getType(), x, router.getWeights(),
                          router.getIndices(), c.numExperts);
  auto tokens =
      RankedTensorType::get({ShapedType::kDynamic, c.hiddenSize}, m.f32);
  for (int64_t e = 0; e < c.numExperts; ++e) {
    Block *body = m.b.createBlock(&op.getExperts()[e], {}, {tokens}, {m.loc});
    std::string expert = moe + ".experts." + std::to_string(e);
    Value out = gatedMLP(m, body->getArgument(0), expert + ".w1",
                         expert + ".w3", expert + ".w2", false);
    if (m.failed())
      return {};
    YieldOp::create(m.b, m.loc, ValueRange{out});
  }
  m.b.setInsertionPointAfter(op);
  return op.getResult();
}

Value llamaLayer(ModelBuilder &m, Value x, const std::string &prefix) {
  const ModelConfig &c = m.config;
  Value h = llamaAttention(m, x, prefix);
  if (m.failed())
    return {};
  Value normed =
      m.rmsNorm(h, prefix + ".post_attention_layernorm", c.hiddenSize);
  if (m.failed())
    return {};
  std::string mlp = prefix + ".mlp";
  Value out = c.isMoE()
                  ? mixtralMoE(m, normed, prefix)
                  : gatedMLP(m, normed, mlp + ".gate_proj", mlp + ".up_proj",
                             mlp + ".down_proj", c.mlpBias);
  if (m.failed())
    return {};
  return m.add(h, out);
}

Value optLayer(ModelBuilder &m, Value x, const std::string &prefix) {
  const ModelConfig &c = m.config;
  Value normed = m.layerNorm(x, prefix + ".self_attn_layer_norm", c.hiddenSize);
  if (m.failed())
    return {};
  std::string attn = prefix + ".self_attn";
  Value q =
      m.linear(normed, attn + ".q_proj", c.hiddenSize, c.hiddenSize, c.qkvBias);
  Value k =
      m.linear(normed, attn + ".k_proj", c.hiddenSize, c.hiddenSize, c.qkvBias);
  Value v =
      m.linear(normed, attn + ".v_proj", c.hiddenSize, c.hiddenSize, c.qkvBias);
  if (m.failed())
    return {};
  Value context = m.attention(q, k, v);
  Value out = m.linear(context, attn + ".out_proj", c.hiddenSize, c.hiddenSize,
                       c.oProjBias);
  if (m.failed())
    return {};
  Value h = m.add(x, out);
  Value normed2 = m.layerNorm(h, prefix + ".final_layer_norm", c.hiddenSize);
  Value up = m.linear(normed2, prefix + ".fc1", c.hiddenSize,
                      c.intermediateSize, c.mlpBias);
  if (m.failed())
    return {};
  Value act =
      ActivationOp::create(m.b, m.loc, up.getType(), up, m.activationKind());
  Value down = m.linear(act, prefix + ".fc2", c.intermediateSize, c.hiddenSize,
                        c.mlpBias);
  if (m.failed())
    return {};
  return m.add(h, down);
}

/// Builds @forward; returns false after recording the first error.
bool buildForward(ModelBuilder &m, func::FuncOp forward) {
  const ModelConfig &c = m.config;
  bool opt = c.family == ModelFamily::OPT;
  std::string base = opt ? "model.decoder" : "model";
  Block *entry = forward.addEntryBlock();
  m.b.setInsertionPointToStart(entry);
  Value ids = entry->getArgument(0);

  std::string embedName = base + ".embed_tokens.weight";
  Value table = m.param(embedName, {c.vocabSize, c.hiddenSize});
  if (m.failed())
    return false;
  Value h =
      EmbeddingOp::create(m.b, m.loc, m.activation(c.hiddenSize), ids, table,
                          m.b.getStringAttr(base + ".embed_tokens"));
  if (opt) {
    Value positions =
        m.param(base + ".embed_positions.weight",
                {c.maxPositionEmbeddings + c.positionOffset, c.hiddenSize});
    if (m.failed())
      return false;
    h = PositionEmbeddingOp::create(
        m.b, m.loc, h.getType(), h, positions,
        m.b.getI64IntegerAttr(c.positionOffset),
        m.b.getStringAttr(base + ".embed_positions"));
  }

  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string prefix = base + ".layers." + std::to_string(i);
    h = m.block(prefix, h, [&](Value x) {
      return opt ? optLayer(m, x, prefix) : llamaLayer(m, x, prefix);
    });
    if (m.failed())
      return false;
  }

  h = opt ? m.layerNorm(h, base + ".final_layer_norm", c.hiddenSize)
          : m.rmsNorm(h, base + ".norm", c.hiddenSize);
  if (m.failed())
    return false;
  // A tied head reads the embedding table; the layer is still "lm_head".
  Value headWeight =
      c.tieWordEmbeddings && !m.checkpoint.find("lm_head.weight")
          ? m.param(embedName, {c.vocabSize, c.hiddenSize})
          : m.param("lm_head.weight", {c.vocabSize, c.hiddenSize});
  if (m.failed())
    return false;
  Value logits =
      LinearOp::create(m.b, m.loc, m.activation(c.vocabSize), h, headWeight,
                       Value(), m.b.getStringAttr("lm_head"), LayerSpecAttr());
  func::ReturnOp::create(m.b, m.loc, logits);
  return true;
}

} // namespace

FailureOr<OwningOpRef<ModuleOp>>
mlir::quark::importHuggingFaceModel(MLIRContext *context, StringRef modelDir,
                                    Location loc,
                                    const HuggingFaceImportOptions &options) {
  context->loadDialect<QuarkDialect, arith::ArithDialect, func::FuncDialect>();
  llvm::Expected<ModelConfig> config = readModelConfig(modelDir);
  if (!config)
    return emitError(loc) << llvm::toString(config.takeError());
  llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>> checkpoint =
      SafetensorsCheckpoint::open(modelDir);
  if (!checkpoint)
    return emitError(loc) << llvm::toString(checkpoint.takeError());

  llvm::SmallString<256> absolute(modelDir);
  llvm::sys::fs::make_absolute(absolute);
  llvm::sys::path::remove_dots(absolute, /*remove_dot_dot=*/true);

  OpBuilder builder(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr(kModelDirAttr, builder.getStringAttr(absolute));
  (*module)->setAttr(kModelTypeAttr, builder.getStringAttr(config->modelType));
  if (!config->architecture.empty())
    (*module)->setAttr(kArchitectureAttr,
                       builder.getStringAttr(config->architecture));
  // The dtype the model runs in, as `torch_dtype` says (Quark loads with
  // torch_dtype="auto"); without it, the checkpoint's embedding dtype.
  std::string dtype = config->torchDtype;
  if (dtype != "bfloat16" && dtype != "float16" && dtype != "float32") {
    dtype = "float32";
    for (const std::string &name : (*checkpoint)->names())
      if (llvm::StringRef(name).ends_with("embed_tokens.weight")) {
        TensorDType stored = (*checkpoint)->find(name)->info->dtype;
        dtype = stored == TensorDType::BF16  ? "bfloat16"
                : stored == TensorDType::F16 ? "float16"
                                             : "float32";
      }
  }
  (*module)->setAttr(kModelDtypeAttr, builder.getStringAttr(dtype));

  builder.setInsertionPointToStart(module->getBody());
  auto idsType = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, builder.getI32Type());
  auto logitsType = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, config->vocabSize},
      builder.getF32Type());
  auto forward =
      func::FuncOp::create(builder, loc, kForwardFunction,
                           builder.getFunctionType({idsType}, {logitsType}));
  ModelBuilder model(builder, loc, *config, **checkpoint);
  if (options.quantizedLinearWeights)
    model.quantizedWeightType = dtype == "bfloat16"  ? builder.getBF16Type()
                                : dtype == "float16" ? builder.getF16Type()
                                                     : builder.getF32Type();
  if (!buildForward(model, forward))
    return emitError(loc) << modelDir << ": " << model.error;
  if (failed(verify(*module)))
    return failure();
  return std::move(module);
}

void mlir::quark::registerHuggingFaceImport() {
  static TranslateToMLIRRegistration importHF(
      "import-hf",
      "Import a Hugging Face model folder (config.json + safetensors)",
      [](llvm::SourceMgr &sourceMgr,
         MLIRContext *context) -> OwningOpRef<Operation *> {
        // The input is the folder's config.json (quark-translate passes a
        // folder argument as its config.json).
        StringRef configPath =
            sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())
                ->getBufferIdentifier();
        StringRef dir = llvm::sys::path::parent_path(configPath);
        if (dir.empty())
          dir = ".";
        Location loc = FileLineColLoc::get(context, configPath, 0, 0);
        FailureOr<OwningOpRef<ModuleOp>> module =
            importHuggingFaceModel(context, dir, loc);
        if (failed(module))
          return nullptr;
        return OwningOpRef<Operation *>(module->release());
      },
      [](DialectRegistry &registry) {
        registry.insert<QuarkDialect, arith::ArithDialect, func::FuncDialect>();
      });
}
