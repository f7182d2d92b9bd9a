//===- GptqTest.cpp - GPTQ's invariants on small matrices -----------------===//

#include "quark/Algorithms/Gptq.h"

#include "TestMatrices.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace mlir::quark;
using namespace mlir::quark::test;

namespace {

GptqHessian hessianOf(llvm::ArrayRef<float> x, int64_t cols) {
  GptqHessian hessian(cols);
  int64_t tokens = static_cast<int64_t>(x.size()) / cols;
  // Four "windows" of a quarter of the tokens each.
  int64_t step = tokens / 4;
  for (int64_t t = 0; t < tokens; t += step)
    hessian.add(x.slice(static_cast<size_t>(t * cols),
                        static_cast<size_t>(step * cols)),
                step, 1);
  return hessian;
}

struct Case {
  const char *name;
  TensorQuantSpec spec;
};

std::vector<Case> cases() {
  std::vector<Case> all;
  all.push_back({"int4_g32_sym", int4Group(32)});
  TensorQuantSpec asym = int4Group(32);
  asym.dtype = QuantDType::UInt4;
  asym.symmetric = false;
  all.push_back({"uint4_g32_asym", asym});
  TensorQuantSpec channel;
  channel.dtype = QuantDType::Int8;
  channel.qscheme = QScheme::PerChannel;
  channel.axis = 0;
  all.push_back({"int8_per_channel", channel});
  TensorQuantSpec fp8;
  fp8.dtype = QuantDType::FP8E4M3;
  fp8.qscheme = QScheme::PerTensor;
  all.push_back({"fp8_per_tensor", fp8});
  TensorQuantSpec mxfp4 = int4Group(32);
  mxfp4.dtype = QuantDType::FP4;
  mxfp4.scaleFormat = ScaleFormat::E8M0;
  all.push_back({"mxfp4", mxfp4});
  return all;
}

TEST(Gptq, BeatsRoundToNearestOnTheLayerOutput) {
  const int64_t rows = 48, cols = 128, tokens = 512;
  std::vector<float> w = makeWeight(rows, cols, 1);
  std::vector<float> x = makeInputs(tokens, cols, 2);
  GptqHessian hessian = hessianOf(x, cols);
  for (const Case &c : cases()) {
    for (bool actOrder : {false, true}) {
      GptqOptions options;
      options.blockSize = 32;
      options.actOrder = actOrder;
      llvm::Expected<GptqResult> gptq =
          gptqQuantize(c.spec, rows, cols, w, hessian.matrix(), options);
      ASSERT_TRUE(static_cast<bool>(gptq))
          << c.name << ": " << llvm::toString(gptq.takeError());
      llvm::Expected<std::vector<float>> rtn =
          rtnQuantize(c.spec, rows, cols, w);
      ASSERT_TRUE(static_cast<bool>(rtn)) << llvm::toString(rtn.takeError());
      double gptqError = outputError(w, gptq->weight, x, rows, cols);
      double rtnError = outputError(w, *rtn, x, rows, cols);
      EXPECT_LT(gptqError, 0.8 * rtnError)
          << c.name << (actOrder ? " act_order" : "");

      // Every element lies on its slot's grid: fake-quantizing the result
      // with the returned parameters changes nothing (what the stored
      // checkpoint will hold).
      llvm::Expected<QuantLayout> layout =
          QuantLayout::get({rows, cols}, c.spec);
      ASSERT_TRUE(static_cast<bool>(layout));
      std::vector<float> again(gptq->weight.size());
      ASSERT_FALSE(static_cast<bool>(fakeQuantizeTensor(
          c.spec, *layout, gptq->weight, gptq->params, again)));
      EXPECT_EQ(again, gptq->weight) << c.name;
    }
  }
}

TEST(Gptq, StaticGroupsWithActOrderKeepTheUnpermutedGroups) {
  const int64_t rows = 16, cols = 64;
  std::vector<float> w = makeWeight(rows, cols, 3);
  std::vector<float> x = makeInputs(256, cols, 4);
  TensorQuantSpec spec = int4Group(16);
  GptqOptions options;
  options.blockSize = 16;
  options.actOrder = true;
  options.staticGroups = true;
  llvm::Expected<GptqResult> gptq =
      gptqQuantize(spec, rows, cols, w, hessianOf(x, cols).matrix(), options);
  ASSERT_TRUE(static_cast<bool>(gptq)) << llvm::toString(gptq.takeError());
  // Static group parameters are those of the original weight's groups
  // (column c in group c / 16), computed before any column moved.
  llvm::Expected<QuantLayout> layout = QuantLayout::get({rows, cols}, spec);
  ASSERT_TRUE(static_cast<bool>(layout));
  llvm::Expected<QuantParams> original = computeDynamicParams(spec, *layout, w);
  ASSERT_TRUE(static_cast<bool>(original));
  EXPECT_EQ(gptq->params.scales, original->scales);

  // Without act-order the result differs (a permutation was applied).
  options.actOrder = false;
  llvm::Expected<GptqResult> plain =
      gptqQuantize(spec, rows, cols, w, hessianOf(x, cols).matrix(), options);
  ASSERT_TRUE(static_cast<bool>(plain));
  EXPECT_NE(plain->weight, gptq->weight);

  // desc_act with dynamic groups is refused, as in Quark.
  options.actOrder = true;
  options.staticGroups = false;
  llvm::Expected<GptqResult> refused =
      gptqQuantize(spec, rows, cols, w, hessianOf(x, cols).matrix(), options);
  ASSERT_FALSE(static_cast<bool>(refused));
  EXPECT_NE(llvm::toString(refused.takeError()).find("static_groups"),
            std::string::npos);
}

TEST(Gptq, BlockSizeChangesOnlyRoundOff) {
  // The lazy batch is an evaluation order: per-channel parameters are fixed
  // up front, so any block size gives the same codes up to float round-off.
  const int64_t rows = 32, cols = 96;
  std::vector<float> w = makeWeight(rows, cols, 5);
  std::vector<float> x = makeInputs(384, cols, 6);
  TensorQuantSpec spec;
  spec.dtype = QuantDType::Int4;
  spec.qscheme = QScheme::PerChannel;
  spec.axis = 0;
  std::vector<std::vector<float>> results;
  for (int64_t blockSize : {1, 7, 32, 96}) {
    GptqOptions options;
    options.blockSize = blockSize;
    options.actOrder = false;
    llvm::Expected<GptqResult> gptq =
        gptqQuantize(spec, rows, cols, w, hessianOf(x, cols).matrix(), options);
    ASSERT_TRUE(static_cast<bool>(gptq)) << llvm::toString(gptq.takeError());
    results.push_back(gptq->weight);
  }
  for (size_t k = 1; k < results.size(); ++k) {
    int64_t differ = 0;
    for (size_t i = 0; i < results[0].size(); ++i)
      differ += results[k][i] != results[0][i];
    EXPECT_LE(differ, static_cast<int64_t>(results[0].size() / 200))
        << "block size variant " << k;
  }
}

TEST(Gptq, HessianIsTheRunningAverageOfTwoXXt) {
  const int64_t cols = 5;
  std::vector<float> x = makeInputs(12, cols, 7);
  GptqHessian hessian(cols);
  hessian.add(llvm::ArrayRef<float>(x).take_front(4 * cols), 4, 1);
  hessian.add(llvm::ArrayRef<float>(x).drop_front(4 * cols), 8, 2);
  EXPECT_EQ(hessian.samples(), 3);
  std::vector<float> h = hessian.matrix();
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      double expected = 0;
      for (int64_t t = 0; t < 12; ++t)
        expected += 2.0 / 3.0 * x[t * cols + i] * x[t * cols + j];
      EXPECT_NEAR(h[i * cols + j], expected, 1e-4 * (1 + std::fabs(expected)));
    }
}

