//===- Microscaling.h - OCP MX block quantization, Quark's way --*- C++ -*-===//
//
// An MX block is `blockSize` (32) elements sharing one power-of-two scale that
// is stored as an E8M0 byte. Quark computes the shared scale from the block's
// absolute maximum in one of three modes (quark-semantics.md 4.6):
//
//  * even (Quark's default): add 2^(22 - mbits) to amax's fp32 bit pattern,
//    keep sign and exponent, then floor(log2) - emax, clamped to [-127, 127].
//    amax rounds *up* to the next power of two when its mantissa is at least
//    2 - 2^-(mbits+1) (1.75 for fp4). An all-zero block uses 2^-126 as amax.
//  * floor (the OCP / microxcaling rule): 2^(floor(log2 amax) - emax);
//    an all-zero block gets 2^-23.
//  * ceil: 2^(ceil(log2 amax) - emax); an all-zero block gets 2^-23.
//
// Elements are then x / scale quantized to the element type: fp4/fp6 through
// Quark's element kernel (saturate at 6 / 7.5 / 28), fp8 by clamp-and-cast,
// int8 as k/64 with k in [-127, 127] rounded half to even.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_MICROSCALING_H
#define QUARK_SUPPORT_MICROSCALING_H

#include "quark/Support/DataType.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace mlir::quark {

enum class MXScaleMode : uint8_t { Even, Floor, Ceil };

std::optional<MXScaleMode> parseMXScaleMode(std::string_view name);
std::string_view mxScaleModeName(MXScaleMode mode);

constexpr int64_t kMXBlockSize = 32;

/// Shared scale (a power of two, or NaN for a NaN amax) of a block whose
/// absolute maximum is `amax`, for elements of type `element`.
float mxSharedScale(float amax, QuantDType element, MXScaleMode mode);

/// Absolute maximum of a block (NaN if any element is NaN, as torch.max).
float blockAbsMax(llvm::ArrayRef<float> block);

/// Fake-quantize one element already known to belong to a block with shared
/// `scale`.
float mxFakeQuantizeElement(float x, float scale, QuantDType element);
/// Element code (fp4/fp6/fp8 bit pattern, or the int8 k as a two's-complement
/// byte) of `x` in a block with shared `scale`.
uint32_t mxQuantizeElement(float x, float scale, QuantDType element);
float mxDequantizeElement(uint32_t code, float scale, QuantDType element);

/// Fake-quantize a whole block in place (its scale computed from the block).
void mxFakeQuantizeBlock(llvm::MutableArrayRef<float> block, QuantDType element,
                         MXScaleMode mode);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_MICROSCALING_H
