//===- HadamardTest.cpp - Hadamard matrices and rotations -----------------===//

#include "quark/Support/Hadamard.h"

#include "TestMatrices.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace mlir::quark;
using namespace mlir::quark::test;

namespace {

class HadamardOrders : public ::testing::TestWithParam<int64_t> {};

TEST_P(HadamardOrders, RowsAreOrthogonalSigns) {
  int64_t order = GetParam();
  llvm::Expected<std::vector<int8_t>> h = hadamardMatrix(order);
  ASSERT_TRUE(static_cast<bool>(h)) << llvm::toString(h.takeError());
  ASSERT_EQ(static_cast<int64_t>(h->size()), order * order);
  for (int8_t value : *h)
    ASSERT_TRUE(value == 1 || value == -1);
  for (int64_t i = 0; i < order; ++i)
    for (int64_t j = 0; j < order; ++j) {
      int64_t dot = 0;
      for (int64_t c = 0; c < order; ++c)
        dot += (*h)[i * order + c] * (*h)[j * order + c];
      ASSERT_EQ(dot, i == j ? order : 0) << "rows " << i << ", " << j;
    }
}

// Every non-power-of-two order QuaRot uses that a Paley construction (or
// doubling) reaches, and powers of two.
INSTANTIATE_TEST_SUITE_P(Orders, HadamardOrders,
                         ::testing::Values(1, 2, 4, 8, 12, 20, 28, 36, 40, 52,
                                           60, 108, 140));

TEST(Hadamard, UnreachableOrdersHaveNoMatrix) {
  for (int64_t order : {156, 172, 6, 0}) {
    llvm::Expected<std::vector<int8_t>> h = hadamardMatrix(order);
    EXPECT_FALSE(static_cast<bool>(h)) << order;
    llvm::consumeError(h.takeError());
  }
}

// Sizes without a Hadamard factor rotate by a DCT-II factor instead: 11008
// (172 * 64, Llama-2's intermediate), 344 (172 * 2), 100 (25 * 4).
TEST(Hadamard, SizesWithoutAHadamardFactorUseADct) {
  for (auto [size, factor] : {std::pair<int64_t, int64_t>(11008, 172),
                              {344, 172},
                              {312, 156},
                              {100, 25},
                              {7, 7}}) {
    llvm::Expected<HadamardRotation> rotation = HadamardRotation::get(size);
    ASSERT_TRUE(static_cast<bool>(rotation)) << size;
    EXPECT_EQ(rotation->factor(), factor) << size;
    EXPECT_FALSE(rotation->isHadamard()) << size;
  }
  llvm::Expected<HadamardRotation> none = HadamardRotation::get(0);
  ASSERT_FALSE(static_cast<bool>(none));
  llvm::consumeError(none.takeError());
}

// For n = 2^m, M is scipy.linalg.hadamard(n) / sqrt(n): entry (i, j) is
// (-1)^popcount(i & j) / sqrt(n).
TEST(Hadamard, PowerOfTwoIsSylvester) {
  llvm::Expected<HadamardRotation> rotation = HadamardRotation::get(64);
  ASSERT_TRUE(static_cast<bool>(rotation));
  EXPECT_EQ(rotation->factor(), 1);
  std::vector<double> m = rotation->matrix();
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 64; ++j) {
      double sign = __builtin_popcountll(i & j) % 2 ? -1.0 : 1.0;
      EXPECT_DOUBLE_EQ(m[i * 64 + j], sign / 8.0);
    }
}

class RotationSizes : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(RotationSizes, IsOrthogonalAndMatchesTheDenseProduct) {
  auto [size, factor] = GetParam();
  llvm::Expected<HadamardRotation> rotation = HadamardRotation::get(size);
  ASSERT_TRUE(static_cast<bool>(rotation))
      << llvm::toString(rotation.takeError());
  EXPECT_EQ(rotation->factor(), factor);
  std::vector<double> m = rotation->matrix();
  for (int64_t i = 0; i < size; ++i)
    for (int64_t j = 0; j < size; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < size; ++c)
        dot += m[i * size + c] * m[j * size + c];
      ASSERT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-12);
    }
  // Rows: x -> x M; columns: W -> M^T W.
  int64_t count = 5;
  std::vector<float> rows = makeWeight(count, size, 31);
  std::vector<float> rotated = rows;
  rotation->rotateRows(rotated, count);
  for (int64_t r = 0; r < count; ++r)
    for (int64_t j = 0; j < size; ++j) {
      double expected = 0;
      for (int64_t i = 0; i < size; ++i)
        expected += rows[r * size + i] * m[i * size + j];
      ASSERT_NEAR(rotated[r * size + j], expected, 1e-6);
    }
  std::vector<float> columns = makeWeight(size, count, 32);
  std::vector<float> left = columns;
  rotation->rotateColumns(left, count);
  for (int64_t i = 0; i < size; ++i)
    for (int64_t c = 0; c < count; ++c) {
      double expected = 0;
      for (int64_t k = 0; k < size; ++k)
        expected += m[k * size + i] * columns[k * count + c];
      ASSERT_NEAR(left[i * count + c], expected, 1e-6);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, RotationSizes,
    ::testing::Values(std::pair(256, 1), std::pair(192, 12), std::pair(20, 20),
                      std::pair(112, 28), std::pair(144, 36),
                      std::pair(320, 40), std::pair(104, 52),
                      std::pair(240, 60), std::pair(216, 108),
                      std::pair(280, 140), std::pair(344, 172),
                      std::pair(100, 25)));

// A rotation keeps the float function of a linear: (x M)(W M)^T = x W^T.
TEST(Hadamard, RotatingInputAndWeightCancels) {
  int64_t size = 96, rows = 7, tokens = 9; // 96 = 12 * 8
  llvm::Expected<HadamardRotation> rotation = HadamardRotation::get(size);
  ASSERT_TRUE(static_cast<bool>(rotation));
  std::vector<float> w = makeWeight(rows, size, 33);
  std::vector<float> x = makeInputs(tokens, size, 34);
  std::vector<float> wr = w, xr = x;
  rotation->rotateRows(wr, rows);
  rotation->rotateRows(xr, tokens);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double plain = 0, rotated = 0;
      for (int64_t i = 0; i < size; ++i) {
        plain += static_cast<double>(x[t * size + i]) * w[r * size + i];
        rotated += static_cast<double>(xr[t * size + i]) * wr[r * size + i];
      }
      EXPECT_NEAR(rotated, plain, 1e-4 * (std::fabs(plain) + 1));
    }
}

} // namespace
