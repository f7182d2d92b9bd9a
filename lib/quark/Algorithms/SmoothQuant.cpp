//===- SmoothQuant.cpp - Migrating activation outliers into weights -------===//

#include "quark/Algorithms/SmoothQuant.h"

#include "quark/Algorithms/Gptq.h"

#include "llvm/Support/FormatVariadic.h"

#include <cblas.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

using namespace mlir::quark;

void mlir::quark::accumulateChannelAbsMax(llvm::ArrayRef<float> activations,
                                          int64_t channels,
                                          std::vector<float> &absMax) {
  if (absMax.empty())
    absMax.assign(static_cast<size_t>(channels), 0.0f);
  assert(static_cast<int64_t>(absMax.size()) == channels);
  size_t rows = activations.size() / static_cast<size_t>(channels);
  for (size_t r = 0; r < rows; ++r) {
    const float *x = activations.data() + r * channels;
    for (int64_t j = 0; j < channels; ++j)
      absMax[j] = std::max(absMax[j], std::fabs(x[j]));
  }
}

void mlir::quark::accumulateColumnAbsMax(llvm::ArrayRef<float> weight,
                                         int64_t rows, int64_t cols,
                                         std::vector<float> &absMax) {
  accumulateChannelAbsMax(weight.take_front(static_cast<size_t>(rows * cols)),
                          cols, absMax);
}

std::vector<float>
mlir::quark::smoothQuantScales(llvm::ArrayRef<float> activationAbsMax,
                               llvm::ArrayRef<float> weightAbsMax, double alpha,
                               double scaleClampMin) {
  assert(activationAbsMax.size() == weightAbsMax.size());
  std::vector<float> scales(activationAbsMax.size());
  for (size_t j = 0; j < scales.size(); ++j) {
    float act = activationAbsMax[j];
    float w = std::max(weightAbsMax[j], 1e-5f);
    float s = std::pow(act, static_cast<float>(alpha)) /
              std::pow(w, static_cast<float>(1.0 - alpha));
    scales[j] = std::max(s, static_cast<float>(scaleClampMin));
  }
  return scales;
}

void mlir::quark::scaleColumns(llvm::MutableArrayRef<float> weight,
                               int64_t rows, int64_t cols,
                               llvm::ArrayRef<float> scales) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      weight[r * cols + j] *= scales[j];
}

void mlir::quark::divideRows(llvm::MutableArrayRef<float> weight, int64_t rows,
                             int64_t cols, llvm::ArrayRef<float> scales) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      weight[r * cols + j] /= scales[r];
}

void TokenSample::add(llvm::ArrayRef<float> activations) {
  int64_t rows = static_cast<int64_t>(activations.size()) / width;
  for (int64_t r = 0; r < rows; ++r, ++seen) {
    if (seen % stride != 0)
      continue;
    if (count() == capacity) {
      // Keep the tokens at even positions of the sample: stride doubles.
      int64_t kept2 = 0;
      for (int64_t t = 0; t < capacity; t += 2, ++kept2)
        std::copy_n(kept.begin() + t * width, width,
                    kept.begin() + kept2 * width);
      kept.resize(static_cast<size_t>(kept2 * width));
      stride *= 2;
      if (seen % stride != 0)
        continue;
    }
    kept.insert(kept.end(), activations.begin() + r * width,
                activations.begin() + (r + 1) * width);
  }
}

namespace {
llvm::Error smoothError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "autosmoothquant: " + message);
}

/// c[m, n] = a[m, k] b[n, k]^T.
void timesTransposed(const float *a, const float *b, float *c, int64_t m,
                     int64_t n, int64_t k) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), 1.0f, a,
              static_cast<int>(k), b, static_cast<int>(k), 0.0f, c,
              static_cast<int>(n));
}

