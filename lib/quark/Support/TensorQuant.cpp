//===- TensorQuant.cpp - Whole-tensor quantization ------------------------===//

#include "quark/Support/TensorQuant.h"

#include "quark/Support/BlockFloat.h"
#include "quark/Support/MiniFloat.h"
#include "quark/Support/Parallel.h"
#include "quark/Support/ScalarQuant.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

namespace mlir::quark {

static llvm::Error quantError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Tensors at least this large are split across threads.
static constexpr int64_t kParallelElements = 1 << 20;

/// Runs fn(span) on every span of `layout`; large tensors are split into
/// chunks of spans run in parallel (fn must only write its own elements).
template <typename Fn>
static void forEachSpan(const QuantLayout &layout, Fn &&fn) {
  int64_t spans = layout.numSpans();
  if (layout.numElements() < kParallelElements) {
    for (int64_t i = 0; i < spans; ++i)
      fn(layout.span(i));
    return;
  }
  parallelChunks(spans, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      fn(layout.span(i));
  });
}

/// Sixteen floats in one (AVX-512) vector register.
typedef float FloatLanes __attribute__((ext_vector_type(16)));

/// Min and max of x[0, n) merged into *lo, *hi. NaNs are skipped: the
/// elementwise builtins follow IEEE minNum/maxNum, which return the other
/// operand, as the scalar comparisons below do.
QUARK_VECTORIZED static void minMaxRun(const float *x, int64_t n, float *lo,
                                       float *hi) {
  FloatLanes lanesLo = *lo, lanesHi = *hi;
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    FloatLanes v;
    std::memcpy(&v, x + k, sizeof(v));
    lanesLo = __builtin_elementwise_min(lanesLo, v);
    lanesHi = __builtin_elementwise_max(lanesHi, v);
  }
  // Tree reductions (llvm.vector.reduce.fmin/fmax: NaN-skipping too); a
  // 128-element group would otherwise spend as long on 32 scalar
  // comparisons as on its 16 vector ones.
  float low = __builtin_reduce_min(lanesLo),
        high = __builtin_reduce_max(lanesHi);
  for (; k < n; ++k) {
    low = x[k] < low ? x[k] : low;
    high = high < x[k] ? x[k] : high;
  }
  *lo = low;
  *hi = high;
}

static void observeSpan(const QuantSpan &span, const float *data, float *lo,
                        float *hi) {
  const float *x = data + span.start;
  if (span.slotStride == 0) {
    minMaxRun(x, span.length, lo + span.slot, hi + span.slot);
    return;
  }
  float *spanLo = lo + span.slot, *spanHi = hi + span.slot;
  for (int64_t k = 0; k < span.length; ++k) {
    spanLo[k] = x[k] < spanLo[k] ? x[k] : spanLo[k];
    spanHi[k] = spanHi[k] < x[k] ? x[k] : spanHi[k];
  }
}

void observeMinMax(const QuantLayout &layout, llvm::ArrayRef<float> data,
                   MinMaxStats &stats) {
  size_t slots = static_cast<size_t>(layout.numParams());
  if (stats.min.size() != slots) {
    stats.min.assign(slots, std::numeric_limits<float>::infinity());
    stats.max.assign(slots, -std::numeric_limits<float>::infinity());
  }
  int64_t spans = layout.numSpans();
  if (layout.numElements() < kParallelElements || spans < 2) {
    for (int64_t i = 0; i < spans; ++i)
      observeSpan(layout.span(i), data.data(), stats.min.data(),
                  stats.max.data());
    return;
  }
  // Each chunk reduces into its own statistics; merging them gives the
  // same minima and maxima in any order.
  int64_t chunks = std::min<int64_t>(
      spans,
      static_cast<int64_t>(llvm::parallel::strategy.compute_thread_count()));
  std::vector<MinMaxStats> partial(static_cast<size_t>(chunks));
  llvm::parallelFor(0, static_cast<size_t>(chunks), [&](size_t chunk) {
    MinMaxStats &local = partial[chunk];
    local.min.assign(slots, std::numeric_limits<float>::infinity());
    local.max.assign(slots, -std::numeric_limits<float>::infinity());
    int64_t begin = spans * static_cast<int64_t>(chunk) / chunks;
    int64_t end = spans * static_cast<int64_t>(chunk + 1) / chunks;
    for (int64_t i = begin; i < end; ++i)
      observeSpan(layout.span(i), data.data(), local.min.data(),
                  local.max.data());
  });
  for (const MinMaxStats &local : partial)
    for (size_t s = 0; s < slots; ++s) {
      stats.min[s] = local.min[s] < stats.min[s] ? local.min[s] : stats.min[s];
      stats.max[s] = stats.max[s] < local.max[s] ? local.max[s] : stats.max[s];
    }
}

