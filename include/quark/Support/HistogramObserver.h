//===- HistogramObserver.h - Quark's per-tensor histogram observers -*- C++ -*-//
//
// The statistics and range selection of Quark's PerTensorHistogramObserver,
// PerTensorPercentileObserver and PerTensorMSEObserver
// (quark/torch/quantization/observer/observer.py), in the same float32
// arithmetic (docs/numerics.md, "Histogram observers"):
//
//  * every observed tensor is folded into a running histogram: symmetric
//    specs histogram |x| over [0, max|x|], asymmetric ones x over
//    [min, max]; the percentile observer drops zeros first. The first
//    tensor fixes the bins (2048, or 4200 for percentile) with linspace
//    edges; a later tensor outside the range grows it by whole bins of the
//    same width (arange edges), as torch.histc then counts it;
//  * percentile: the left edge of the first bin whose cumulative share
//    reaches 99.99999999% becomes the maximum (0 the minimum);
//  * MSE: among the centres of bins 2045 onwards, the one whose fake
//    quantization of all centres, weighted by their counts, has the least
//    mean squared error becomes the maximum;
//  * histogram: Quark's own class never turns its histogram into a range
//    (its min/max stay unset, so its scales degenerate to 1 or 2^-23); here
//    the histogram's range is used, which equals min-max.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_HISTOGRAMOBSERVER_H
#define QUARK_SUPPORT_HISTOGRAMOBSERVER_H

#include "quark/Support/QuantLayout.h"
#include "quark/Support/TensorQuant.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mlir::quark {

enum class HistogramMethod : uint8_t { Histogram, Percentile, MSE };

/// An observer's running histogram: counts as float32 (torch.histc's
/// result type, accumulated in float32 as Quark adds them) and the bin
/// edges Quark keeps (num_bins + 1 from linspace, or arange's count after
/// the range grew).
struct HistogramStats {
  std::vector<float> counts;
  std::vector<float> edges;
  bool empty() const { return counts.empty(); }
};

/// Quark's bin count for `method` before any growth.
int64_t initialHistogramBins(HistogramMethod method);

/// torch.histc(x, bins, min, max) on the CPU: elements outside [min, max]
/// (and NaN) are not counted; the last bin includes max.
std::vector<float> histc(llvm::ArrayRef<float> x, int64_t bins, float min,
                         float max);
/// torch.linspace(start, end, steps) in float32 (the scalar formula:
/// start + i*step in the first half, end - (steps-1-i)*step after).
std::vector<float> linspace(float start, float end, int64_t steps);
/// torch.arange(start, end, step) in float32: ceil((end-start)/step)
/// values start + i*step computed in double.
std::vector<float> arange(double start, double end, double step);

/// Folds `data` into `stats` (Quark's forward()).
void observeHistogram(HistogramMethod method, bool symmetric,
                      llvm::ArrayRef<float> data, HistogramStats &stats);

/// The [min, max] the observer quantizes with, as one-slot statistics for
/// computeQuantParams. MSE supports int4/uint4/int8/uint8 and fp8 (as
/// Quark does).
llvm::Expected<MinMaxStats> histogramRange(HistogramMethod method,
                                           const TensorQuantSpec &spec,
                                           const HistogramStats &stats);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_HISTOGRAMOBSERVER_H
