//===- Executor.h - Run quark IR on the CPU ---------------------*- C++ -*-===//
//
// An interpreter for the model IR the importer produces, in float32: each op
// runs one kernel over whole tensors (the ops are coarse, so interpretation
// costs nothing next to the kernels). Values are freed after their last use.
// Values computed only from weights (a fake-quantized weight, say) are
// computed once and kept across runs.
//
// The executor is what calibration and evaluation run on: hooks see every
// quark.observe and every finished quark.block.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_RUNTIME_EXECUTOR_H
#define QUARK_RUNTIME_EXECUTOR_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Runtime/Tensor.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/Hadamard.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <map>
#include <vector>

namespace mlir::quark {

class Executor {
public:
  explicit Executor(WeightStore &weights) : weights(weights) {}

  /// Runs `function` on `arguments` (token ids as an int32 [batch, seq]
  /// tensor for an imported model) and returns its results.
  llvm::Expected<std::vector<Tensor>> run(func::FuncOp function,
                                          llvm::ArrayRef<Tensor> arguments);
  /// Runs `function` on several argument lists (calibration batches) op by
  /// op: each top-level op runs on every batch before the next op starts.
  /// A quark.block (one decoder layer) thus reads its weights once, and its
  /// cached values are dropped when it is done: with weight caching off in
  /// the WeightStore, one layer's weights and the batches' activations are
  /// resident, whatever the model's size. Stops after `last` when given (the
  /// ops after it are not needed) and returns no results.
  llvm::Error runLayerwise(func::FuncOp function,
                           llvm::ArrayRef<std::vector<Tensor>> batches,
                           Operation *last = nullptr);
  /// Runs the top-level ops of `function` before `stop` on every batch, as
  /// runLayerwise does, and returns each batch's values of `stop`'s
  /// operands: the inputs of a decoder layer, say.
  llvm::Expected<std::vector<std::vector<Tensor>>>
  runUntil(func::FuncOp function, llvm::ArrayRef<std::vector<Tensor>> batches,
           Operation *stop);
  /// Runs the single-block `region` (a quark.block body, say) on `arguments`.
  llvm::Expected<std::vector<Tensor>>
  runRegion(Region &region, llvm::ArrayRef<Tensor> arguments);

  /// Called with each quark.observe and the tensor it observes.
  std::function<llvm::Error(ObserveOp, const Tensor &)> observeHook;
  /// Called with the largest attention probability of each run of a
  /// quark.attention that has a softmax_spec but no softmax_scale yet
  /// (calibration).
  std::function<void(AttentionOp, float)> softmaxHook;
  /// Called with each quark.linear and its input before it runs: the
  /// algorithms' view of a layer's activations.
  std::function<llvm::Error(LinearOp, const Tensor &)> linearHook;
  /// Called after each quark.block finishes.
  std::function<void(BlockOp)> blockHook;
  /// Keep weight-only values across runs (on by default).
  void setConstantCaching(bool enabled) { constantCaching = enabled; }
  void clearConstantCache() { constants.clear(); }

private:
  struct Scope;
  /// runLayerwise and runUntil: the top-level ops up to `last` (inclusive)
  /// or `stop` (exclusive); with `stop`, its operands' values per batch.
  llvm::Expected<std::vector<std::vector<Tensor>>>
  runTopLevel(func::FuncOp function,
              llvm::ArrayRef<std::vector<Tensor>> batches, Operation *last,
              Operation *stop);
  llvm::Expected<std::vector<Tensor>>
  runBlock(Block &block, llvm::ArrayRef<Tensor> arguments, Scope *parent);
  llvm::Error evaluate(Operation *op, Scope &scope);
  /// Whether `value` depends on weights and constants only.
  bool isConstant(Value value);
  /// For each op of `block`, the values whose last use it is.
  const std::vector<std::vector<Value>> &deathsOf(Block &block);

  WeightStore &weights;
  bool constantCaching = true;
  llvm::DenseMap<Value, Tensor> constants;
  llvm::DenseMap<Value, bool> constness;
  llvm::DenseMap<Block *, std::vector<std::vector<Value>>> deaths;
  /// quark.hadamard's rotations by size, built once per executor.
  std::map<int64_t, HadamardRotation> rotations;
};

/// Converts a DenseElementsAttr (float or integer) to a tensor.
Tensor tensorFromAttr(DenseElementsAttr attr);

} // namespace mlir::quark

#endif // QUARK_RUNTIME_EXECUTOR_H
