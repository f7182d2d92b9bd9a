//===- ElementCodec.cpp - Quark's per-element numerics as arith ops -------===//

#include "ElementCodec.h"

#include "quark/Support/DataType.h"
#include "quark/Support/MiniFloat.h"
#include "quark/Support/ScalarQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/bit.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::quark;

namespace {

/// Small helpers over one builder and location.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value i32(int64_t value) const {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
  }
  Value f32(float value) const {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                          llvm::APFloat(value));
  }
  Value andI(Value x, int64_t mask) const {
    return arith::AndIOp::create(b, loc, x, i32(mask));
  }
  Value shl(Value x, Value amount) const {
    return arith::ShLIOp::create(b, loc, x, amount);
  }
  Value shru(Value x, Value amount) const {
    return arith::ShRUIOp::create(b, loc, x, amount);
  }
  Value add(Value x, Value y) const {
    return arith::AddIOp::create(b, loc, x, y);
  }
  Value sub(Value x, Value y) const {
    return arith::SubIOp::create(b, loc, x, y);
  }
  Value cmpi(arith::CmpIPredicate predicate, Value x, Value y) const {
    return arith::CmpIOp::create(b, loc, predicate, x, y);
  }
  Value select(Value condition, Value x, Value y) const {
    return arith::SelectOp::create(b, loc, condition, x, y);
  }
  Value isNaN(Value x) const {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
  }
};

const MiniFloatFormat &floatFormat(QuantDType dtype) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  assert(info.format && "not a narrow float dtype");
  return *info.format;
}

uint32_t nanCodeOf(const MiniFloatFormat &format) {
  return encodeMiniFloat(format, std::numeric_limits<float>::quiet_NaN());
}

/// encodeMiniFloat (saturating) on an f32 value, as an i32 code. The
/// magnitude is clamped to the largest finite value first (which the format
/// holds exactly), so the rounding below never overflows.
Value encodeMiniFloatIR(const Emitter &e, const MiniFloatFormat &format,
                        Value x) {
  const int m = static_cast<int>(format.mantissaBits);
  Value bits = arith::BitcastOp::create(e.b, e.loc, e.b.getI32Type(), x);
  Value negative = e.cmpi(arith::CmpIPredicate::slt, bits, e.i32(0));
  Value absBits = e.andI(bits, 0x7FFFFFFF);
  Value nan = e.cmpi(arith::CmpIPredicate::ugt, absBits, e.i32(0x7F800000));
  float maxFinite = static_cast<float>(format.maxFinite());
  absBits = arith::MinUIOp::create(e.b, e.loc, absBits,
                                   e.i32(llvm::bit_cast<uint32_t>(maxFinite)));

  Value exponent32 = e.shru(absBits, e.i32(23));
  Value significand = e.andI(absBits, 0x7FFFFF);
  Value normal32 = e.cmpi(arith::CmpIPredicate::ne, exponent32, e.i32(0));
  significand = e.select(
      normal32, arith::OrIOp::create(e.b, e.loc, significand, e.i32(0x800000)),
      significand);
  exponent32 = arith::MaxSIOp::create(e.b, e.loc, exponent32, e.i32(1));
  Value targetExponent = e.add(exponent32, e.i32(format.exponentBias - 127));
  // Low significand bits below the target's quantum; one more per step
  // below the normal range. 25 already rounds every fp32 to zero.
  Value belowNormal = arith::MaxSIOp::create(
      e.b, e.loc, e.sub(e.i32(1), targetExponent), e.i32(0));
  Value shift = arith::MinSIOp::create(
      e.b, e.loc, e.add(belowNormal, e.i32(23 - m)), e.i32(25));
  Value one = e.i32(1);
  Value half = e.shl(one, e.sub(shift, one));
  Value remainder = arith::AndIOp::create(e.b, e.loc, significand,
                                          e.sub(e.shl(one, shift), one));
  Value quantums = e.shru(significand, shift);
  Value odd = e.cmpi(arith::CmpIPredicate::ne, e.andI(quantums, 1), e.i32(0));
  Value roundUp = arith::OrIOp::create(
      e.b, e.loc, e.cmpi(arith::CmpIPredicate::ugt, remainder, half),
      arith::AndIOp::create(
          e.b, e.loc, e.cmpi(arith::CmpIPredicate::eq, remainder, half), odd));
  quantums = e.add(
      quantums, arith::ExtUIOp::create(e.b, e.loc, e.b.getI32Type(), roundUp));
  // A normal value's code is (e - 1) << m plus quantums in [2^m, 2^(m+1)]:
  // a carry out of the mantissa bumps the exponent by itself.
  Value normalTarget =
      e.cmpi(arith::CmpIPredicate::sgt, targetExponent, e.i32(0));
  Value magnitude = e.select(
      normalTarget,
      e.add(e.shl(e.sub(targetExponent, one), e.i32(m)), quantums), quantums);

  Value code;
  if (!format.hasSign) {
    // Unsigned formats (e5m3) clamp negative values to 0.
    code = e.select(negative, e.i32(0), magnitude);
  } else {
    Value sign = e.select(negative, e.i32(format.signBit()), e.i32(0));
    if (format.specials == SpecialValues::FiniteNegZeroNaN ||
        format.specials == SpecialValues::FiniteNoNaN) {
      // fnuz has no negative zero; Quark's fp4/fp6 kernel drops the sign of
      // a zero (encodeScaledFloatElement).
      Value zero = e.cmpi(arith::CmpIPredicate::eq, magnitude, e.i32(0));
      sign = e.select(zero, e.i32(0), sign);
    }
    code = arith::OrIOp::create(e.b, e.loc, sign, magnitude);
  }
  return e.select(nan, e.i32(nanCodeOf(format)), code);
}

