//===- Gptq.cpp - GPTQ weight quantization with error feedback -----------===//

#include "quark/Algorithms/Gptq.h"

#include "quark/Support/Parallel.h"

#include "llvm/Support/FormatVariadic.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

// LAPACK's Cholesky routines, from OpenBLAS (column-major Fortran ABI).
extern "C" {
void spotrf_(const char *uplo, const int *n, float *a, const int *lda,
             int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda,
             int *info);
}

using namespace mlir::quark;

namespace {
using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

llvm::Error gptqError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "gptq: " + message);
}

/// Cholesky factorization of the symmetric row-major n x n `a` in place:
/// `lowerResult` leaves L with a = L L^T in the lower triangle, otherwise U
/// with a = U^T U in the upper one. A row-major matrix is the column-major
/// transpose, so row-major lower is LAPACK's column-major upper.
int cholesky(std::vector<float> &a, int n, bool lowerResult) {
  char uplo = lowerResult ? 'U' : 'L';
  int info = 0;
  spotrf_(&uplo, &n, a.data(), &n, &info);
  return info;
}

/// Mirrors the lower triangle of row-major `a` into the upper one.
void symmetrizeFromLower(std::vector<float> &a, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      a[i * n + j] = a[j * n + i];
}

/// Where each element's parameters are: slot = rowStride * row +
/// groupOf[column] (+ 0 for per-tensor).
struct SlotMap {
  int64_t rowStride = 0;
  std::vector<int64_t> columnSlot; // per permuted column
};
} // namespace

void mlir::quark::setBlasThreads(int threads) {
  openblas_set_num_threads(threads);
}

GptqHessian::GptqHessian(int64_t columns)
    : n(columns), lower(static_cast<size_t>(columns * columns), 0.0f) {}

void GptqHessian::add(llvm::ArrayRef<float> inputs, int64_t tokens,
                      int64_t samples) {
  if (tokens == 0)
    return;
  // H *= n / (n + b); x *= sqrt(2 / (n + b)); H += x^T x.
  float keep = static_cast<float>(count) / static_cast<float>(count + samples);
  count += samples;
  float factor = std::sqrt(2.0f / static_cast<float>(count));
  scaled.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    scaled[i] = inputs[i] * factor;
  cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(n),
              static_cast<int>(tokens), 1.0f, scaled.data(),
              static_cast<int>(n), keep, lower.data(), static_cast<int>(n));
}

std::vector<float> GptqHessian::matrix() const {
  std::vector<float> full = lower;
  symmetrizeFromLower(full, n);
  return full;
}

llvm::Expected<std::vector<float>>
mlir::quark::rtnQuantize(const TensorQuantSpec &spec, int64_t rows,
                         int64_t cols, llvm::ArrayRef<float> weight) {
  llvm::Expected<QuantLayout> layout = QuantLayout::get({rows, cols}, spec);
  if (!layout)
    return layout.takeError();
  llvm::Expected<QuantParams> params =
      computeDynamicParams(spec, *layout, weight);
  if (!params)
    return params.takeError();
  std::vector<float> out(weight.size());
  if (llvm::Error error =
          fakeQuantizeTensor(spec, *layout, weight, *params, out))
    return std::move(error);
  return out;
}

