//===- QuarkAttrs.td - Quantization specifications ---------*- tablegen -*-===//

#ifndef QUARK_DIALECT_QUARKATTRS_TD
#define QUARK_DIALECT_QUARKATTRS_TD

include "quark/Dialect/Quark/IR/QuarkBase.td"
include "quark/Dialect/Quark/IR/QuarkEnums.td"
include "mlir/IR/AttrTypeBase.td"

//===----------------------------------------------------------------------===//
// Parameter helpers: Quark leaves most QTensorConfig fields `None`, so they
// are optional and omitted from the printed form when absent.
//===----------------------------------------------------------------------===//

class Quark_OptionalEnumParameter<EnumAttrInfo info>
    : OptionalParameter<"std::optional<" # info.cppNamespace # "::" #
                        info.className # ">"> {
  let parser = [{[&]() -> ::mlir::FailureOr<std::optional<}] #
      info.cppNamespace # "::" # info.className # [{>> {
    auto value = }] # info.parameterParser # [{;
    if (::mlir::failed(value))
      return ::mlir::failure();
    return std::optional<}] # info.cppNamespace # "::" # info.className #
      [{>(*value);
  }()}];
  let printer = "$_printer << " # info.symbolToStringFnName # "(*$_self)";
}

def Quark_OptionalBoolParameter : OptionalParameter<"std::optional<bool>"> {
  let parser = "::mlir::quark::parseBoolValue($_parser)";
  let printer = "$_printer << (*$_self ? \"true\" : \"false\")";
}

def Quark_OptionalIntParameter : OptionalParameter<"std::optional<int64_t>"> {
  let printer = "$_printer << *$_self";
}

def Quark_BlockSizeParameter : OptionalArrayRefParameter<"int64_t"> {
  let parser = "::mlir::quark::parseIntegerList($_parser)";
  let printer = "::mlir::quark::printIntegerList($_printer, $_self)";
}

def Quark_DtypeParameter : EnumParameter<Quark_Dtype>;

//===----------------------------------------------------------------------===//
// #quark.spec: QTensorConfig
//===----------------------------------------------------------------------===//

def Quark_TensorSpecAttr : AttrDef<Quark_Dialect, "TensorSpec"> {
  let mnemonic = "spec";
  let summary = "How one tensor is quantized (Quark's QTensorConfig)";
  let description = [{
    Field for field Quark's `QTensorConfig`, with its serialized key names.
    Absent fields are Quark's `None`. The verifier enforces Quark's
    `QTensorConfig.__post_init__` rules plus the OCP MX constraints:

    * integer and fp8 dtypes need `is_dynamic`, `qscheme` and `observer_cls`;
      integer dtypes also need `symmetric`, `round_method` and `scale_type`;
    * `mx`, `mx6`, `mx9` and `bfp16` need `ch_axis` and `group_size`
      (`mx` also `mx_element_dtype`);
    * `bfloat16` / `float16` are casts and only take `PlaceholderObserver`;
    * the observer must support the granularity (histogram, percentile and
      MSE observers are per-tensor only; per-channel needs a per-channel
      observer and `ch_axis`; per-group a per-group observer, `ch_axis` and
      `group_size`; per-block a two-element `block_size`);
    * `scale_format = e8m0` (and dtype `mx`) means OCP MX: per-group blocks
      of 32 of an fp4/fp6/fp8 (or, for `mx`, int8) element type.
  }];
  let parameters = (ins
    Quark_DtypeParameter:$dtype,
    Quark_OptionalEnumParameter<Quark_QSchemeType>:$qscheme,
    Quark_OptionalIntParameter:$ch_axis,
    Quark_OptionalIntParameter:$group_size,
    Quark_BlockSizeParameter:$block_size,
    Quark_OptionalBoolParameter:$symmetric,
    Quark_OptionalBoolParameter:$is_dynamic,
    Quark_OptionalEnumParameter<Quark_RoundType>:$round_method,
    Quark_OptionalEnumParameter<Quark_ScaleType>:$scale_type,
    Quark_OptionalEnumParameter<Quark_ScaleFormatType>:$scale_format,
    Quark_OptionalEnumParameter<Quark_ScaleCalculationMode>:$scale_calculation_mode,
    Quark_OptionalEnumParameter<Quark_Dtype>:$mx_element_dtype,
    Quark_OptionalEnumParameter<Quark_ObserverClass>:$observer_cls,
    DefaultValuedParameter<"bool", "false">:$is_scale_quant
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The element type codes are stored as: the MX element for dtype = mx,
    /// the dtype otherwise.
    Dtype getStorageDtype() const;
    bool isDynamic() const { return getIsDynamic().value_or(false); }
    bool isSymmetric() const { return getSymmetric().value_or(true); }
    QSchemeType getQSchemeOrDefault() const {
      return getQscheme().value_or(QSchemeType::per_tensor);
    }
    /// OCP MX: per-block power-of-two scales derived from the data.
    bool usesMXScales() const;
    /// mx6 / mx9 / bfp16: simulation only, no scale and no storage form.
    bool isBlockFloat() const;
    /// bfloat16 / float16: a cast, no scale.
    bool isCast() const;
    /// An asymmetric integer spec: quantization carries a zero point.
    bool hasZeroPoint() const;
  }];
}

