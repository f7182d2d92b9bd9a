//===- Awq.cpp - Activation-aware weight quantization, layer by layer ----===//
//
// Per decoder layer: one run of the float layer records each quantized
// linear's input statistics (mean |x| per channel, and the second moment
// the output errors are computed from); then every scaling group's scale
// is searched and folded (the float function, and so the other groups'
// inputs, is unchanged by folding), and finally each quantized weight's
// clip range is searched on the scaled weights and the scaled inputs. The
// math is in Algorithms/Awq.
//
//===----------------------------------------------------------------------===//

#include "Layerwise.h"

#include "quark/Algorithms/Awq.h"
#include "quark/Algorithms/Gptq.h"
#include "quark/Algorithms/SmoothQuant.h"
#include "quark/Analysis/ScalingGroups.h"
#include "quark/Transforms/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

#include <memory>

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKAWQ
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// What one run of the layer records about a value linears read.
struct InputStatistics {
  explicit InputStatistics(int64_t channels) : secondMoment(channels) {}
  GptqHessian secondMoment; // one sample per token: (2/T) sum x x^T
  ChannelAbsMean meanAbs;
  /// The scales the input is divided by once its group's are folded.
  std::vector<float> foldedScales;

  /// The second moment as a matrix, formed once for every linear reading
  /// the input.
  const std::vector<float> &moment() {
    if (matrix.empty())
      matrix = secondMoment.matrix();
    return matrix;
  }
  /// The moment of the divided inputs, for the clip search; only once every
  /// scale search (which reads moment()) is done.
  const std::vector<float> &foldedMoment() {
    moment();
    if (!foldedScales.empty()) {
      divideHessian(matrix, foldedScales);
      foldedScales.clear();
    }
    return matrix;
  }

private:
  std::vector<float> matrix;
};

/// llm-awq leaves query and key projections unclipped (their errors pass
/// through the softmax); it matches these fragments of the module name.
/// Only the last name component is tested here, so that a parent module
/// such as Mixtral's `block_sparse_moe` does not exclude its experts.
bool isQueryOrKey(llvm::StringRef name) {
  llvm::StringRef last = name.rsplit('.').second;
  if (last.empty())
    last = name;
  for (llvm::StringRef fragment : {"q_", "k_", "query", "key", "Wqkv"})
    if (last.contains(fragment))
      return true;
  return false;
}

struct AwqPass : mlir::quark::impl::QuarkAwqBase<AwqPass> {
  using Base::Base;
  // Reads the calibration and checkpoint options.
  friend LayerwiseOptions
  mlir::quark::layerwiseOptions<AwqPass>(const AwqPass &, llvm::StringRef,
                                         llvm::json::Object);

