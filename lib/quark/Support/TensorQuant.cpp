//===- TensorQuant.cpp - Whole-tensor quantization ------------------------===//

#include "quark/Support/TensorQuant.h"

#include "quark/Support/BlockFloat.h"
#include "quark/Support/MiniFloat.h"
#include "quark/Support/ScalarQuant.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mlir::quark {

static llvm::Error quantError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

void observeMinMax(const QuantLayout &layout, llvm::ArrayRef<float> data,
                   MinMaxStats &stats) {
  size_t slots = static_cast<size_t>(layout.numParams());
  if (stats.min.size() != slots) {
    stats.min.assign(slots, std::numeric_limits<float>::infinity());
    stats.max.assign(slots, -std::numeric_limits<float>::infinity());
  }
  for (int64_t i = 0, e = static_cast<int64_t>(data.size()); i < e; ++i) {
    float x = data[i];
    if (std::isnan(x))
      continue;
    int64_t slot = layout.paramIndex(i);
    stats.min[slot] = std::min(stats.min[slot], x);
    stats.max[slot] = std::max(stats.max[slot], x);
  }
}

static float roundScale(float scale, ScalePrecision precision) {
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
    return quantError(llvm::formatv("{0} is a cast and has no scale",
                                    element.name));
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
      // Never observed: Quark's check_min_max_valid falls back to (1, 0).
      params.scales[s] = 1.0f;
      continue;
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
        scale = roundToMiniFloat(kFloat8E5M3,
                                 quarkFloatScale(lo, hi, maxNormal));
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

bool quantizesWithoutStoredParams(const TensorQuantSpec &spec,
                                  bool isDynamic) {
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
    return quantError(llvm::formatv(
        "expected {0} scale(s) for a {1} layout, got {2}", slots,
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

  for (int64_t i = 0, e = layout.numElements(); i < e; ++i) {
    int64_t slot = layout.paramIndex(i);
    float scale = use->scales[slot];
    float &x = out[i];
    if (spec.usesMXScales())
      x = mxFakeQuantizeElement(x, scale, element.dtype);
    else if (element.isInteger())
      x = fakeQuantizeInt(x, scale,
                          use->zeroPoints.empty() ? 0 : use->zeroPoints[slot],
                          element.qmin, element.qmax, spec.round);
    else
      x = fakeQuantizeFloat(element.dtype, x, scale);
  }
  return llvm::Error::success();
}

/// Preconditions shared by quantize and dequantize: buffers sized like the
/// layout, and a format that has a storage encoding.
static llvm::Error checkCodeConversion(const TensorQuantSpec &spec,
                                       const QuantLayout &layout,
                                       size_t inSize, size_t outSize,
                                       llvm::StringRef what) {
  if (inSize != outSize || static_cast<int64_t>(inSize) != layout.numElements())
    return quantError(what + ": buffer sizes do not match the layout");
  if (spec.isBlockFloat())
    return quantError(llvm::formatv(
        "{0} is a simulation-only format with no storage encoding",
        dtypeName(spec.dtype)));
  return llvm::Error::success();
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
  for (int64_t i = 0, e = layout.numElements(); i < e; ++i) {
    int64_t slot = layout.paramIndex(i);
    float scale = params.scales[slot];
    if (spec.usesMXScales())
      codes[i] = static_cast<int32_t>(
          mxQuantizeElement(in[i], scale, element.dtype));
    else if (element.isInteger())
      codes[i] = quantizeInt(
          in[i], scale, params.zeroPoints.empty() ? 0 : params.zeroPoints[slot],
          element.qmin, element.qmax, spec.round);
    else
      codes[i] = static_cast<int32_t>(
          quantizeFloat(element.dtype, in[i], scale));
  }
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
      out[i] = decodeMiniFloat(*element.format, static_cast<uint32_t>(codes[i]));
    return llvm::Error::success();
  }
  if (llvm::Error error = checkParams(spec, layout, params))
    return error;
  for (int64_t i = 0, e = layout.numElements(); i < e; ++i) {
    int64_t slot = layout.paramIndex(i);
    float scale = params.scales[slot];
    if (spec.usesMXScales())
      out[i] = mxDequantizeElement(static_cast<uint32_t>(codes[i]), scale,
                                   element.dtype);
    else if (element.isInteger())
      out[i] = dequantizeInt(
          codes[i], scale,
          params.zeroPoints.empty() ? 0 : params.zeroPoints[slot]);
    else
      out[i] = dequantizeFloat(element.dtype, static_cast<uint32_t>(codes[i]),
                               scale);
  }
  return llvm::Error::success();
}

} // namespace mlir::quark
