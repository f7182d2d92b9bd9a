//===- QuarkModelOps.cpp - Transformer building blocks --------------------===//

#include "quark/Dialect/Quark/IR/QuarkOps.h"

using namespace mlir;
using namespace mlir::quark;

/// Whether two dimensions can be equal (dynamic matches anything).
static bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

static bool leadingDimsAgree(ShapedType a, ShapedType b) {
  if (a.getRank() != b.getRank())
    return false;
  for (int64_t i = 0; i + 1 < a.getRank(); ++i)
    if (!dimsAgree(a.getDimSize(i), b.getDimSize(i)))
      return false;
  return true;
}

static int64_t lastDim(ShapedType type) {
  return type.getRank() == 0 ? 1 : type.getDimSize(type.getRank() - 1);
}

LogicalResult
RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        StringRef type, FloatAttr factor,
                        FloatAttr lowFreqFactor, FloatAttr highFreqFactor,
                        IntegerAttr originalMaxPositions) {
  if (factor.getValueAsDouble() <= 0)
    return emitError() << "rope scaling 'factor' must be positive";
  if (type == "linear")
    return success();
  if (type != "llama3")
    return emitError() << "unsupported rope scaling type '" << type
                       << "' (supported: linear, llama3)";
  if (!lowFreqFactor || !highFreqFactor || !originalMaxPositions)
    return emitError() << "llama3 rope scaling needs 'low_freq_factor', "
                          "'high_freq_factor' and "
                          "'original_max_position_embeddings'";
  if (lowFreqFactor.getValueAsDouble() >= highFreqFactor.getValueAsDouble())
    return emitError() << "llama3 rope scaling needs low_freq_factor < "
                          "high_freq_factor";
  return success();
}

LogicalResult EmbeddingOp::verify() {
  auto ids = getIds().getType();
  auto table = getTable().getType();
  auto result = getResult().getType();
  if (table.getRank() != 2)
    return emitOpError("expects a [vocab, hidden] table");
  if (result.getRank() != ids.getRank() + 1 ||
      !dimsAgree(lastDim(result), table.getDimSize(1)))
    return emitOpError("expects the result to be the ids' shape plus the "
                       "table's hidden dimension");
  for (int64_t i = 0; i < ids.getRank(); ++i)
    if (!dimsAgree(ids.getDimSize(i), result.getDimSize(i)))
      return emitOpError("expects the result to be the ids' shape plus the "
                         "table's hidden dimension");
  return success();
}

LogicalResult PositionEmbeddingOp::verify() {
  auto input = getInput().getType();
  auto table = getTable().getType();
  if (input.getRank() != 3 || table.getRank() != 2)
    return emitOpError("expects a [batch, sequence, hidden] input and a "
                       "[positions, hidden] table");
  if (!dimsAgree(lastDim(input), table.getDimSize(1)))
    return emitOpError("expects the table's hidden size to match the input");
  if (static_cast<int64_t>(getOffset()) < 0)
    return emitOpError("expects a non-negative offset");
  if (input != getResult().getType())
    return emitOpError("expects the result to have the input's type");
  return success();
}

/// Each spec of `quant` must apply to the tensor it quantizes (a group size
/// that divides the grouped dimension, an axis in range); the error names
/// the layer and the tensor, since every layer of a model shares one
/// location.
static LogicalResult verifyLayerSpecFits(LinearOp op, LayerSpecAttr layer,
                                         RankedTensorType input,
                                         RankedTensorType weight,
                                         RankedTensorType result) {
  auto fits = [&](Attribute field, RankedTensorType type,
                  StringRef tensor) -> LogicalResult {
    if (!field)
      return success();
    SmallVector<TensorSpecAttr, 2> specs;
    if (auto spec = dyn_cast<TensorSpecAttr>(field)) {
      specs.push_back(spec);
    } else {
      auto twoStage = cast<TwoStageSpecAttr>(field);
      specs.push_back(twoStage.getFirst());
      // A scale-quantizing second stage applies to the first's scales.
      if (!twoStage.quantizesScales())
        specs.push_back(twoStage.getSecond());
    }
    for (TensorSpecAttr spec : specs)
      if (failed(getParamShape(spec, type.getShape(), [&] {
            return op.emitOpError() << "'" << op.getName() << "': the "
                                    << tensor << " spec does not fit its "
                                    << type.getShape().size() << "-d shape: ";
          })))
        return failure();
    return success();
  };
  if (failed(fits(layer.getWeight(), weight, "weight")) ||
      failed(fits(layer.getInputTensors(), input, "input")) ||
      failed(fits(layer.getOutputTensors(), result, "output")))
    return failure();
  return success();
}

