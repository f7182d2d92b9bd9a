//===- StoredLayoutTest.cpp - Checkpoint layouts, by hand -----------------===//

#include "quark/Support/StoredLayout.h"
#include "quark/Support/QuarkHfLayout.h"

#include "gtest/gtest.h"

#include <random>

using namespace mlir::quark;

namespace {

StoredLayout parsed(llvm::StringRef text) {
  llvm::Expected<StoredLayout> layout = StoredLayout::parse(text);
  EXPECT_TRUE(static_cast<bool>(layout)) << text.str();
  if (!layout) {
    llvm::consumeError(layout.takeError());
    return {};
  }
  return *layout;
}

TEST(StoredLayout, TextRoundTrips) {
  for (llvm::StringRef text : {"transposed,int4_reorder", "uint4_order", "fp4",
                               "fp6", "e8m0", "e5m3", "transposed", ""})
    EXPECT_EQ(parsed(text).str(), text.str());
  llvm::Expected<StoredLayout> bad = StoredLayout::parse("transposed,int5");
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("unknown stored layout"),
            std::string::npos);
}

// A [2, 8] int4 tensor transposed to [8, 2] then packed: one word per row
// of the transpose holds 2 codes, and the reorder map puts element 1 of
// each group of eight in nibble slot 4.
TEST(StoredLayout, TransposedInt4ByHand) {
  StoredLayout layout = parsed("transposed,int4_reorder");
  std::vector<int32_t> codes(16);
  for (int i = 0; i < 16; ++i)
    codes[i] = i % 2 ? -(i % 8) : i % 8; // signed values in [-7, 6]
  auto stored = layout.storedShape({2, 8});
  ASSERT_TRUE(static_cast<bool>(stored));
  EXPECT_EQ(*stored, (llvm::SmallVector<int64_t, 4>{8, 1}));
  llvm::Expected<std::vector<uint8_t>> bytes =
      encodeStoredCodes(layout, TensorDType::I32, {2, 8}, codes);
  ASSERT_TRUE(static_cast<bool>(bytes));
  ASSERT_EQ(bytes->size(), 32u);
  // Row r of the transpose is column r of the codes: (codes[r], codes[8+r])
  // in slots 0 (element 0) and 4 (element 1).
  for (int r = 0; r < 8; ++r) {
    uint32_t word = 0;
    for (int b = 0; b < 4; ++b)
      word |= static_cast<uint32_t>((*bytes)[4 * r + b]) << (8 * b);
    EXPECT_EQ(word & 0xF, static_cast<uint32_t>(codes[r]) & 0xF) << r;
    EXPECT_EQ((word >> 16) & 0xF, static_cast<uint32_t>(codes[8 + r]) & 0xF)
        << r;
    EXPECT_EQ(word & 0xFFF0FFF0u, 0u) << r; // padding slots stay zero
  }
  llvm::Expected<std::vector<int32_t>> decoded =
      decodeStoredCodes(layout, TensorDType::I32, {8, 1}, {2, 8}, *bytes);
  ASSERT_TRUE(static_cast<bool>(decoded));
  EXPECT_EQ(*decoded, codes);
  // A shape the layout does not give is refused, naming both.
  llvm::Expected<std::vector<int32_t>> wrong =
      decodeStoredCodes(layout, TensorDType::I32, {2, 1}, {2, 8}, *bytes);
  ASSERT_FALSE(static_cast<bool>(wrong));
  EXPECT_NE(llvm::toString(wrong.takeError()).find("expected [8, 1]"),
            std::string::npos);
}

