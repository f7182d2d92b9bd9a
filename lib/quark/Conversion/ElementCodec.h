//===- ElementCodec.h - Quark's per-element numerics as arith ops -*- C++ -*-//
//
// The scalar formulas of Support/ScalarQuant.h and Support/MiniFloat.h,
// emitted as arith/math operations on f32 and i32 values, for the bodies of
// the linalg ops convert-quark-to-linalg builds. Every builder here mirrors
// one Support function; the CPU-JIT tests compare the two bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_CONVERSION_ELEMENTCODEC_H
#define QUARK_CONVERSION_ELEMENTCODEC_H

#include "quark/Support/QuantLayout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

namespace mlir::quark {

/// How the elements of one spec are quantized and dequantized.
class ElementCodec {
public:
  /// `hardwareOcpFp8`: quantize OCP fp8 (e4m3 / e5m2) codes with
  /// arith.truncf after Quark's clamp, for GPUs whose conversion
  /// instructions round half even (convert-arith-to-amdgpu on gfx950). The
  /// host CPU has no lowering for it.
  explicit ElementCodec(const TensorQuantSpec &spec,
                        bool hardwareOcpFp8 = false);

  /// The element type codes are held in after conversion: a signless
  /// integer for integer codes, the builtin narrow float type where MLIR has
  /// one (f8E4M3FN, f4E2M1FN, ...), i8 for e5m3.
  Type storageType(MLIRContext *context) const;
  bool isInteger() const;
  bool isSignedInteger() const;
  unsigned bits() const;

  /// Code of the f32 `x` (as the storage type) given its f32 `scale` and,
  /// for integers, the i32 `zeroPoint` (null for symmetric specs).
  Value quantize(OpBuilder &b, Location loc, Value x, Value scale,
                 Value zeroPoint) const;
  /// f32 value of a code of the storage type.
  Value dequantize(OpBuilder &b, Location loc, Value code, Value scale,
                   Value zeroPoint) const;
  /// f32 value of a narrow-float code, unscaled (exact).
  Value decodeFloat(OpBuilder &b, Location loc, Value code) const;
  /// The code as a signed i32 (integers) or its bit pattern (floats).
  Value codeToI32(OpBuilder &b, Location loc, Value code) const;

private:
  TensorQuantSpec spec_;
  bool hardwareOcpFp8_;
};

/// Quark's parameters of one slot from the slot's NaN-skipping minimum `lo`
/// and maximum `hi` (lo > hi: nothing observed), as computeQuantParams
/// derives them for a spec without MX scales: the f32 scale, rounded to the
/// scale format (e5m3) and precision (bf16 / f16), and for asymmetric
/// integer specs the i32 zero point (else null). NVFP4's two-level e4m3
/// scales also need the tensor's maximum; the caller refuses them.
std::pair<Value, Value> quantParamsFromRange(OpBuilder &b, Location loc,
                                             const TensorQuantSpec &spec,
                                             Value lo, Value hi);
/// mxSharedScale: the power-of-two f32 scale of an MX block whose absolute
/// maximum is `amax` (NaN when the block holds a NaN), in the spec's
/// rounding mode.
Value mxSharedScaleOf(OpBuilder &b, Location loc, const TensorQuantSpec &spec,
                      Value amax);

/// f32 of a scale of any float type (bf16, f16, f32, f8E8M0FNU).
Value scaleToF32(OpBuilder &b, Location loc, Value scale);
/// i32 of a zero point of any integer type (extended by `isUnsigned`).
Value zeroPointToI32(OpBuilder &b, Location loc, Value zeroPoint,
                     bool isUnsigned);
/// Converts an f32 to `type` (round half even) or returns it for f32.
Value f32To(OpBuilder &b, Location loc, Value value, Type type);
/// Widens any float to f32.
Value toF32(OpBuilder &b, Location loc, Value value);

} // namespace mlir::quark

#endif // QUARK_CONVERSION_ELEMENTCODEC_H