float roundScale(float scale, ScalePrecision precision) {
  switch (precision) {
  case ScalePrecision::Float32:
    return scale;
  case ScalePrecision::BFloat16:
    return decodeBFloat16(encodeBFloat16(scale));
  case ScalePrecision::Float16:
    return decodeFloat16(encodeFloat16(scale));
  }
  return scale;
}

static float absMax(float minValue, float maxValue) {
  return std::max(std::fabs(std::min(minValue, 0.0f)),
                  std::fabs(std::max(maxValue, 0.0f)));
}

llvm::Expected<QuantParams> computeQuantParams(const TensorQuantSpec &spec,
                                               const MinMaxStats &stats) {
  const DTypeInfo &element = getDTypeInfo(spec.elementType());
  if (spec.isBlockFloat())
    return quantError(llvm::formatv(
        "{0} derives its scales from each block at quantization time and "
        "stores none",
        dtypeName(spec.dtype)));
  if (element.kind == DTypeKind::Cast)
    return quantError(
        llvm::formatv("{0} is a cast and has no scale", element.name));
  QuantParams params;
  size_t slots = stats.min.size();
  params.scales.resize(slots);
  if (spec.hasZeroPoint())
    params.zeroPoints.resize(slots);

  float globalAmax = 0.0f;
  if (spec.scaleFormat == ScaleFormat::E4M3)
    for (size_t s = 0; s < slots; ++s)
      globalAmax = std::max(globalAmax, absMax(stats.min[s], stats.max[s]));

  for (size_t s = 0; s < slots; ++s) {
    float lo = stats.min[s], hi = stats.max[s];
    if (lo > hi) {
      // Never observed (min +inf, max -inf, as Quark's buffers start).
      // Integer observers fall back to (1, 0) in check_min_max_valid; float
      // observers clamp the range to include 0, see amax 0 and take their
      // smallest scale.
      if (element.isInteger()) {
        params.scales[s] = 1.0f;
        continue;
      }
      lo = hi = 0.0f;
    }
    float scale;
    if (spec.usesMXScales()) {
      scale = mxSharedScale(absMax(lo, hi), element.dtype, spec.mxScaleMode);
    } else if (element.isInteger()) {
      if (spec.symmetric) {
        scale = quarkSymmetricIntScale(lo, hi, element.qmin, element.qmax);
      } else {
        IntQParams asym =
            quarkAsymmetricIntParams(lo, hi, element.qmin, element.qmax);
        scale = asym.scale;
        params.zeroPoints[s] = asym.zeroPoint;
      }
    } else {
      float maxNormal = static_cast<float>(element.format->maxFinite());
      switch (spec.scaleFormat) {
      case ScaleFormat::Float:
      case ScaleFormat::E8M0: // handled above
        scale = quarkFloatScale(lo, hi, maxNormal);
        break;
      case ScaleFormat::E5M3:
        scale =
            roundToMiniFloat(kFloat8E5M3, quarkFloatScale(lo, hi, maxNormal));
        break;
      case ScaleFormat::E4M3: {
        // NVFP4: the local scale is stored in e4m3 relative to a per-tensor
        // scale chosen so that the largest local scale maps to 448.
        float twoLevel = 448.0f * (maxNormal / globalAmax);
        float local = absMax(lo, hi) / maxNormal;
        scale = roundToMiniFloat(kFloat8E4M3FN, local * twoLevel) / twoLevel;
        break;
      }
      }
    }
    params.scales[s] = roundScale(scale, spec.scalePrecision);
  }
  return params;
}

std::vector<float> computeMXScales(const TensorQuantSpec &spec,
                                   const QuantLayout &layout,
                                   llvm::ArrayRef<float> data) {
  std::vector<float> scales(static_cast<size_t>(layout.numParams()));
  for (int64_t p = 0; p < layout.numParams(); ++p) {
    int64_t start = layout.groupStart(p);
    int64_t extent = layout.groupExtent(p);
    float amax = 0.0f;
    for (int64_t k = 0; k < extent; ++k) {
      float x = data[start + k * layout.axisStride()];
      if (std::isnan(x)) {
        amax = x;
        break;
      }
      amax = std::max(amax, std::fabs(x));
    }
    scales[p] = mxSharedScale(amax, spec.elementType(), spec.mxScaleMode);
  }
  return scales;
}

