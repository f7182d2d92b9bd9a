//===- ShareWeightScales.cpp - One per-tensor scale per fused group -------===//
//
// Quark's shared_scale_groups on the frozen model: the weights of the
// linears a server fuses (q/k/v, gate/up) get one per-tensor scale from
// their joint extremes, streamed from the checkpoint.
//
//===----------------------------------------------------------------------===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <map>

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKSHAREWEIGHTSCALES
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// A weight quantizer with a per-tensor scale the pass can set.
struct Member {
  LinearOp linear;
  Operation *quantizer; // fake_quant (per-tensor) or two_stage_fake_quant
  ParamOp weight;
  Attribute spec;
};

/// The member for `linear`'s weight quantizer, if it has a per-tensor scale
/// computed from the weight itself.
std::optional<Member> memberOf(LinearOp linear) {
  Operation *quantizer = linear.getWeight().getDefiningOp();
  if (auto twoStage = dyn_cast_or_null<TwoStageFakeQuantOp>(quantizer)) {
    auto weight = twoStage.getInput().getDefiningOp<ParamOp>();
    if (!weight || twoStage.getSecondScale() ||
        !twoStage.getSpec().quantizesScales())
      return std::nullopt;
    return Member{linear, quantizer, weight, twoStage.getSpec()};
  }
  auto fakeQuant = dyn_cast_or_null<FakeQuantOp>(quantizer);
  if (!fakeQuant || !fakeQuant.getScale())
    return std::nullopt;
  auto weight = fakeQuant.getInput().getDefiningOp<ParamOp>();
  auto compute = fakeQuant.getScale().getDefiningOp<ComputeQParamsOp>();
  TensorSpecAttr spec = fakeQuant.getSpec();
  if (!weight || !compute || compute.getInput() != fakeQuant.getInput() ||
      spec.getQscheme() != QSchemeType::per_tensor ||
      spec.getDtype() == Dtype::mx)
    return std::nullopt;
  return Member{linear, quantizer, weight, spec};
}

struct ShareWeightScalesPass
    : mlir::quark::impl::QuarkShareWeightScalesBase<ShareWeightScalesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<llvm::StringMap<size_t>> groupOf = parseGroups();
    if (failed(groupOf))
      return signalPassFailure();

    // (parent module, group) -> linears, in IR order.
    std::map<std::pair<std::string, size_t>, std::vector<LinearOp>> groups;
    module.walk([&](LinearOp linear) {
      auto [parent, leaf] = linear.getName().rsplit('.');
      if (leaf.empty())
        return;
      auto it = groupOf->find(leaf);
      if (it != groupOf->end())
        groups[{parent.str(), it->second}].push_back(linear);
    });
    if (groups.empty())
      return;

    auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
    if (!modelDir) {
      module.emitError() << "the module has no '" << kModelDirAttr << "'";
      return signalPassFailure();
    }
    WeightStore store(modelDir.str());
    store.setCaching(false);
    Type modelFloat = modelFloatType(module);
    for (auto &[parentAndGroup, linears] : groups)
      if (failed(share(linears, store, modelFloat)))
        return signalPassFailure();
  }