/// decodeMiniFloat on an i32 code (its low totalBits bits).
Value decodeMiniFloatIR(const Emitter &e, const MiniFloatFormat &format,
                        Value code) {
  const int m = static_cast<int>(format.mantissaBits);
  const uint32_t magnitudeMask = (1u << (format.exponentBits + m)) - 1;
  Value magnitude = e.andI(code, magnitudeMask);
  Value exponent = e.shru(magnitude, e.i32(m));
  Value mantissa = e.andI(magnitude, (1 << m) - 1);
  Value normalBits = arith::OrIOp::create(
      e.b, e.loc,
      e.shl(e.add(exponent, e.i32(127 - format.exponentBias)), e.i32(23)),
      e.shl(mantissa, e.i32(23 - m)));
  Value normal =
      arith::BitcastOp::create(e.b, e.loc, e.b.getF32Type(), normalBits);
  // Subnormals: mantissa * 2^(1 - bias - m), exact in f32.
  Value subnormal = arith::MulFOp::create(
      e.b, e.loc,
      arith::UIToFPOp::create(e.b, e.loc, e.b.getF32Type(), mantissa),
      e.f32(std::ldexp(1.0f, 1 - format.exponentBias - m)));
  Value value = e.select(e.cmpi(arith::CmpIPredicate::eq, exponent, e.i32(0)),
                         subnormal, normal);
  const float nanValue = std::numeric_limits<float>::quiet_NaN();
  const uint32_t allOnesExponent = (1u << format.exponentBits) - 1;
  switch (format.specials) {
  case SpecialValues::IEEE: {
    Value special =
        e.cmpi(arith::CmpIPredicate::eq, exponent, e.i32(allOnesExponent));
    Value infOrNaN = e.select(
        e.cmpi(arith::CmpIPredicate::eq, mantissa, e.i32(0)),
        e.f32(std::numeric_limits<float>::infinity()), e.f32(nanValue));
    value = e.select(special, infOrNaN, value);
    break;
  }
  case SpecialValues::FiniteAllOnesNaN:
    value = e.select(
        e.cmpi(arith::CmpIPredicate::eq, magnitude, e.i32(magnitudeMask)),
        e.f32(nanValue), value);
    break;
  case SpecialValues::FiniteNegZeroNaN:
    break; // handled with the sign below
  case SpecialValues::FiniteNoNaN:
    break;
  }
  if (!format.hasSign)
    return value;
  Value negative = e.cmpi(arith::CmpIPredicate::ne,
                          e.andI(code, format.signBit()), e.i32(0));
  Value signed_ =
      e.select(negative, arith::NegFOp::create(e.b, e.loc, value), value);
  if (format.specials == SpecialValues::FiniteNegZeroNaN)
    signed_ = e.select(e.cmpi(arith::CmpIPredicate::eq,
                              e.andI(code, (1 << format.totalBits()) - 1),
                              e.i32(format.signBit())),
                       e.f32(nanValue), signed_);
  return signed_;
}

} // namespace