bool quantizesWithoutStoredParams(const TensorQuantSpec &spec, bool isDynamic) {
  return isDynamic || spec.isBlockFloat() ||
         getDTypeInfo(spec.elementType()).kind == DTypeKind::Cast;
}

llvm::Expected<QuantParams> computeDynamicParams(const TensorQuantSpec &spec,
                                                 const QuantLayout &layout,
                                                 llvm::ArrayRef<float> data) {
  if (spec.usesMXScales())
    return QuantParams{computeMXScales(spec, layout, data), {}};
  MinMaxStats stats;
  observeMinMax(layout, data, stats);
  return computeQuantParams(spec, stats);
}

static llvm::Error checkParams(const TensorQuantSpec &spec,
                               const QuantLayout &layout,
                               const QuantParams &params) {
  size_t slots = static_cast<size_t>(layout.numParams());
  if (params.scales.size() != slots)
    return quantError(
        llvm::formatv("expected {0} scale(s) for a {1} layout, got {2}", slots,
                      qschemeName(layout.scheme()), params.scales.size()));
  if (spec.hasZeroPoint() && params.zeroPoints.size() != slots)
    return quantError(llvm::formatv(
        "expected {0} zero point(s) for an asymmetric {1} layout, got {2}",
        slots, qschemeName(layout.scheme()), params.zeroPoints.size()));
  return llvm::Error::success();
}

/// Runs `blockFn` on every group of a block-float layout, gathering strided
/// groups into a contiguous buffer.
template <typename BlockFn>
static void forEachGroup(const QuantLayout &layout,
                         llvm::MutableArrayRef<float> data, BlockFn blockFn) {
  llvm::SmallVector<float, 64> block;
  for (int64_t p = 0; p < layout.numParams(); ++p) {
    int64_t start = layout.groupStart(p);
    int64_t extent = layout.groupExtent(p);
    int64_t stride = layout.axisStride();
    block.resize(extent);
    for (int64_t k = 0; k < extent; ++k)
      block[k] = data[start + k * stride];
    blockFn(llvm::MutableArrayRef<float>(block));
    for (int64_t k = 0; k < extent; ++k)
      data[start + k * stride] = block[k];
  }
}

static void fakeQuantizeBlockFloat(const TensorQuantSpec &spec,
                                   const QuantLayout &layout,
                                   llvm::MutableArrayRef<float> data) {
  forEachGroup(layout, data, [&](llvm::MutableArrayRef<float> block) {
    switch (spec.dtype) {
    case QuantDType::MX6:
    case QuantDType::MX9: {
      int bits = spec.dtype == QuantDType::MX6 ? kMX6QuantBits : kMX9QuantBits;
      if (block.size() % 2 == 0) {
        mxTwoLevelFakeQuantizeBlock(block, bits);
      } else {
        // A ragged last block is zero-padded to an even length, as Quark
        // pads the axis before pairing.
        llvm::SmallVector<float, 64> padded(block.begin(), block.end());
        padded.push_back(0.0f);
        mxTwoLevelFakeQuantizeBlock(padded, bits);
        std::copy(padded.begin(), padded.end() - 1, block.begin());
      }
      break;
    }
    default:
      bfp16FakeQuantizeBlock(block);
      break;
    }
  });
}

llvm::Error fakeQuantizeTensor(const TensorQuantSpec &spec,
                               const QuantLayout &layout,
                               llvm::ArrayRef<float> in,
                               const QuantParams &params,
                               llvm::MutableArrayRef<float> out) {
  if (in.size() != out.size() ||
      static_cast<int64_t>(in.size()) != layout.numElements())
    return quantError("fake-quantize: buffer sizes do not match the layout");
  if (in.data() != out.data())
    std::copy(in.begin(), in.end(), out.begin());
  const DTypeInfo &element = getDTypeInfo(spec.elementType());

  if (spec.isBlockFloat()) {
    fakeQuantizeBlockFloat(spec, layout, out);
    return llvm::Error::success();
  }
  if (element.kind == DTypeKind::Cast) {
    for (float &x : out)
      x = roundToMiniFloat(*element.format, x);
    return llvm::Error::success();
  }

  QuantParams computed;
  const QuantParams *use = &params;
  if (spec.usesMXScales() && params.scales.empty()) {
    computed.scales = computeMXScales(spec, layout, out);
    use = &computed;
  }
  if (llvm::Error error = checkParams(spec, layout, *use))
    return error;

  ElementFakeQuantizer quantize(spec);
  forEachSpan(layout, [&](const QuantSpan &span) {
    float *x = out.data() + span.start;
    for (int64_t k = 0; k < span.length; ++k) {
      int64_t slot = span.slot + k * span.slotStride;
      int32_t zeroPoint = use->zeroPoints.empty() ? 0 : use->zeroPoints[slot];
      x[k] = quantize(x[k], use->scales[slot], zeroPoint);
    }
  });
  return llvm::Error::success();
}

