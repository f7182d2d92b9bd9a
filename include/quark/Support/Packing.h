//===- Packing.h - Sub-byte storage layouts of Quark checkpoints -*- C++
//-*-===//
//
// Every layout packs along the last dimension of a row-major [rows, cols]
// tensor (a 1-D tensor is one row), exactly as Quark's pack.py:
//
//  * int4 / uint4: eight 4-bit codes per int32, ceil(cols / 8) words per
//    row (a partial last word is zero-padded). Nibble slot i (bits 4i..4i+3)
//    holds element order[i] of its group of eight, with
//      "order":   [0, 1, 2, 3, 4, 5, 6, 7]
//      "reorder": [0, 2, 4, 6, 1, 3, 5, 7]  (the AutoAWQ interleave).
//    Signed codes are stored as two's-complement nibbles.
//  * int3: eight 3-bit codes per 3 bytes, value i at bits 3i..3i+2 of the
//    little-endian 24-bit word; the whole tensor must hold a multiple of 8.
//  * fp4 (e2m1): two codes per byte, the even element in the low nibble.
//  * fp6 (e2m3 / e3m2): four codes per 3 bytes, value i at bits 6i..6i+5 of
//    the little-endian 24-bit word (the CDNA4 mfma_scale f8f6f4 layout).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_PACKING_H
#define QUARK_SUPPORT_PACKING_H

#include "llvm/ADT/ArrayRef.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mlir::quark {

enum class Int4PackOrder : uint8_t { Order, Reorder };

std::optional<Int4PackOrder> parseInt4PackOrder(std::string_view name);
std::string_view int4PackOrderName(Int4PackOrder order);
/// order[i] = logical element stored in nibble slot i.
const std::array<int, 8> &int4SlotOrder(Int4PackOrder order);

inline int64_t packedInt4Cols(int64_t cols) { return (cols + 7) / 8; }

/// codes: rows * cols values in [-8, 15]; packed: rows * packedInt4Cols(cols).
void packInt4(llvm::ArrayRef<int8_t> codes, int64_t rows, int64_t cols,
              Int4PackOrder order, llvm::MutableArrayRef<int32_t> packed);
/// The same from int32 codes, as the quantization kernels produce them.
void packInt4(llvm::ArrayRef<int32_t> codes, int64_t rows, int64_t cols,
              Int4PackOrder order, llvm::MutableArrayRef<int32_t> packed);
/// packInt4 of the transpose: codes [rows, cols] into packed
/// [cols, packedInt4Cols(rows)], without materializing the transpose (the
/// layout of Quark's hf_format int4 weights, scales' zero points and AWQ).
void packInt4Transposed(llvm::ArrayRef<int32_t> codes, int64_t rows,
                        int64_t cols, Int4PackOrder order,
                        llvm::MutableArrayRef<int32_t> packed);
/// The packed words of codes [rows, cols] in `from` order as the packed
/// words of their transpose [cols, rows] in `to` order, written as
/// little-endian bytes (a file tensor's), nibble by nibble without
/// unpacking (sign does not matter). rows and cols are multiples of 8.
void transposePackedInt4(llvm::ArrayRef<int32_t> packed, int64_t rows,
                         int64_t cols, Int4PackOrder from, Int4PackOrder to,
                         llvm::MutableArrayRef<uint8_t> transposedBytes);
/// Packed words from `from` to `to` order, in place.
void reorderPackedInt4(llvm::MutableArrayRef<int32_t> packed,
                       Int4PackOrder from, Int4PackOrder to);
/// Inverse of packInt4; signed codes are sign-extended from 4 bits.
void unpackInt4(llvm::ArrayRef<int32_t> packed, int64_t rows, int64_t cols,
                Int4PackOrder order, bool isSigned,
                llvm::MutableArrayRef<int8_t> codes);
/// The same into int32 codes.
void unpackInt4(llvm::ArrayRef<int32_t> packed, int64_t rows, int64_t cols,
                Int4PackOrder order, bool isSigned,
                llvm::MutableArrayRef<int32_t> codes);

/// codes.size() must be a multiple of 8; packed holds codes.size() / 8 * 3.
void packInt3(llvm::ArrayRef<int8_t> codes,
              llvm::MutableArrayRef<uint8_t> packed);
void unpackInt3(llvm::ArrayRef<uint8_t> packed,
                llvm::MutableArrayRef<int8_t> codes);

/// codes.size() must be even; packed holds codes.size() / 2 bytes.
void packFp4(llvm::ArrayRef<uint8_t> codes,
             llvm::MutableArrayRef<uint8_t> packed);
void unpackFp4(llvm::ArrayRef<uint8_t> packed,
               llvm::MutableArrayRef<uint8_t> codes);

/// codes.size() must be a multiple of 4; packed holds codes.size() / 4 * 3.
void packFp6(llvm::ArrayRef<uint8_t> codes,
             llvm::MutableArrayRef<uint8_t> packed);
void unpackFp6(llvm::ArrayRef<uint8_t> packed,
               llvm::MutableArrayRef<uint8_t> codes);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_PACKING_H
