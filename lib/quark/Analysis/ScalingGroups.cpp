//===- ScalingGroups.cpp - Where a per-channel scale can migrate ----------===//

#include "quark/Analysis/ScalingGroups.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace mlir::quark;

std::string ScalingGroup::producerName() const {
  if (auto linear = dyn_cast<LinearOp>(producer))
    return linear.getName().str();
  if (auto norm = dyn_cast<RMSNormOp>(producer))
    return norm.getName().value_or("rms_norm").str();
  if (auto norm = dyn_cast<LayerNormOp>(producer))
    return norm.getName().value_or("layer_norm").str();
  return producer->getName().getStringRef().str();
}

namespace {

/// The linears that read `value` as their input, following a quark.moe's
/// tokens into every expert; false when anything else reads it (then a
/// scale on it would change that reader).
bool collectLinearReaders(Value value, llvm::SmallVectorImpl<LinearOp> &out) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (auto linear = dyn_cast<LinearOp>(user)) {
      if (use.getOperandNumber() != 0)
        return false; // read as a weight or bias
      out.push_back(linear);
      continue;
    }
    if (auto moe = dyn_cast<MoEOp>(user)) {
      if (use.get() != moe.getInput())
        return false;
      for (Region &expert : moe.getExperts())
        if (expert.front().getNumArguments() < 1 ||
            !collectLinearReaders(expert.front().getArgument(0), out))
          return false;
      continue;
    }
    return false;
  }
  return !out.empty();
}

ParamOp paramOf(Value value) { return value.getDefiningOp<ParamOp>(); }

int64_t lastDim(Value value) {
  auto type = dyn_cast<ShapedType>(value.getType());
  return type && type.hasRank() && type.getRank() > 0 ? type.getShape().back()
                                                      : ShapedType::kDynamic;
}

/// The single user of `value`, if it has exactly one use.
Operation *soleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// The linear that reads `producer`'s output through ops that commute with
/// a per-channel scale, if there is exactly one such path.
LinearOp scaleCommutingReader(LinearOp producer) {
  Value out = producer.getResult();
  Operation *user = soleUser(out);
  if (!user)
    return {};
  Value through;
  if (auto attention = dyn_cast<AttentionOp>(user)) {
    if (attention.getV() != out || attention.getQ() == out ||
        attention.getK() == out ||
        attention.getNumHeads() != attention.getNumKvHeads())
      return {};
    through = attention.getResult();
  } else if (auto gated = dyn_cast<GatedActivationOp>(user)) {
    if (gated.getUp() != out || gated.getGate() == out)
      return {};
    through = gated.getResult();
  } else if (auto activation = dyn_cast<ActivationOp>(user)) {
    // relu(x / s) = relu(x) / s for s > 0; no other activation commutes.
    if (activation.getKind() != ActivationKind::relu)
      return {};
    through = activation.getResult();
  } else {
    return {};
  }
  auto reader = dyn_cast_or_null<LinearOp>(soleUser(through));
  if (!reader || reader.getInput() != through)
    return {};
  return reader;
}
} // namespace

llvm::SmallVector<ScalingGroup> mlir::quark::findScalingGroups(BlockOp block) {
  llvm::SmallVector<ScalingGroup> groups;
  // Program order, experts included: consumers are listed in it.
  llvm::DenseMap<Operation *, int64_t> position;
  block.getBody().walk([&](Operation *op) {
    position[op] = static_cast<int64_t>(position.size());
  });
  block.getBody().walk([&](Operation *op) {
    ScalingGroup group;
    group.producer = op;
    if (auto norm = dyn_cast<RMSNormOp>(op)) {
      if (norm.getGroupSize())
        return; // one weight per head slice, not per channel
      ParamOp weight = paramOf(norm.getWeight());
      if (!weight || !collectLinearReaders(norm.getResult(), group.consumers))
        return;
      group.producerParams.push_back(weight);
      group.channels = lastDim(norm.getResult());
    } else if (auto norm = dyn_cast<LayerNormOp>(op)) {
      ParamOp weight = paramOf(norm.getWeight()),
              bias = paramOf(norm.getBias());
      if (!weight || !bias ||
          !collectLinearReaders(norm.getResult(), group.consumers))
        return;
      group.producerParams.append({weight, bias});
      group.channels = lastDim(norm.getResult());
    } else if (auto linear = dyn_cast<LinearOp>(op)) {
      ParamOp weight = paramOf(linear.getWeight());
      if (!weight)
        return;
      LinearOp reader = scaleCommutingReader(linear);
      if (!reader)
        return;
      group.producerParams.push_back(weight);
      if (linear.getBias()) {
        ParamOp bias = paramOf(linear.getBias());
        if (!bias)
          return;
        group.producerParams.push_back(bias);
      }
      group.consumers.push_back(reader);
      group.channels = lastDim(linear.getResult());
    } else {
      return;
    }
    if (group.channels == ShapedType::kDynamic)
      return;
    for (LinearOp consumer : group.consumers)
      if (!paramOf(consumer.getWeight()))
        return; // a weight already rewritten (quantized) cannot be scaled
    llvm::sort(group.consumers, [&](LinearOp a, LinearOp b) {
      return position.lookup(a) < position.lookup(b);
    });
    groups.push_back(std::move(group));
  });
  return groups;
}
