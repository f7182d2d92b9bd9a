//===- SmoothQuantTest.cpp - SmoothQuant keeps the float function ---------===//

#include "quark/Algorithms/SmoothQuant.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace mlir::quark;

namespace {

TEST(SmoothQuant, ScalesFollowTheFormula) {
  std::vector<float> act = {4.0f, 1.0f, 0.0f}, weight = {1.0f, 0.25f, 0.0f};
  std::vector<float> s = smoothQuantScales(act, weight, 0.5);
  EXPECT_FLOAT_EQ(s[0], 2.0f);        // sqrt(4) / sqrt(1)
  EXPECT_FLOAT_EQ(s[1], 1.0f / 0.5f); // sqrt(1) / sqrt(0.25)
  EXPECT_FLOAT_EQ(s[2], 1e-5f);       // clamped
  std::vector<float> all = smoothQuantScales(act, weight, 1.0);
  EXPECT_FLOAT_EQ(all[0], 4.0f); // alpha 1: all to the weights
}

TEST(SmoothQuant, FloatOutputIsUnchanged) {
  // y = norm(x) W^T with the norm's weight g: (g / s) and (W * s) give the
  // same y up to float round-off.
  const int64_t tokens = 16, hidden = 24, out = 10;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(tokens * hidden), g(hidden), w(out * hidden);
  for (float &v : x)
    v = normal(rng);
  for (int64_t j = 0; j < hidden; j += 5)
    for (int64_t t = 0; t < tokens; ++t)
      x[t * hidden + j] *= 30.0f; // outlier channels
  for (float &v : g)
    v = 1.0f + 0.1f * normal(rng);
  for (float &v : w)
    v = 0.05f * normal(rng);
  auto forward = [&](const std::vector<float> &gain,
                     const std::vector<float> &weight) {
    std::vector<float> y(tokens * out, 0.0f);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t o = 0; o < out; ++o)
        for (int64_t j = 0; j < hidden; ++j)
          y[t * out + o] +=
              x[t * hidden + j] * gain[j] * weight[o * hidden + j];
    return y;
  };
  std::vector<float> before = forward(g, w);
  std::vector<float> actMax, weightMax;
  std::vector<float> normed(x);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < hidden; ++j)
      normed[t * hidden + j] *= g[j];
  accumulateChannelAbsMax(normed, hidden, actMax);
  accumulateColumnAbsMax(w, out, hidden, weightMax);
  std::vector<float> s = smoothQuantScales(actMax, weightMax, 0.5);
  std::vector<float> g2(g), w2(w);
  divideRows(g2, hidden, 1, s);
  scaleColumns(w2, out, hidden, s);
  std::vector<float> after = forward(g2, w2);
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_NEAR(after[i], before[i], 1e-5f * (1.0f + std::fabs(before[i])));
  // The smoothed activation's channel maxima are now balanced.
  float largest = 0, smallest = 1e30f;
  for (int64_t j = 0; j < hidden; ++j) {
    float m = actMax[j] / s[j];
    largest = std::max(largest, m);
    smallest = std::min(smallest, m);
  }
  float before_ratio = *std::max_element(actMax.begin(), actMax.end()) /
                       *std::min_element(actMax.begin(), actMax.end());
  EXPECT_LT(largest / smallest, before_ratio);
}

} // namespace