ElementCodec::ElementCodec(const TensorQuantSpec &spec, bool hardwareOcpFp8)
    : spec_(spec), hardwareOcpFp8_(hardwareOcpFp8) {}

bool ElementCodec::isInteger() const {
  return getDTypeInfo(spec_.elementType()).isInteger();
}

bool ElementCodec::isSignedInteger() const {
  return isInteger() && getDTypeInfo(spec_.elementType()).isSigned();
}

unsigned ElementCodec::bits() const {
  return getDTypeInfo(spec_.elementType()).bits;
}

Type ElementCodec::storageType(MLIRContext *context) const {
  Builder b(context);
  if (isInteger())
    return b.getIntegerType(bits());
  switch (spec_.elementType()) {
  case QuantDType::FP8E4M3:
    return b.getType<Float8E4M3FNType>();
  case QuantDType::FP8E4M3FNUZ:
    return b.getType<Float8E4M3FNUZType>();
  case QuantDType::FP8E5M2:
    return b.getType<Float8E5M2Type>();
  case QuantDType::FP8E5M2FNUZ:
    return b.getType<Float8E5M2FNUZType>();
  case QuantDType::FP6E2M3:
    return b.getType<Float6E2M3FNType>();
  case QuantDType::FP6E3M2:
    return b.getType<Float6E3M2FNType>();
  case QuantDType::FP4:
    return b.getType<Float4E2M1FNType>();
  default:
    return b.getIntegerType(bits()); // e5m3 has no builtin type
  }
}

Value ElementCodec::quantize(OpBuilder &b, Location loc, Value x, Value scale,
                             Value zeroPoint) const {
  Emitter e{b, loc};
  Type storage = storageType(b.getContext());
  if (isInteger()) {
    const DTypeInfo &info = getDTypeInfo(spec_.elementType());
    // inverseScale: 1 / max(scale, FLT_MIN), multiplied, not divided.
    Value floored = arith::MaximumFOp::create(
        b, loc, scale, e.f32(std::numeric_limits<float>::min()));
    Value inverse = arith::DivFOp::create(b, loc, e.f32(1.0f), floored);
    Value scaled = arith::MulFOp::create(b, loc, x, inverse);
    Value rounded;
    switch (spec_.round) {
    case RoundMode::HalfEven:
      rounded = math::RoundEvenOp::create(b, loc, scaled);
      break;
    case RoundMode::HalfAwayFromZero:
      rounded = math::RoundOp::create(b, loc, scaled);
      break;
    case RoundMode::Floor:
      rounded = math::FloorOp::create(b, loc, scaled);
      break;
    }
    Value zero = arith::SIToFPOp::create(b, loc, b.getF32Type(),
                                         zeroPoint ? zeroPoint : e.i32(0));
    Value shifted = arith::AddFOp::create(b, loc, rounded, zero);
    // f32 bounds give the same codes as Support's double ones while qmin,
    // qmax and the zero point lie within 2^24 (see quantizeIntWithInverse).
    shifted = arith::MaximumFOp::create(b, loc, shifted,
                                        e.f32(static_cast<float>(info.qmin)));
    shifted = arith::MinimumFOp::create(b, loc, shifted,
                                        e.f32(static_cast<float>(info.qmax)));
    Value code = arith::FPToSIOp::create(
        b, loc, b.getI32Type(), e.select(e.isNaN(rounded), zero, shifted));
    if (bits() < 32)
      code = arith::TruncIOp::create(b, loc, storage, code);
    return code;
  }
  // Narrow floats: x / scale (a true division; scale 0 -> 2^-23), then the
  // saturating round-half-even encoding.
  Value zeroScale = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                          scale, e.f32(0.0f));
  scale = e.select(zeroScale, e.f32(kScaleEpsilon), scale);
  Value scaled = arith::DivFOp::create(b, loc, x, scale);
  const MiniFloatFormat &format = floatFormat(spec_.elementType());
  if (hardwareOcpFp8_ && (spec_.elementType() == QuantDType::FP8E4M3 ||
                          spec_.elementType() == QuantDType::FP8E5M2)) {
    // Quark's clamp (infinities saturate, NaN passes), then the hardware's
    // round-half-even conversion; NaN gets the code Support gives it.
    float maxFinite = static_cast<float>(format.maxFinite());
    Value clamped = arith::MinimumFOp::create(
        b, loc, arith::MaximumFOp::create(b, loc, scaled, e.f32(-maxFinite)),
        e.f32(maxFinite));
    Value code = arith::TruncFOp::create(b, loc, storage, clamped);
    auto floatStorage = cast<FloatType>(storage);
    Value nanCode = arith::ConstantOp::create(
        b, loc,
        b.getFloatAttr(floatStorage, APFloat(floatStorage.getFloatSemantics(),
                                             APInt(8, nanCodeOf(format)))));
    return e.select(e.isNaN(scaled), nanCode, code);
  }
  Value code = encodeMiniFloatIR(e, format, scaled);
  Type codeInt = b.getIntegerType(bits());
  code = arith::TruncIOp::create(b, loc, codeInt, code);
  if (storage != codeInt)
    code = arith::BitcastOp::create(b, loc, storage, code);
  return code;
}

