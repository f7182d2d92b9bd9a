//===- Packing.cpp - Sub-byte storage layouts -----------------------------===//

#include "quark/Support/Packing.h"

#include "quark/Support/Parallel.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/SwapByteOrder.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <type_traits>

namespace mlir::quark {

std::optional<Int4PackOrder> parseInt4PackOrder(std::string_view name) {
  if (name == "order")
    return Int4PackOrder::Order;
  if (name == "reorder")
    return Int4PackOrder::Reorder;
  return std::nullopt;
}

std::string_view int4PackOrderName(Int4PackOrder order) {
  return order == Int4PackOrder::Reorder ? "reorder" : "order";
}

const std::array<int, 8> &int4SlotOrder(Int4PackOrder order) {
  static const std::array<int, 8> kIdentity = {0, 1, 2, 3, 4, 5, 6, 7};
  static const std::array<int, 8> kInterleaved = {0, 2, 4, 6, 1, 3, 5, 7};
  return order == Int4PackOrder::Reorder ? kInterleaved : kIdentity;
}

/// One word from eight int8 codes loaded as a little-endian uint64 (code i
/// in byte i): the nibbles are compacted with shifts and masks instead of
/// eight separate extractions.
static inline uint32_t packInt4Word(uint64_t bytes, Int4PackOrder order) {
  bytes &= 0x0F0F0F0F0F0F0F0FULL;
  if (order == Int4PackOrder::Order) { // slot i holds code i
    bytes = (bytes | bytes >> 4) & 0x00FF00FF00FF00FFULL;
    bytes = (bytes | bytes >> 8) & 0x0000FFFF0000FFFFULL;
    return static_cast<uint32_t>(bytes | bytes >> 16);
  }
  // Reorder: slots 0-3 hold codes 0, 2, 4, 6 and slots 4-7 codes 1, 3, 5, 7.
  auto fourNibbles = [](uint64_t lanes) { // nibbles at bits 0, 16, 32, 48
    lanes = (lanes | lanes >> 12) & 0x000000FF000000FFULL;
    return static_cast<uint32_t>((lanes | lanes >> 24) & 0xFFFF);
  };
  return fourNibbles(bytes & 0x000F000F000F000FULL) |
         fourNibbles((bytes >> 8) & 0x000F000F000F000FULL) << 16;
}

/// Rows of codes (int8, or int32 narrowed block by block) into words.
template <typename Code>
static inline __attribute__((always_inline)) void
packInt4Rows(llvm::ArrayRef<Code> codes, int64_t rows, int64_t cols,
             Int4PackOrder order, llvm::MutableArrayRef<int32_t> packed) {
  int64_t words = packedInt4Cols(cols);
  assert(static_cast<int64_t>(codes.size()) == rows * cols);
  assert(static_cast<int64_t>(packed.size()) == rows * words);
  constexpr int64_t kBlock = 512; // codes narrowed at a time, a multiple of 8
  int8_t narrowed[kBlock];
  for (int64_t r = 0; r < rows; ++r) {
    const Code *row = codes.data() + r * cols;
    int32_t *out = packed.data() + r * words;
    int64_t full = cols / 8 * 8;
    for (int64_t start = 0; start < full; start += kBlock) {
      int64_t count = std::min(kBlock, full - start);
      const int8_t *block;
      if constexpr (std::is_same_v<Code, int8_t>) {
        block = row + start;
      } else {
        for (int64_t i = 0; i < count; ++i)
          narrowed[i] = static_cast<int8_t>(row[start + i]);
        block = narrowed;
      }
      for (int64_t w = 0; w < count / 8; ++w) {
        uint64_t bytes;
        std::memcpy(&bytes, block + 8 * w, 8);
        if (!llvm::sys::IsLittleEndianHost)
          bytes = llvm::byteswap(bytes);
        out[start / 8 + w] = static_cast<int32_t>(packInt4Word(bytes, order));
      }
    }
    if (cols % 8 != 0) { // a zero-padded partial word
      const std::array<int, 8> &slots = int4SlotOrder(order);
      uint32_t word = 0;
      for (int slot = 0; slot < 8; ++slot)
        if (full + slots[slot] < cols)
          word |= (static_cast<uint32_t>(row[full + slots[slot]]) & 0xFu)
                  << (4 * slot);
      out[full / 8] = static_cast<int32_t>(word);
    }
  }
}

QUARK_VECTORIZED void packInt4(llvm::ArrayRef<int8_t> codes, int64_t rows,
                               int64_t cols, Int4PackOrder order,
                               llvm::MutableArrayRef<int32_t> packed) {
  packInt4Rows(codes, rows, cols, order, packed);
}

QUARK_VECTORIZED void packInt4(llvm::ArrayRef<int32_t> codes, int64_t rows,
                               int64_t cols, Int4PackOrder order,
                               llvm::MutableArrayRef<int32_t> packed) {
  packInt4Rows(codes, rows, cols, order, packed);
}

QUARK_VECTORIZED void
packInt4Transposed(llvm::ArrayRef<int32_t> codes, int64_t rows, int64_t cols,
                   Int4PackOrder order, llvm::MutableArrayRef<int32_t> packed) {
  int64_t words = packedInt4Cols(rows);
  assert(static_cast<int64_t>(codes.size()) == rows * cols);
  assert(static_cast<int64_t>(packed.size()) == cols * words);
  // Word (c, w) packs codes[8w .. 8w+7][c]. For a block of columns, eight
  // source rows are read forward together and the block's output rows fill
  // a word at a time, so both sides stay within a few cache lines.
  constexpr int64_t kColumnBlock = 64;
  const std::array<int, 8> &slots = int4SlotOrder(order);
  int64_t fullWords = rows / 8;
  for (int64_t c0 = 0; c0 < cols; c0 += kColumnBlock) {
    int64_t cEnd = std::min(cols, c0 + kColumnBlock);
    for (int64_t w = 0; w < words; ++w) {
      const int32_t *source = codes.data() + 8 * w * cols;
      if (w < fullWords) {
        for (int64_t c = c0; c < cEnd; ++c) {
          uint64_t bytes = 0;
          for (int k = 0; k < 8; ++k)
            bytes |= static_cast<uint64_t>(
                         static_cast<uint8_t>(source[k * cols + c]))
                     << (8 * k);
          packed[c * words + w] =
              static_cast<int32_t>(packInt4Word(bytes, order));
        }
        continue;
      }
      for (int64_t c = c0; c < cEnd; ++c) { // a zero-padded partial word
        uint32_t word = 0;
        for (int slot = 0; slot < 8; ++slot)
          if (8 * w + slots[slot] < rows)
            word |=
                (static_cast<uint32_t>(source[slots[slot] * cols + c]) & 0xFu)
                << (4 * slot);
        packed[c * words + w] = static_cast<int32_t>(word);
      }
    }
  }
}

/// slotOf[code] = the nibble slot holding logical code `code` of a word.
static std::array<int, 8> int4SlotOf(Int4PackOrder order) {
  std::array<int, 8> slotOf{};
  const std::array<int, 8> &slots = int4SlotOrder(order);
  for (int slot = 0; slot < 8; ++slot)
    slotOf[slots[slot]] = slot;
  return slotOf;
}

void transposePackedInt4(llvm::ArrayRef<int32_t> packed, int64_t rows,
                         int64_t cols, Int4PackOrder from, Int4PackOrder to,
                         llvm::MutableArrayRef<uint8_t> transposedBytes) {
  assert(rows % 8 == 0 && cols % 8 == 0);
  assert(static_cast<int64_t>(packed.size()) == rows * cols / 8);
  assert(transposedBytes.size() == 4 * packed.size());
  int64_t sourceWords = cols / 8, targetWords = rows / 8;
  std::array<int, 8> fromSlot = int4SlotOf(from);
  const std::array<int, 8> &toCodes = int4SlotOrder(to);
  // Eight source words (rows 8w .. 8w+7, columns 8v .. 8v+7) hold the same
  // 8 x 8 nibbles as eight target words (rows 8v .. 8v+7, word w). Sixteen
  // block rows at a time fill whole 64-byte lines of the target; the
  // sixteen-row bands go to separate threads.
  constexpr int64_t kBlockRows = 16;
  int64_t bands = (targetWords + kBlockRows - 1) / kBlockRows;
  parallelChunks(bands, 8, [&](int64_t firstBand, int64_t endBand) {
    for (int64_t band = firstBand; band < endBand; ++band) {
      int64_t w0 = band * kBlockRows;
      int64_t wEnd = std::min(targetWords, w0 + kBlockRows);
      for (int64_t v = 0; v < sourceWords; ++v) {
        for (int64_t w = w0; w < wEnd; ++w) {
          uint8_t nibble[8][8]; // [source row j][column k]
          for (int j = 0; j < 8; ++j) {
            uint32_t word =
                static_cast<uint32_t>(packed[(8 * w + j) * sourceWords + v]);
            for (int k = 0; k < 8; ++k)
              nibble[j][k] = (word >> (4 * fromSlot[k])) & 0xF;
          }
          for (int k = 0; k < 8; ++k) {
            uint32_t word = 0;
            for (int slot = 0; slot < 8; ++slot)
              word |= static_cast<uint32_t>(nibble[toCodes[slot]][k])
                      << (4 * slot);
            if (!llvm::sys::IsLittleEndianHost)
              word = llvm::byteswap(word);
            std::memcpy(transposedBytes.data() +
                            4 * ((8 * v + k) * targetWords + w),
                        &word, 4);
          }
        }
      }
    }
  });
}

void reorderPackedInt4(llvm::MutableArrayRef<int32_t> packed,
                       Int4PackOrder from, Int4PackOrder to) {
  if (from == to)
    return;
  std::array<int, 8> fromSlot = int4SlotOf(from);
  const std::array<int, 8> &toCodes = int4SlotOrder(to);
  for (int32_t &word : packed) {
    uint32_t source = static_cast<uint32_t>(word), target = 0;
    for (int slot = 0; slot < 8; ++slot)
      target |= ((source >> (4 * fromSlot[toCodes[slot]])) & 0xFu)
                << (4 * slot);
    word = static_cast<int32_t>(target);
  }
}

template <typename Code>
static void unpackInt4Rows(llvm::ArrayRef<int32_t> packed, int64_t rows,
                           int64_t cols, Int4PackOrder order, bool isSigned,
                           llvm::MutableArrayRef<Code> codes) {
  int64_t words = packedInt4Cols(cols);
  assert(static_cast<int64_t>(codes.size()) == rows * cols);
  assert(static_cast<int64_t>(packed.size()) == rows * words);
  const std::array<int, 8> &slots = int4SlotOrder(order);
  for (int64_t r = 0; r < rows; ++r) {
    Code *row = codes.data() + r * cols;
    for (int64_t w = 0; w < words; ++w) {
      uint32_t word = static_cast<uint32_t>(packed[r * words + w]);
      for (int slot = 0; slot < 8; ++slot) {
        int64_t column = w * 8 + slots[slot];
        if (column >= cols)
          continue;
        int nibble = (word >> (4 * slot)) & 0xF;
        if (isSigned && nibble >= 8)
          nibble -= 16;
        row[column] = static_cast<Code>(nibble);
      }
    }
  }
}

void unpackInt4(llvm::ArrayRef<int32_t> packed, int64_t rows, int64_t cols,
                Int4PackOrder order, bool isSigned,
                llvm::MutableArrayRef<int8_t> codes) {
  unpackInt4Rows(packed, rows, cols, order, isSigned, codes);
}

void unpackInt4(llvm::ArrayRef<int32_t> packed, int64_t rows, int64_t cols,
                Int4PackOrder order, bool isSigned,
                llvm::MutableArrayRef<int32_t> codes) {
  unpackInt4Rows(packed, rows, cols, order, isSigned, codes);
}

void packInt3(llvm::ArrayRef<int8_t> codes,
              llvm::MutableArrayRef<uint8_t> packed) {
  assert(codes.size() % 8 == 0 && packed.size() == codes.size() / 8 * 3);
  for (size_t g = 0; g < codes.size() / 8; ++g) {
    uint32_t word = 0;
    for (int i = 0; i < 8; ++i)
      word |= (static_cast<uint32_t>(codes[g * 8 + i]) & 0x7u) << (3 * i);
    for (int b = 0; b < 3; ++b)
      packed[g * 3 + b] = static_cast<uint8_t>(word >> (8 * b));
  }
}

void unpackInt3(llvm::ArrayRef<uint8_t> packed,
                llvm::MutableArrayRef<int8_t> codes) {
  assert(packed.size() % 3 == 0 && codes.size() == packed.size() / 3 * 8);
  for (size_t g = 0; g < packed.size() / 3; ++g) {
    uint32_t word =
        packed[g * 3] | (packed[g * 3 + 1] << 8) | (packed[g * 3 + 2] << 16);
    for (int i = 0; i < 8; ++i) {
      int value = (word >> (3 * i)) & 0x7;
      codes[g * 8 + i] = static_cast<int8_t>(value >= 4 ? value - 8 : value);
    }
  }
}

void packFp4(llvm::ArrayRef<uint8_t> codes,
             llvm::MutableArrayRef<uint8_t> packed) {
  assert(codes.size() % 2 == 0 && packed.size() == codes.size() / 2);
  for (size_t i = 0; i < packed.size(); ++i)
    packed[i] = static_cast<uint8_t>((codes[2 * i] & 0xF) |
                                     ((codes[2 * i + 1] & 0xF) << 4));
}

void unpackFp4(llvm::ArrayRef<uint8_t> packed,
               llvm::MutableArrayRef<uint8_t> codes) {
  assert(codes.size() == packed.size() * 2);
  for (size_t i = 0; i < packed.size(); ++i) {
    codes[2 * i] = packed[i] & 0xF;
    codes[2 * i + 1] = packed[i] >> 4;
  }
}

void packFp6(llvm::ArrayRef<uint8_t> codes,
             llvm::MutableArrayRef<uint8_t> packed) {
  assert(codes.size() % 4 == 0 && packed.size() == codes.size() / 4 * 3);
  for (size_t g = 0; g < codes.size() / 4; ++g) {
    uint32_t word = 0;
    for (int i = 0; i < 4; ++i)
      word |= (static_cast<uint32_t>(codes[g * 4 + i]) & 0x3Fu) << (6 * i);
    for (int b = 0; b < 3; ++b)
      packed[g * 3 + b] = static_cast<uint8_t>(word >> (8 * b));
  }
}

void unpackFp6(llvm::ArrayRef<uint8_t> packed,
               llvm::MutableArrayRef<uint8_t> codes) {
  assert(packed.size() % 3 == 0 && codes.size() == packed.size() / 3 * 4);
  for (size_t g = 0; g < packed.size() / 3; ++g) {
    uint32_t word =
        packed[g * 3] | (packed[g * 3 + 1] << 8) | (packed[g * 3 + 2] << 16);
    for (int i = 0; i < 4; ++i)
      codes[g * 4 + i] = static_cast<uint8_t>((word >> (6 * i)) & 0x3F);
  }
}

} // namespace mlir::quark