  llvm::Error processLayer(LayerContext &layer) {
    // The quantized weights AWQ can score, and the groups that hold one.
    llvm::Expected<llvm::MapVector<Operation *, TensorQuantSpec>> found =
        layerWeightNumerics(layer, [](LinearOp linear, llvm::StringRef why) {
          linear.emitWarning() << "awq: '" << linear.getName() << "' " << why
                               << "; AWQ leaves it as it is";
        });
    if (!found)
      return found.takeError();
    llvm::MapVector<Operation *, TensorQuantSpec> &numerics = *found;
    if (numerics.empty())
      return llvm::Error::success();
    SmallVector<ScalingGroup> groups;
    for (ScalingGroup &group : findScalingGroups(layer.getBlock()))
      if (llvm::any_of(group.consumers,
                       [&](LinearOp linear) { return numerics.count(linear); }))
        groups.push_back(std::move(group));

    // One run: statistics of every value a quantized or scaled linear
    // reads, taken at the first such linear (the others see the same
    // tensor).
    llvm::DenseMap<Operation *, Value> recordedInput;
    llvm::DenseMap<Value, std::unique_ptr<InputStatistics>> statistics;
    auto observe = [&](LinearOp linear) {
      Value input = linear.getInput();
      if (!statistics.count(input)) {
        int64_t channels =
            cast<ShapedType>(linear.getWeight().getType()).getShape()[1];
        statistics[input] = std::make_unique<InputStatistics>(channels);
        recordedInput[linear] = input;
      }
    };
    layer.getBlock().getBody().walk([&](LinearOp linear) {
      bool scaled = llvm::any_of(groups, [&](const ScalingGroup &group) {
        return llvm::is_contained(group.consumers, linear);
      });
      if (numerics.count(linear) || scaled)
        observe(linear);
    });
    llvm::Expected<std::vector<std::vector<Tensor>>> ran =
        layer.run([&](LinearOp linear, const Tensor &x) -> llvm::Error {
          auto found = recordedInput.find(linear);
          if (found == recordedInput.end())
            return llvm::Error::success();
          InputStatistics &stats = *statistics[found->second];
          int64_t channels = stats.secondMoment.columns();
          if (x.dim(-1) != channels)
            return layerError(llvm::formatv("'{0}' reads {1} channels, not {2}",
                                            linear.getName(), x.dim(-1),
                                            channels));
          int64_t tokens = x.numElements() / channels;
          stats.secondMoment.add(x.floats(), tokens, tokens);
          stats.meanAbs.add(x.floats(), channels);
          return llvm::Error::success();
        });
    if (!ran)
      return ran.takeError();

    // Scale search and folding, group by group; each scaled input
    // remembers its scales for the clip search.
    for (ScalingGroup &group : groups) {
      // mean |x| over the consumer that sees the most tokens (the router
      // and not an expert, in an MoE group).
      InputStatistics *widest = nullptr;
      for (LinearOp consumer : group.consumers) {
        InputStatistics *stats = statistics[consumer.getInput()].get();
        if (!widest || stats->meanAbs.tokens() > widest->meanAbs.tokens())
          widest = stats;
      }
      if (!widest || widest->meanAbs.tokens() == 0)
        continue; // an MoE group no token reached
      std::vector<Tensor> weights;
      for (LinearOp consumer : group.consumers) {
        llvm::Expected<Tensor> weight =
            layer.read(consumer.getWeight().getDefiningOp<ParamOp>());
        if (!weight)
          return weight.takeError();
        weights.push_back(std::move(*weight));
      }
      SmallVector<AwqLinear> linears;
      for (auto [index, constConsumer] : llvm::enumerate(group.consumers)) {
        LinearOp consumer = constConsumer;
        InputStatistics &stats = *statistics[consumer.getInput()];
        const Tensor &weight = weights[index];
        AwqLinear linear;
        linear.rows = weight.dim(0);
        linear.cols = weight.dim(1);
        linear.weight = weight.floats();
        linear.tokens = stats.meanAbs.tokens();
        // Only scored linears need their input's moment.
        auto spec = numerics.find(consumer);
        if (spec != numerics.end() && stats.secondMoment.samples() > 0) {
          linear.spec = &spec->second;
          linear.hessian = stats.moment();
        }
        linears.push_back(linear);
      }
      llvm::Expected<AwqScaleSearch> search =
          awqSearchScales(widest->meanAbs.mean(), linears, grid);
      if (!search)
        return layerError("group of '" + group.producerName() +
                          "': " + llvm::toString(search.takeError()));
      if (llvm::Error error =
              foldGroupScales(layer, group, weights, search->scales))
        return error;
      for (LinearOp consumer : group.consumers)
        statistics[consumer.getInput()]->foldedScales = search->scales;
      ++numGroups;
    }
    if (!clip)
      return llvm::Error::success();

    // Clip search on the scaled weights, with the scaled inputs' moments.
    AwqClipOptions clipOptions{grid, maxShrink};
    for (auto &[op, spec] : numerics) {
      auto linear = cast<LinearOp>(op);
      InputStatistics &stats = *statistics[linear.getInput()];
      if (stats.secondMoment.samples() == 0 || !awqCanClip(spec) ||
          isQueryOrKey(linear.getName()))
        continue;
      auto param = linear.getWeight().getDefiningOp<ParamOp>();
      llvm::Expected<Tensor> weight = layer.read(param);
      if (!weight)
        return weight.takeError();
      Tensor clipped = weight->clone();
      llvm::Expected<std::vector<float>> maxima =
          awqClip(spec, clipped.dim(0), clipped.dim(1), clipped.floats(),
                  stats.foldedMoment(), clipOptions);
      if (!maxima)
        return layerError("'" + linear.getName() +
                          "': " + llvm::toString(maxima.takeError()));
      layer.update(param, std::move(clipped));
      ++numClipped;
    }
    return llvm::Error::success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (grid < 1 || maxShrink < 0.0 || maxShrink >= 1.0) {
      module.emitError()
          << "awq: grid must be at least 1 and max-shrink in [0, 1)";
      return signalPassFailure();
    }
    setBlasThreads(
        static_cast<int>(llvm::parallel::strategy.compute_thread_count()));
    LayerwiseOptions options = layerwiseOptions(
        *this, "awq",
        llvm::json::Object{{"name", "awq"},
                           {"scaling_layers", scalingLayersConfig(module)}});
    options.extraSettings =
        llvm::json::Object{{"grid", grid.getValue()},
                           {"clip", clip.getValue()},
                           {"max_shrink", maxShrink.getValue()}};
    if (failed(runLayerwise(module, options, [&](LayerContext &layer) {
          return processLayer(layer);
        })))
      return signalPassFailure();
  }
};
} // namespace
