//===- Awq.h - Activation-aware weight quantization scale search -*- C++
//-*-===//
//
// AWQ (Lin et al., llm-awq) as quark-semantics.md 4.2 describes it, IR-free:
//  * per input channel, the mean |x| of a scaling group's input;
//  * a grid search over ratio = k/grid (k = 0..grid-1) of
//    s = mean|x|^ratio, clamped at 1e-4 and normalised by sqrt(max*min),
//    each candidate scoring the group's output error when every weight is
//    replaced by Q(W*s)/s (Q: the layer's own weight quantizer); the
//    first strict minimum wins, so k = 0 (s = 1) is round-to-nearest;
//  * a clip search per (output row, group): max|w| shrunk by i/grid for
//    i < grid*maxShrink, keeping the clip with the least output error.
//
// Output errors come from each linear's input second moment
// H = (2/T) sum_t x_t x_t^T (GptqHessian with one sample per token)
// rather than from the tokens themselves: the mean over tokens of
// (x.(w - q))^2 is (w - q)^T H (w - q) / 2, so a search step costs one
// rows x cols x cols product whatever the token count, and only H (not the
// activations) is kept per linear.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_ALGORITHMS_AWQ_H
#define QUARK_ALGORITHMS_AWQ_H

#include "quark/Support/TensorQuant.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mlir::quark {

/// Running per-channel mean of |x| (llm-awq's get_act_scale), in double.
class ChannelAbsMean {
public:
  /// Adds the rows of `activations` ([tokens, channels] row-major).
  void add(llvm::ArrayRef<float> activations, int64_t channels);
  int64_t tokens() const { return count; }
  std::vector<float> mean() const;

private:
  std::vector<double> sums;
  int64_t count = 0;
};

/// One linear of a scaling group as the scale search sees it.
struct AwqLinear {
  /// The weight quantizer; null for a linear that is scaled with the group
  /// but not quantized (it adds no error).
  const TensorQuantSpec *spec = nullptr;
  int64_t rows = 0, cols = 0;
  llvm::ArrayRef<float> weight;  // [rows, cols]
  llvm::ArrayRef<float> hessian; // [cols, cols], (2/T) sum x x^T
  int64_t tokens = 0;            // T: how many inputs H averages
};

/// s = max(meanAbs^ratio, 1e-4) / sqrt(max(s) * min(s)).
std::vector<float> awqScales(llvm::ArrayRef<float> meanAbs, double ratio);

/// Q(W * s) / s: what the scale search scores for `spec` (per column j,
/// W[:, j] * s[j], fake-quantized with parameters of the scaled weight, then
/// divided by s[j]).
llvm::Expected<std::vector<float>>
awqQuantizeScaled(const TensorQuantSpec &spec, int64_t rows, int64_t cols,
                  llvm::ArrayRef<float> weight, llvm::ArrayRef<float> scales);

/// The mean over tokens and output rows of ((W - Q) x)^2, from H.
double outputMeanSquaredError(int64_t rows, int64_t cols,
                              llvm::ArrayRef<float> weight,
                              llvm::ArrayRef<float> quantized,
                              llvm::ArrayRef<float> hessian);

struct AwqScaleSearch {
  std::vector<float> scales; // the winner's s
  int64_t bestIndex = 0;     // its k (ratio = k / grid)
  double bestRatio = 0;
  /// The group's output mean squared error per grid point.
  std::vector<double> losses;
};

/// The scale search over a group (all linears read the same channels).
llvm::Expected<AwqScaleSearch>
awqSearchScales(llvm::ArrayRef<float> meanAbs,
                llvm::ArrayRef<AwqLinear> linears, int64_t grid = 20);

struct AwqClipOptions {
  int64_t grid = 20;
  double maxShrink = 0.5;
};

/// The clip search on weight [rows, cols] (already multiplied by its
/// group's scales; `hessian` is then that of the divided inputs): for each
/// parameter slot, the clip max|w|*(1 - i/grid) whose fake-quantized slot
/// gives the least output error (x.(q - w))^2 over the slot's columns.
/// Clamps `weight` to the winners in place and returns them per slot.
/// Needs slots that are runs of one row: per-channel on axis 0, or
/// per-group along the last axis.
llvm::Expected<std::vector<float>> awqClip(const TensorQuantSpec &spec,
                                           int64_t rows, int64_t cols,
                                           llvm::MutableArrayRef<float> weight,
                                           llvm::ArrayRef<float> hessian,
                                           const AwqClipOptions &options = {});

/// Whether awqClip supports `spec`'s layout on a matrix.
bool awqCanClip(const TensorQuantSpec &spec);

/// H[i][j] /= s[i] * s[j]: the second moment of the inputs divided by s.
void divideHessian(llvm::MutableArrayRef<float> hessian,
                   llvm::ArrayRef<float> scales);

} // namespace mlir::quark

#endif // QUARK_ALGORITHMS_AWQ_H
