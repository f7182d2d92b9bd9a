//===- ScalingGroups.h - Where a per-channel scale can migrate -*- C++ -*-===//
//
// SmoothQuant and AWQ divide an activation by a per-channel scale s and
// multiply the weight columns that read it by s. That is only exact where
// the activation's producer can absorb 1/s and nothing else reads it:
//  * a norm (rms_norm, layer_norm) whose weight (and bias) is a parameter,
//    read only by linears (directly, or as the tokens of a quark.moe whose
//    experts and router all get the scale): input_layernorm -> q/k/v,
//    post_attention_layernorm -> gate/up or router + experts;
//  * a linear whose output reaches one linear through ops that commute
//    with a per-channel scale: v_proj -> attention -> o_proj when every
//    query head has its own KV head (channel j of the attention output is
//    then a mix of channel j of v only), up_proj -> gated_activation (as
//    the `up` factor) -> down_proj, fc1 -> relu -> fc2.
// The analysis finds these groups in one decoder layer (a quark.block).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_ANALYSIS_SCALINGGROUPS_H
#define QUARK_ANALYSIS_SCALINGGROUPS_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"

#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mlir::quark {

struct ScalingGroup {
  /// The op whose output channels absorb 1/s: a RMSNormOp, LayerNormOp or
  /// LinearOp.
  Operation *producer = nullptr;
  /// The parameters divided by s along their first dimension: the norm's
  /// weight (and bias), or the linear's weight rows (and bias).
  llvm::SmallVector<ParamOp, 2> producerParams;
  /// The linears whose weight columns are multiplied by s, in program
  /// order; all read the scaled channels as their input.
  llvm::SmallVector<LinearOp, 4> consumers;
  /// Channels (the consumers' input features).
  int64_t channels = 0;

  /// The producer's module name (`model.layers.0.input_layernorm`).
  std::string producerName() const;
};

/// The scaling groups of decoder layer `block`, in program order.
llvm::SmallVector<ScalingGroup> findScalingGroups(BlockOp block);

} // namespace mlir::quark

#endif // QUARK_ANALYSIS_SCALINGGROUPS_H
