//===- SmoothQuant.h - Migrating activation outliers into weights -*- C++ -*-//
//
// SmoothQuant (Xiao et al.) as Quark computes it (quark-semantics.md 4.3):
// per input channel j of a group of linears that read the same activation,
// s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), the activation divided by s
// (folded into the op that produces it) and every weight column multiplied
// by s. The float function is unchanged; the activation's outliers shrink.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_ALGORITHMS_SMOOTHQUANT_H
#define QUARK_ALGORITHMS_SMOOTHQUANT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace mlir::quark {

/// Running per-channel max |x| of activations with `channels` in the last
/// dimension.
void accumulateChannelAbsMax(llvm::ArrayRef<float> activations,
                             int64_t channels, std::vector<float> &absMax);

/// Raises `absMax[j]` to max over rows of |weight[row, j]| (weight
/// [rows, cols] row-major): the weight statistic of the group's linears.
void accumulateColumnAbsMax(llvm::ArrayRef<float> weight, int64_t rows,
                            int64_t cols, std::vector<float> &absMax);

/// s = clamp(act^alpha / clamp(w, 1e-5)^(1-alpha), scaleClampMin), per
/// channel. The reference SmoothQuant clamps at 1e-5; Quark's
/// SmoothQuantConfig.scale_clamp_min defaults to 1e-3.
std::vector<float> smoothQuantScales(llvm::ArrayRef<float> activationAbsMax,
                                     llvm::ArrayRef<float> weightAbsMax,
                                     double alpha, double scaleClampMin = 1e-5);

/// weight[:, j] *= scales[j] (weight [rows, cols]).
void scaleColumns(llvm::MutableArrayRef<float> weight, int64_t rows,
                  int64_t cols, llvm::ArrayRef<float> scales);
/// weight[j, :] /= scales[j] (the producer side: a norm's weight or bias is
/// one row per channel; a linear's output rows).
void divideRows(llvm::MutableArrayRef<float> weight, int64_t rows, int64_t cols,
                llvm::ArrayRef<float> scales);

} // namespace mlir::quark

#endif // QUARK_ALGORITHMS_SMOOTHQUANT_H
