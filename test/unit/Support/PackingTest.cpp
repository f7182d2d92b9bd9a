//===- PackingTest.cpp - Sub-byte layouts ---------------------------------===//

#include "quark/Support/Packing.h"

#include "gtest/gtest.h"

#include <random>
#include <vector>

using namespace mlir::quark;

namespace {

TEST(Packing, Int4OrderMaps) {
  std::vector<int8_t> codes = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<int32_t> packed(1);
  packInt4(codes, 1, 8, Int4PackOrder::Order, packed);
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0x76543210u);
  // reorder: nibble slot i holds element [0,2,4,6,1,3,5,7][i].
  packInt4(codes, 1, 8, Int4PackOrder::Reorder, packed);
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0x75316420u);
}

TEST(Packing, Int4SignedNibbles) {
  std::vector<int8_t> codes = {-1, -8, 7, 0, -3, 1, 2, 3};
  std::vector<int32_t> packed(1);
  packInt4(codes, 1, 8, Int4PackOrder::Order, packed);
  EXPECT_EQ(static_cast<uint32_t>(packed[0]), 0x321D078Fu);
  std::vector<int8_t> back(8);
  unpackInt4(packed, 1, 8, Int4PackOrder::Order, /*isSigned=*/true, back);
  EXPECT_EQ(back, codes);
  // Unsigned unpack of the same word reads 15, 8, ...
  unpackInt4(packed, 1, 8, Int4PackOrder::Order, /*isSigned=*/false, back);
  EXPECT_EQ(back[0], 15);
  EXPECT_EQ(back[1], 8);
}

TEST(Packing, Int4PartialLastWordIsZeroPadded) {
  // 10 columns -> 2 words per row; in reorder, columns 8 and 9 sit in nibble
  // slots 0 and 4 of the second word.
  std::vector<int8_t> codes(20);
  for (int i = 0; i < 20; ++i)
    codes[i] = static_cast<int8_t>(i % 16);
  std::vector<int32_t> packed(4);
  packInt4(codes, 2, 10, Int4PackOrder::Reorder, packed);
  EXPECT_EQ(static_cast<uint32_t>(packed[1]), 0x00090008u);
  EXPECT_EQ(static_cast<uint32_t>(packed[3]), 0x00030002u); // 18, 19 mod 16
  std::vector<int8_t> back(20);
  unpackInt4(packed, 2, 10, Int4PackOrder::Reorder, false, back);
  EXPECT_EQ(back, codes);
}

TEST(Packing, Int4RoundTripRandom) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> nibble(-8, 7);
  for (Int4PackOrder order : {Int4PackOrder::Order, Int4PackOrder::Reorder}) {
    std::vector<int8_t> codes(7 * 37);
    for (int8_t &c : codes)
      c = static_cast<int8_t>(nibble(rng));
    std::vector<int32_t> packed(7 * packedInt4Cols(37));
    packInt4(codes, 7, 37, order, packed);
    std::vector<int8_t> back(codes.size());
    unpackInt4(packed, 7, 37, order, true, back);
    EXPECT_EQ(back, codes);
  }
  EXPECT_EQ(parseInt4PackOrder("reorder"), Int4PackOrder::Reorder);
  EXPECT_EQ(parseInt4PackOrder("order"), Int4PackOrder::Order);
  EXPECT_FALSE(parseInt4PackOrder("awq").has_value());
}

TEST(Packing, Int4FromInt32CodesAcrossBlocks) {
  // Rows longer than the packer's narrowing block, a partial last word,
  // and int32 codes (what the quantization kernels produce).
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> nibble(-8, 7);
  const int64_t rows = 3, cols = 1100;
  std::vector<int8_t> codes(rows * cols);
  for (int8_t &c : codes)
    c = static_cast<int8_t>(nibble(rng));
  std::vector<int32_t> wide(codes.begin(), codes.end());
  for (Int4PackOrder order : {Int4PackOrder::Order, Int4PackOrder::Reorder}) {
    std::vector<int32_t> fromNarrow(rows * packedInt4Cols(cols)),
        fromWide(fromNarrow.size());
    packInt4(codes, rows, cols, order, fromNarrow);
    packInt4(wide, rows, cols, order, fromWide);
    EXPECT_EQ(fromNarrow, fromWide);
    std::vector<int8_t> back(codes.size());
    unpackInt4(fromWide, rows, cols, order, true, back);
    EXPECT_EQ(back, codes);
  }
}

TEST(Packing, Int4TransposedEqualsPackOfTranspose) {
  // Column blocks that end mid-block, a partial last word (rows % 8 != 0)
  // and unsigned codes up to 15.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> nibble(0, 15);
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{16, 64}, {21, 130}, {7, 3}, {40, 1}}) {
    std::vector<int32_t> codes(rows * cols), transposed(codes.size());
    for (int32_t &c : codes)
      c = nibble(rng);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        transposed[c * rows + r] = codes[r * cols + c];
    for (Int4PackOrder order : {Int4PackOrder::Order, Int4PackOrder::Reorder}) {
      std::vector<int32_t> expected(cols * packedInt4Cols(rows)),
          fused(expected.size(), -1);
      packInt4(transposed, cols, rows, order, expected);
      packInt4Transposed(codes, rows, cols, order, fused);
      EXPECT_EQ(fused, expected) << rows << "x" << cols;
      std::vector<int32_t> back(codes.size());
      unpackInt4(fused, cols, rows, order, /*isSigned=*/false,
                 llvm::MutableArrayRef<int32_t>(back));
      EXPECT_EQ(back, transposed);
    }
  }
}

TEST(Packing, Int3) {
  // Values 0..7 as signed int3 codes: 0,1,2,3,-4,-3,-2,-1.
  std::vector<int8_t> codes = {0, 1, 2, 3, -4, -3, -2, -1};
  std::vector<uint8_t> packed(3);
  packInt3(codes, packed);
  // word = sum(i << 3i) = 0xFAC688, little endian.
  EXPECT_EQ(packed, (std::vector<uint8_t>{0x88, 0xC6, 0xFA}));
  std::vector<int8_t> back(8);
  unpackInt3(packed, back);
  EXPECT_EQ(back, codes);
}

TEST(Packing, Fp4LowNibbleFirst) {
  std::vector<uint8_t> codes = {0x1, 0x2, 0x3, 0x4, 0xF, 0x8};
  std::vector<uint8_t> packed(3);
  packFp4(codes, packed);
  EXPECT_EQ(packed, (std::vector<uint8_t>{0x21, 0x43, 0x8F}));
  std::vector<uint8_t> back(6);
  unpackFp4(packed, back);
  EXPECT_EQ(back, codes);
}

TEST(Packing, Fp6FourPerThreeBytes) {
  // v0 = 0x3F, v1 = 0x01, v2 = 0x2A, v3 = 0x15:
  // word = 0x3F | 0x01 << 6 | 0x2A << 12 | 0x15 << 18 = 0x56A07F.
  std::vector<uint8_t> codes = {0x3F, 0x01, 0x2A, 0x15};
  std::vector<uint8_t> packed(3);
  packFp6(codes, packed);
  EXPECT_EQ(packed, (std::vector<uint8_t>{0x7F, 0xA0, 0x56}));
  std::vector<uint8_t> back(4);
  unpackFp6(packed, back);
  EXPECT_EQ(back, codes);
}

} // namespace