LogicalResult LinearOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  auto result = getResult().getType();
  if (weight.getRank() != 2)
    return emitOpError("expects an [out_features, in_features] weight");
  if (input.getRank() < 1 || !dimsAgree(lastDim(input), weight.getDimSize(1)))
    return emitOpError() << "expects input features (" << lastDim(input)
                         << ") to match the weight's in_features ("
                         << weight.getDimSize(1) << ")";
  if (!leadingDimsAgree(input, result) ||
      !dimsAgree(lastDim(result), weight.getDimSize(0)))
    return emitOpError("expects the result to be the input's leading "
                       "dimensions plus out_features");
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 ||
        !dimsAgree(biasType.getDimSize(0), weight.getDimSize(0)))
      return emitOpError("expects an [out_features] bias");
  }
  if (LayerSpecAttr layer = getQuantAttr())
    return verifyLayerSpecFits(*this, layer, input, weight, result);
  return success();
}

LogicalResult RMSNormOp::verify() {
  auto input = getInput().getType();
  auto weight = getWeight().getType();
  if (input != getResult().getType())
    return emitOpError("expects the result to have the input's type");
  int64_t normalized = getGroupSize().value_or(lastDim(input));
  if (getGroupSize() &&
      (*getGroupSize() <= 0 || (!ShapedType::isDynamic(lastDim(input)) &&
                                lastDim(input) % *getGroupSize() != 0)))
    return emitOpError("expects 'group_size' to divide the last dimension");
  if (weight.getRank() != 1 || !dimsAgree(weight.getDimSize(0), normalized))
    return emitOpError() << "expects a weight of " << normalized << " elements";
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError("expects a non-negative epsilon");
  return success();
}

LogicalResult HadamardOp::verify() {
  auto input = getInput().getType();
  if (input.getRank() == 0 || ShapedType::isDynamic(lastDim(input)))
    return emitOpError("expects a static last dimension to rotate");
  return success();
}

LogicalResult LayerNormOp::verify() {
  auto input = getInput().getType();
  if (input != getResult().getType())
    return emitOpError("expects the result to have the input's type");
  for (Value param : {getWeight(), getBias()}) {
    auto type = cast<RankedTensorType>(param.getType());
    if (type.getRank() != 1 || !dimsAgree(type.getDimSize(0), lastDim(input)))
      return emitOpError("expects weight and bias of the last dimension's "
                         "size");
  }
  return success();
}

