//===- QuarkEnums.td - Quark's configuration enums ---------*- tablegen -*-===//
//
// One enum per QTensorConfig field, spelled exactly as Quark serializes the
// values in config.json (the enum member's `.name`).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_DIALECT_QUARKENUMS_TD
#define QUARK_DIALECT_QUARKENUMS_TD

include "mlir/IR/EnumAttr.td"

def Quark_Dtype : I32EnumAttr<"Dtype", "quantized data type", [
    I32EnumAttrCase<"int2", 0>,
    I32EnumAttrCase<"int3", 1>,
    I32EnumAttrCase<"int4", 2>,
    I32EnumAttrCase<"uint4", 3>,
    I32EnumAttrCase<"int8", 4>,
    I32EnumAttrCase<"uint8", 5>,
    I32EnumAttrCase<"int16", 6>,
    I32EnumAttrCase<"uint16", 7>,
    I32EnumAttrCase<"int32", 8>,
    // OCP e4m3fn, what Quark calls fp8_e4m3 and stores.
    I32EnumAttrCase<"fp8_e4m3", 9>,
    // AMD MI300 variant: a hardware format, not a Quark file format.
    I32EnumAttrCase<"fp8_e4m3fnuz", 10>,
    I32EnumAttrCase<"fp8_e5m2", 11>,
    I32EnumAttrCase<"fp8_e5m2fnuz", 12>,
    // Unsigned e5m3, used for scales (amdfp4).
    I32EnumAttrCase<"fp8_e5m3", 13>,
    I32EnumAttrCase<"fp6_e2m3", 14>,
    I32EnumAttrCase<"fp6_e3m2", 15>,
    I32EnumAttrCase<"fp4", 16>,
    I32EnumAttrCase<"mx", 17>,
    I32EnumAttrCase<"mx6", 18>,
    I32EnumAttrCase<"mx9", 19>,
    I32EnumAttrCase<"bfp16", 20>,
    I32EnumAttrCase<"bfloat16", 21>,
    I32EnumAttrCase<"float16", 22>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_QSchemeType : I32EnumAttr<"QSchemeType", "quantization granularity", [
    I32EnumAttrCase<"per_tensor", 0>,
    I32EnumAttrCase<"per_channel", 1>,
    I32EnumAttrCase<"per_group", 2>,
    I32EnumAttrCase<"per_block", 3>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_RoundType : I32EnumAttr<"RoundType", "rounding of scaled values", [
    I32EnumAttrCase<"round", 0>,
    I32EnumAttrCase<"floor", 1>,
    I32EnumAttrCase<"half_even", 2>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_ScaleType : I32EnumAttr<"ScaleType", "precision of stored scales", [
    // "float" is the model's own float type (bf16 for a bf16 model).
    I32EnumAttrCase<"model_float", 0, "float">,
    I32EnumAttrCase<"pof2", 1>,
    I32EnumAttrCase<"float32", 2>,
    I32EnumAttrCase<"float16", 3>,
    I32EnumAttrCase<"bfloat16", 4>,
    I32EnumAttrCase<"float8_e5m3", 5>,
    I32EnumAttrCase<"float8_e8m0fnu", 6>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_ScaleFormatType : I32EnumAttr<"ScaleFormatType",
    "how a scale is derived and encoded", [
    // OCP MX power-of-two scale, one byte of exponent.
    I32EnumAttrCase<"e8m0", 0>,
    // AMD unsigned e5m3 scale (amdfp4).
    I32EnumAttrCase<"e5m3", 1>,
    // NVFP4 two-level fp8-e4m3 local scale.
    I32EnumAttrCase<"e4m3", 2>,
    I32EnumAttrCase<"float32", 3>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_ScaleCalculationMode : I32EnumAttr<"ScaleCalculationMode",
    "rounding of an MX shared scale", [
    I32EnumAttrCase<"even", 0>,
    I32EnumAttrCase<"floor", 1>,
    I32EnumAttrCase<"ceil", 2>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_ObserverClass : I32EnumAttr<"ObserverClass",
    "Quark observer class (observer_cls)", [
    I32EnumAttrCase<"PlaceholderObserver", 0>,
    I32EnumAttrCase<"PerTensorMinMaxObserver", 1>,
    I32EnumAttrCase<"PerTensorPowOf2MinMaxObserver", 2>,
    I32EnumAttrCase<"PerTensorPowOf2MinMSEObserver", 3>,
    I32EnumAttrCase<"PerTensorHistogramObserver", 4>,
    I32EnumAttrCase<"PerTensorHistogramObserverPro", 5>,
    I32EnumAttrCase<"PerTensorPercentileObserver", 6>,
    I32EnumAttrCase<"PerTensorMSEObserver", 7>,
    I32EnumAttrCase<"PerChannelMinMaxObserver", 8>,
    I32EnumAttrCase<"PerChannelPowOf2MinMaxObserver", 9>,
    I32EnumAttrCase<"PerChannelPowOf2MinMSEObserver", 10>,
    I32EnumAttrCase<"PerGroupMinMaxObserver", 11>,
    I32EnumAttrCase<"PerBlockMXObserver", 12>,
    I32EnumAttrCase<"PerBlockMXBufferReuseObserver", 13>,
    I32EnumAttrCase<"PerBlockMXDiffsObserver", 14>,
    I32EnumAttrCase<"PerBlockBFPObserver", 15>,
    I32EnumAttrCase<"PerBlock2DMinMaxObserver", 16>,
    I32EnumAttrCase<"UniformScalingObserver", 17>,
    I32EnumAttrCase<"LSQObserver", 18>,
    I32EnumAttrCase<"TQTObserver", 19>,
  ]> {
  let cppNamespace = "::mlir::quark";
  let genSpecializedAttr = 0;
}

def Quark_PackMethod : I32EnumAttr<"PackMethod",
    "nibble order of int4 codes in an int32 word", [
    I32EnumAttrCase<"order", 0>,
    // The AutoAWQ interleave [0, 2, 4, 6, 1, 3, 5, 7], Quark's default.
    I32EnumAttrCase<"reorder", 1>,
  ]> {
  let cppNamespace = "::mlir::quark";
}

#endif // QUARK_DIALECT_QUARKENUMS_TD
