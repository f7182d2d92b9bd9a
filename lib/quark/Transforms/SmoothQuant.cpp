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

#include "QuantizationUtils.h"

#include "quark/Algorithms/Gptq.h"
#include "quark/Analysis/SpecNumerics.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

#include <limits>
#include <map>
#include <memory>

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKSMOOTHQUANT
#define GEN_PASS_DEF_QUARKAUTOSMOOTHQUANT
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// What one run of a decoder layer tells about a scaling group.
struct GroupStatistics {
  const ScalingGroup *group;
  /// max |x| per channel over every consumer's input.
  std::vector<float> activationMax;
  /// The consumers' current weights and their column maxima.
  std::vector<Tensor> weights;
  std::vector<float> weightMax;
};

/// Sampled tokens and per-channel ranges of a value linears read.
struct InputSample {
  explicit InputSample(int64_t channels, int64_t capacity)
      : sample(channels, capacity), min(static_cast<size_t>(channels),
                                        std::numeric_limits<float>::infinity()),
        max(static_cast<size_t>(channels),
            -std::numeric_limits<float>::infinity()) {}
  TokenSample sample;
  std::vector<float> min, max;
};

using ScaleChooser =
    llvm::function_ref<llvm::Expected<std::vector<float>>(GroupStatistics &)>;

/// Smooths decoder layer `layer`: one run records each scaling group's
/// statistics (the float function, and so every group's input, is unchanged
/// by smoothing the others; with `samples`, also a token sample and the
/// channel ranges of each consumer's input), then `chooseScales` picks each
/// group's scales, which are folded into its producer and consumers.
llvm::Error
smoothLayer(LayerContext &layer, ScaleChooser chooseScales,
            llvm::DenseMap<Value, std::unique_ptr<InputSample>> *samples,
            int64_t maxTokens, uint64_t &numGroups) {
  SmallVector<ScalingGroup> groups;
  for (ScalingGroup &group : findScalingGroups(layer.getBlock()))
    if (llvm::any_of(group.consumers,
                     [](LinearOp linear) { return linear.getQuantAttr(); }))
      groups.push_back(std::move(group));
  if (groups.empty())
    return llvm::Error::success();

  // Activation maxima per group, from every consumer's input; samples per
  // input value, taken at the first consumer reading it.
  llvm::DenseMap<Operation *, size_t> groupOf;
  llvm::DenseMap<Operation *, InputSample *> sampledBy;
  for (auto [index, group] : llvm::enumerate(groups))
    for (LinearOp consumer : group.consumers) {
      groupOf[consumer] = index;
      if (!samples || samples->count(consumer.getInput()))
        continue;
      auto sample = std::make_unique<InputSample>(group.channels, maxTokens);
      sampledBy[consumer] = sample.get();
      (*samples)[consumer.getInput()] = std::move(sample);
    }
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
        if (InputSample *sample = sampledBy.lookup(linear)) {
          sample->sample.add(input.floats());
          int64_t rows = input.numElements() / group.channels;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < group.channels; ++j) {
              float x = input.floats()[r * group.channels + j];
              sample->min[j] = std::min(sample->min[j], x);
              sample->max[j] = std::max(sample->max[j], x);
            }
        }
        return llvm::Error::success();
      });
  if (!ran)
    return ran.takeError();

  for (auto [index, group] : llvm::enumerate(groups)) {
    if (activationMax[index].empty())
      continue; // an MoE group no token reached
    GroupStatistics statistics{&group, std::move(activationMax[index]), {}, {}};
    for (LinearOp consumer : group.consumers) {
      llvm::Expected<Tensor> weight =
          layer.read(consumer.getWeight().getDefiningOp<ParamOp>());
      if (!weight)
        return weight.takeError();
      auto [rows, cols] = matrixShape(*weight);
      accumulateColumnAbsMax(weight->floats(), rows, cols,
                             statistics.weightMax);
      statistics.weights.push_back(std::move(*weight));
    }
    llvm::Expected<std::vector<float>> scales = chooseScales(statistics);
    if (!scales)
      return scales.takeError();
    if (llvm::Error error =
            foldGroupScales(layer, group, statistics.weights, *scales))
      return error;
    ++numGroups;
  }
  return llvm::Error::success();
}

struct SmoothQuantPass
    : mlir::quark::impl::QuarkSmoothQuantBase<SmoothQuantPass> {
  using Base::Base;
  // Reads the calibration and checkpoint options.
  friend LayerwiseOptions mlir::quark::layerwiseOptions<SmoothQuantPass>(
      const SmoothQuantPass &, llvm::StringRef, llvm::json::Object);

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
    uint64_t groups = 0;
    auto fixedAlpha =
        [&](GroupStatistics &statistics) -> llvm::Expected<std::vector<float>> {
      return smoothQuantScales(statistics.activationMax, statistics.weightMax,
                               alpha, scaleClampMin);
    };
    if (failed(runLayerwise(module, options, [&](LayerContext &layer) {
          return smoothLayer(layer, fixedAlpha, nullptr, 0, groups);
        })))
      return signalPassFailure();
    numGroups += groups;
  }
};

