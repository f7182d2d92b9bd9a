//===- Calibrate.cpp - Fill observers from calibration text ---------------===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Runtime/Executor.h"
#include "quark/Support/Progress.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TextDataset.h"
#include "quark/Support/Tokenizer.h"
#include "quark/Transforms/Calibration.h"

#include "quark/Transforms/Passes.h"
#include <limits>

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKCALIBRATE
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {
using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// One observer's running statistics: min/max per slot, or a histogram.
struct Accumulator {
  TensorQuantSpec spec;
  std::optional<HistogramMethod> histogramMethod;
  MinMaxStats stats;
  HistogramStats histogram;

  bool empty() const {
    return histogramMethod ? histogram.empty() : stats.empty();
  }
};

DenseFPElementsAttr floatsAttr(MLIRContext *context,
                               llvm::ArrayRef<int64_t> shape,
                               llvm::ArrayRef<float> values) {
  auto type = RankedTensorType::get(shape, Float32Type::get(context));
  return cast<DenseFPElementsAttr>(DenseElementsAttr::get(type, values));
}
} // namespace

FailureOr<CalibrationBatches>
mlir::quark::loadCalibrationBatches(ModuleOp module,
                                    const CalibrationOptions &options) {
  auto fail = [&](const Twine &message) -> FailureOr<CalibrationBatches> {
    module.emitError() << "calibration: " << message;
    return failure();
  };
  if (options.dataset.empty())
    return fail("no calibration text (the dataset option)");
  if (options.seqLen < 2 || options.numCalibData < 1 || options.batchSize < 1)
    return fail("seq-len must be >= 2, num-calib-data and batch-size >= 1");
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return fail(Twine("the module has no '") + kModelDirAttr + "'");
  CalibrationBatches data;
  auto tokenizeStart = Clock::now();
  std::string tokenizerDir =
      options.tokenizerDir.empty() ? modelDir.str() : options.tokenizerDir;
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::loadFromDirectory(tokenizerDir);
  if (!tokenizer)
    return fail(llvm::toString(tokenizer.takeError()));
  llvm::Expected<TextDataset> text = readTextDataset(options.dataset);
  if (!text)
    return fail(llvm::toString(text.takeError()));
  llvm::Expected<std::vector<int32_t>> ids =
      (*tokenizer)->encode(text->text, /*addSpecialTokens=*/true);
  if (!ids)
    return fail(options.dataset + ": " + llvm::toString(ids.takeError()));
  data.tokenizeSeconds = secondsSince(tokenizeStart);
  data.tokens = static_cast<int64_t>(ids->size());
  data.windows =
      std::min<int64_t>(options.numCalibData, data.tokens / options.seqLen);
  if (data.windows < 1)
    return fail(llvm::formatv("{0} has {1} tokens, fewer than one window of "
                              "{2}",
                              options.dataset, data.tokens, options.seqLen));
  for (int64_t first = 0; first < data.windows; first += options.batchSize) {
    int64_t batch = std::min(options.batchSize, data.windows - first);
    llvm::ArrayRef<int32_t> slice(ids->data() + first * options.seqLen,
                                  batch * options.seqLen);
    data.batches.push_back(
        {Tensor::fromInts({batch, options.seqLen},
                          std::vector<int32_t>(slice.begin(), slice.end()))});
  }
  return data;
}

