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

#include "quark/Support/TensorQuant.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <algorithm>
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

/// Evenly spaced tokens of a stream of activation rows, at most
/// `capacity` of them: every stride-th token is kept, and when the buffer
/// fills, every other kept token is dropped and the stride doubles. So
/// memory is bounded whatever the calibration size.
class TokenSample {
public:
  TokenSample(int64_t channels, int64_t capacity)
      : width(channels), capacity(std::max<int64_t>(capacity, 2)) {}
  /// Adds the rows of `activations` ([tokens, channels] row-major).
  void add(llvm::ArrayRef<float> activations);
  llvm::ArrayRef<float> tokens() const { return kept; }
  int64_t count() const {
    return static_cast<int64_t>(kept.size()) / std::max<int64_t>(width, 1);
  }
  int64_t channels() const { return width; }

private:
  int64_t width, capacity;
  int64_t stride = 1, seen = 0;
  std::vector<float> kept;
};

/// AutoSmoothQuant's score of a smoothed group: the error of the
/// quantized outputs against the float outputs.
enum class SmoothLoss { MSE, MAE };

/// One linear of a scaling group as the alpha search sees it.
struct SmoothSearchLinear {
  /// The weight quantizer (null: the weight stays float).
  const TensorQuantSpec *weightSpec = nullptr;
  /// The input quantizer (null: the activation stays float); `dynamic`
  /// quantizers take their parameters from each sample, static ones from
  /// the min/max over every calibration token (`channelMin/Max`, divided
  /// by the scales).
  const TensorQuantSpec *inputSpec = nullptr;
  bool inputDynamic = false;
  llvm::ArrayRef<float> channelMin, channelMax;
  int64_t rows = 0, cols = 0;
  llvm::ArrayRef<float> weight; // [rows, cols]
  llvm::ArrayRef<float> inputs; // sampled tokens [n, cols]
};

struct SmoothSearchResult {
  double alpha = 0;
  std::vector<float> scales;
  std::vector<double> losses; // per alpha tried
};

/// For each alpha, the SmoothQuant scales of the group (from the
/// activation maxima over all tokens and the weights' column maxima), and
/// the loss of every linear computing Q(x / s) Q(W * s)^T on its sampled
/// tokens instead of x W^T; the first alpha with the least loss wins.
llvm::Expected<SmoothSearchResult> searchSmoothQuantAlpha(
    llvm::ArrayRef<float> activationAbsMax, llvm::ArrayRef<float> weightAbsMax,
    llvm::ArrayRef<SmoothSearchLinear> linears, llvm::ArrayRef<double> alphas,
    SmoothLoss loss, double scaleClampMin = 1e-5);

} // namespace mlir::quark

#endif // QUARK_ALGORITHMS_SMOOTHQUANT_H