//===----------------------------------------------------------------------===//
// #quark.two_stage: a list of two QTensorConfigs
//===----------------------------------------------------------------------===//

def Quark_TwoStageSpecAttr : AttrDef<Quark_Dialect, "TwoStageSpec"> {
  let mnemonic = "two_stage";
  let summary = "Two chained specs (ScaleQuantSpec or ProgressiveSpec)";
  let description = [{
    Quark writes a two-stage configuration as a list of two QTensorConfigs.
    When the second has `is_scale_quant = true` it quantizes the *scales* of
    the first (NVFP4: fp4 per-group values, fp8 per-tensor scale of scales);
    otherwise it quantizes the values again (progressive: fp8 per-tensor,
    then int4 per-channel, Quark's `int4_fp8`).
  }];
  let parameters = (ins "TensorSpecAttr":$first, "TensorSpecAttr":$second);
  let assemblyFormat = "`<` $first `,` $second `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool quantizesScales() const { return getSecond().getIsScaleQuant(); }
    /// The stage whose codes a weight stores: a scale-quantizing spec's
    /// first (its scales become the second's codes), a progressive spec's
    /// second (its codes encode the first's values).
    TensorSpecAttr getStoredStage() const {
      return quantizesScales() ? getFirst() : getSecond();
    }
    /// The stage a stored weight keeps as a per-tensor scale only.
    TensorSpecAttr getOtherStage() const {
      return quantizesScales() ? getSecond() : getFirst();
    }
    /// The activation form checkpoints hold (NVFP4's input): block scales
    /// computed per call (dynamic first stage), quantized under a
    /// calibrated per-tensor scale (static second stage), which is all a
    /// checkpoint stores of it (`input_scale_2`).
    bool quantizesScalesPerCall() const {
      return quantizesScales() && getFirst().isDynamic() &&
             !getSecond().isDynamic();
    }
  }];
}

//===----------------------------------------------------------------------===//
// #quark.layer_spec: QLayerConfig
//===----------------------------------------------------------------------===//

def Quark_LayerSpecAttr : AttrDef<Quark_Dialect, "LayerSpec"> {
  let mnemonic = "layer_spec";
  let summary = "How one layer is quantized (Quark's QLayerConfig)";
  let description = [{
    Specs for the tensors of one layer. Each field is absent (not quantized),
    a `#quark.spec` or a `#quark.two_stage`. As in Quark, activations
    (`input_tensors`, `output_tensors`) may not be statically quantized per
    group.
  }];
  let parameters = (ins
    OptionalParameter<"::mlir::Attribute">:$input_tensors,
    OptionalParameter<"::mlir::Attribute">:$output_tensors,
    OptionalParameter<"::mlir::Attribute">:$weight,
    OptionalParameter<"::mlir::Attribute">:$bias
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QUARK_DIALECT_QUARKATTRS_TD
