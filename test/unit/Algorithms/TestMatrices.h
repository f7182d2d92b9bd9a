//===- TestMatrices.h - Weights and activations for algorithm tests -------===//
//
// Small random matrices shaped like an LLM linear's: Gaussian weights and
// correlated activations with outlier channels, and the output error the
// algorithms minimise.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TEST_UNIT_ALGORITHMS_TESTMATRICES_H
#define QUARK_TEST_UNIT_ALGORITHMS_TESTMATRICES_H

#include "quark/Support/QuantLayout.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <random>
#include <vector>

namespace mlir::quark::test {

/// Correlated activations: a few latent factors plus noise, some channels
/// with large outliers, as LLM activations have.
inline std::vector<float> makeInputs(int64_t tokens, int64_t cols,
                                     unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int64_t factors = 4;
  std::vector<float> mixing(static_cast<size_t>(factors * cols));
  for (float &m : mixing)
    m = normal(rng);
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t) {
    float latent[4];
    for (float &l : latent)
      l = normal(rng);
    for (int64_t c = 0; c < cols; ++c) {
      float v = 0.3f * normal(rng);
      for (int64_t f = 0; f < factors; ++f)
        v += latent[f] * mixing[f * cols + c];
      x[t * cols + c] = c % 7 == 0 ? 5.0f * v : v;
    }
  }
  return x;
}

inline std::vector<float> makeWeight(int64_t rows, int64_t cols,
                                     unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float &v : w)
    v = normal(rng);
  return w;
}

/// ||(W - Q) X^T||^2.
inline double outputError(llvm::ArrayRef<float> w, llvm::ArrayRef<float> q,
                          llvm::ArrayRef<float> x, int64_t rows, int64_t cols) {
  int64_t tokens = static_cast<int64_t>(x.size()) / cols;
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) {
      double d = 0;
      for (int64_t c = 0; c < cols; ++c)
        d += (static_cast<double>(w[r * cols + c]) - q[r * cols + c]) *
             x[t * cols + c];
      sum += d * d;
    }
  return sum;
}

inline TensorQuantSpec int4Group(int64_t groupSize) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::Int4;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = -1;
  spec.groupSize = groupSize;
  return spec;
}

} // namespace mlir::quark::test

#endif // QUARK_TEST_UNIT_ALGORITHMS_TESTMATRICES_H
