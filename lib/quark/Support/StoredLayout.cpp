//===- StoredLayout.cpp - How a checkpoint file holds a tensor ------------===//

#include "quark/Support/StoredLayout.h"

#include "quark/Support/MiniFloat.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SwapByteOrder.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cassert>
#include <cstring>

using namespace mlir::quark;

namespace {

llvm::Error layoutError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

int64_t product(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

template <typename T>
std::vector<T> transpose2d(llvm::ArrayRef<T> values, int64_t rows,
                           int64_t cols) {
  // In square tiles: element by element, every store of a large matrix's
  // transpose lands on another cache line (and often another page), which
  // made this the slowest step of a 7B export.
  constexpr int64_t kTile = 32;
  std::vector<T> out(values.size());
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      int64_t rEnd = std::min(rows, r0 + kTile);
      int64_t cEnd = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < cEnd; ++c)
        for (int64_t r = r0; r < rEnd; ++r)
          out[c * rows + r] = values[r * cols + c];
    }
  return out;
}

/// The shape after the optional transpose, before packing.
llvm::SmallVector<int64_t, 4> transposedShape(const StoredLayout &layout,
                                              llvm::ArrayRef<int64_t> shape) {
  llvm::SmallVector<int64_t, 4> result(shape);
  if (layout.transposed && result.size() == 2)
    std::swap(result[0], result[1]);
  return result;
}

/// Elements of a stored value of `dtype` in the file.
void storeElement(TensorDType dtype, int64_t value, uint8_t *out) {
  size_t width = tensorDTypeSize(dtype);
  uint64_t bits = static_cast<uint64_t>(value);
  for (size_t b = 0; b < width; ++b)
    out[b] = static_cast<uint8_t>(bits >> (8 * b));
}

/// Little-endian I32 words.
void storeWords(llvm::ArrayRef<int32_t> words,
                llvm::MutableArrayRef<uint8_t> bytes) {
  assert(bytes.size() == 4 * words.size());
  if (llvm::sys::IsLittleEndianHost) {
    std::memcpy(bytes.data(), words.data(), bytes.size());
    return;
  }
  for (size_t i = 0; i < words.size(); ++i)
    storeElement(TensorDType::I32, words[i], bytes.data() + 4 * i);
}

int32_t loadElement(TensorDType dtype, const uint8_t *in) {
  switch (dtype) {
  case TensorDType::I8:
    return static_cast<int8_t>(in[0]);
  case TensorDType::U8:
  case TensorDType::BOOL:
  case TensorDType::F8_E4M3:
  case TensorDType::F8_E5M2:
    return in[0];
  case TensorDType::I16:
    return static_cast<int16_t>(in[0] | (in[1] << 8));
  case TensorDType::U16:
    return static_cast<int32_t>(in[0] | (in[1] << 8));
  default: {
    uint32_t bits = 0;
    for (int b = 0; b < 4; ++b)
      bits |= static_cast<uint32_t>(in[b]) << (8 * b);
    return static_cast<int32_t>(bits);
  }
  }
}

/// That a file tensor of `stored` shape holds `logical` in `layout`.
llvm::Error checkStoredShape(const StoredLayout &layout,
                             llvm::ArrayRef<int64_t> stored,
                             llvm::ArrayRef<int64_t> logical) {
  llvm::Expected<llvm::SmallVector<int64_t, 4>> expected =
      layout.storedShape(logical);
  if (!expected)
    return expected.takeError();
  if (llvm::ArrayRef<int64_t>(*expected) != stored)
    return layoutError("stored shape " + shapeText(stored) + " does not hold " +
                       shapeText(logical) + " in layout '" + layout.str() +
                       "' (expected " + shapeText(*expected) + ")");
  return llvm::Error::success();
}

bool holdsCodes(TensorDType dtype) {
  switch (dtype) {
  case TensorDType::I8:
  case TensorDType::U8:
  case TensorDType::I16:
  case TensorDType::U16:
  case TensorDType::I32:
  case TensorDType::F8_E4M3:
  case TensorDType::F8_E5M2:
    return true;
  default:
    return false;
  }
}

} // namespace

std::string mlir::quark::shapeText(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleave(shape, os, ", ");
  return text + "]";
}