// Re-laying packed words gives the bytes packing the codes gives, for both
// orders in and out, transposed or not, and shapes whose transpose has a
// partial word (which go through the codes).
TEST(StoredLayout, PackedInt4CodesEncodeAsTheirCodes) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> nibble(-8, 7);
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{24, 40}, {16, 8}, {12, 16}, {3, 20}}) {
    std::vector<int32_t> codes(rows * cols);
    for (int32_t &c : codes)
      c = nibble(rng);
    for (Int4PackOrder irOrder :
         {Int4PackOrder::Order, Int4PackOrder::Reorder}) {
      std::vector<int32_t> words(rows * packedInt4Cols(cols));
      packInt4(codes, rows, cols, irOrder, words);
      for (llvm::StringRef text :
           {"transposed,int4_reorder", "transposed,uint4_order", "int4_reorder",
            "uint4_order"}) {
        StoredLayout layout = parsed(text);
        llvm::Expected<std::vector<uint8_t>> expected =
            encodeStoredCodes(layout, TensorDType::I32, {rows, cols}, codes);
        llvm::Expected<std::vector<uint8_t>> relaid = encodePackedInt4Codes(
            layout, TensorDType::I32, {rows, cols}, words, irOrder);
        ASSERT_TRUE(static_cast<bool>(expected));
        ASSERT_TRUE(static_cast<bool>(relaid));
        EXPECT_EQ(*relaid, *expected)
            << text.str() << " " << rows << "x" << cols;
      }
    }
  }
  std::vector<int32_t> words(2);
  llvm::Expected<std::vector<uint8_t>> notInt4 =
      encodePackedInt4Codes(parsed("transposed"), TensorDType::I32, {2, 8},
                            words, Int4PackOrder::Order);
  ASSERT_FALSE(static_cast<bool>(notInt4));
  EXPECT_NE(llvm::toString(notInt4.takeError()).find("need an int4 layout"),
            std::string::npos);
}

TEST(StoredLayout, Fp4LowNibbleFirst) {
  StoredLayout layout = parsed("fp4");
  std::vector<int32_t> codes = {0x1, 0xA, 0x7, 0x8};
  llvm::Expected<std::vector<uint8_t>> bytes =
      encodeStoredCodes(layout, TensorDType::U8, {1, 4}, codes);
  ASSERT_TRUE(static_cast<bool>(bytes));
  EXPECT_EQ(*bytes, (std::vector<uint8_t>{0xA1, 0x87}));
}

TEST(StoredLayout, FloatsAsBf16E8m0AndTransposed) {
  std::vector<float> values = {0.5f, 2.0f, 0.125f, 8.0f, 1.0f, 4.0f};
  llvm::Expected<std::vector<uint8_t>> e8m0 =
      encodeStoredFloats(parsed("e8m0"), TensorDType::U8, {2, 3}, values);
  ASSERT_TRUE(static_cast<bool>(e8m0));
  EXPECT_EQ(*e8m0, (std::vector<uint8_t>{126, 128, 124, 130, 127, 129}));
  // Unsigned e5m3 (bias 15): 1 is 0x78, 2 is 0x80, the largest value
  // 1.75 * 2^16 is 0xFE, the smallest subnormal 2^-17 is 0x01; they decode
  // back exactly.
  std::vector<float> e5m3Values = {1.0f, 2.0f, 114688.0f, 0x1p-17f};
  llvm::Expected<std::vector<uint8_t>> e5m3 =
      encodeStoredFloats(parsed("e5m3"), TensorDType::U8, {4}, e5m3Values);
  ASSERT_TRUE(static_cast<bool>(e5m3));
  EXPECT_EQ(*e5m3, (std::vector<uint8_t>{0x78, 0x80, 0xFE, 0x01}));
  llvm::Expected<std::vector<float>> e5m3Back =
      decodeStoredFloats(parsed("e5m3"), TensorDType::U8, {4}, {4}, *e5m3);
  ASSERT_TRUE(static_cast<bool>(e5m3Back));
  EXPECT_EQ(*e5m3Back, e5m3Values);
  StoredLayout transposed = parsed("transposed");
  llvm::Expected<std::vector<uint8_t>> bf16 =
      encodeStoredFloats(transposed, TensorDType::BF16, {2, 3}, values);
  ASSERT_TRUE(static_cast<bool>(bf16));
  // Column-major order of the [2, 3] values: 0.5, 8, 2, 1, 0.125, 4; 0.5 is
  // bf16 0x3F00, 8 is 0x4100.
  EXPECT_EQ((*bf16)[0], 0x00);
  EXPECT_EQ((*bf16)[1], 0x3F);
  EXPECT_EQ((*bf16)[3], 0x41);
  llvm::Expected<std::vector<float>> back =
      decodeStoredFloats(transposed, TensorDType::BF16, {3, 2}, {2, 3}, *bf16);
  ASSERT_TRUE(static_cast<bool>(back));
  EXPECT_EQ(*back, values);
}

