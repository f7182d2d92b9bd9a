//===- HistogramObserver.cpp - Quark's per-tensor histogram observers -----===//

#include "quark/Support/HistogramObserver.h"

#include "quark/Support/DataType.h"
#include "quark/Support/ScalarQuant.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

namespace mlir::quark {

static llvm::Error observerError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

int64_t initialHistogramBins(HistogramMethod method) {
  return method == HistogramMethod::Percentile ? 4200 : 2048;
}

std::vector<float> histc(llvm::ArrayRef<float> x, int64_t bins, float min,
                         float max) {
  // histc_select_outer_bin_edges: an empty range takes the data's, and a
  // still empty one widens by 1 either side.
  if (min == max) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (float v : x) {
      lo = v < lo ? v : lo;
      hi = hi < v ? v : hi;
    }
    if (lo <= hi) {
      min = lo;
      max = hi;
    }
  }
  if (min == max) {
    min -= 1.0f;
    max += 1.0f;
  }
  std::vector<float> counts(static_cast<size_t>(bins), 0.0f);
  float range = max - min;
  float scale = static_cast<float>(bins);
  for (float v : x) {
    if (!(v >= min && v <= max))
      continue; // outside, or NaN
    auto pos = static_cast<int64_t>((v - min) * scale / range);
    if (pos == bins)
      pos = bins - 1; // the last bin includes its right edge
    counts[static_cast<size_t>(pos)] += 1.0f;
  }
  return counts;
}

std::vector<float> linspace(float start, float end, int64_t steps) {
  std::vector<float> values(static_cast<size_t>(std::max<int64_t>(steps, 0)));
  if (steps == 1) {
    values[0] = start;
    return values;
  }
  float step = (end - start) / static_cast<float>(steps - 1);
  int64_t halfway = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    values[static_cast<size_t>(i)] =
        i < halfway ? start + step * static_cast<float>(i)
                    : end - step * static_cast<float>(steps - i - 1);
  return values;
}

std::vector<float> arange(double start, double end, double step) {
  double size = std::ceil((end - start) / step);
  std::vector<float> values(static_cast<size_t>(std::max(size, 0.0)));
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(start + step * static_cast<double>(i));
  return values;
}

void observeHistogram(HistogramMethod method, bool symmetric,
                      llvm::ArrayRef<float> data, HistogramStats &stats) {
  // The values histogrammed: zeros dropped for percentile, |x| for
  // symmetric specs. Extremes skip NaNs (torch would propagate them and
  // fail in histc).
  std::vector<float> x;
  x.reserve(data.size());
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (float v : data) {
    if (method == HistogramMethod::Percentile && v == 0.0f)
      continue;
    if (symmetric)
      v = std::fabs(v);
    x.push_back(v);
    lo = v < lo ? v : lo;
    hi = hi < v ? v : hi;
  }
  if (lo > hi) // nothing but NaNs, or nothing: safe_min/safe_max give 0
    lo = hi = 0.0f;
  float xMin = symmetric ? 0.0f : lo;
  float xMax = hi;

  int64_t bins = stats.empty() ? initialHistogramBins(method)
                               : static_cast<int64_t>(stats.counts.size());
  if (xMin == xMax) {
    // A constant tensor: widen the range so that the bins are distinct.
    double span = std::max(std::fabs(static_cast<double>(xMin)), 1.0) *
                  static_cast<double>(bins) * FLT_EPSILON;
    xMax = static_cast<float>(static_cast<double>(xMin) +
                              std::max(span, static_cast<double>(FLT_MIN)));
  }

  if (stats.empty()) {
    stats.counts = histc(x, bins, xMin, xMax);
    stats.edges = linspace(xMin, xMax, bins + 1);
    return;
  }
  // Grow the range by whole bins of the current width (Quark's arange
  // edges; the old counts are added from the first bin on, as Quark does).
  if (xMin < stats.edges.front()) {
    float width = stats.edges[1] - stats.edges[0];
    bins += static_cast<int64_t>(std::ceil((stats.edges.front() - xMin) / width));
    stats.edges = arange(static_cast<double>(xMin - width),
                         static_cast<double>(stats.edges.back()), width);
  }
  if (xMax > stats.edges.back()) {
    float width = stats.edges[1] - stats.edges[0];
    bins += static_cast<int64_t>(std::ceil((xMax - stats.edges.back()) / width));
    stats.edges = arange(static_cast<double>(stats.edges.front()),
                         static_cast<double>(xMax + width), width);
  }
  std::vector<float> counts =
      histc(x, bins, stats.edges.front(), stats.edges.back());
  for (size_t i = 0; i < stats.counts.size() && i < counts.size(); ++i)
    counts[i] += stats.counts[i];
  stats.counts = std::move(counts);
}