llvm::Expected<GptqResult>
mlir::quark::gptqQuantize(const TensorQuantSpec &spec, int64_t rows,
                          int64_t cols, llvm::ArrayRef<float> weight,
                          std::vector<float> hessian,
                          const GptqOptions &options) {
  auto prepareStart = Clock::now();
  GptqResult result;
  if (rows <= 0 || cols <= 0 ||
      static_cast<int64_t>(weight.size()) != rows * cols ||
      static_cast<int64_t>(hessian.size()) != cols * cols)
    return gptqError("the weight and Hessian sizes do not match");
  if (!ElementFakeQuantizer::supports(spec))
    return gptqError("casts and block formats have no quantization grid to "
                     "search");
  if (options.blockSize < 1)
    return gptqError("block_size must be >= 1");
  if (options.actOrder && !options.staticGroups &&
      spec.qscheme == QScheme::PerGroup)
    return gptqError("desc_act with per-group parameters needs "
                     "static_groups (the groups must keep their columns)");
  int64_t axis = spec.axis < 0 ? spec.axis + 2 : spec.axis;
  bool perGroup = spec.qscheme == QScheme::PerGroup;
  if (spec.qscheme == QScheme::PerBlock ||
      (spec.qscheme == QScheme::PerChannel && axis != 0) ||
      (perGroup && axis != 1))
    return gptqError("supported: per-tensor, per-channel along the output "
                     "axis and per-group along the input axis");
  int64_t groupSize =
      perGroup ? (spec.groupSize < 0 ? cols : spec.groupSize) : cols;
  if (perGroup && (groupSize <= 0 || cols % groupSize != 0))
    return gptqError(llvm::formatv("{0} columns do not split into groups of "
                                   "{1}",
                                   cols, groupSize));
  int64_t groups = cols / groupSize;
  llvm::Expected<QuantLayout> layout = QuantLayout::get({rows, cols}, spec);
  if (!layout)
    return layout.takeError();
  llvm::Expected<QuantLayout> groupLayout =
      QuantLayout::get({rows, groupSize}, spec);
  if (!groupLayout)
    return groupLayout.takeError();

  std::vector<float> w(weight.begin(), weight.end());
  auto groupSlice = [&](const std::vector<float> &source, int64_t firstColumn,
                        const std::vector<int64_t> &columns) {
    std::vector<float> slice(static_cast<size_t>(rows * groupSize));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < groupSize; ++c)
        slice[r * groupSize + c] = source[r * cols + columns[firstColumn + c]];
    return slice;
  };
  // Stores the parameters of group `g` computed from `slice`.
  QuantParams &params = result.params;
  auto setGroup = [&](int64_t g, llvm::ArrayRef<float> slice) -> llvm::Error {
    llvm::Expected<QuantParams> local =
        computeDynamicParams(spec, *groupLayout, slice);
    if (!local)
      return local.takeError();
    for (int64_t r = 0; r < rows; ++r) {
      params.scales[r * groups + g] = local->scales[r];
      if (!local->zeroPoints.empty())
        params.zeroPoints[r * groups + g] = local->zeroPoints[r];
    }
    return llvm::Error::success();
  };

  // 1. Parameters of the whole weight (per-tensor, per-channel).
  if (!perGroup) {
    llvm::Expected<QuantParams> whole = computeDynamicParams(spec, *layout, w);
    if (!whole)
      return whole.takeError();
    params = std::move(*whole);
  } else {
    params.scales.assign(static_cast<size_t>(rows * groups), 0.0f);
    if (spec.hasZeroPoint())
      params.zeroPoints.assign(params.scales.size(), 0);
  }

  // 2. Dead columns: never activated, so any value does; GPTQ zeroes them.
  for (int64_t d = 0; d < cols; ++d)
    if (hessian[d * cols + d] == 0.0f) {
      hessian[d * cols + d] = 1.0f;
      for (int64_t r = 0; r < rows; ++r)
        w[r * cols + d] = 0.0f;
      ++result.deadColumns;
    }

  // 3. Static groups: from the unpermuted weight, before any update.
  std::vector<int64_t> identity(static_cast<size_t>(cols));
  std::iota(identity.begin(), identity.end(), 0);
  bool staticGroups = perGroup && (options.staticGroups || options.actOrder);
  if (staticGroups)
    for (int64_t g = 0; g < groups; ++g)
      if (llvm::Error error =
              setGroup(g, groupSlice(w, g * groupSize, identity)))
        return std::move(error);

  // 4. act_order: decreasing diag(H); a stable sort, so ties keep their
  // column order (torch's argsort does not promise one).
  std::vector<int64_t> perm = identity;
  if (options.actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return hessian[a * cols + a] > hessian[b * cols + b];
    });
  bool permuted = perm != identity;
  if (permuted) {
    std::vector<float> wp(w.size()), hp(hessian.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        wp[r * cols + j] = w[r * cols + perm[j]];
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        hp[i * cols + j] = hessian[perm[i] * cols + perm[j]];
    w.swap(wp);
    hessian.swap(hp);
  }

  // 5. Damping.
  double diagonalSum = 0;
  for (int64_t i = 0; i < cols; ++i)
    diagonalSum += hessian[i * cols + i];
  float damp = static_cast<float>(options.dampPercent * diagonalSum /
                                  static_cast<double>(cols));
  for (int64_t i = 0; i < cols; ++i)
    hessian[i * cols + i] += damp;
  result.timings.prepare = secondsSince(prepareStart);

  // 6. Hinv = chol(chol_inverse(chol(H)), upper).
  auto choleskyStart = Clock::now();
  int n = static_cast<int>(cols);
  if (int info = cholesky(hessian, n, /*lowerResult=*/true))
    return gptqError(llvm::formatv(
        "the damped Hessian is not positive definite (LAPACK spotrf info "
        "{0}); raise damp_percent or calibrate on more tokens",
        info));
  {
    char uplo = 'U'; // row-major lower
    int info = 0;
    spotri_(&uplo, &n, hessian.data(), &n, &info);
    if (info)
      return gptqError(llvm::formatv("inverting the Hessian failed (LAPACK "
                                     "spotri info {0})",
                                     info));
  }
  symmetrizeFromLower(hessian, cols);
  if (int info = cholesky(hessian, n, /*lowerResult=*/false))
    return gptqError(llvm::formatv("the Hessian's inverse is not positive "
                                   "definite (LAPACK spotrf info {0})",
                                   info));
  const std::vector<float> &hinv = hessian; // upper triangle
  result.timings.cholesky = secondsSince(choleskyStart);

  // Slot of each (row, permuted column).
  SlotMap slots;
  slots.columnSlot.resize(static_cast<size_t>(cols));
  if (perGroup) {
    slots.rowStride = groups;
    for (int64_t j = 0; j < cols; ++j)
      slots.columnSlot[j] = (staticGroups ? perm[j] : j) / groupSize;
  } else if (spec.qscheme == QScheme::PerChannel) {
    slots.rowStride = 1;
  }

  // 7. The sweep, block by block.
  auto sweepStart = Clock::now();
  ElementFakeQuantizer quantize(spec);
  std::vector<float> q(w.size());
  int64_t blockSize = options.blockSize;
  std::vector<float> errors(static_cast<size_t>(rows * blockSize));
  std::vector<double> rowLoss(static_cast<size_t>(rows), 0.0);
  for (int64_t i1 = 0; i1 < cols; i1 += blockSize) {
    int64_t i2 = std::min(cols, i1 + blockSize);
    int64_t count = i2 - i1;
    // Dynamic groups starting in this block take their parameters from
    // the weight as the earlier blocks left it (the lazy-batch state).
    if (perGroup && !staticGroups)
      for (int64_t j = i1; j < i2; ++j)
        if (j % groupSize == 0)
          if (llvm::Error error =
                  setGroup(j / groupSize, groupSlice(w, j, identity)))
            return std::move(error);
    parallelChunks(rows, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(count));
      for (int64_t r = begin; r < end; ++r) {
        std::copy(w.begin() + r * cols + i1, w.begin() + r * cols + i2,
                  row.begin());
        float *rowErrors = errors.data() + r * count;
        double loss = 0;
        for (int64_t i = 0; i < count; ++i) {
          int64_t column = i1 + i;
          int64_t slot = slots.rowStride * r + slots.columnSlot[column];
          float x = row[i];
          float quantized =
              quantize(x, params.scales[slot],
                       params.zeroPoints.empty() ? 0 : params.zeroPoints[slot]);
          q[r * cols + column] = quantized;
          float d = hinv[column * cols + column];
          float error = (x - quantized) / d;
          loss += static_cast<double>(x - quantized) * (x - quantized) /
                  (static_cast<double>(d) * d) / 2;
          rowErrors[i] = error;
          const float *h = hinv.data() + column * cols + i1;
          for (int64_t j = i + 1; j < count; ++j)
            row[j] -= error * h[j];
        }
        rowLoss[r] += loss;
      }
    });
    // W[:, i2:] -= Err @ Hinv[i1:i2, i2:].
    if (i2 < cols)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                  static_cast<int>(rows), static_cast<int>(cols - i2),
                  static_cast<int>(count), -1.0f, errors.data(),
                  static_cast<int>(count), hinv.data() + i1 * cols + i2, n,
                  1.0f, w.data() + i2, n);
  }
  result.loss = std::accumulate(rowLoss.begin(), rowLoss.end(), 0.0);
  result.timings.sweep = secondsSince(sweepStart);

  // Back to the original column order.
  result.weight.resize(q.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      result.weight[r * cols + perm[j]] = q[r * cols + j];
  return result;
}
