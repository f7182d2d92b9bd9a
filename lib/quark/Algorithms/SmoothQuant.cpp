//===- SmoothQuant.cpp - Migrating activation outliers into weights -------===//

#include "quark/Algorithms/SmoothQuant.h"

#include <algorithm>
#include <cassert>
#include <cmath>

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
