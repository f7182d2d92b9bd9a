//===- Layerwise.h - Run an algorithm decoder layer by decoder layer -----===//
//
// The engine under quark-smoothquant and quark-gptq (and any algorithm that
// rewrites weights from calibration activations):
//  * the calibration windows run up to the first decoder layer
//    (quark.block), then one layer at a time: the algorithm sees the
//    layer's inputs for every window, may run the layer as often as it
//    needs (a hook sees each linear's input), and changes weights;
//  * the changed weights of a layer are written to
//    <checkpoint-dir>/<algorithm>/<layer>.safetensors (float32, plus the
//    parameters of weights the algorithm quantized), the layer's params
//    are redirected there, and progress.json records the layer as done;
//  * the next layer's inputs are this layer's outputs with the changed
//    weights, so layer i+1 is calibrated on the already-processed layer i;
//  * only one layer's weights and the windows' activations are resident;
//  * with `resume`, layers progress.json lists (under the same
//    fingerprint: the IR before the pass, the algorithm's options and the
//    calibration settings) are taken from their files instead of being
//    recomputed.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_TRANSFORMS_LAYERWISE_H
#define QUARK_LIB_TRANSFORMS_LAYERWISE_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Runtime/Executor.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Transforms/Calibration.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"

#include <functional>
#include <string>
#include <vector>

namespace mlir::quark {

struct LayerwiseOptions {
  CalibrationOptions calibration;
  std::string checkpointDir;
  bool resume = false;
  bool overwrite = false;
  /// The algorithm's name (its folder in checkpointDir) and its options as
  /// text (part of the fingerprint).
  std::string algorithm;
  std::string settings;
};

/// One decoder layer as an algorithm sees it.
class LayerContext {
public:
  LayerContext(BlockOp block, llvm::ArrayRef<std::vector<Tensor>> inputs,
               WeightStore &store, Type modelFloat)
      : block(block), inputs(inputs), store(store), modelFloat(modelFloat) {}

  BlockOp getBlock() { return block; }
  Type getModelFloat() const { return modelFloat; }
  /// Number of calibration batches and the windows in each.
  size_t numBatches() const { return inputs.size(); }
  /// Runs the layer on every batch with the weights as changed so far;
  /// `hook` sees each linear's input. Returns each batch's outputs when
  /// `keepOutputs`.
  llvm::Expected<std::vector<std::vector<Tensor>>>
  run(std::function<llvm::Error(LinearOp, const Tensor &)> hook,
      bool keepOutputs = false);
  /// The current value of a float weight.
  llvm::Expected<Tensor> read(ParamOp param);
  /// Replaces a float weight (same shape) for the rest of the run.
  void update(ParamOp param, Tensor value);
  /// Records that `linear`'s weight (already updated to on-grid values) is
  /// quantized by its weight spec with `params`.
  void setQuantized(LinearOp linear, QuantParams params);

  /// Drops the in-memory values of the updated weights (once they are
  /// written and the IR reads them from the layer's file).
  void releaseUpdates();

  struct Quantized {
    LinearOp linear;
    QuantParams params;
  };
  const std::vector<std::pair<ParamOp, Tensor>> &updates() const {
    return updated;
  }
  const std::vector<Quantized> &quantized() const { return quantizedWeights; }

private:
  BlockOp block;
  llvm::ArrayRef<std::vector<Tensor>> inputs;
  WeightStore &store;
  Type modelFloat;
  std::vector<std::pair<ParamOp, Tensor>> updated;
  std::vector<Quantized> quantizedWeights;
  std::vector<std::pair<std::string, std::string>> overrides; // name, file
};

struct LayerwiseReport {
  int64_t layers = 0;  // processed in this run
  int64_t resumed = 0; // taken from the checkpoint
  int64_t windows = 0;
};

/// Runs `processLayer` on every decoder layer of `module`'s @forward in
/// order, as described above. Errors are diagnostics on `module`.
FailureOr<LayerwiseReport>
runLayerwise(ModuleOp module, const LayerwiseOptions &options,
             llvm::function_ref<llvm::Error(LayerContext &)> processLayer);

/// The engine's options from a layer-by-layer pass's own (every such pass
/// declares the same calibration and checkpoint options in Passes.td).
template <typename PassOptions>
LayerwiseOptions layerwiseOptions(const PassOptions &pass,
                                  llvm::StringRef algorithm,
                                  std::string settings) {
  LayerwiseOptions options;
  options.calibration = {pass.dataset, pass.tokenizerDir, pass.seqLen,
                         pass.numCalibData, pass.batchSize};
  options.checkpointDir = pass.checkpointDir;
  options.resume = pass.resume;
  options.overwrite = pass.overwrite;
  options.algorithm = algorithm.str();
  options.settings = std::move(settings);
  return options;
}

/// The first decoder layer of `module` (null when it has none): where the
/// algo_config's per-layer names are taken from.
BlockOp firstDecoderLayer(ModuleOp module);

/// Appends `entry` (a Quark AlgoConfig dict) to the algo_config of the
/// module's quantization config, which the exporters write.
LogicalResult recordAlgoConfig(ModuleOp module, llvm::json::Object entry);

/// The name of `linear` relative to its decoder layer (`self_attn.q_proj`
/// in `model.layers.0`), as Quark's scaling_layers name modules.
std::string layerRelativeName(llvm::StringRef name, BlockOp block);

/// `model.layers` for blocks named `model.layers.N`.
std::string decoderLayersPrefix(ModuleOp module);

} // namespace mlir::quark

#endif // QUARK_LIB_TRANSFORMS_LAYERWISE_H