/// Preconditions shared by quantize and dequantize: buffers sized like the
/// layout, and a format that has a storage encoding.
static llvm::Error checkCodeConversion(const TensorQuantSpec &spec,
                                       const QuantLayout &layout, size_t inSize,
                                       size_t outSize, llvm::StringRef what) {
  if (inSize != outSize || static_cast<int64_t>(inSize) != layout.numElements())
    return quantError(what + ": buffer sizes do not match the layout");
  if (spec.isBlockFloat())
    return quantError(llvm::formatv(
        "{0} is a simulation-only format with no storage encoding",
        dtypeName(spec.dtype)));
  return llvm::Error::success();
}

/// Integer codes of a run sharing one scale; one loop per rounding mode so
/// that each vectorizes.
template <typename Bound>
static inline __attribute__((always_inline)) void
quantizeIntLoop(const float *x, int64_t n, float inverse, int32_t zeroPoint,
                Bound qmin, Bound qmax, RoundMode mode, int32_t *out) {
  switch (mode) {
  case RoundMode::HalfEven:
    for (int64_t k = 0; k < n; ++k)
      out[k] = quantizeIntWithInverse<Bound>(x[k], inverse, zeroPoint, qmin,
                                             qmax, RoundMode::HalfEven);
    return;
  case RoundMode::HalfAwayFromZero:
    for (int64_t k = 0; k < n; ++k)
      out[k] = quantizeIntWithInverse<Bound>(x[k], inverse, zeroPoint, qmin,
                                             qmax, RoundMode::HalfAwayFromZero);
    return;
  case RoundMode::Floor:
    for (int64_t k = 0; k < n; ++k)
      out[k] = quantizeIntWithInverse<Bound>(x[k], inverse, zeroPoint, qmin,
                                             qmax, RoundMode::Floor);
    return;
  }
}

QUARK_VECTORIZED static void quantizeIntRun(const float *x, int64_t n,
                                            float inverse, int32_t zeroPoint,
                                            double qmin, double qmax,
                                            RoundMode mode, int32_t *out) {
  constexpr double kExactFloat = 16777216.0; // 2^24
  if (qmin >= -kExactFloat && qmax <= kExactFloat &&
      std::abs(static_cast<double>(zeroPoint)) <= kExactFloat)
    quantizeIntLoop<float>(x, n, inverse, zeroPoint, static_cast<float>(qmin),
                           static_cast<float>(qmax), mode, out);
  else
    quantizeIntLoop<double>(x, n, inverse, zeroPoint, qmin, qmax, mode, out);
}

/// quantizeFloat of a run sharing one scale, in one vectorizable pass:
/// Quark's saturation, no negative zero where the format or Quark's fp4 /
/// fp6 kernel has none, negatives clamped to 0 in an unsigned format.
/// Returns false, leaving `out` to be rewritten, when a scaled value is NaN
/// or Inf (the scalar encoder then handles the run).
QUARK_VECTORIZED static bool quantizeFloatRun(const float *x, int64_t n,
                                              float scale,
                                              const MiniFloatFormat &format,
                                              int32_t *out) {
  if (scale == 0.0f)
    scale = kScaleEpsilon;
  const unsigned mantissaBits = format.mantissaBits;
  const int exponentBias = format.exponentBias;
  const uint32_t maxMagnitude = format.maxFiniteMagnitudeCode();
  const uint32_t signBit = format.signBit();
  const bool hasSign = format.hasSign;
  const bool unsignedZero =
      format.specials == SpecialValues::FiniteNegZeroNaN ||
      format.specials == SpecialValues::FiniteNoNaN;
  uint32_t nonFinite = 0;
  for (int64_t k = 0; k < n; ++k) {
    float scaled = x[k] / scale;
    uint32_t bits;
    std::memcpy(&bits, &scaled, sizeof(bits));
    uint32_t absBits = bits & 0x7FFFFFFFu;
    bool negative = (bits >> 31) != 0;
    nonFinite |= static_cast<uint32_t>(absBits >= 0x7F800000u);
    uint32_t magnitude =
        std::min(roundToMagnitudeCode(mantissaBits, exponentBias, absBits),
                 maxMagnitude);
    bool keepsSign = negative && !(unsignedZero && magnitude == 0);
    uint32_t code = (keepsSign ? signBit : 0u) | magnitude;
    out[k] = static_cast<int32_t>(!hasSign && negative ? 0u : code);
  }
  return nonFinite == 0;
}

