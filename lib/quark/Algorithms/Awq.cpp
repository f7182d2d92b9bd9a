//===- Awq.cpp - Activation-aware weight quantization scale search --------===//

#include "quark/Algorithms/Awq.h"

#include "quark/Algorithms/Gptq.h"
#include "quark/Algorithms/SmoothQuant.h"

#include "llvm/Support/FormatVariadic.h"

#include <cblas.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <optional>

using namespace mlir::quark;

namespace {
llvm::Error awqError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "awq: " + message);
}

/// sum over rows r of d_r^T B d_r for d = a - b ([rows, cols]) and the
/// block `h` (cols x cols, leading dimension ld) of a Hessian: per row,
/// written to `perRow`.
void quadraticFormPerRow(int64_t rows, int64_t cols, const float *d,
                         int64_t ldd, const float *h, int64_t ldh,
                         std::vector<float> &product,
                         std::vector<double> &perRow) {
  product.resize(static_cast<size_t>(rows * cols));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
              static_cast<int>(cols), static_cast<int>(cols), 1.0f, d,
              static_cast<int>(ldd), h, static_cast<int>(ldh), 0.0f,
              product.data(), static_cast<int>(cols));
  perRow.assign(static_cast<size_t>(rows), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c)
      sum += static_cast<double>(d[r * ldd + c]) * product[r * cols + c];
    perRow[r] = sum;
  }
}

/// Elements per clip slot along a row, or nothing where a slot is not a
/// run of one row.
std::optional<int64_t> clipRun(const TensorQuantSpec &spec, int64_t cols) {
  if (spec.qscheme == QScheme::PerChannel && spec.axis == 0)
    return cols;
  if (spec.qscheme == QScheme::PerGroup && (spec.axis == -1 || spec.axis == 1))
    return spec.groupSize == -1 ? cols : spec.groupSize;
  return std::nullopt;
}
} // namespace

void ChannelAbsMean::add(llvm::ArrayRef<float> activations, int64_t channels) {
  if (sums.empty())
    sums.assign(static_cast<size_t>(channels), 0.0);
  assert(static_cast<int64_t>(sums.size()) == channels);
  int64_t rows = static_cast<int64_t>(activations.size()) / channels;
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = activations.data() + r * channels;
    for (int64_t j = 0; j < channels; ++j)
      sums[j] += std::fabs(x[j]);
  }
  count += rows;
}

std::vector<float> ChannelAbsMean::mean() const {
  std::vector<float> means(sums.size(), 0.0f);
  if (count > 0)
    for (size_t j = 0; j < sums.size(); ++j)
      means[j] = static_cast<float>(sums[j] / static_cast<double>(count));
  return means;
}

std::vector<float> mlir::quark::awqScales(llvm::ArrayRef<float> meanAbs,
                                          double ratio) {
  std::vector<float> scales(meanAbs.size());
  if (scales.empty())
    return scales;
  float ratioF = static_cast<float>(ratio);
  for (size_t j = 0; j < scales.size(); ++j)
    scales[j] = std::max(std::pow(meanAbs[j], ratioF), 1e-4f);
  auto [lo, hi] = std::minmax_element(scales.begin(), scales.end());
  float norm = std::sqrt(*hi * *lo);
  for (float &s : scales)
    s /= norm;
  return scales;
}

llvm::Expected<std::vector<float>>
mlir::quark::awqQuantizeScaled(const TensorQuantSpec &spec, int64_t rows,
                               int64_t cols, llvm::ArrayRef<float> weight,
                               llvm::ArrayRef<float> scales) {
  std::vector<float> scaled(weight.begin(), weight.end());
  scaleColumns(scaled, rows, cols, scales);
  llvm::Expected<std::vector<float>> quantized =
      rtnQuantize(spec, rows, cols, scaled);
  if (!quantized)
    return quantized.takeError();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      (*quantized)[r * cols + c] /= scales[c];
  return quantized;
}

double mlir::quark::outputMeanSquaredError(int64_t rows, int64_t cols,
                                           llvm::ArrayRef<float> weight,
                                           llvm::ArrayRef<float> quantized,
                                           llvm::ArrayRef<float> hessian) {
  if (rows == 0)
    return 0;
  std::vector<float> difference(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < difference.size(); ++i)
    difference[i] = weight[i] - quantized[i];
  std::vector<float> product;
  std::vector<double> perRow;
  quadraticFormPerRow(rows, cols, difference.data(), cols, hessian.data(), cols,
                      product, perRow);
  double total = 0;
  for (double value : perRow)
    total += value;
  // H carries GPTQ's factor 2.
  return total / 2 / static_cast<double>(rows);
}