/// Q(x / s) for the sampled tokens of `linear`.
llvm::Expected<std::vector<float>>
quantizedInputs(const SmoothSearchLinear &linear,
                llvm::ArrayRef<float> scales) {
  int64_t n = static_cast<int64_t>(linear.inputs.size()) / linear.cols;
  std::vector<float> x(linear.inputs.begin(), linear.inputs.end());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < linear.cols; ++j)
      x[t * linear.cols + j] /= scales[j];
  if (!linear.inputSpec)
    return x;
  const TensorQuantSpec &spec = *linear.inputSpec;
  llvm::Expected<QuantLayout> layout = QuantLayout::get({n, linear.cols}, spec);
  if (!layout)
    return layout.takeError();
  llvm::Expected<QuantParams> params = [&]() -> llvm::Expected<QuantParams> {
    bool fromAllTokens = !linear.inputDynamic &&
                         spec.qscheme == QScheme::PerTensor &&
                         !linear.channelMin.empty();
    if (!fromAllTokens)
      return computeDynamicParams(spec, *layout, x);
    // The static observer's min/max over every token, of x / s.
    MinMaxStats stats;
    stats.min.assign(1, std::numeric_limits<float>::infinity());
    stats.max.assign(1, -std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < linear.cols; ++j) {
      stats.min[0] = std::min(stats.min[0], linear.channelMin[j] / scales[j]);
      stats.max[0] = std::max(stats.max[0], linear.channelMax[j] / scales[j]);
    }
    return computeQuantParams(spec, stats);
  }();
  if (!params)
    return params.takeError();
  if (llvm::Error error = fakeQuantizeTensor(spec, *layout, x, *params, x))
    return std::move(error);
  return x;
}
} // namespace

llvm::Expected<SmoothSearchResult> mlir::quark::searchSmoothQuantAlpha(
    llvm::ArrayRef<float> activationAbsMax, llvm::ArrayRef<float> weightAbsMax,
    llvm::ArrayRef<SmoothSearchLinear> linears, llvm::ArrayRef<double> alphas,
    SmoothLoss loss, double scaleClampMin) {
  int64_t channels = static_cast<int64_t>(activationAbsMax.size());
  if (alphas.empty())
    return smoothError("no alpha to try");
  if (static_cast<int64_t>(weightAbsMax.size()) != channels)
    return smoothError(llvm::formatv("{0} activation and {1} weight channels",
                                     channels, weightAbsMax.size()));
  // The float outputs, once.
  std::vector<std::vector<float>> reference;
  double elements = 0;
  for (const SmoothSearchLinear &linear : linears) {
    if (linear.cols != channels ||
        static_cast<int64_t>(linear.weight.size()) !=
            linear.rows * linear.cols ||
        linear.inputs.size() % static_cast<size_t>(channels) != 0 ||
        (!linear.channelMin.empty() &&
         (static_cast<int64_t>(linear.channelMin.size()) != channels ||
          linear.channelMax.size() != linear.channelMin.size())))
      return smoothError(llvm::formatv(
          "a [{0}, {1}] linear does not read the group's {2} channels",
          linear.rows, linear.cols, channels));
    int64_t n = static_cast<int64_t>(linear.inputs.size()) / channels;
    std::vector<float> out(static_cast<size_t>(n * linear.rows));
    if (n > 0)
      timesTransposed(linear.inputs.data(), linear.weight.data(), out.data(), n,
                      linear.rows, channels);
    elements += static_cast<double>(out.size());
    reference.push_back(std::move(out));
  }
  SmoothSearchResult result;
  double best = std::numeric_limits<double>::infinity();
  for (double alpha : alphas) {
    std::vector<float> scales =
        smoothQuantScales(activationAbsMax, weightAbsMax, alpha, scaleClampMin);
    double total = 0;
    for (auto [linear, expected] : llvm::zip(linears, reference)) {
      int64_t n = static_cast<int64_t>(linear.inputs.size()) / channels;
      if (n == 0)
        continue;
      llvm::Expected<std::vector<float>> x = quantizedInputs(linear, scales);
      if (!x)
        return x.takeError();
      std::vector<float> w(linear.weight.begin(), linear.weight.end());
      scaleColumns(w, linear.rows, channels, scales);
      if (linear.weightSpec) {
        llvm::Expected<std::vector<float>> q =
            rtnQuantize(*linear.weightSpec, linear.rows, channels, w);
        if (!q)
          return q.takeError();
        w = std::move(*q);
      }
      std::vector<float> out(expected.size());
      timesTransposed(x->data(), w.data(), out.data(), n, linear.rows,
                      channels);
      for (size_t i = 0; i < out.size(); ++i) {
        double d = static_cast<double>(out[i]) - expected[i];
        total += loss == SmoothLoss::MSE ? d * d : std::fabs(d);
      }
    }
    if (elements > 0)
      total /= elements;
    result.losses.push_back(total);
    if (total < best) {
      best = total;
      result.alpha = alpha;
      result.scales = std::move(scales);
    }
  }
  if (result.scales.empty()) // every loss NaN
    return smoothError("no alpha gave a finite loss");
  return result;
}