Value ElementCodec::codeToI32(OpBuilder &b, Location loc, Value code) const {
  Type codeInt = b.getIntegerType(bits());
  if (code.getType() != codeInt)
    code = arith::BitcastOp::create(b, loc, codeInt, code);
  if (bits() >= 32)
    return code;
  if (isSignedInteger())
    return arith::ExtSIOp::create(b, loc, b.getI32Type(), code);
  return arith::ExtUIOp::create(b, loc, b.getI32Type(), code);
}

Value ElementCodec::dequantize(OpBuilder &b, Location loc, Value code,
                               Value scale, Value zeroPoint) const {
  if (isInteger()) {
    Value value = codeToI32(b, loc, code);
    if (zeroPoint)
      value = arith::SubIOp::create(b, loc, value, zeroPoint);
    Value asFloat = arith::SIToFPOp::create(b, loc, b.getF32Type(), value);
    return arith::MulFOp::create(b, loc, asFloat, scale);
  }
  return arith::MulFOp::create(b, loc, decodeFloat(b, loc, code), scale);
}

Value ElementCodec::decodeFloat(OpBuilder &b, Location loc, Value code) const {
  assert(!isInteger() && "not a narrow float code");
  Emitter e{b, loc};
  return decodeMiniFloatIR(e, floatFormat(spec_.elementType()),
                           codeToI32(b, loc, code));
}

Value mlir::quark::toF32(OpBuilder &b, Location loc, Value value) {
  if (value.getType().isF32())
    return value;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), value);
}

Value mlir::quark::f32To(OpBuilder &b, Location loc, Value value, Type type) {
  if (type.isF32())
    return value;
  if (type.getIntOrFloatBitWidth() > 32)
    return arith::ExtFOp::create(b, loc, type, value);
  return arith::TruncFOp::create(b, loc, type, value);
}

Value mlir::quark::scaleToF32(OpBuilder &b, Location loc, Value scale) {
  if (!isa<Float8E8M0FNUType>(scale.getType()))
    return toF32(b, loc, scale);
  // E8M0: 2^(code - 127); code 0 is 2^-127 (an f32 subnormal), 255 is NaN.
  Emitter e{b, loc};
  Value code = arith::ExtUIOp::create(
      b, loc, b.getI32Type(),
      arith::BitcastOp::create(b, loc, b.getI8Type(), scale));
  Value bits = e.select(e.cmpi(arith::CmpIPredicate::eq, code, e.i32(0)),
                        e.i32(0x00400000), e.shl(code, e.i32(23)));
  Value value = arith::BitcastOp::create(b, loc, b.getF32Type(), bits);
  return e.select(e.cmpi(arith::CmpIPredicate::eq, code, e.i32(255)),
                  e.f32(std::numeric_limits<float>::quiet_NaN()), value);
}

Value mlir::quark::zeroPointToI32(OpBuilder &b, Location loc, Value zeroPoint,
                                  bool isUnsigned) {
  if (zeroPoint.getType().isInteger(32))
    return zeroPoint;
  if (isUnsigned)
    return arith::ExtUIOp::create(b, loc, b.getI32Type(), zeroPoint);
  return arith::ExtSIOp::create(b, loc, b.getI32Type(), zeroPoint);
}

//===----------------------------------------------------------------------===//
// Parameters derived from the data
//===----------------------------------------------------------------------===//