struct AutoSmoothQuantPass
    : mlir::quark::impl::QuarkAutoSmoothQuantBase<AutoSmoothQuantPass> {
  using Base::Base;
  // Reads the calibration and checkpoint options.
  friend LayerwiseOptions mlir::quark::layerwiseOptions<AutoSmoothQuantPass>(
      const AutoSmoothQuantPass &, llvm::StringRef, llvm::json::Object);

  /// The quantizer of `linear`'s input, when the search can apply it.
  std::optional<std::pair<TensorQuantSpec, bool>>
  inputNumerics(LinearOp linear, Type modelFloat) {
    LayerSpecAttr layer = linear.getQuantAttr();
    TensorSpecAttr spec =
        layer ? singleStage(layer.getInputTensors()) : TensorSpecAttr();
    if (!spec)
      return std::nullopt;
    FailureOr<TensorQuantSpec> numerics = getTensorQuantSpec(
        spec, modelFloat, [&] { return linear.emitError(); });
    if (failed(numerics) || !ElementFakeQuantizer::supports(*numerics))
      return std::nullopt;
    return std::make_pair(*numerics, spec.getIsDynamic().value_or(false));
  }

  llvm::Error processLayer(LayerContext &layer, llvm::ArrayRef<double> alphas,
                           SmoothLoss loss) {
    llvm::DenseMap<Value, std::unique_ptr<InputSample>> samples;
    auto search =
        [&](GroupStatistics &statistics) -> llvm::Expected<std::vector<float>> {
      const ScalingGroup &group = *statistics.group;
      // Specs live as long as the search.
      std::vector<std::optional<TensorQuantSpec>> weightSpecs;
      std::vector<std::optional<std::pair<TensorQuantSpec, bool>>> inputSpecs;
      for (LinearOp consumer : group.consumers) {
        FailureOr<std::optional<TensorQuantSpec>> weight =
            elementwiseWeightNumerics(consumer, layer.getModelFloat(),
                                      [](llvm::StringRef) {});
        if (failed(weight))
          return layerError("a weight spec does not resolve");
        weightSpecs.push_back(*weight);
        inputSpecs.push_back(inputNumerics(consumer, layer.getModelFloat()));
      }
      SmallVector<SmoothSearchLinear> linears;
      for (auto [index, constConsumer] : llvm::enumerate(group.consumers)) {
        LinearOp consumer = constConsumer;
        InputSample &sample = *samples[consumer.getInput()];
        const Tensor &weight = statistics.weights[index];
        SmoothSearchLinear linear;
        linear.weightSpec = weightSpecs[index] ? &*weightSpecs[index] : nullptr;
        if (inputSpecs[index]) {
          linear.inputSpec = &inputSpecs[index]->first;
          linear.inputDynamic = inputSpecs[index]->second;
        }
        if (sample.sample.count() > 0) {
          linear.channelMin = sample.min;
          linear.channelMax = sample.max;
        }
        linear.rows = weight.dim(0);
        linear.cols = weight.dim(1);
        linear.weight = weight.floats();
        linear.inputs = sample.sample.tokens();
        linears.push_back(linear);
      }
      llvm::Expected<SmoothSearchResult> result =
          searchSmoothQuantAlpha(statistics.activationMax, statistics.weightMax,
                                 linears, alphas, loss, scaleClampMin);
      if (!result)
        return layerError("group of '" + group.producerName() +
                          "': " + llvm::toString(result.takeError()));
      chosenAlphas[layerRelativeName(group.producerName(), layer.getBlock())]
          .push_back(result->alpha);
      return std::move(result->scales);
    };
    uint64_t groups = 0;
    llvm::Error error = smoothLayer(layer, search, &samples, maxTokens, groups);
    numGroups += groups;
    return error;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<SmoothLoss> loss =
        llvm::StringSwitch<std::optional<SmoothLoss>>(computeScaleLoss)
            .Case("MSE", SmoothLoss::MSE)
            .Case("MAE", SmoothLoss::MAE)
            .Default(std::nullopt);
    if (!loss) {
      module.emitError() << "autosmoothquant: compute-scale-loss must be MSE "
                            "or MAE, not '"
                         << computeScaleLoss << "'";
      return signalPassFailure();
    }
    if (alphaGrid < 1 || maxTokens < 2) {
      module.emitError()
          << "autosmoothquant: alpha-grid must be at least 1 and max-tokens "
             "at least 2";
      return signalPassFailure();
    }
    setBlasThreads(
        static_cast<int>(llvm::parallel::strategy.compute_thread_count()));
    std::vector<double> alphas;
    for (int64_t k = 0; k <= alphaGrid; ++k)
      alphas.push_back(static_cast<double>(k) / static_cast<double>(alphaGrid));
    LayerwiseOptions options = layerwiseOptions(
        *this, "autosmoothquant",
        llvm::json::Object{{"name", "autosmoothquant"},
                           {"compute_scale_loss", computeScaleLoss.getValue()},
                           {"scale_clamp_min", scaleClampMin.getValue()},
                           {"scaling_layers", scalingLayersConfig(module)}});
    options.extraSettings =
        llvm::json::Object{{"alpha_grid", alphaGrid.getValue()},
                           {"max_tokens", maxTokens.getValue()}};
    if (failed(runLayerwise(module, options, [&](LayerContext &layer) {
          return processLayer(layer, alphas, *loss);
        })))
      return signalPassFailure();
    // The chosen alphas, for the log (a resumed layer has none).
    for (auto &[producer, chosen] : chosenAlphas) {
      std::string list;
      for (double a : chosen)
        list += (list.empty() ? "" : " ") + llvm::formatv("{0:f2}", a).str();
      module.emitRemark() << "autosmoothquant: alpha per layer for '"
                          << producer << "': " << list;
    }
  }

  llvm::MapVector<std::string, std::vector<double>,
                  std::map<std::string, unsigned>>
      chosenAlphas;
};
} // namespace