FailureOr<CalibrationReport>
mlir::quark::calibrateModule(ModuleOp module,
                             const CalibrationOptions &options) {
  CalibrationReport report;
  SmallVector<ObserveOp> observers;
  module.walk([&](ObserveOp op) { observers.push_back(op); });
  // Attention whose probabilities are quantized statically (Quark's
  // softmax_quant_spec) observes their maximum too.
  SmallVector<AttentionOp> attentions;
  module.walk([&](AttentionOp op) {
    if (op.getSoftmaxSpecAttr() && !op.getSoftmaxScaleAttr())
      attentions.push_back(op);
  });
  report.observers = static_cast<int64_t>(observers.size() + attentions.size());
  if (report.observers == 0)
    return report;

  auto fail = [&](const Twine &message) -> FailureOr<CalibrationReport> {
    module.emitError() << "calibration: " << message;
    return failure();
  };
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return fail(Twine("the module has no '") + kModelDirAttr + "'");
  auto forward = module.lookupSymbol<func::FuncOp>(kForwardFunction);
  if (!forward)
    return fail("the module has no @forward function");

  // Every observer's numerics, checked before spending time on the model.
  llvm::DenseMap<Operation *, Accumulator> accumulators;
  Type modelFloat = modelFloatType(module);
  for (ObserveOp op : observers) {
    auto emitError = [&]() -> InFlightDiagnostic {
      return op.emitError()
             << "'" << op.getName().value_or("observer") << "': ";
    };
    FailureOr<std::optional<HistogramMethod>> method =
        observerMethod(op.getSpec(), emitError);
    FailureOr<TensorQuantSpec> spec =
        getTensorQuantSpec(op.getSpec(), modelFloat, emitError);
    if (failed(method) || failed(spec))
      return failure();
    accumulators[op] = Accumulator{*spec, *method, {}, {}};
  }

  FailureOr<CalibrationBatches> data = loadCalibrationBatches(module, options);
  if (failed(data))
    return failure();
  report.tokenizeSeconds = data->tokenizeSeconds;
  report.tokens = data->tokens;
  report.windows = data->windows;

  // Layer by layer: every batch goes through one decoder layer before the
  // next layer's weights are read, and weights are not kept (bounded memory
  // on models larger than RAM). Nothing after the last observer runs.
  WeightStore weights(modelDir.str());
  weights.setCaching(false);
  Executor executor(weights);
  executor.observeHook = [&](ObserveOp op,
                             const Tensor &tensor) -> llvm::Error {
    auto start = Clock::now();
    Accumulator &accumulator = accumulators[op];
    if (accumulator.histogramMethod) {
      observeHistogram(*accumulator.histogramMethod, accumulator.spec.symmetric,
                       tensor.floats(), accumulator.histogram);
      report.observeSeconds += secondsSince(start);
      return llvm::Error::success();
    }
    llvm::Expected<QuantLayout> layout =
        QuantLayout::get(tensor.shape(), accumulator.spec);
    if (!layout)
      return layout.takeError();
    observeMinMax(*layout, tensor.floats(), accumulator.stats);
    report.observeSeconds += secondsSince(start);
    return llvm::Error::success();
  };
  llvm::DenseMap<Operation *, float> softmaxMax;
  executor.softmaxHook = [&](AttentionOp op, float largest) {
    float &seen = softmaxMax[op];
    seen = std::max(seen, largest);
  };
  auto observes = [](Operation *op) {
    return op
        ->walk([](Operation *nested) {
          auto attention = dyn_cast<AttentionOp>(nested);
          return isa<ObserveOp>(nested) ||
                         (attention && attention.getSoftmaxSpecAttr())
                     ? WalkResult::interrupt()
                     : WalkResult::advance();
        })
        .wasInterrupted();
  };
  Operation *last = nullptr;
  int64_t layers = 0;
  for (Operation &op : forward.front()) {
    if (isa<BlockOp>(op))
      ++layers;
    if (observes(&op))
      last = &op;
  }
  const std::vector<std::vector<Tensor>> &batches = data->batches;
  ProgressBar progress("calibration", std::max<int64_t>(layers, 1), "layers");
  int64_t blockRuns = 0;
  executor.blockHook = [&](BlockOp) {
    if (++blockRuns % static_cast<int64_t>(batches.size()) == 0)
      progress.update(blockRuns / static_cast<int64_t>(batches.size()));
  };
  auto forwardStart = Clock::now();
  if (llvm::Error error = executor.runLayerwise(forward, batches, last))
    return fail(llvm::toString(std::move(error)));
  progress.finish();
  report.forwardSeconds = secondsSince(forwardStart) - report.observeSeconds;

  for (AttentionOp op : attentions) {
    auto seen = softmaxMax.find(op);
    if (seen == softmaxMax.end())
      return fail("an attention with a softmax_spec saw no data (is it "
                  "reachable from @forward?)");
    op.setSoftmaxMaxAttr(
        FloatAttr::get(Float32Type::get(module.getContext()), seen->second));
  }

  // Record the statistics, shaped as the observer's parameters.
  for (ObserveOp op : observers) {
    Accumulator &accumulator = accumulators[op];
    MLIRContext *context = module.getContext();
    if (accumulator.empty()) {
      // An MoE expert no calibration token was routed to. Quark keeps its
      // observer's initial statistics (min +inf, max -inf) and computes
      // default parameters from them; so does quark-freeze.
      op.emitWarning() << "'" << op.getName().value_or("observer")
                       << "' saw no calibration data; it gets Quark's "
                          "parameters for an unobserved tensor";
      accumulator.histogramMethod.reset(); // min/max statistics below
    }
    if (accumulator.histogramMethod) {
      const HistogramStats &histogram = accumulator.histogram;
      op.setHistogramAttr(
          floatsAttr(context, {static_cast<int64_t>(histogram.counts.size())},
                     histogram.counts));
      op.setHistogramEdgesAttr(
          floatsAttr(context, {static_cast<int64_t>(histogram.edges.size())},
                     histogram.edges));
      continue;
    }
    FailureOr<SmallVector<int64_t>> shape =
        getParamShape(op.getSpec(), op.getInput().getType().getShape(),
                      [&] { return op.emitError(); });
    if (failed(shape))
      return failure();
    int64_t slots = 1;
    for (int64_t dim : *shape)
      slots *= dim;
    if (accumulator.stats.min.empty()) {
      accumulator.stats.min.assign(static_cast<size_t>(slots),
                                   std::numeric_limits<float>::infinity());
      accumulator.stats.max.assign(static_cast<size_t>(slots),
                                   -std::numeric_limits<float>::infinity());
    }
    if (slots != static_cast<int64_t>(accumulator.stats.min.size()))
      return fail(llvm::formatv("'{0}': statistics of {1} slots do not fit "
                                "a parameter tensor of {2}",
                                op.getName().value_or("observer"),
                                accumulator.stats.min.size(), slots));
    op.setMinValuesAttr(floatsAttr(context, *shape, accumulator.stats.min));
    op.setMaxValuesAttr(floatsAttr(context, *shape, accumulator.stats.max));
  }
  return report;
}

namespace {
struct CalibratePass : mlir::quark::impl::QuarkCalibrateBase<CalibratePass> {
  using Base::Base;
  void runOnOperation() override {
    CalibrationOptions options;
    options.dataset = dataset;
    options.tokenizerDir = tokenizerDir;
    options.seqLen = seqLen;
    options.numCalibData = numCalibData;
    options.batchSize = batchSize;
    FailureOr<CalibrationReport> report =
        calibrateModule(getOperation(), options);
    if (failed(report))
      return signalPassFailure();
    numWindows += report->windows;
  }
};
} // namespace