llvm::Error quantizeTensor(const TensorQuantSpec &spec,
                           const QuantLayout &layout, llvm::ArrayRef<float> in,
                           const QuantParams &params,
                           llvm::MutableArrayRef<int32_t> codes) {
  if (llvm::Error error = checkCodeConversion(spec, layout, in.size(),
                                              codes.size(), "quantize"))
    return error;
  const DTypeInfo &element = getDTypeInfo(spec.elementType());
  if (element.kind == DTypeKind::Cast) {
    for (size_t i = 0; i < in.size(); ++i)
      codes[i] = static_cast<int32_t>(
          encodeMiniFloat(*element.format, in[i], Overflow::Propagate));
    return llvm::Error::success();
  }
  if (llvm::Error error = checkParams(spec, layout, params))
    return error;
  const bool mx = spec.usesMXScales(), integer = element.isInteger();
  const double qmin = static_cast<double>(element.qmin);
  const double qmax = static_cast<double>(element.qmax);
  forEachSpan(layout, [&](const QuantSpan &span) {
    const float *x = in.data() + span.start;
    int32_t *out = codes.data() + span.start;
    if (integer && !mx && span.slotStride == 0) {
      // The hot case (a weight group or channel): one scale for the run.
      float inverse = inverseScale(params.scales[span.slot]);
      int32_t zeroPoint =
          params.zeroPoints.empty() ? 0 : params.zeroPoints[span.slot];
      quantizeIntRun(x, span.length, inverse, zeroPoint, qmin, qmax, spec.round,
                     out);
      return;
    }
    if (!integer && !mx && span.slotStride == 0 &&
        quantizeFloatRun(x, span.length, params.scales[span.slot],
                         *element.format, out))
      return;
    for (int64_t k = 0; k < span.length; ++k) {
      int64_t slot = span.slot + k * span.slotStride;
      float scale = params.scales[slot];
      if (mx)
        out[k] =
            static_cast<int32_t>(mxQuantizeElement(x[k], scale, element.dtype));
      else if (integer)
        out[k] =
            quantizeInt(x[k], scale,
                        params.zeroPoints.empty() ? 0 : params.zeroPoints[slot],
                        element.qmin, element.qmax, spec.round);
      else
        out[k] =
            static_cast<int32_t>(quantizeFloat(element.dtype, x[k], scale));
    }
  });
  return llvm::Error::success();
}

llvm::Error dequantizeTensor(const TensorQuantSpec &spec,
                             const QuantLayout &layout,
                             llvm::ArrayRef<int32_t> codes,
                             const QuantParams &params,
                             llvm::MutableArrayRef<float> out) {
  if (llvm::Error error = checkCodeConversion(spec, layout, codes.size(),
                                              out.size(), "dequantize"))
    return error;
  const DTypeInfo &element = getDTypeInfo(spec.elementType());
  if (element.kind == DTypeKind::Cast) {
    for (size_t i = 0; i < codes.size(); ++i)
      out[i] =
          decodeMiniFloat(*element.format, static_cast<uint32_t>(codes[i]));
    return llvm::Error::success();
  }
  if (llvm::Error error = checkParams(spec, layout, params))
    return error;
  const bool mx = spec.usesMXScales(), integer = element.isInteger();
  forEachSpan(layout, [&](const QuantSpan &span) {
    const int32_t *in = codes.data() + span.start;
    float *x = out.data() + span.start;
    for (int64_t k = 0; k < span.length; ++k) {
      int64_t slot = span.slot + k * span.slotStride;
      float scale = params.scales[slot];
      if (mx)
        x[k] = mxDequantizeElement(static_cast<uint32_t>(in[k]), scale,
                                   element.dtype);
      else if (integer)
        x[k] = dequantizeInt(
            in[k], scale,
            params.zeroPoints.empty() ? 0 : params.zeroPoints[slot]);
      else
        x[k] =
            dequantizeFloat(element.dtype, static_cast<uint32_t>(in[k]), scale);
    }
  });
  return llvm::Error::success();
}

} // namespace mlir::quark
