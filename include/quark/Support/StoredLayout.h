//===- StoredLayout.h - How a checkpoint file holds a tensor ----*- C++ -*-===//
//
// A quantized checkpoint does not always hold a tensor the way it is used:
// Quark's hf_format transposes integer per-group weights (and their scales
// and zero points) to [in, out] and packs 4-bit codes eight per int32 word
// along the last dimension; MX scales are E8M0 exponent bytes, AMD FP4
// scales unsigned e5m3 bytes. A
// StoredLayout names that mapping, so one description drives all three
// users: the exporter encodes with it, the compatibility checker derives the
// expected file shapes from it, and a reloaded model's `quark.param`
// (attribute `layout`) decodes with it.
//
// Text form (the `layout` attribute): comma-separated, in encoding order:
//   transposed              the file holds the 2-D transpose
//   int4_order|int4_reorder eight signed 4-bit codes per int32 word along
//   uint4_order|uint4_reorder  the stored last dimension (see Packing.h)
//   fp4 | fp6               two codes per byte / four per three bytes
//   e8m0 | e5m3             float values stored as one byte each: E8M0
//                           exponents, or unsigned fp8 e5m3 (amdfp4)
// e.g. "transposed,uint4_reorder" (transpose, then pack).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_STOREDLAYOUT_H
#define QUARK_SUPPORT_STOREDLAYOUT_H

#include "quark/Support/Packing.h"
#include "quark/Support/Safetensors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::quark {

struct StoredLayout {
  enum class Packing : uint8_t { None, Int4, Fp4, Fp6 };
  bool transposed = false;
  Packing packing = Packing::None;
  Int4PackOrder int4Order = Int4PackOrder::Reorder;
  /// Int4 packing: whether nibbles decode as two's complement.
  bool int4Signed = true;
  /// Float values held as one byte each (U8), in a format safetensors has
  /// no dtype for.
  enum class ByteFloat : uint8_t { None, E8M0, E5M3 };
  ByteFloat byteFloat = ByteFloat::None;

  bool isIdentity() const {
    return !transposed && packing == Packing::None &&
           byteFloat == ByteFloat::None;
  }
  std::string str() const;
  static llvm::Expected<StoredLayout> parse(llvm::StringRef text);

  /// The file shape of a tensor of `logical` shape. Fails for shapes the
  /// layout cannot hold (a transposed tensor that is not 2-D; fp4 / fp6
  /// rows not a multiple of 2 / 4).
  llvm::Expected<llvm::SmallVector<int64_t, 4>>
  storedShape(llvm::ArrayRef<int64_t> logical) const;
};

/// "[4096, 512]": a shape as errors print it.
std::string shapeText(llvm::ArrayRef<int64_t> shape);

/// Integer codes (integer values, or float bit patterns) of a tensor of
/// `logical` shape, as the bytes of a file tensor of `dtype`.
llvm::Expected<std::vector<uint8_t>>
encodeStoredCodes(const StoredLayout &layout, TensorDType dtype,
                  llvm::ArrayRef<int64_t> logical,
                  llvm::ArrayRef<int32_t> codes);
/// encodeStoredCodes of int4 codes given as packed words ([rows,
/// packedInt4Cols(cols)] in `order` for `logical` [.., cols]), for a layout
/// that packs int4: the words are re-laid without unpacking, the main cost
/// of exporting an int4 model otherwise.
llvm::Expected<std::vector<uint8_t>>
encodePackedInt4Codes(const StoredLayout &layout, TensorDType dtype,
                      llvm::ArrayRef<int64_t> logical,
                      llvm::ArrayRef<int32_t> words, Int4PackOrder order);
/// The inverse: `bytes` of a file tensor of `dtype` and `stored` shape hold
/// a tensor of `logical` shape.
llvm::Expected<std::vector<int32_t>>
decodeStoredCodes(const StoredLayout &layout, TensorDType dtype,
                  llvm::ArrayRef<int64_t> stored,
                  llvm::ArrayRef<int64_t> logical,
                  llvm::ArrayRef<uint8_t> bytes);

/// Float values (scales, fake-quantized weights) as a file tensor of
/// `dtype` (F32, BF16, F16; U8 with `e8m0` or `e5m3`), rounded to
/// nearest-even.
llvm::Expected<std::vector<uint8_t>>
encodeStoredFloats(const StoredLayout &layout, TensorDType dtype,
                   llvm::ArrayRef<int64_t> logical,
                   llvm::ArrayRef<float> values);
llvm::Expected<std::vector<float>>
decodeStoredFloats(const StoredLayout &layout, TensorDType dtype,
                   llvm::ArrayRef<int64_t> stored,
                   llvm::ArrayRef<int64_t> logical,
                   llvm::ArrayRef<uint8_t> bytes);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_STOREDLAYOUT_H