llvm::Expected<AwqScaleSearch>
mlir::quark::awqSearchScales(llvm::ArrayRef<float> meanAbs,
                             llvm::ArrayRef<AwqLinear> linears, int64_t grid) {
  if (grid < 1)
    return awqError("the grid needs at least one point");
  int64_t channels = static_cast<int64_t>(meanAbs.size());
  double weightOfAll = 0;
  for (const AwqLinear &linear : linears) {
    if (linear.cols != channels ||
        static_cast<int64_t>(linear.weight.size()) !=
            linear.rows * linear.cols ||
        static_cast<int64_t>(linear.hessian.size()) !=
            linear.cols * linear.cols)
      return awqError(llvm::formatv(
          "a [{0}, {1}] linear with a {2}-element Hessian does not read the "
          "group's {3} channels",
          linear.rows, linear.cols, linear.hessian.size(), channels));
    weightOfAll +=
        static_cast<double>(linear.rows) * static_cast<double>(linear.tokens);
  }
  AwqScaleSearch search;
  double best = std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < grid; ++k) {
    double ratio = static_cast<double>(k) / static_cast<double>(grid);
    std::vector<float> scales = awqScales(meanAbs, ratio);
    double loss = 0;
    for (const AwqLinear &linear : linears) {
      if (!linear.spec || linear.tokens == 0)
        continue;
      llvm::Expected<std::vector<float>> quantized = awqQuantizeScaled(
          *linear.spec, linear.rows, linear.cols, linear.weight, scales);
      if (!quantized)
        return quantized.takeError();
      // Each linear's mean squared error, weighted by its share of the
      // group's output elements.
      loss += outputMeanSquaredError(linear.rows, linear.cols, linear.weight,
                                     *quantized, linear.hessian) *
              static_cast<double>(linear.rows) *
              static_cast<double>(linear.tokens);
    }
    if (weightOfAll > 0)
      loss /= weightOfAll;
    search.losses.push_back(loss);
    if (loss < best) {
      best = loss;
      search.bestIndex = k;
      search.bestRatio = ratio;
      search.scales = std::move(scales);
    }
  }
  if (search.scales.empty()) // every loss NaN: keep the weights as they are
    search.scales = awqScales(meanAbs, 0.0);
  return search;
}

bool mlir::quark::awqCanClip(const TensorQuantSpec &spec) {
  return clipRun(spec, 1).has_value() && !spec.isBlockFloat() &&
         spec.scaleFormat != ScaleFormat::E4M3 &&
         getDTypeInfo(spec.elementType()).kind != DTypeKind::Cast;
}

llvm::Expected<std::vector<float>>
mlir::quark::awqClip(const TensorQuantSpec &spec, int64_t rows, int64_t cols,
                     llvm::MutableArrayRef<float> weight,
                     llvm::ArrayRef<float> hessian,
                     const AwqClipOptions &options) {
  if (!awqCanClip(spec))
    return awqError("the clip search needs per-channel (axis 0) or "
                    "per-group (last axis) integer or scaled-float weights");
  if (static_cast<int64_t>(weight.size()) != rows * cols ||
      static_cast<int64_t>(hessian.size()) != cols * cols)
    return awqError(llvm::formatv(
        "a [{0}, {1}] weight needs a {1}x{1} Hessian, got {2} elements", rows,
        cols, hessian.size()));
  int64_t run = *clipRun(spec, cols);
  if (run <= 0 || cols % run != 0)
    return awqError(
        llvm::formatv("groups of {0} do not split {1} columns", run, cols));
  int64_t groups = cols / run;
  size_t slots = static_cast<size_t>(rows * groups);

  std::vector<float> originalMax(slots, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float &slotMax = originalMax[r * groups + c / run];
      slotMax = std::max(slotMax, std::fabs(weight[r * cols + c]));
    }
  std::vector<float> bestMax = originalMax;
  std::vector<double> bestError(slots, std::numeric_limits<double>::max());
  std::vector<float> clipped(weight.size()), difference(weight.size());
  std::vector<float> product;
  std::vector<double> perRow;
  int64_t steps = static_cast<int64_t>(static_cast<double>(options.grid) *
                                       options.maxShrink);
  for (int64_t step = 0; step < steps; ++step) {
    float keep =
        1.0f - static_cast<float>(step) / static_cast<float>(options.grid);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float limit = originalMax[r * groups + c / run] * keep;
        clipped[r * cols + c] = std::clamp(weight[r * cols + c], -limit, limit);
      }
    llvm::Expected<std::vector<float>> quantized =
        rtnQuantize(spec, rows, cols, clipped);
    if (!quantized)
      return quantized.takeError();
    for (size_t i = 0; i < difference.size(); ++i)
      difference[i] = (*quantized)[i] - weight[i];
    for (int64_t g = 0; g < groups; ++g) {
      quadraticFormPerRow(rows, run, difference.data() + g * run, cols,
                          hessian.data() + g * run * cols + g * run, cols,
                          product, perRow);
      for (int64_t r = 0; r < rows; ++r) {
        size_t slot = static_cast<size_t>(r * groups + g);
        if (perRow[r] < bestError[slot]) {
          bestError[slot] = perRow[r];
          bestMax[slot] = originalMax[slot] * keep;
        }
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float limit = bestMax[r * groups + c / run];
      weight[r * cols + c] = std::clamp(weight[r * cols + c], -limit, limit);
    }
  return bestMax;
}

void mlir::quark::divideHessian(llvm::MutableArrayRef<float> hessian,
                                llvm::ArrayRef<float> scales) {
  size_t n = scales.size();
  assert(hessian.size() == n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      hessian[i * n + j] /= scales[i] * scales[j];
}
