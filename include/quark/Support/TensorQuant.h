//===- TensorQuant.h - Quantize whole tensors with Quark's numerics -*- C++
//-*-//
//
// Tensor-level entry points used by the passes, the executor and the
// exporters. Data is row-major float32; parameters are per slot of a
// QuantLayout. Codes are int32: integer codes as values, float elements as
// their bit patterns, cast types (bf16/fp16) as their 16-bit patterns.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_TENSORQUANT_H
#define QUARK_SUPPORT_TENSORQUANT_H

#include "quark/Support/Microscaling.h"
#include "quark/Support/QuantLayout.h"
#include "quark/Support/ScalarQuant.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mlir::quark {

/// Scale (and, for asymmetric integers, zero point) of each layout slot.
struct QuantParams {
  std::vector<float> scales;
  std::vector<int32_t> zeroPoints; // empty unless the spec has zero points
};

/// An observer's running statistics: the min and max of each slot.
struct MinMaxStats {
  std::vector<float> min;
  std::vector<float> max;
  bool empty() const { return min.empty(); }
};

/// Merge the min/max of `data` into `stats` (slots of `layout`). NaNs are
/// ignored.
void observeMinMax(const QuantLayout &layout, llvm::ArrayRef<float> data,
                   MinMaxStats &stats);

/// `scale` rounded to the precision scales are kept in (bf16, fp16 or
/// float32), as torch's `.to(dtype)` rounds.
float roundScale(float scale, ScalePrecision precision);

/// Quark's scale and zero point of every slot, from observed min/max.
/// Integer and scaled-float dtypes only (MX and block formats derive their
/// scales from the data; cast types have none).
llvm::Expected<QuantParams> computeQuantParams(const TensorQuantSpec &spec,
                                               const MinMaxStats &stats);

/// Power-of-two shared scales of every block of `data` (OCP MX).
std::vector<float> computeMXScales(const TensorQuantSpec &spec,
                                   const QuantLayout &layout,
                                   llvm::ArrayRef<float> data);

/// Whether the spec's scales come from the data at quantization time rather
/// than from calibration (dynamic specs, MX, block formats).
bool quantizesWithoutStoredParams(const TensorQuantSpec &spec, bool isDynamic);

/// Parameters for `data` itself: what a dynamic quantizer computes per call.
llvm::Expected<QuantParams> computeDynamicParams(const TensorQuantSpec &spec,
                                                 const QuantLayout &layout,
                                                 llvm::ArrayRef<float> data);

/// Quantize-dequantize. For MX and block formats `params` may be empty (the
/// scales are computed from the data); otherwise it must hold one scale (and
/// zero point) per slot. in and out may alias.
llvm::Error fakeQuantizeTensor(const TensorQuantSpec &spec,
                               const QuantLayout &layout,
                               llvm::ArrayRef<float> in,
                               const QuantParams &params,
                               llvm::MutableArrayRef<float> out);

/// The per-element rule of fakeQuantizeTensor for integer, scaled-float
/// and MX specs, given the element's slot parameters: for algorithms that
/// quantize one column at a time (GPTQ), where a tensor call per column
/// would cost more than the arithmetic.
class ElementFakeQuantizer {
public:
  explicit ElementFakeQuantizer(const TensorQuantSpec &spec)
      : element(getDTypeInfo(spec.elementType())), round(spec.round),
        mx(spec.usesMXScales()), qmin(static_cast<double>(element.qmin)),
        qmax(static_cast<double>(element.qmax)) {}
  /// Whether the spec quantizes elements with a scale (not a cast or a
  /// block format).
  static bool supports(const TensorQuantSpec &spec) {
    DTypeKind kind = getDTypeInfo(spec.elementType()).kind;
    return !spec.isBlockFloat() && kind != DTypeKind::Cast;
  }
  float operator()(float x, float scale, int32_t zeroPoint) const {
    if (mx)
      return mxFakeQuantizeElement(x, scale, element.dtype);
    if (!element.isInteger())
      return fakeQuantizeFloat(element.dtype, x, scale);
    float floored = scale < 1.17549435e-38f ? 1.17549435e-38f : scale;
    int32_t code = quantizeIntWithInverse(x, inverseScale(scale), zeroPoint,
                                          qmin, qmax, round);
    return x != x ? x : dequantizeInt(code, floored, zeroPoint);
  }

private:
  const DTypeInfo &element;
  RoundMode round;
  bool mx;
  double qmin, qmax;
};

/// Real quantization to codes. Block formats (mx6/mx9/bfp16) have no storage
/// form and give an error.
llvm::Error quantizeTensor(const TensorQuantSpec &spec,
                           const QuantLayout &layout, llvm::ArrayRef<float> in,
                           const QuantParams &params,
                           llvm::MutableArrayRef<int32_t> codes);

llvm::Error dequantizeTensor(const TensorQuantSpec &spec,
                             const QuantLayout &layout,
                             llvm::ArrayRef<int32_t> codes,
                             const QuantParams &params,
                             llvm::MutableArrayRef<float> out);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_TENSORQUANT_H
