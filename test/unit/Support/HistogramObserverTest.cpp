//===- HistogramObserverTest.cpp - Percentile, MSE, histogram observers ----===//
//
// Hand-computed cases for the pieces (histc, linspace, arange, the range
// growth), then golden values from test/reference/histogram_golden.py, an
// independent torch implementation, on the same deterministic batches.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/HistogramObserver.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdint>
#include <vector>

using namespace mlir::quark;

namespace {

TEST(HistogramObserver, HistcCountsLikeTorch) {
  // Bins [0, 1), [1, 2), [2, 3], the last closed; outside and NaN ignored.
  std::vector<float> counts =
      histc({0.0f, 0.5f, 1.0f, 2.9f, 3.0f, 3.5f, -0.1f, NAN}, 3, 0.0f, 3.0f);
  EXPECT_EQ(counts, (std::vector<float>{2, 1, 2}));
  // An empty range takes the data's.
  EXPECT_EQ(histc({1.0f, 2.0f, 3.0f}, 2, 0.0f, 0.0f),
            (std::vector<float>{1, 2}));
  // A constant range widens by one either side.
  EXPECT_EQ(histc({5.0f}, 2, 5.0f, 5.0f), (std::vector<float>{0, 1}));
}

TEST(HistogramObserver, LinspaceAndArange) {
  EXPECT_EQ(linspace(0.0f, 1.0f, 5),
            (std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f, 1.0f}));
  // The second half counts back from the end, so the end is exact.
  std::vector<float> thirds = linspace(0.0f, 1.0f, 4);
  EXPECT_EQ(thirds.back(), 1.0f);
  EXPECT_EQ(thirds[1], 1.0f / 3.0f);
  // ceil((end - start) / step) values.
  EXPECT_EQ(arange(0.0, 1.0, 0.25),
            (std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(arange(0.0, 1.1, 0.25).size(), 5u);
}

TEST(HistogramObserver, GrowsByWholeBins) {
  HistogramStats stats;
  // Symmetric: |x| over [0, 4] in 2048 bins of width 4/2048.
  observeHistogram(HistogramMethod::MSE, /*symmetric=*/true,
                   {-4.0f, 1.0f, 2.0f}, stats);
  ASSERT_EQ(stats.counts.size(), 2048u);
  ASSERT_EQ(stats.edges.size(), 2049u);
  EXPECT_EQ(stats.edges.back(), 4.0f);
  EXPECT_EQ(stats.counts[512], 1.0f);  // 1.0
  EXPECT_EQ(stats.counts[1024], 1.0f); // 2.0
  EXPECT_EQ(stats.counts[2047], 1.0f); // |-4|
  // 5 needs ceil(1 / (4/2048)) = 512 more bins of the same width.
  observeHistogram(HistogramMethod::MSE, true, {5.0f, 1.0f}, stats);
  EXPECT_EQ(stats.counts.size(), 2560u);
  EXPECT_EQ(stats.edges.size(), 2561u);
  EXPECT_EQ(stats.edges[1] - stats.edges[0], 4.0f / 2048);
  EXPECT_EQ(stats.counts[512], 2.0f);
  EXPECT_EQ(stats.counts[2559], 1.0f);
  float total = 0;
  for (float count : stats.counts)
    total += count;
  EXPECT_EQ(total, 5.0f);
}

TEST(HistogramObserver, PercentileSkipsZerosAndTakesALeftEdge) {
  HistogramStats stats;
  std::vector<float> data(1000, 0.0f); // zeros are not counted
  for (int i = 1; i <= 100; ++i)
    data.push_back(static_cast<float>(i) / 100.0f);
  observeHistogram(HistogramMethod::Percentile, true, data, stats);
  EXPECT_EQ(stats.counts.size(), 4200u);
  float total = 0;
  for (float count : stats.counts)
    total += count;
  EXPECT_EQ(total, 100.0f);
  TensorQuantSpec spec;
  spec.dtype = QuantDType::Int8;
  llvm::Expected<MinMaxStats> range =
      histogramRange(HistogramMethod::Percentile, spec, stats);
  ASSERT_TRUE(static_cast<bool>(range)) << llvm::toString(range.takeError());
  // The maximum, 1.0, sits alone in the last bin: its left edge.
  EXPECT_EQ(range->min[0], 0.0f);
  EXPECT_EQ(range->max[0], stats.edges[4199]);
  EXPECT_LT(range->max[0], 1.0f);
  spec.symmetric = false;
  llvm::Expected<MinMaxStats> asymmetric =
      histogramRange(HistogramMethod::Percentile, spec, stats);
  ASSERT_FALSE(static_cast<bool>(asymmetric));
  EXPECT_NE(llvm::toString(asymmetric.takeError()).find("lower tail"),
            std::string::npos);
}

TEST(HistogramObserver, MSERejectsUnsupportedDtypes) {
  HistogramStats stats;
  observeHistogram(HistogramMethod::MSE, true, {1.0f, 2.0f}, stats);
  TensorQuantSpec spec;
  spec.dtype = QuantDType::FP4;
  llvm::Expected<MinMaxStats> range =
      histogramRange(HistogramMethod::MSE, spec, stats);
  ASSERT_FALSE(static_cast<bool>(range));
  EXPECT_NE(llvm::toString(range.takeError()).find("fp4"), std::string::npos);
}

/// The batches of histogram_golden.py: multiples of 1/1024 from an LCG,
/// every seventh value zero, scaled by `factor`.
std::vector<float> batch(uint64_t seed, int count, float factor) {
  std::vector<float> values;
  uint64_t state = seed;
  for (int i = 0; i < count; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    auto v = static_cast<float>(static_cast<int64_t>((state >> 40) % 20001) -
                                10000) /
             1024.0f * factor;
    values.push_back(i % 7 == 0 ? 0.0f : v);
  }
  return values;
}

struct Golden {
  const char *name;
  /// The MSE search over an asymmetric histogram is a near tie (centres
  /// differing in the seventh digit of their error); summation order then
  /// decides, and torch's vectorized float sums are not reproduced.
  bool nearTie;
  HistogramMethod method;
  bool symmetric;
  QuantDType dtype;
  // From histogram_golden.py:
  size_t bins, edges;
  float total, firstEdge, lastEdge, thirdEdge, selectedMax;
};

TEST(HistogramObserver, MatchesTorchGolden) {
  const Golden cases[] = {
      {"percentile_int8", false, HistogramMethod::Percentile, true, QuantDType::Int8,
       12606, 12607, 0x1.91b8p+13f, 0.0f, 0x1.d4c92p+4f, 0x1.388614p+3f,
       0x1.d4bf9cp+4f},
      {"mse_int8", false, HistogramMethod::MSE, true, QuantDType::Int8, 6147, 6148,
       0x1.d4cp+13f, 0.0f, 0x1.d4ca92p+4f, 0x1.38870cp+3f, 0x1.d43824p+4f},
      {"mse_fp8", false, HistogramMethod::MSE, true, QuantDType::FP8E4M3, 6147, 6148,
       0x1.d4cp+13f, 0.0f, 0x1.d4ca92p+4f, 0x1.38870cp+3f, 0x1.cfcbc8p+4f},
      {"mse_uint8_asym", true, HistogramMethod::MSE, false, QuantDType::UInt8, 6148,
       6149, 0x1.d4cp+13f, -0x1.d4e70cp+4f, 0x1.d4d524p+4f, -0x1.38cp+3f,
       0x1.d13f8ap+4f},
      {"histogram_asym", false, HistogramMethod::Histogram, false, QuantDType::UInt8,
       6148, 6149, 0x1.d4cp+13f, -0x1.d4e70cp+4f, 0x1.d4d524p+4f,
       -0x1.38cp+3f, 0x1.d4d524p+4f},
  };
  std::vector<std::vector<float>> batches = {
      batch(11, 5000, 1.0f), batch(12, 5000, 3.0f), batch(13, 5000, 2.0f)};
  for (const Golden &golden : cases) {
    SCOPED_TRACE(golden.name);
    HistogramStats stats;
    for (const std::vector<float> &data : batches)
      observeHistogram(golden.method, golden.symmetric, data, stats);
    ASSERT_EQ(stats.counts.size(), golden.bins);
    ASSERT_EQ(stats.edges.size(), golden.edges);
    float total = 0;
    for (float count : stats.counts)
      total += count;
    EXPECT_EQ(total, golden.total);
    EXPECT_EQ(stats.edges.front(), golden.firstEdge);
    EXPECT_EQ(stats.edges.back(), golden.lastEdge);
    // Interior edges: torch's vectorized arange (eight float lanes on an
    // AVX2 build) can round one ulp away from the scalar formula.
    float third = stats.edges[stats.edges.size() / 3];
    EXPECT_LE(std::fabs(third - golden.thirdEdge),
              std::fabs(std::nextafter(golden.thirdEdge, INFINITY) -
                        golden.thirdEdge))
        << third << " vs " << golden.thirdEdge;
    TensorQuantSpec spec;
    spec.dtype = golden.dtype;
    spec.symmetric = golden.symmetric;
    llvm::Expected<MinMaxStats> range =
        histogramRange(golden.method, spec, stats);
    ASSERT_TRUE(static_cast<bool>(range)) << llvm::toString(range.takeError());
    if (golden.nearTie)
      EXPECT_NEAR(range->max[0], golden.selectedMax, 0.01 * golden.selectedMax);
    else
      EXPECT_EQ(range->max[0], golden.selectedMax);
  }
}

} // namespace