namespace {

TEST(TokenSample, KeepsEvenlySpacedTokensWithinCapacity) {
  TokenSample sample(2, 8);
  std::vector<float> rows;
  for (int t = 0; t < 100; ++t) {
    rows.push_back(static_cast<float>(t));
    rows.push_back(-static_cast<float>(t));
  }
  // In uneven batches, as calibration windows arrive.
  sample.add(llvm::ArrayRef<float>(rows).slice(0, 2 * 37));
  sample.add(llvm::ArrayRef<float>(rows).slice(2 * 37));
  ASSERT_LE(sample.count(), 8);
  ASSERT_GE(sample.count(), 4);
  llvm::ArrayRef<float> kept = sample.tokens();
  float stride = kept[2] - kept[0];
  EXPECT_EQ(kept[0], 0.0f);
  for (int64_t t = 0; t < sample.count(); ++t) {
    EXPECT_EQ(kept[2 * t], stride * static_cast<float>(t));
    EXPECT_EQ(kept[2 * t + 1], -kept[2 * t]);
  }
  EXPECT_EQ(stride, 16.0f); // 100 tokens: strides 1, 2, 4, 8, 16
}

struct SearchCase {
  std::vector<float> x, w, actMax, weightMax, channelMin, channelMax;
  int64_t tokens = 256, hidden = 64, out = 48;
};

SearchCase makeSearchCase() {
  SearchCase c;
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  c.x.resize(c.tokens * c.hidden);
  c.w.resize(c.out * c.hidden);
  for (float &v : c.x)
    v = normal(rng);
  for (int64_t j = 3; j < c.hidden; j += 16)
    for (int64_t t = 0; t < c.tokens; ++t)
      c.x[t * c.hidden + j] *= 40.0f; // outlier channels
  for (float &v : c.w)
    v = 0.05f * normal(rng);
  accumulateChannelAbsMax(c.x, c.hidden, c.actMax);
  accumulateColumnAbsMax(c.w, c.out, c.hidden, c.weightMax);
  c.channelMin.assign(c.hidden, 0.0f);
  c.channelMax.assign(c.hidden, 0.0f);
  for (int64_t t = 0; t < c.tokens; ++t)
    for (int64_t j = 0; j < c.hidden; ++j) {
      c.channelMin[j] = std::min(c.channelMin[j], c.x[t * c.hidden + j]);
      c.channelMax[j] = std::max(c.channelMax[j], c.x[t * c.hidden + j]);
    }
  return c;
}

TensorQuantSpec int8PerTensor() {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::Int8;
  spec.qscheme = QScheme::PerTensor;
  return spec;
}

// Without quantizers every alpha keeps the float output: the losses are
// float round-off.
TEST(AutoSmoothQuant, FloatLossesVanish) {
  SearchCase c = makeSearchCase();
  SmoothSearchLinear linear;
  linear.rows = c.out;
  linear.cols = c.hidden;
  linear.weight = c.w;
  linear.inputs = c.x;
  llvm::Expected<SmoothSearchResult> result = searchSmoothQuantAlpha(
      c.actMax, c.weightMax, linear, {0.0, 0.25, 0.5, 0.75, 1.0},
      SmoothLoss::MSE, 1e-3);
  ASSERT_TRUE(static_cast<bool>(result));
  for (double loss : result->losses)
    EXPECT_LT(loss, 1e-9);
}

// W8A8 per-tensor: the searched alpha's scales are SmoothQuant's for that
// alpha, its loss is the least on the grid, and it is far below the loss
// without smoothing (s = 1, obtained as alpha 0.5 with equal statistics).
TEST(AutoSmoothQuant, SearchFindsTheBestAlpha) {
  SearchCase c = makeSearchCase();
  TensorQuantSpec spec = int8PerTensor();
  SmoothSearchLinear linear;
  linear.weightSpec = &spec;
  linear.inputSpec = &spec;
  linear.channelMin = c.channelMin;
  linear.channelMax = c.channelMax;
  linear.rows = c.out;
  linear.cols = c.hidden;
  linear.weight = c.w;
  linear.inputs = c.x;
  std::vector<double> grid;
  for (int k = 0; k <= 20; ++k)
    grid.push_back(k / 20.0);
  for (SmoothLoss loss : {SmoothLoss::MSE, SmoothLoss::MAE}) {
    llvm::Expected<SmoothSearchResult> result =
        searchSmoothQuantAlpha(c.actMax, c.weightMax, linear, grid, loss, 1e-3);
    ASSERT_TRUE(static_cast<bool>(result));
    ASSERT_EQ(result->losses.size(), grid.size());
    double least =
        *std::min_element(result->losses.begin(), result->losses.end());
    EXPECT_EQ(
        result->losses[static_cast<size_t>(std::lround(result->alpha * 20))],
        least);
    EXPECT_EQ(result->scales,
              smoothQuantScales(c.actMax, c.weightMax, result->alpha, 1e-3));
    llvm::Expected<SmoothSearchResult> plain =
        searchSmoothQuantAlpha(c.actMax, c.actMax, linear, {0.5}, loss, 1e-3);
    ASSERT_TRUE(static_cast<bool>(plain));
    for (float s : plain->scales)
      ASSERT_FLOAT_EQ(s, 1.0f);
    EXPECT_LT(least, 0.5 * plain->losses[0]);
  }
}

TEST(AutoSmoothQuant, MismatchedShapesAreErrors) {
  SearchCase c = makeSearchCase();
  SmoothSearchLinear linear;
  linear.rows = c.out;
  linear.cols = c.hidden - 1;
  linear.weight = c.w;
  linear.inputs = c.x;
  llvm::Expected<SmoothSearchResult> result = searchSmoothQuantAlpha(
      c.actMax, c.weightMax, linear, {0.5}, SmoothLoss::MSE);
  ASSERT_FALSE(static_cast<bool>(result));
  EXPECT_NE(llvm::toString(result.takeError()).find("64 channels"),
            std::string::npos);
}

} // namespace