std::string StoredLayout::str() const {
  llvm::SmallVector<std::string, 3> parts;
  if (transposed)
    parts.push_back("transposed");
  switch (packing) {
  case Packing::None:
    break;
  case Packing::Int4:
    parts.push_back((int4Signed ? "int4_" : "uint4_") +
                    std::string(int4PackOrderName(int4Order)));
    break;
  case Packing::Fp4:
    parts.push_back("fp4");
    break;
  case Packing::Fp6:
    parts.push_back("fp6");
    break;
  }
  if (byteFloat == ByteFloat::E8M0)
    parts.push_back("e8m0");
  else if (byteFloat == ByteFloat::E5M3)
    parts.push_back("e5m3");
  return llvm::join(parts, ",");
}

llvm::Expected<StoredLayout> StoredLayout::parse(llvm::StringRef text) {
  StoredLayout layout;
  llvm::SmallVector<llvm::StringRef, 3> parts;
  text.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef part : parts) {
    part = part.trim();
    if (part == "transposed") {
      layout.transposed = true;
    } else if (part == "fp4") {
      layout.packing = Packing::Fp4;
    } else if (part == "fp6") {
      layout.packing = Packing::Fp6;
    } else if (part == "e8m0") {
      layout.byteFloat = ByteFloat::E8M0;
    } else if (part == "e5m3") {
      layout.byteFloat = ByteFloat::E5M3;
    } else if (part.consume_front("int4_") || part.consume_front("uint4_")) {
      std::optional<Int4PackOrder> order = parseInt4PackOrder(part.str());
      if (!order)
        return layoutError("unknown int4 packing order '" + part +
                           "' (order, reorder)");
      layout.packing = Packing::Int4;
      layout.int4Order = *order;
      layout.int4Signed = !text.contains("uint4_");
    } else {
      return layoutError("unknown stored layout '" + part +
                         "' (transposed, int4_order, int4_reorder, "
                         "uint4_order, uint4_reorder, fp4, fp6, e8m0, e5m3)");
    }
  }
  return layout;
}

llvm::Expected<llvm::SmallVector<int64_t, 4>>
StoredLayout::storedShape(llvm::ArrayRef<int64_t> logical) const {
  if (transposed && logical.size() != 2)
    return layoutError("a transposed layout needs a 2-D tensor, got " +
                       shapeText(logical));
  llvm::SmallVector<int64_t, 4> shape = transposedShape(*this, logical);
  if (shape.empty())
    return shape; // a scalar is stored as one element, whatever the packing
  int64_t &last = shape.back();
  switch (packing) {
  case Packing::None:
    break;
  case Packing::Int4:
    last = packedInt4Cols(last);
    break;
  case Packing::Fp4:
    if (last % 2)
      return layoutError("fp4 packing needs an even last dimension, got " +
                         shapeText(logical));
    last /= 2;
    break;
  case Packing::Fp6:
    if (last % 4)
      return layoutError("fp6 packing needs a last dimension that is a "
                         "multiple of 4, got " +
                         shapeText(logical));
    last = last / 4 * 3;
    break;
  }
  return shape;
}