namespace {

Value cmpf(const Emitter &e, arith::CmpFPredicate predicate, Value x, Value y) {
  return arith::CmpFOp::create(e.b, e.loc, predicate, x, y);
}

/// std::min / std::max on floats: `(y < x) ? y : x` and `(x < y) ? y : x`,
/// which keep the first operand on ties (the sign of zero) and on NaN.
Value stdMin(const Emitter &e, Value x, Value y) {
  return e.select(cmpf(e, arith::CmpFPredicate::OLT, y, x), y, x);
}
Value stdMax(const Emitter &e, Value x, Value y) {
  return e.select(cmpf(e, arith::CmpFPredicate::OLT, x, y), y, x);
}

/// 2^n as an f32 for an i32 n (std::ldexp(1.0f, n)): subnormal below
/// 2^-126, zero below 2^-149, +inf above 2^127.
Value powerOfTwo(const Emitter &e, Value n) {
  Value normalBits = e.shl(e.add(n, e.i32(127)), e.i32(23));
  Value subnormalShift =
      arith::MaxSIOp::create(e.b, e.loc, e.add(n, e.i32(149)), e.i32(0));
  Value subnormalBits = e.shl(e.i32(1), subnormalShift);
  Value bits =
      e.select(e.cmpi(arith::CmpIPredicate::sge, n, e.i32(-126)), normalBits,
               e.select(e.cmpi(arith::CmpIPredicate::sge, n, e.i32(-149)),
                        subnormalBits, e.i32(0)));
  bits = e.select(e.cmpi(arith::CmpIPredicate::sgt, n, e.i32(127)),
                  e.i32(0x7F800000), bits);
  return arith::BitcastOp::create(e.b, e.loc, e.b.getF32Type(), bits);
}

/// std::ilogb of a positive finite nonzero f32 (subnormals included).
Value ilogbOf(const Emitter &e, Value x) {
  Value bits = arith::BitcastOp::create(e.b, e.loc, e.b.getI32Type(), x);
  Value biased = e.shru(bits, e.i32(23));
  Value leadingZeros = math::CountLeadingZerosOp::create(e.b, e.loc, bits);
  return e.select(e.cmpi(arith::CmpIPredicate::eq, biased, e.i32(0)),
                  e.sub(e.i32(-118), leadingZeros), e.sub(biased, e.i32(127)));
}

} // namespace

std::pair<Value, Value>
mlir::quark::quantParamsFromRange(OpBuilder &b, Location loc,
                                  const TensorQuantSpec &spec, Value lo,
                                  Value hi) {
  Emitter e{b, loc};
  const DTypeInfo &element = getDTypeInfo(spec.elementType());
  Value observed = cmpf(e, arith::CmpFPredicate::OLE, lo, hi);
  Value zero = e.f32(0.0f), epsilon = e.f32(kScaleEpsilon);
  Value scale, zeroPoint;
  if (element.isInteger()) {
    // quarkSymmetricIntScale / quarkAsymmetricIntParams; a slot never
    // observed gets (1, 0), as Quark's check_min_max_valid.
    Value minNeg = stdMin(e, lo, zero), maxPos = stdMax(e, hi, zero);
    if (spec.symmetric) {
      float halfRange = static_cast<float>(
          static_cast<double>(element.qmax - element.qmin) / 2);
      Value amax = stdMax(e, arith::NegFOp::create(b, loc, minNeg), maxPos);
      scale = arith::DivFOp::create(b, loc, amax, e.f32(halfRange));
      scale = stdMax(e, scale, epsilon);
    } else {
      scale = arith::DivFOp::create(
          b, loc, arith::SubFOp::create(b, loc, maxPos, minNeg),
          e.f32(static_cast<float>(element.qmax - element.qmin)));
      scale = stdMax(e, scale, epsilon);
      Value shifted = arith::SubFOp::create(
          b, loc, e.f32(static_cast<float>(element.qmin)),
          math::RoundEvenOp::create(
              b, loc, arith::DivFOp::create(b, loc, minNeg, scale)));
      // Clamped in float first: a NaN (from an infinite range) takes qmin,
      // as the int64 conversion then clamp does on the host.
      Value qmax = e.f32(static_cast<float>(element.qmax));
      Value qmin = e.f32(static_cast<float>(element.qmin));
      shifted = e.select(cmpf(e, arith::CmpFPredicate::OGT, shifted, qmax),
                         qmax, shifted);
      shifted = e.select(cmpf(e, arith::CmpFPredicate::OGE, shifted, qmin),
                         shifted, qmin);
      zeroPoint = e.select(
          observed, arith::FPToSIOp::create(b, loc, b.getI32Type(), shifted),
          e.i32(0));
    }
    scale = e.select(observed, scale, e.f32(1.0f));
  } else {
    // quarkFloatScale; a float observer never observed sees amax 0.
    lo = e.select(observed, lo, zero);
    hi = e.select(observed, hi, zero);
    Value amax = stdMax(e, math::AbsFOp::create(b, loc, stdMin(e, lo, zero)),
                        math::AbsFOp::create(b, loc, stdMax(e, hi, zero)));
    float maxNormal = static_cast<float>(element.format->maxFinite());
    scale = arith::DivFOp::create(b, loc, amax, e.f32(maxNormal));
    scale = e.select(cmpf(e, arith::CmpFPredicate::OEQ, scale, zero), epsilon,
                     scale);
    if (spec.scaleFormat == ScaleFormat::E5M3)
      scale = decodeMiniFloatIR(e, kFloat8E5M3,
                                encodeMiniFloatIR(e, kFloat8E5M3, scale));
  }
  // roundScale: bf16 / f16 round half even and widen back.
  if (spec.scalePrecision == ScalePrecision::BFloat16)
    scale = toF32(b, loc, f32To(b, loc, scale, b.getBF16Type()));
  else if (spec.scalePrecision == ScalePrecision::Float16)
    scale = toF32(b, loc, f32To(b, loc, scale, b.getF16Type()));
  return {scale, zeroPoint};
}

