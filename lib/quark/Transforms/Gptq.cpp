//===- Gptq.cpp - GPTQ on every quantized linear, layer by layer ---------===//
//
// Inside a decoder layer the linears are taken one input at a time, in
// program order (q/k/v share one input and one Hessian, then o_proj,
// gate/up, down_proj): each input's Hessian is accumulated from a run of
// the layer in which the earlier linears are already quantized, as GPTQ's
// sequential mode does. The math is in Algorithms/Gptq.
//
//===----------------------------------------------------------------------===//

#include "Layerwise.h"

#include "quark/Algorithms/Gptq.h"
#include "quark/Transforms/Passes.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKGPTQ
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

struct GptqPass : mlir::quark::impl::QuarkGptqBase<GptqPass> {
  using Base::Base;
  // Reads the calibration and checkpoint options.
  friend LayerwiseOptions
  mlir::quark::layerwiseOptions<GptqPass>(const GptqPass &, llvm::StringRef,
                                          llvm::json::Object);

  llvm::Error quantizeLayer(LayerContext &layer) {
    // The stages: linears grouped by the value they read, in order.
    llvm::MapVector<Value, SmallVector<std::pair<LinearOp, TensorQuantSpec>>>
        stages;
    llvm::Expected<llvm::MapVector<Operation *, TensorQuantSpec>> numerics =
        layerWeightNumerics(layer, [](LinearOp linear, llvm::StringRef why) {
          linear.emitWarning() << "gptq: '" << linear.getName() << "' " << why
                               << "; its weight is rounded to nearest instead";
        });
    if (!numerics)
      return numerics.takeError();
    for (auto &[op, spec] : *numerics) {
      auto linear = cast<LinearOp>(op);
      stages[linear.getInput()].push_back({linear, spec});
    }
    GptqOptions gptq;
    gptq.blockSize = blockSize;
    gptq.dampPercent = dampPercent;
    gptq.actOrder = descAct;
    gptq.staticGroups = staticGroups;
    for (auto &[input, linears] : stages) {
      LinearOp reader = linears.front().first;
      int64_t columns =
          cast<ShapedType>(reader.getWeight().getType()).getShape()[1];
      GptqHessian hessian(columns);
      llvm::Expected<std::vector<std::vector<Tensor>>> ran =
          layer.run([&](LinearOp linear, const Tensor &x) -> llvm::Error {
            if (linear != reader)
              return llvm::Error::success();
            // GPTQ counts a batch's first dimension; a 2-D input (the
            // tokens routed to an expert) is one sample.
            int64_t samples = x.rank() >= 3 ? x.dim(0) : 1;
            hessian.add(x.floats(), x.numElements() / columns, samples);
            return llvm::Error::success();
          });
      if (!ran)
        return ran.takeError();
      if (hessian.samples() == 0) {
        reader.emitWarning()
            << "gptq: no calibration token reached '" << reader.getName()
            << "'; its stage is rounded to nearest";
        continue;
      }
      std::vector<float> matrix = hessian.matrix();
      for (auto &[linear, numerics] : linears) {
        auto param = linear.getWeight().getDefiningOp<ParamOp>();
        llvm::Expected<Tensor> weight = layer.read(param);
        if (!weight)
          return weight.takeError();
        int64_t rows = weight->dim(0), cols = weight->dim(1);
        llvm::Expected<GptqResult> result =
            gptqQuantize(numerics, rows, cols, weight->floats(), matrix, gptq);
        if (!result)
          return layerError("'" + linear.getName() +
                            "': " + llvm::toString(result.takeError()));
        layer.update(param,
                     Tensor::fromFloats(weight->shape(), result->weight));
        layer.setQuantized(linear, std::move(result->params));
        ++numLinears;
      }
    }
    return llvm::Error::success();
  }

  void runOnOperation() override {
    setBlasThreads(
        static_cast<int>(llvm::parallel::strategy.compute_thread_count()));
    ModuleOp module = getOperation();
    // Quark's inside_layer_modules: the first layer's quantized linears.
    llvm::json::Array insideLayerModules;
    if (BlockOp first = firstDecoderLayer(module))
      first.getBody().walk([&](LinearOp linear) {
        if (linear.getQuantAttr())
          insideLayerModules.push_back(
              layerRelativeName(linear.getName(), first));
      });
    LayerwiseOptions options = layerwiseOptions(
        *this, "gptq",
        llvm::json::Object{
            {"name", "gptq"},
            {"block_size", blockSize.getValue()},
            {"damp_percent", dampPercent.getValue()},
            {"desc_act", descAct.getValue()},
            {"static_groups", staticGroups.getValue()},
            {"inside_layer_modules", std::move(insideLayerModules)}});
    if (failed(runLayerwise(module, options, [&](LayerContext &layer) {
          return quantizeLayer(layer);
        })))
      return signalPassFailure();
  }
};
} // namespace
