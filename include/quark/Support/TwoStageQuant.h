//===- TwoStageQuant.h - Quark's two-stage specs ----------------*- C++ -*-===//
//
// Quark's list-of-two specs:
//   * ScaleQuantSpec (NVFP4, amdfp4_global16/32): the first stage's block
//     scales (block amax / element max) are themselves fake-quantized by
//     the second stage, a per-tensor fp8 spec whose scale is
//     global_amax / (element max * fp8 max) -- one combined division, as
//     Quark computes it -- and the tensor is quantized with those scales.
//   * ProgressiveSpec (int4_fp8): the first stage quantizes to its element
//     values (fp8, not multiplied back), the second quantizes those
//     (int4 per channel), and dequantization runs in reverse.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_TWOSTAGEQUANT_H
#define QUARK_SUPPORT_TWOSTAGEQUANT_H

#include "quark/Support/TensorQuant.h"

#include <optional>

namespace mlir::quark {

/// What a scale-quantizing spec divides a tensor's largest absolute value
/// by for its second-stage scale: both stages' element maxima multiplied
/// (6 * 448 for NVFP4).
float scaleQuantDivisor(const TensorQuantSpec &first,
                        const TensorQuantSpec &second);

/// The second-stage (per-tensor) scale of a scale-quantizing spec for a
/// tensor whose largest absolute value is `globalAmax`: globalAmax /
/// scaleQuantDivisor, 2^-23 when that is zero.
float scaleQuantSecondScale(const TensorQuantSpec &first,
                            const TensorQuantSpec &second, float globalAmax);

/// The first stage's block scales after the second stage fake-quantized
/// them; `secondScale` is the calibrated one, or derived from `in`.
llvm::Expected<std::vector<float>>
scaleQuantBlockScales(const TensorQuantSpec &first,
                      const TensorQuantSpec &second, const QuantLayout &layout,
                      llvm::ArrayRef<float> in,
                      std::optional<float> secondScale);

/// Fake quantization under a ScaleQuantSpec.
llvm::Error fakeQuantizeScaleQuant(const TensorQuantSpec &first,
                                   const TensorQuantSpec &second,
                                   llvm::ArrayRef<int64_t> shape,
                                   llvm::ArrayRef<float> in,
                                   std::optional<float> secondScale,
                                   llvm::MutableArrayRef<float> out);

/// Fake quantization under a ProgressiveSpec; both stages take their
/// parameters from the data (static weights).
llvm::Error fakeQuantizeProgressive(const TensorQuantSpec &first,
                                    const TensorQuantSpec &second,
                                    llvm::ArrayRef<int64_t> shape,
                                    llvm::ArrayRef<float> in,
                                    llvm::MutableArrayRef<float> out);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_TWOSTAGEQUANT_H