llvm::Expected<std::vector<uint8_t>>
mlir::quark::encodeStoredCodes(const StoredLayout &layout, TensorDType dtype,
                               llvm::ArrayRef<int64_t> logical,
                               llvm::ArrayRef<int32_t> codes) {
  if (!holdsCodes(dtype))
    return layoutError("codes cannot be stored as " + tensorDTypeName(dtype));
  if (static_cast<int64_t>(codes.size()) != product(logical))
    return layoutError("expected " + llvm::Twine(product(logical)) +
                       " codes for " + shapeText(logical));
  llvm::Expected<llvm::SmallVector<int64_t, 4>> stored =
      layout.storedShape(logical);
  if (!stored)
    return stored.takeError();
  std::vector<uint8_t> bytes(static_cast<size_t>(product(*stored)) *
                             tensorDTypeSize(dtype));
  llvm::SmallVector<int64_t, 4> shape = transposedShape(layout, logical);
  if (layout.packing == StoredLayout::Packing::Int4 && !shape.empty()) {
    if (dtype != TensorDType::I32)
      return layoutError("int4 codes pack into I32 words, not " +
                         tensorDTypeName(dtype));
    std::vector<int32_t> words(static_cast<size_t>(product(*stored)));
    int64_t cols = logical.back();
    int64_t rows = cols == 0 ? 0 : product(logical) / cols;
    if (layout.transposed)
      packInt4Transposed(codes, rows, cols, layout.int4Order, words);
    else
      packInt4(codes, rows, cols, layout.int4Order, words);
    storeWords(words, bytes);
    return bytes;
  }
  std::vector<int32_t> ordered;
  llvm::ArrayRef<int32_t> values = codes;
  if (layout.transposed) {
    ordered = transpose2d(codes, logical[0], logical[1]);
    values = ordered;
  }
  if ((layout.packing == StoredLayout::Packing::Fp4 ||
       layout.packing == StoredLayout::Packing::Fp6) &&
      !shape.empty()) {
    if (dtype != TensorDType::U8)
      return layoutError("fp4 / fp6 codes pack into U8 bytes, not " +
                         tensorDTypeName(dtype));
    std::vector<uint8_t> narrow(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      narrow[i] = static_cast<uint8_t>(values[i]);
    if (layout.packing == StoredLayout::Packing::Fp4)
      packFp4(narrow, bytes);
    else
      packFp6(narrow, bytes);
    return bytes;
  }
  size_t width = tensorDTypeSize(dtype);
  for (size_t i = 0; i < values.size(); ++i)
    storeElement(dtype, values[i], bytes.data() + i * width);
  return bytes;
}

llvm::Expected<std::vector<uint8_t>> mlir::quark::encodePackedInt4Codes(
    const StoredLayout &layout, TensorDType dtype,
    llvm::ArrayRef<int64_t> logical, llvm::ArrayRef<int32_t> words,
    Int4PackOrder order) {
  int64_t cols = logical.empty() ? 1 : logical.back();
  int64_t rows = cols == 0 ? 0 : product(logical) / cols;
  if (static_cast<int64_t>(words.size()) != rows * packedInt4Cols(cols))
    return layoutError("expected " + llvm::Twine(rows * packedInt4Cols(cols)) +
                       " packed int4 words for " + shapeText(logical));
  if (layout.packing != StoredLayout::Packing::Int4)
    return layoutError("packed int4 codes need an int4 layout, not '" +
                       layout.str() + "'");
  if (layout.transposed && (rows % 8 || cols % 8 || logical.size() != 2)) {
    // Through the codes; the sign does not matter, packing keeps nibbles.
    std::vector<int32_t> codes(static_cast<size_t>(product(logical)));
    unpackInt4(words, rows, cols, order, /*isSigned=*/true,
               llvm::MutableArrayRef<int32_t>(codes));
    return encodeStoredCodes(layout, dtype, logical, codes);
  }
  if (dtype != TensorDType::I32)
    return layoutError("int4 codes pack into I32 words, not " +
                       tensorDTypeName(dtype));
  std::vector<uint8_t> bytes(4 * words.size());
  if (layout.transposed) {
    transposePackedInt4(words, rows, cols, order, layout.int4Order, bytes);
    return bytes;
  }
  std::vector<int32_t> target(words.begin(), words.end());
  reorderPackedInt4(target, order, layout.int4Order);
  storeWords(target, bytes);
  return bytes;
}

llvm::Expected<std::vector<int32_t>>
mlir::quark::decodeStoredCodes(const StoredLayout &layout, TensorDType dtype,
                               llvm::ArrayRef<int64_t> stored,
                               llvm::ArrayRef<int64_t> logical,
                               llvm::ArrayRef<uint8_t> bytes) {
  if (!holdsCodes(dtype))
    return layoutError("a " + tensorDTypeName(dtype) +
                       " tensor does not hold codes");
  if (llvm::Error error = checkStoredShape(layout, stored, logical))
    return std::move(error);
  if (bytes.size() !=
      static_cast<size_t>(product(stored)) * tensorDTypeSize(dtype))
    return layoutError("tensor bytes do not match its shape");
  llvm::SmallVector<int64_t, 4> shape = transposedShape(layout, logical);
  int64_t cols = shape.empty() ? 1 : shape.back();
  int64_t rows = cols == 0 ? 0 : product(shape) / cols;
  std::vector<int32_t> values(static_cast<size_t>(product(logical)));
  if (layout.packing == StoredLayout::Packing::Int4 && !shape.empty()) {
    std::vector<int32_t> words(static_cast<size_t>(product(stored)));
    for (size_t i = 0; i < words.size(); ++i)
      words[i] = loadElement(dtype, bytes.data() + 4 * i);
    std::vector<int8_t> narrow(values.size());
    unpackInt4(words, rows, cols, layout.int4Order, layout.int4Signed, narrow);
    std::copy(narrow.begin(), narrow.end(), values.begin());
  } else if ((layout.packing == StoredLayout::Packing::Fp4 ||
              layout.packing == StoredLayout::Packing::Fp6) &&
             !shape.empty()) {
    std::vector<uint8_t> narrow(values.size());
    if (layout.packing == StoredLayout::Packing::Fp4)
      unpackFp4(bytes, narrow);
    else
      unpackFp6(bytes, narrow);
    std::copy(narrow.begin(), narrow.end(), values.begin());
  } else {
    size_t width = tensorDTypeSize(dtype);
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = loadElement(dtype, bytes.data() + i * width);
  }
  if (layout.transposed)
    values = transpose2d(llvm::ArrayRef<int32_t>(values), shape[0], shape[1]);
  return values;
}

llvm::Expected<std::vector<uint8_t>>
mlir::quark::encodeStoredFloats(const StoredLayout &layout, TensorDType dtype,
                                llvm::ArrayRef<int64_t> logical,
                                llvm::ArrayRef<float> values) {
  if (layout.packing != StoredLayout::Packing::None)
    return layoutError("float values are not packed");
  bool bytes1 = layout.byteFloat != StoredLayout::ByteFloat::None;
  if (bytes1 != (dtype == TensorDType::U8) ||
      (!bytes1 && dtype != TensorDType::F32 && dtype != TensorDType::BF16 &&
       dtype != TensorDType::F16))
    return layoutError("float values are stored as F32, BF16, F16, or U8 "
                       "bytes of E8M0 or e5m3, not " +
                       tensorDTypeName(dtype) +
                       (bytes1 ? " with " + layout.str() : std::string()));
  if (static_cast<int64_t>(values.size()) != product(logical))
    return layoutError("expected " + llvm::Twine(product(logical)) +
                       " values for " + shapeText(logical));
  if (layout.transposed && logical.size() != 2)
    return layoutError("a transposed layout needs a 2-D tensor, got " +
                       shapeText(logical));
  std::vector<float> ordered;
  if (layout.transposed) {
    ordered = transpose2d(values, logical[0], logical[1]);
    values = ordered;
  }
  std::vector<uint8_t> bytes(values.size() * tensorDTypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    switch (dtype) {
    case TensorDType::U8:
      bytes[i] = layout.byteFloat == StoredLayout::ByteFloat::E8M0
                     ? encodeE8M0(values[i])
                     : encodeMiniFloat(kFloat8E5M3, values[i]);
      break;
    case TensorDType::BF16:
      storeElement(dtype, encodeBFloat16(values[i]), bytes.data() + 2 * i);
      break;
    case TensorDType::F16:
      storeElement(dtype, encodeFloat16(values[i]), bytes.data() + 2 * i);
      break;
    default:
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
      break;
    }
  }
  return bytes;
}

llvm::Expected<std::vector<float>>
mlir::quark::decodeStoredFloats(const StoredLayout &layout, TensorDType dtype,
                                llvm::ArrayRef<int64_t> stored,
                                llvm::ArrayRef<int64_t> logical,
                                llvm::ArrayRef<uint8_t> bytes) {
  if (llvm::Error error = checkStoredShape(layout, stored, logical))
    return std::move(error);
  std::vector<float> values(static_cast<size_t>(product(logical)));
  if (layout.byteFloat != StoredLayout::ByteFloat::None) {
    if (dtype != TensorDType::U8 || bytes.size() != values.size())
      return layoutError(layout.str() + " values are stored as U8 bytes");
    bool e8m0 = layout.byteFloat == StoredLayout::ByteFloat::E8M0;
    for (size_t i = 0; i < values.size(); ++i)
      values[i] =
          e8m0 ? decodeE8M0(bytes[i]) : decodeMiniFloat(kFloat8E5M3, bytes[i]);
  } else {
    if (bytes.size() != values.size() * tensorDTypeSize(dtype))
      return layoutError("tensor bytes do not match its shape");
    if (llvm::Error error = convertToFloat(dtype, bytes, values))
      return std::move(error);
  }
  if (layout.transposed) {
    llvm::SmallVector<int64_t, 4> shape = transposedShape(layout, logical);
    values = transpose2d(llvm::ArrayRef<float>(values), shape[0], shape[1]);
  }
  return values;
}