Value mlir::quark::mxSharedScaleOf(OpBuilder &b, Location loc,
                                   const TensorQuantSpec &spec, Value amax) {
  Emitter e{b, loc};
  const DTypeInfo &element = getDTypeInfo(spec.elementType());
  Value isZero = cmpf(e, arith::CmpFPredicate::OEQ, amax, e.f32(0.0f));
  if (spec.mxScaleMode == MXScaleMode::Even) {
    // Quark's even_round: add half of the element's mantissa quantum to the
    // f32 bits and keep sign and exponent; an amax of 0 counts as 2^-126.
    Value value = e.select(isZero, e.f32(std::ldexp(1.0f, -126)), amax);
    Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), value);
    bits = e.add(bits, e.i32(int64_t(1) << (22 - element.mxMantissaBits)));
    Value biased = e.andI(e.shru(bits, e.i32(23)), 0xFF);
    Value exponent = arith::MinSIOp::create(
        b, loc,
        arith::MaxSIOp::create(
            b, loc, e.sub(biased, e.i32(127 + element.mxEmax)), e.i32(-127)),
        e.i32(127));
    exponent = e.select(
        e.cmpi(arith::CmpIPredicate::eq, biased, e.i32(0)), e.i32(-127),
        e.select(e.cmpi(arith::CmpIPredicate::eq, biased, e.i32(255)),
                 e.i32(127), exponent));
    return e.select(e.isNaN(amax), amax, powerOfTwo(e, exponent));
  }
  // floor / ceil of log2(amax), exact through ilogb.
  Value exponent = ilogbOf(e, amax);
  if (spec.mxScaleMode == MXScaleMode::Ceil) {
    Value inexact =
        cmpf(e, arith::CmpFPredicate::UNE, powerOfTwo(e, exponent), amax);
    exponent = e.add(exponent,
                     arith::ExtUIOp::create(b, loc, b.getI32Type(), inexact));
  }
  Value scale = powerOfTwo(e, e.sub(exponent, e.i32(element.mxEmax)));
  Value epsilon = e.f32(kScaleEpsilon);
  scale = e.select(cmpf(e, arith::CmpFPredicate::OEQ, scale, e.f32(0.0f)),
                   epsilon, scale);
  scale = e.select(isZero, epsilon, scale);
  Value special =
      arith::OrIOp::create(b, loc, e.isNaN(amax),
                           cmpf(e, arith::CmpFPredicate::OEQ, amax,
                                e.f32(std::numeric_limits<float>::infinity())));
  return e.select(special, amax, scale);
}