private:
  /// Layer name -> group index.
  FailureOr<llvm::StringMap<size_t>> parseGroups() {
    llvm::StringMap<size_t> groupOf;
    llvm::SmallVector<llvm::StringRef> groupTexts;
    llvm::StringRef(groups).split(groupTexts, ';', -1, /*KeepEmpty=*/false);
    for (auto [index, text] : llvm::enumerate(groupTexts)) {
      llvm::SmallVector<llvm::StringRef> names;
      text.split(names, ',', -1, /*KeepEmpty=*/false);
      for (llvm::StringRef name : names) {
        name = name.trim();
        if (name.empty() || name.contains('.')) {
          getOperation().emitError()
              << "quark-share-weight-scales: '" << name
              << "' is not a layer name (the last component of a linear's "
                 "name, such as q_proj)";
          return failure();
        }
        if (!groupOf.try_emplace(name, index).second) {
          getOperation().emitError()
              << "quark-share-weight-scales: '" << name << "' is in two groups";
          return failure();
        }
      }
    }
    return groupOf;
  }

  /// Gives the members of one group that share the most common spec one
  /// scale.
  LogicalResult share(llvm::ArrayRef<LinearOp> linears, WeightStore &store,
                      Type modelFloat) {
    std::vector<Member> members;
    std::vector<LinearOp> unshareable;
    llvm::DenseMap<Attribute, int> specCounts;
    for (LinearOp linear : linears) {
      if (std::optional<Member> member = memberOf(linear)) {
        members.push_back(*member);
        ++specCounts[member->spec];
      } else {
        unshareable.push_back(linear);
      }
    }
    if (members.size() < 2)
      return success();
    for (LinearOp linear : unshareable)
      linear.emitWarning()
          << "'" << linear.getName()
          << "' has no per-tensor weight scale to share with the rest of its "
             "shared-scale group (float, or quantized per channel, group or "
             "block): a server fusing them needs one scheme";
    // Members quantized otherwise (a layer override) keep their own scale.
    Attribute spec = members.front().spec;
    for (const Member &member : members)
      if (specCounts[member.spec] > specCounts[spec])
        spec = member.spec;
    std::vector<Member> sharing;
    for (Member member : members) {
      if (member.spec == spec) {
        sharing.push_back(member);
        continue;
      }
      member.linear.emitWarning()
          << "'" << member.linear.getName()
          << "' is quantized unlike the rest of its shared-scale group ("
          << member.spec << ", not " << spec << "): it keeps its own scale";
    }
    if (sharing.size() < 2)
      return success();

    // Joint extremes, weight by weight.
    MinMaxStats joint = {{0.0f}, {0.0f}};
    for (const Member &member : sharing) {
      FailureOr<MinMaxStats> stats = extremes(member, store);
      if (failed(stats))
        return failure();
      joint.min[0] = std::min(joint.min[0], stats->min[0]);
      joint.max[0] = std::max(joint.max[0], stats->max[0]);
    }

    Operation *first = sharing.front().quantizer;
    auto emitError = [&] { return first->emitError(); };
    OpBuilder builder(first);
    if (auto twoStage = dyn_cast<TwoStageFakeQuantOp>(first)) {
      Type element = twoStage.getInput().getType().getElementType();
      FailureOr<TensorQuantSpec> blocks =
          getTensorQuantSpec(twoStage.getSpec().getFirst(), element, emitError);
      FailureOr<TensorQuantSpec> scales = getTensorQuantSpec(
          twoStage.getSpec().getSecond(), element, emitError);
      if (failed(blocks) || failed(scales))
        return failure();
      float amax = std::max(std::fabs(joint.min[0]), std::fabs(joint.max[0]));
      float secondScale = scaleQuantSecondScale(*blocks, *scales, amax);
      for (const Member &member : sharing) {
        builder.setInsertionPoint(member.quantizer);
        Value scale = arith::ConstantOp::create(
            builder, member.quantizer->getLoc(),
            makeFloats(RankedTensorType::get({}, builder.getF32Type()),
                       {secondScale}));
        cast<TwoStageFakeQuantOp>(member.quantizer)
            .getSecondScaleMutable()
            .assign(scale);
      }
    } else {
      auto fakeQuant = cast<FakeQuantOp>(first);
      FailureOr<TensorQuantSpec> numerics =
          getTensorQuantSpec(fakeQuant.getSpec(), modelFloat, emitError);
      if (failed(numerics))
        return failure();
      llvm::Expected<QuantParams> params = computeQuantParams(*numerics, joint);
      if (!params)
        return first->emitError() << llvm::toString(params.takeError());
      for (const Member &member : sharing) {
        auto quantizer = cast<FakeQuantOp>(member.quantizer);
        auto compute = quantizer.getScale().getDefiningOp<ComputeQParamsOp>();
        builder.setInsertionPoint(quantizer);
        Location loc = quantizer.getLoc();
        quantizer.getScaleMutable().assign(arith::ConstantOp::create(
            builder, loc,
            makeFloats(cast<ShapedType>(quantizer.getScale().getType()),
                       params->scales)));
        if (quantizer.getZeroPoint())
          quantizer.getZeroPointMutable().assign(arith::ConstantOp::create(
              builder, loc,
              makeCodes(cast<ShapedType>(quantizer.getZeroPoint().getType()),
                        params->zeroPoints)));
        if (compute->use_empty())
          compute->erase();
      }
    }
    ++numGroups;
    numWeights += sharing.size();
    return success();
  }

  /// The weight's minimum and maximum, streamed from the checkpoint.
  FailureOr<MinMaxStats> extremes(const Member &member, WeightStore &store) {
    ParamOp weight = member.weight;
    std::string name = weight.getName().str();
    llvm::StringRef file = weight.getFile().value_or("");
    llvm::Expected<MinMaxStats> stats =
        streamedExtremes(store, name, file, weight.getType().getShape());
    store.release(name, file);
    if (!stats)
      return member.quantizer->emitError()
             << "'" << name << "': " << llvm::toString(stats.takeError());
    return *stats;
  }
};

} // namespace
