//===- QuarkHfLayout.cpp - Quark hf_format tensors of a quantizer ---------===//

#include "quark/Support/QuarkHfLayout.h"

#include "quark/Support/DataType.h"

using namespace mlir::quark;

namespace {
llvm::Error unsupported(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}
} // namespace

llvm::Expected<HfQuantizedTensor>
mlir::quark::quarkHfLayout(const TensorQuantSpec &spec,
                           llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<int64_t> paramShape, bool isWeight,
                           Int4PackOrder packOrder) {
  const DTypeInfo &info = getDTypeInfo(spec.dtype);
  if (spec.dtype == QuantDType::MX)
    return unsupported("the legacy 'mx' dtype (interleaved scales) has no "
                       "hf_format layout here; use fp4 / fp6 with "
                       "scale_format e8m0 (Quark's mxfp4 / mxfp6 schemes)");
  if (info.kind != DTypeKind::Integer && info.kind != DTypeKind::Float)
    return unsupported(std::string(info.name) +
                       " is simulated only: Quark's hf_format cannot store it "
                       "(use --export_weight_format fake_quantized)");
  if (spec.scaleFormat == ScaleFormat::E4M3)
    return unsupported("E4M3-scaled (NVFP4-style) tensors are two-stage; "
                       "their hf_format export is not implemented");
  if (info.isInteger() && info.bits != 4 && info.bits != 8)
    return unsupported(std::string(info.name) +
                       " codes have no hf_format layout here (int4, uint4, "
                       "int8 and uint8 do)");
  // Quark transposes integer per-group tensors (weight, scale, zero point).
  bool transposed = info.isInteger() && spec.qscheme == QScheme::PerGroup;
  if (transposed && shape.size() != 2)
    return unsupported("per-group integer tensors must be 2-D");

  HfQuantizedTensor result;
  auto make = [&](std::string suffix, TensorDType dtype,
                  llvm::ArrayRef<int64_t> logical,
                  StoredLayout layout) -> llvm::Expected<HfStoredTensor> {
    HfStoredTensor tensor{std::move(suffix), dtype, {}, {}, layout};
    tensor.logicalShape.assign(logical.begin(), logical.end());
    llvm::Expected<llvm::SmallVector<int64_t, 4>> stored =
        layout.storedShape(logical);
    if (!stored)
      return stored.takeError();
    tensor.storedShape = *stored;
    return tensor;
  };
  auto int4Layout = [&] {
    StoredLayout layout;
    layout.transposed = transposed;
    layout.packing = StoredLayout::Packing::Int4;
    layout.int4Order = packOrder;
    layout.int4Signed = info.isSigned();
    return layout;
  };
  auto plainLayout = [&] {
    StoredLayout layout;
    layout.transposed = transposed;
    return layout;
  };

  if (isWeight) {
    TensorDType dtype;
    StoredLayout layout = plainLayout();
    if (info.isInteger()) {
      if (info.bits == 4) {
        dtype = TensorDType::I32;
        layout = int4Layout();
      } else {
        dtype = info.isSigned() ? TensorDType::I8 : TensorDType::U8;
      }
    } else if (spec.dtype == QuantDType::FP8E4M3) {
      dtype = TensorDType::F8_E4M3;
    } else if (spec.dtype == QuantDType::FP8E5M2) {
      dtype = TensorDType::F8_E5M2;
    } else if (spec.dtype == QuantDType::FP4) {
      dtype = TensorDType::U8;
      layout.packing = StoredLayout::Packing::Fp4;
    } else if (spec.dtype == QuantDType::FP6E2M3 ||
               spec.dtype == QuantDType::FP6E3M2) {
      dtype = TensorDType::U8;
      layout.packing = StoredLayout::Packing::Fp6;
    } else {
      return unsupported(std::string(info.name) +
                         " (a load-time format of vLLM) is not a Quark "
                         "file dtype");
    }
    llvm::Expected<HfStoredTensor> codes = make("", dtype, shape, layout);
    if (!codes)
      return codes.takeError();
    result.codes = std::move(*codes);
  }

  StoredLayout scaleLayout = plainLayout();
  TensorDType scaleType = TensorDType::F32;
  if (spec.usesMXScales()) {
    scaleLayout.byteFloat = StoredLayout::ByteFloat::E8M0;
    scaleType = TensorDType::U8;
  } else if (spec.scaleFormat == ScaleFormat::E5M3) {
    // AmdFP4Spec's e5m3 group scales: Quark stores their e5m3 bytes.
    scaleLayout.byteFloat = StoredLayout::ByteFloat::E5M3;
    scaleType = TensorDType::U8;
  } else if (spec.scalePrecision == ScalePrecision::BFloat16) {
    scaleType = TensorDType::BF16;
  } else if (spec.scalePrecision == ScalePrecision::Float16) {
    scaleType = TensorDType::F16;
  }
  llvm::Expected<HfStoredTensor> scale =
      make("_scale", scaleType, paramShape, scaleLayout);
  if (!scale)
    return scale.takeError();
  result.scale = std::move(*scale);

  if (info.isInteger()) {
    llvm::Expected<HfStoredTensor> zeroPoint =
        info.bits == 4
            ? make("_zero_point", TensorDType::I32, paramShape, int4Layout())
            : make("_zero_point",
                   info.isSigned() ? TensorDType::I8 : TensorDType::U8,
                   paramShape, plainLayout());
    if (!zeroPoint)
      return zeroPoint.takeError();
    result.zeroPoint = std::move(*zeroPoint);
  }
  return result;
}

