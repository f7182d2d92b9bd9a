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

#include "quark/Analysis/ScalingGroups.h"
#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Runtime/Executor.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Transforms/Calibration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"
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
  /// The algorithm's name: its folder in checkpointDir.
  std::string algorithm;
  /// Its Quark AlgoConfig entry (name and settings; recordAlgoConfig adds
  /// model_decoder_layers), appended to the module's algo_config when the
  /// run succeeds. It holds every setting, so it is also what the
  /// checkpoint's fingerprint takes of them.
  llvm::json::Object algoConfig;
  /// Settings outside Quark's AlgoConfig schema that change the result:
  /// fingerprinted with it, not exported.
  llvm::json::Object extraSettings;
};

/// One decoder layer as an algorithm sees it.
class LayerContext {
public:
  LayerContext(BlockOp block, llvm::ArrayRef<std::vector<Tensor>> inputs,
               WeightStore &store, Type modelFloat)
      : block(block), inputs(inputs), store(store), modelFloat(modelFloat) {}

  BlockOp getBlock() { return block; }
  Type getModelFloat() const { return modelFloat; }
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

  /// Drops the in-memory values of the updated weights, once they are
  /// written and before the IR is pointed at the layer's file.
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
};

/// Runs `processLayer` on every decoder layer of `module`'s @forward in
/// order, as described above, then records the algo_config entry. Errors
/// are diagnostics on `module`.
LogicalResult
runLayerwise(ModuleOp module, const LayerwiseOptions &options,
             llvm::function_ref<llvm::Error(LayerContext &)> processLayer);

/// The engine's options from a layer-by-layer pass's own (every such pass
/// declares the same calibration and checkpoint options in Passes.td).
template <typename PassOptions>
LayerwiseOptions layerwiseOptions(const PassOptions &pass,
                                  llvm::StringRef algorithm,
                                  llvm::json::Object algoConfig) {
  LayerwiseOptions options;
  options.calibration = {pass.dataset, pass.tokenizerDir, pass.seqLen,
                         pass.numCalibData, pass.batchSize};
  options.checkpointDir = pass.checkpointDir;
  options.resume = pass.resume;
  options.overwrite = pass.overwrite;
  options.algorithm = algorithm.str();
  options.algoConfig = std::move(algoConfig);
  return options;
}

/// What an algorithm pass rewrites: the model folder its params read from
/// and its @forward.
struct AlgorithmModule {
  StringAttr modelDir;
  func::FuncOp forward;
};

/// `module`'s AlgorithmModule, or an error `<algorithm>: ...` on the module
/// when `checkpointDir` (where the pass writes `what`) is unset or the
/// module was not imported from a model folder.
FailureOr<AlgorithmModule> getAlgorithmModule(ModuleOp module,
                                              llvm::StringRef algorithm,
                                              llvm::StringRef checkpointDir,
                                              llvm::StringRef what);

/// The first decoder layer of `module` (null when it has none): where the
/// algo_config's per-layer names are taken from.
BlockOp firstDecoderLayer(ModuleOp module);

/// The name of `linear` relative to its decoder layer (`self_attn.q_proj`
/// in `model.layers.0`), as Quark's scaling_layers name modules.
std::string layerRelativeName(llvm::StringRef name, BlockOp block);

/// Quark's scaling_layers entries ({prev_op, layers, inp,
/// module2inspect}) for the scaling groups of the first decoder layer.
llvm::json::Array scalingLayersConfig(ModuleOp module);

/// The numerics of `linear`'s weight when an algorithm can work on it
/// element by element (a matrix param with a single-stage integer,
/// scaled-float or MX spec), or nothing: then `unsupported` is told why,
/// unless the linear has no weight spec at all. Fails (with a diagnostic)
/// on a spec that does not resolve.
FailureOr<std::optional<TensorQuantSpec>> elementwiseWeightNumerics(
    LinearOp linear, Type modelFloat,
    llvm::function_ref<void(llvm::StringRef)> unsupported);

/// Rows and columns of a weight viewed as [first dim, rest].
std::pair<int64_t, int64_t> matrixShape(const Tensor &value);

/// Folds per-channel `scales` into `group` (SmoothQuant, AWQ): the
/// consumers' weights (`consumerWeights`, as read, in the group's order)
/// times s column by column, the producer's params divided by s row by
/// row; the float function is unchanged.
llvm::Error foldGroupScales(LayerContext &layer, const ScalingGroup &group,
                            llvm::ArrayRef<Tensor> consumerWeights,
                            llvm::ArrayRef<float> scales);

/// Appends `entry`, with its model_decoder_layers (`model.layers` for
/// layers named `model.layers.N`), to the algo_config of the module's
/// quantization config, which the exporters write.
LogicalResult recordAlgoConfig(ModuleOp module, llvm::json::Object entry);

/// One tensor of an algorithm's per-layer file.
struct ParamFileEntry {
  std::string name;
  TensorDType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<uint8_t> bytes;
};

/// `value` as the new content of `param`: float32 values rounded to the
/// precision the param declares (bf16, fp16), unless `keepFloat32`.
ParamFileEntry rewrittenParamEntry(ParamOp param, const Tensor &value,
                                   bool keepFloat32 = false);

/// Writes `entries` to the safetensors file `path` (atomically).
llvm::Error writeParamFile(llvm::StringRef path,
                           std::vector<ParamFileEntry> entries);

/// elementwiseWeightNumerics of every linear of `layer` that has them,
/// keyed by the LinearOp in program order; `unsupported` is told about the
/// others that have a weight spec. An error when a spec does not resolve.
llvm::Expected<llvm::MapVector<Operation *, TensorQuantSpec>>
layerWeightNumerics(
    LayerContext &layer,
    llvm::function_ref<void(LinearOp, llvm::StringRef)> unsupported);

/// An error for an algorithm's processLayer to return.
llvm::Error layerError(const llvm::Twine &message);

} // namespace mlir::quark

#endif // QUARK_LIB_TRANSFORMS_LAYERWISE_H