LogicalResult RopeOp::verify() {
  auto input = getInput().getType();
  if (input != getResult().getType() || input.getRank() != 3)
    return emitOpError("expects [batch, sequence, heads * head_dim] input "
                       "and result of the same type");
  int64_t headDim = getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError("expects a positive, even 'head_dim'");
  if (!ShapedType::isDynamic(lastDim(input)) && lastDim(input) % headDim != 0)
    return emitOpError("expects the last dimension to be whole heads");
  if (getTheta().convertToDouble() <= 0)
    return emitOpError("expects a positive 'theta'");
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
    return emitOpError("expects positive head counts with num_heads a "
                       "multiple of num_kv_heads");
  auto q = getQ().getType(), k = getK().getType(), v = getV().getType();
  auto result = getResult().getType();
  for (RankedTensorType type : {q, k, v, result})
    if (type.getRank() != 3)
      return emitOpError("expects [batch, sequence, features] tensors");
  if (!dimsAgree(lastDim(q), heads * headDim) ||
      !dimsAgree(lastDim(result), heads * headDim))
    return emitOpError("expects q and the result to hold num_heads * "
                       "head_dim features");
  if (!dimsAgree(lastDim(k), kvHeads * headDim) ||
      !dimsAgree(lastDim(v), kvHeads * headDim))
    return emitOpError("expects k and v to hold num_kv_heads * head_dim "
                       "features");
  if (!leadingDimsAgree(q, k) || !leadingDimsAgree(q, v) ||
      !leadingDimsAgree(q, result))
    return emitOpError("expects q, k, v and the result to agree on batch "
                       "and sequence");
  if (getSlidingWindow() && *getSlidingWindow() <= 0)
    return emitOpError("expects a positive 'sliding_window'");
  if (TensorSpecAttr spec = getSoftmaxSpecAttr()) {
    if (spec.getQscheme() != QSchemeType::per_tensor ||
        spec.getIsDynamic().value_or(false) ||
        !spec.getSymmetric().value_or(true) || spec.isBlockFloat() ||
        spec.isCast())
      return emitOpError("expects a static, symmetric, per-tensor "
                         "'softmax_spec' (Quark's softmax_quant_spec)");
  } else if (getSoftmaxMax() || getSoftmaxScale()) {
    return emitOpError("expects 'softmax_max' and 'softmax_scale' only with "
                       "a 'softmax_spec'");
  }
  if (getSoftmaxScale() && !(getSoftmaxScale()->convertToFloat() > 0.0f))
    return emitOpError("expects a positive 'softmax_scale'");
  return success();
}

LogicalResult TopKRouterOp::verify() {
  auto logits = getLogits().getType();
  int64_t experts = lastDim(logits);
  int64_t topK = static_cast<int64_t>(getTopK());
  if (topK <= 0 || (!ShapedType::isDynamic(experts) && topK > experts))
    return emitOpError("expects 1 <= top_k <= number of experts");
  for (auto type : {cast<ShapedType>(getWeights().getType()),
                    cast<ShapedType>(getIndices().getType())})
    if (!leadingDimsAgree(logits, type) || !dimsAgree(lastDim(type), getTopK()))
      return emitOpError("expects weights and indices of the logits' shape "
                         "with top_k in the last dimension");
  return success();
}

LogicalResult MoEOp::verify() {
  auto input = getInput().getType();
  if (getWeights().getType().getShape() != getIndices().getType().getShape())
    return emitOpError("expects routing weights and indices of one shape");
  if (input != getResult().getType())
    return emitOpError("expects the result to have the input's type");
  if (getExperts().empty())
    return emitOpError("expects at least one expert region");
  return success();
}

LogicalResult MoEOp::verifyRegions() {
  auto input = getInput().getType();
  auto tokens = RankedTensorType::get({ShapedType::kDynamic, lastDim(input)},
                                      input.getElementType());
  for (auto [index, region] : llvm::enumerate(getExperts())) {
    Block &body = region.front();
    if (body.getNumArguments() != 1 || body.getArgument(0).getType() != tokens)
      return emitOpError() << "expects expert " << index
                           << " to take one argument of type " << tokens;
    auto yield = cast<YieldOp>(body.getTerminator());
    if (yield.getValues().size() != 1 ||
        yield.getValues().front().getType() != tokens)
      return emitOpError() << "expects expert " << index << " to yield "
                           << tokens;
  }
  return success();
}

LogicalResult BlockOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getArgumentTypes() != getInputs().getTypes())
    return emitOpError("expects the region's arguments to match the inputs");
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResults().getTypes())
    return emitOpError("expects the region to yield the results' types");
  return success();
}