TEST(Gptq, DeadColumnsAreZeroed) {
  const int64_t rows = 4, cols = 32;
  std::vector<float> w = makeWeight(rows, cols, 8);
  std::vector<float> x = makeInputs(64, cols, 9);
  for (int64_t t = 0; t < 64; ++t)
    x[t * cols + 3] = 0.0f; // channel 3 never active
  llvm::Expected<GptqResult> gptq = gptqQuantize(
      int4Group(32), rows, cols, w, hessianOf(x, cols).matrix(), {});
  ASSERT_TRUE(static_cast<bool>(gptq)) << llvm::toString(gptq.takeError());
  EXPECT_EQ(gptq->deadColumns, 1);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(gptq->weight[r * cols + 3], 0.0f);
}

TEST(Gptq, BadShapesAreErrors) {
  std::vector<float> w(4 * 30, 0.1f), h(30 * 30, 0.0f);
  for (int i = 0; i < 30; ++i)
    h[i * 30 + i] = 1.0f;
  llvm::Expected<GptqResult> result =
      gptqQuantize(int4Group(32), 4, 30, w, h, {});
  ASSERT_FALSE(static_cast<bool>(result));
  EXPECT_NE(llvm::toString(result.takeError()).find("groups of 32"),
            std::string::npos);
}

} // namespace
