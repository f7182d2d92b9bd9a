//===- SmoothQuant.cpp - Migrate activation outliers into the weights ----===//
//
// Per decoder layer: one run records each scaling group's per-channel
// activation maximum (the float function, and so every group's input, is
// unchanged by smoothing the others); then each group's scale is folded
// into its producer and consumers. The math is in Algorithms/SmoothQuant.
//
//===----------------------------------------------------------------------===//

#include "Layerwise.h"

#include "quark/Algorithms/SmoothQuant.h"
#include "quark/Analysis/ScalingGroups.h"
#include "quark/Transforms/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKSMOOTHQUANT
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// Rows and columns of a weight viewed as [first dim, rest].
std::pair<int64_t, int64_t> matrixShape(const Tensor &value) {
  int64_t rows = value.shape().empty() ? 1 : value.shape().front();
  return {rows, rows == 0 ? 0 : value.numElements() / rows};
}

struct SmoothQuantPass
    : mlir::quark::impl::QuarkSmoothQuantBase<SmoothQuantPass> {
  using Base::Base;
  // Reads the calibration and checkpoint options.
  friend LayerwiseOptions mlir::quark::layerwiseOptions<SmoothQuantPass>(
      const SmoothQuantPass &, llvm::StringRef, llvm::json::Object);

  llvm::Error smoothLayer(LayerContext &layer) {
    SmallVector<ScalingGroup> groups;
    for (ScalingGroup &group : findScalingGroups(layer.getBlock()))
      if (llvm::any_of(group.consumers,
                       [](LinearOp linear) { return linear.getQuantAttr(); }))
        groups.push_back(std::move(group));
    if (groups.empty())
      return llvm::Error::success();

    // Activation maxima per group, from every consumer's input.
    llvm::DenseMap<Operation *, size_t> groupOf;
    for (auto [index, group] : llvm::enumerate(groups))
      for (LinearOp consumer : group.consumers)
        groupOf[consumer] = index;
    std::vector<std::vector<float>> activationMax(groups.size());
    llvm::Expected<std::vector<std::vector<Tensor>>> ran =
        layer.run([&](LinearOp linear, const Tensor &input) -> llvm::Error {
          auto found = groupOf.find(linear);
          if (found == groupOf.end())
            return llvm::Error::success();
          const ScalingGroup &group = groups[found->second];
          if (input.dim(-1) != group.channels)
            return layerError(
                llvm::formatv("'{0}' reads {1} channels, its group has {2}",
                              linear.getName(), input.dim(-1), group.channels));
          accumulateChannelAbsMax(input.floats(), group.channels,
                                  activationMax[found->second]);
          return llvm::Error::success();
        });
    if (!ran)
      return ran.takeError();

    for (auto [index, group] : llvm::enumerate(groups)) {
      if (activationMax[index].empty())
        continue; // an MoE group no token reached
      std::vector<Tensor> weights;
      std::vector<float> weightMax;
      for (LinearOp consumer : group.consumers) {
        llvm::Expected<Tensor> weight =
            layer.read(consumer.getWeight().getDefiningOp<ParamOp>());
        if (!weight)
          return weight.takeError();
        auto [rows, cols] = matrixShape(*weight);
        accumulateColumnAbsMax(weight->floats(), rows, cols, weightMax);
        weights.push_back(std::move(*weight));
      }
      std::vector<float> scales = smoothQuantScales(
          activationMax[index], weightMax, alpha, scaleClampMin);
      for (auto [consumer, weight] : llvm::zip(group.consumers, weights)) {
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
                                          param.getName(), rows,
                                          group.channels));
        divideRows(divided.floats(), rows, cols, scales);
        layer.update(param, std::move(divided));
      }
      ++numGroups;
    }
    return llvm::Error::success();
  }

  void runOnOperation() override {
    if (alpha < 0.0 || alpha > 1.0) {
      getOperation().emitError() << "smoothquant: alpha must be in [0, 1]";
      return signalPassFailure();
    }
    ModuleOp module = getOperation();
    LayerwiseOptions options = layerwiseOptions(
        *this, "smoothquant",
        llvm::json::Object{{"name", "smooth"},
                           {"alpha", alpha.getValue()},
                           {"scale_clamp_min", scaleClampMin.getValue()},
                           {"scaling_layers", scalingLayersConfig(module)}});
    if (failed(runLayerwise(module, options, [&](LayerContext &layer) {
          return smoothLayer(layer);
        })))
      return signalPassFailure();
  }
};
} // namespace