/// Percentile 99.99999999 of the histogram (symmetric specs).
static MinMaxStats percentileRange(const HistogramStats &stats) {
  constexpr double kPercentile = 99.99999999;
  double total = 0.0;
  for (float count : stats.counts)
    total += count;
  float totalF = static_cast<float>(total);
  if (!(totalF > 0.0f)) // nothing observed: a zero range
    return {{0.0f}, {0.0f}};
  // cumsum accumulates in double and stores float32, as torch does.
  std::vector<float> cumulative(stats.counts.size());
  double running = 0.0;
  for (size_t i = 0; i < stats.counts.size(); ++i) {
    running += static_cast<double>(stats.counts[i] / totalF);
    cumulative[i] = static_cast<float>(running);
  }
  // The target is compared as a float32 (0.9999999999 rounds to 1).
  auto target = static_cast<float>(
      std::min(kPercentile / 100.0, static_cast<double>(cumulative.back())));
  size_t upper = cumulative.size() - 1;
  for (size_t i = 0; i < cumulative.size(); ++i)
    if (cumulative[i] >= target) {
      upper = i;
      break;
    }
  upper = std::min(upper, stats.edges.size() - 1);
  return {{0.0f}, {stats.edges[upper]}};
}

/// The bin centre whose quantization of all centres has the least
/// count-weighted mean squared error, from bin 2045 on.
static llvm::Expected<MinMaxStats> mseRange(const TensorQuantSpec &spec,
                                            const HistogramStats &stats) {
  constexpr int64_t kStartBin = 2045;
  const DTypeInfo &element = getDTypeInfo(spec.elementType());
  bool integer = element.isInteger() && element.bits <= 8 && element.bits != 2 &&
                 element.bits != 3;
  bool fp8 = element.dtype == QuantDType::FP8E4M3 ||
             element.dtype == QuantDType::FP8E5M2;
  if (!integer && !fp8)
    return observerError(llvm::formatv(
        "PerTensorMSEObserver supports int4, uint4, int8, uint8, fp8_e4m3 "
        "and fp8_e5m2 (as Quark does), not {0}",
        element.name));
  if (stats.edges.size() < 2)
    return observerError("PerTensorMSEObserver needs at least two bin edges");
  std::vector<float> centers(stats.edges.size() - 1);
  for (size_t i = 0; i < centers.size(); ++i)
    centers[i] = (stats.edges[i + 1] + stats.edges[i]) / 2.0f;
  size_t n = std::min(centers.size(), stats.counts.size());
  auto start = static_cast<size_t>(
      std::min<int64_t>(kStartBin, std::max<int64_t>(0, centers.size() - 1)));

  size_t best = start;
  float bestError = std::numeric_limits<float>::infinity();
  for (size_t i = start; i < centers.size(); ++i) {
    float amax = centers[i];
    float scale;
    int32_t zeroPoint = 0;
    if (integer) {
      if (spec.symmetric) {
        scale = quarkSymmetricIntScale(0.0f, amax, element.qmin, element.qmax);
      } else {
        IntQParams params =
            quarkAsymmetricIntParams(0.0f, amax, element.qmin, element.qmax);
        scale = params.scale;
        zeroPoint = params.zeroPoint;
      }
    } else {
      scale = amax / static_cast<float>(element.format->maxFinite());
    }
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) {
      float q = integer
                    ? dequantizeInt(quantizeInt(centers[j], scale, zeroPoint,
                                                element.qmin, element.qmax),
                                    scale, zeroPoint)
                    : fakeQuantizeFloat(element.dtype, centers[j], scale);
      float diff = q - centers[j];
      sum += static_cast<double>(diff * diff * stats.counts[j]);
    }
    auto error = static_cast<float>(sum / static_cast<double>(n));
    if (error < bestError) { // the first of equal minima, as argmin
      bestError = error;
      best = i;
    }
  }
  return MinMaxStats{{0.0f}, {centers[best]}};
}

llvm::Expected<MinMaxStats> histogramRange(HistogramMethod method,
                                           const TensorQuantSpec &spec,
                                           const HistogramStats &stats) {
  if (stats.empty() || stats.edges.empty())
    return observerError("the histogram is empty: nothing was observed");
  switch (method) {
  case HistogramMethod::Histogram:
    return MinMaxStats{{stats.edges.front()}, {stats.edges.back()}};
  case HistogramMethod::Percentile:
    if (!spec.symmetric)
      return observerError(
          "PerTensorPercentileObserver with symmetric = false: Quark's "
          "two-sided percentile takes the maximum from the lower tail, a "
          "range that clips nearly every value; use a symmetric spec, or the "
          "MSE or min-max observer");
    return percentileRange(stats);
  case HistogramMethod::MSE:
    return mseRange(spec, stats);
  }
  return observerError("unknown histogram method");
}

} // namespace mlir::quark