// Quark's pack.py layouts: what each scheme stores, and under which names.
TEST(QuarkHfLayout, PerSchemeTensors) {
  TensorQuantSpec int4;
  int4.dtype = QuantDType::Int4;
  int4.qscheme = QScheme::PerGroup;
  int4.axis = -1;
  int4.groupSize = 128;
  int4.scalePrecision = ScalePrecision::BFloat16;
  llvm::Expected<HfQuantizedTensor> w4 =
      quarkHfLayout(int4, {4096, 11008}, {4096, 86}, /*isWeight=*/true,
                    Int4PackOrder::Reorder);
  ASSERT_TRUE(static_cast<bool>(w4));
  EXPECT_EQ(w4->codes->dtype, TensorDType::I32);
  EXPECT_EQ(w4->codes->storedShape,
            (llvm::SmallVector<int64_t, 4>{11008, 512}));
  EXPECT_EQ(w4->scale.suffix, "_scale");
  EXPECT_EQ(w4->scale.dtype, TensorDType::BF16);
  EXPECT_EQ(w4->scale.storedShape, (llvm::SmallVector<int64_t, 4>{86, 4096}));
  ASSERT_TRUE(w4->zeroPoint.has_value()); // symmetric too, as Quark writes
  EXPECT_EQ(w4->zeroPoint->storedShape,
            (llvm::SmallVector<int64_t, 4>{86, 512}));

  TensorQuantSpec int8;
  int8.dtype = QuantDType::Int8;
  int8.qscheme = QScheme::PerTensor;
  llvm::Expected<HfQuantizedTensor> input =
      quarkHfLayout(int8, {}, {}, /*isWeight=*/false, Int4PackOrder::Reorder);
  ASSERT_TRUE(static_cast<bool>(input));
  EXPECT_FALSE(input->codes.has_value());
  EXPECT_EQ(input->scale.dtype, TensorDType::F32);
  EXPECT_EQ(input->zeroPoint->dtype, TensorDType::I8);

  TensorQuantSpec mxfp4;
  mxfp4.dtype = QuantDType::FP4;
  mxfp4.qscheme = QScheme::PerGroup;
  mxfp4.axis = -1;
  mxfp4.groupSize = 32;
  mxfp4.scaleFormat = ScaleFormat::E8M0;
  llvm::Expected<HfQuantizedTensor> mx = quarkHfLayout(
      mxfp4, {256, 768}, {256, 24}, /*isWeight=*/true, Int4PackOrder::Reorder);
  ASSERT_TRUE(static_cast<bool>(mx));
  EXPECT_EQ(mx->codes->storedShape, (llvm::SmallVector<int64_t, 4>{256, 384}));
  EXPECT_EQ(mx->scale.dtype, TensorDType::U8);
  EXPECT_EQ(mx->scale.layout.byteFloat, StoredLayout::ByteFloat::E8M0);
  EXPECT_FALSE(mx->zeroPoint.has_value());

  // AmdFP4Spec: fp4 codes, e5m3 group scales as their bytes.
  TensorQuantSpec amdfp4 = mxfp4;
  amdfp4.groupSize = 16;
  amdfp4.scaleFormat = ScaleFormat::E5M3;
  llvm::Expected<HfQuantizedTensor> amd = quarkHfLayout(
      amdfp4, {256, 768}, {256, 48}, /*isWeight=*/true, Int4PackOrder::Reorder);
  ASSERT_TRUE(static_cast<bool>(amd));
  EXPECT_EQ(amd->scale.dtype, TensorDType::U8);
  EXPECT_EQ(amd->scale.layout.byteFloat, StoredLayout::ByteFloat::E5M3);
  EXPECT_EQ(amd->scale.storedShape, (llvm::SmallVector<int64_t, 4>{256, 48}));

  TensorQuantSpec mx6;
  mx6.dtype = QuantDType::MX6;
  llvm::Expected<HfQuantizedTensor> none =
      quarkHfLayout(mx6, {4, 4}, {}, /*isWeight=*/true, Int4PackOrder::Reorder);
  ASSERT_FALSE(static_cast<bool>(none));
  EXPECT_NE(llvm::toString(none.takeError()).find("simulated only"),
            std::string::npos);
}

} // namespace
