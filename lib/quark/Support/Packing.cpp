//===- Packing.cpp - Sub-byte storage layouts -----------------------------===//

#include "quark/Support/Packing.h"

#include "quark/Support/Parallel.h"

#include <cassert>

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

/// Words of one row: full words with the slot order fixed at compile time
/// (so the loop vectorizes), then a zero-padded partial word.
template <int S0, int S1, int S2, int S3, int S4, int S5, int S6, int S7>
static inline void packInt4Row(const int8_t *row, int64_t cols,
                               int32_t *out) {
  int64_t full = cols / 8;
  for (int64_t w = 0; w < full; ++w) {
    const int8_t *g = row + 8 * w;
    auto nibble = [&](int element, int slot) {
      return (static_cast<uint32_t>(g[element]) & 0xFu) << (4 * slot);
    };
    out[w] = static_cast<int32_t>(nibble(S0, 0) | nibble(S1, 1) |
                                  nibble(S2, 2) | nibble(S3, 3) |
                                  nibble(S4, 4) | nibble(S5, 5) |
                                  nibble(S6, 6) | nibble(S7, 7));
  }
  if (cols % 8 != 0) {
    static constexpr int slots[8] = {S0, S1, S2, S3, S4, S5, S6, S7};
    uint32_t word = 0;
    for (int slot = 0; slot < 8; ++slot)
      if (full * 8 + slots[slot] < cols)
        word |= (static_cast<uint32_t>(row[full * 8 + slots[slot]]) & 0xFu)
                << (4 * slot);
    out[full] = static_cast<int32_t>(word);
  }
}

QUARK_VECTORIZED void packInt4(llvm::ArrayRef<int8_t> codes, int64_t rows,
                               int64_t cols, Int4PackOrder order,
                               llvm::MutableArrayRef<int32_t> packed) {
  int64_t words = packedInt4Cols(cols);
  assert(static_cast<int64_t>(codes.size()) == rows * cols);
  assert(static_cast<int64_t>(packed.size()) == rows * words);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t *row = codes.data() + r * cols;
    int32_t *out = packed.data() + r * words;
    if (order == Int4PackOrder::Reorder)
      packInt4Row<0, 2, 4, 6, 1, 3, 5, 7>(row, cols, out);
    else
      packInt4Row<0, 1, 2, 3, 4, 5, 6, 7>(row, cols, out);
  }
}

void unpackInt4(llvm::ArrayRef<int32_t> packed, int64_t rows, int64_t cols,
                Int4PackOrder order, bool isSigned,
                llvm::MutableArrayRef<int8_t> codes) {
  int64_t words = packedInt4Cols(cols);
  assert(static_cast<int64_t>(codes.size()) == rows * cols);
  assert(static_cast<int64_t>(packed.size()) == rows * words);
  const std::array<int, 8> &slots = int4SlotOrder(order);
  for (int64_t r = 0; r < rows; ++r) {
    int8_t *row = codes.data() + r * cols;
    for (int64_t w = 0; w < words; ++w) {
      uint32_t word = static_cast<uint32_t>(packed[r * words + w]);
      for (int slot = 0; slot < 8; ++slot) {
        int64_t column = w * 8 + slots[slot];
        if (column >= cols)
          continue;
        int nibble = (word >> (4 * slot)) & 0xF;
        if (isSigned && nibble >= 8)
          nibble -= 16;
        row[column] = static_cast<int8_t>(nibble);
      }
    }
  }
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
    uint32_t word = packed[g * 3] | (packed[g * 3 + 1] << 8) |
                    (packed[g * 3 + 2] << 16);
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
    uint32_t word = packed[g * 3] | (packed[g * 3 + 1] << 8) |
                    (packed[g * 3 + 2] << 16);
    for (int i = 0; i < 4; ++i)
      codes[g * 4 + i] = static_cast<uint8_t>((word >> (6 * i)) & 0x3F);
  }
}

} // namespace mlir::quark