HfStoredTensor mlir::quark::quarkHfScaleOfScales() {
  return HfStoredTensor{"_scale_2", TensorDType::F32, {}, {}, {}};
}

llvm::Expected<HfQuantizedTensor> mlir::quark::quarkHfWeightLayout(
    const TensorQuantSpec &stored, const std::optional<HfOtherStage> &other,
    llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> paramShape,
    Int4PackOrder packOrder) {
  // The block scales are stored as the second stage's codes: fp8 e4m3
  // (NVFP4) as F8_E4M3, the unsigned e5m3 of amdfp4_global (no safetensors
  // dtype) as its bytes, U8, as Quark's fp8_e5m3 real quantizer stores it.
  std::optional<TensorDType> scaleCodeType;
  if (other && other->quantizesScales) {
    if (other->spec.qscheme == QScheme::PerTensor &&
        other->spec.dtype == QuantDType::FP8E4M3)
      scaleCodeType = TensorDType::F8_E4M3;
    else if (other->spec.qscheme == QScheme::PerTensor &&
             other->spec.dtype == QuantDType::FP8E5M3)
      scaleCodeType = TensorDType::U8;
    else
      return unsupported("a scale-quantizing spec is stored with fp8_e4m3 "
                         "(NVFP4) or fp8_e5m3 (amdfp4_global) per-tensor "
                         "scale codes only");
  }
  llvm::Expected<HfQuantizedTensor> result =
      quarkHfLayout(stored, shape, paramShape, /*isWeight=*/true, packOrder);
  if (!result || !other)
    return result;
  if (other->quantizesScales) {
    if (result->zeroPoint)
      return unsupported("a scale-quantizing spec's first stage has no zero "
                         "point");
    result->scale.dtype = *scaleCodeType;
    result->scaleOfScales = quarkHfScaleOfScales();
    return result;
  }
  llvm::Expected<HfQuantizedTensor> firstStage =
      quarkHfLayout(other->spec, shape, {}, /*isWeight=*/true, packOrder);
  if (!firstStage)
    return firstStage.takeError();
  result->scale.suffix += "_2";
  if (result->zeroPoint)
    result->zeroPoint->suffix += "_2";
  result->firstStageScale = std::move(firstStage->scale);
  return result;
}
