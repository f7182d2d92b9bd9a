//===- HfCommon.h - Shared pieces of the hf_format translations -*- C++ -*-===//

#ifndef QUARK_LIB_TARGET_HFFORMAT_HFCOMMON_H
#define QUARK_LIB_TARGET_HFFORMAT_HFCOMMON_H

#include "quark/Import/HuggingFace.h"
#include "quark/Support/Safetensors.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::quark {

/// The file dtype of the module's `quark.model_dtype` (F32 when absent).
inline TensorDType modelDType(ModuleOp module) {
  auto dtype = module->getAttrOfType<StringAttr>(kModelDtypeAttr);
  if (dtype && dtype.getValue() == "bfloat16")
    return TensorDType::BF16;
  if (dtype && dtype.getValue() == "float16")
    return TensorDType::F16;
  return TensorDType::F32;
}

/// The IR float type of a float file dtype.
inline Type floatTypeOf(MLIRContext *context, TensorDType dtype) {
  Builder builder(context);
  if (dtype == TensorDType::BF16)
    return builder.getBF16Type();
  if (dtype == TensorDType::F16)
    return builder.getF16Type();
  return builder.getF32Type();
}

} // namespace mlir::quark

#endif // QUARK_LIB_TARGET_HFFORMAT_HFCOMMON_H
