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
