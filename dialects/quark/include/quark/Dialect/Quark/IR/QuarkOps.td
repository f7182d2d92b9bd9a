//===- QuarkOps.td - quark dialect operations --------------*- tablegen -*-===//
//
// Umbrella definition: the dialect, its enums, attributes and types, and the
// operations on quantized tensors.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_DIALECT_QUARKOPS_TD
#define QUARK_DIALECT_QUARKOPS_TD

include "quark/Dialect/Quark/IR/QuarkBase.td"
include "quark/Dialect/Quark/IR/QuarkEnums.td"
include "quark/Dialect/Quark/IR/QuarkAttrs.td"
include "quark/Dialect/Quark/IR/QuarkTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "quark/Dialect/Quark/IR/QuarkModelOps.td"

def Quark_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Quark_ScaleTensor : RankedTensorOf<[AnyFloat]>;
def Quark_ZeroPointTensor : RankedTensorOf<[AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// Observation and parameters
//===----------------------------------------------------------------------===//

def Quark_ObserveOp : Quark_Op<"observe", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Marks a tensor whose statistics calibration collects";
  let description = [{
    Returns its input unchanged. Calibration runs the model and records
    the statistics Quark's observer `spec.observer_cls` would keep: for
    min-max observers the running minimum and maximum of every parameter
    slot of the spec's layout (`min_values`, `max_values`, shaped like the
    scale); for the per-tensor histogram, percentile and MSE observers the
    running histogram (`histogram`: float32 counts, as torch.histc
    accumulates them, and `histogram_edges`: its bin edges). `name` is the
    tensor's name in the model (for example
    `model.layers.0.self_attn.q_proj.input`).

    ```mlir
    %0 = quark.observe %x {spec = #quark.spec<dtype = fp8_e4m3,
           qscheme = per_tensor, is_dynamic = false,
           observer_cls = PerTensorMinMaxObserver>, name = "layers.0.q_proj.input", min_values = dense<-3.0> : tensor<f32>,
            max_values = dense<2.5> : tensor<f32>} : tensor<16x64xf32>
    ```
  }];
  let arguments = (ins
    Quark_FloatTensor:$input,
    Quark_TensorSpecAttr:$spec,
    OptionalAttr<StrAttr>:$name,
    OptionalAttr<FloatElementsAttr<32>>:$min_values,
    OptionalAttr<FloatElementsAttr<32>>:$max_values,
    OptionalAttr<FloatElementsAttr<32>>:$histogram,
    OptionalAttr<FloatElementsAttr<32>>:$histogram_edges
  );
  let results = (outs Quark_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Quark_ComputeQParamsOp : Quark_Op<"compute_qparams", [Pure]> {
  let summary = "Derives scale (and zero point) from a tensor's own values";
  let description = [{
    What a dynamic quantizer or an MX observer computes at run time:
    Quark's scale (and, for asymmetric integer specs, zero point) from the
    statistics of `input` itself, laid out per `spec.qscheme`.

    ```mlir
    %s = quark.compute_qparams %x {spec = #quark.spec<dtype = fp8_e4m3,
           qscheme = per_channel, ch_axis = 0, is_dynamic = true,
           observer_cls = PerChannelMinMaxObserver>}
           : tensor<16x64xf32> -> tensor<16xf32>
    ```
  }];
  let arguments = (ins Quark_FloatTensor:$input, Quark_TensorSpecAttr:$spec);
  let results = (outs Quark_ScaleTensor:$scale,
                      Optional<Quark_ZeroPointTensor>:$zero_point);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($scale)
    (`,` type($zero_point)^)?
  }];
  let hasVerifier = 1;
}

def Quark_ComputeBlockScalesOp : Quark_Op<"compute_block_scales", [Pure]> {
  let summary = "Derives the two-level block scales of a scale-quantizing spec";
  let description = [{
    The block scales a scale-quantizing two-stage spec (NVFP4,
    amdfp4_global) quantizes `input` with: the first stage's scales from
    each block's range (block amax / element max), fake-quantized per
    tensor by the second stage. The second stage's scale is `second_scale`
    when given (calibrated: NVFP4's `input_scale_2`), else derived from the
    input as `amax(input) / (first element max * second element max)`.
    The result has the first stage's parameter shape.

    ```mlir
    %s = quark.compute_block_scales %x second_scale(%g : tensor<f32>)
           {spec = #quark.two_stage<#fp4_g16, #fp8_scale>}
           : tensor<16x64xf32> -> tensor<16x4xf32>
    ```
  }];
  let arguments = (ins Quark_FloatTensor:$input, Quark_TwoStageSpecAttr:$spec,
                       Optional<Quark_ScaleTensor>:$second_scale);
  let results = (outs Quark_ScaleTensor:$scale);
  let assemblyFormat = [{
    $input (`second_scale` `(` $second_scale^ `:` type($second_scale) `)`)?
    attr-dict `:` type($input) `->` type($scale)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def Quark_FakeQuantOp : Quark_Op<"fake_quant", [Pure, AttrSizedOperandSegments,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Quantize then dequantize (simulated quantization)";
  let description = [{
    `dequantize(quantize(input))` under `spec`, returning a tensor of the
    input's type. A static integer or float spec takes its `scale` (and,
    when asymmetric, `zero_point`) as operands. Dynamic specs, block formats
    (mx6, mx9, bfp16) and casts derive everything from the input and take
    no operands; an MX spec may take its power-of-two scales or derive them.

    ```mlir
    %w = quark.fake_quant %weight scale(%s : tensor<64xf32>)
           {spec = #quark.spec<dtype = int8, qscheme = per_channel,
             ch_axis = 0, symmetric = true, is_dynamic = false,
             round_method = half_even, scale_type = float,
             observer_cls = PerChannelMinMaxObserver>} : tensor<64x128xf32>
    ```
  }];
  let arguments = (ins
    Quark_FloatTensor:$input,
    Quark_TensorSpecAttr:$spec,
    Optional<Quark_ScaleTensor>:$scale,
    Optional<Quark_ZeroPointTensor>:$zero_point
  );
  let results = (outs Quark_FloatTensor:$result);
  let assemblyFormat = [{
    $input
    (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def Quark_TwoStageFakeQuantOp : Quark_Op<"two_stage_fake_quant", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Fake quantization under a two-stage spec";
  let description = [{
    Quark's specs that are a list of two:
    * scale quantization (`spec.second.is_scale_quant`, NVFP4 and
      amdfp4_global): the first stage's block scales (block amax / element
      max) are fake-quantized by the second stage, per tensor, with scale
      `second_scale` -- calibrated for activations -- or, when absent,
      `amax(input) / (element max * second dtype max)` from the input
      itself; the input is then quantized with the quantized block scales;
    * progressive (int4_fp8): the first stage quantizes to its element
      values, the second quantizes those, both with parameters from the
      data, and dequantization runs in reverse.

    ```mlir
    %w = quark.two_stage_fake_quant %weight {spec = #quark.two_stage<#fp4_g16, #fp8_scale>}
           : tensor<64x128xbf16>
    ```
  }];
  let arguments = (ins Quark_FloatTensor:$input, Quark_TwoStageSpecAttr:$spec,
                       Optional<Quark_ScaleTensor>:$second_scale);
  let results = (outs Quark_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`second_scale` `(` $second_scale^ `:` type($second_scale) `)`)?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def Quark_QuantizeOp : Quark_Op<"quantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Quantizes a float tensor to codes";
  let description = [{
    Converts `input` to quantization codes. The result element type says
    how codes are stored:

    * integer dtypes: `!quant.any<i8:f32>`-style types with the dtype's
      width and signedness (scales as operands), or `!quant.uniform` types
      that carry a per-tensor or per-axis scale themselves (then no scale
      operand is given);
    * fp8 / fp6 / fp4 (and `mx` with those elements): `!quark.qfloat<...>`;
    * `bfloat16` / `float16`: the builtin `bf16` / `f16` (a cast).

    `mx6`, `mx9` and `bfp16` have no storage form and are rejected.

    ```mlir
    %q = quark.quantize %x scale(%s : tensor<f32>)
           {spec = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor,
             is_dynamic = false, observer_cls = PerTensorMinMaxObserver>}
           : tensor<16x64xf32> -> tensor<16x64x!quark.qfloat<fp8_e4m3>>
    ```
  }];
  let arguments = (ins
    Quark_FloatTensor:$input,
    Quark_TensorSpecAttr:$spec,
    Optional<Quark_ScaleTensor>:$scale,
    Optional<Quark_ZeroPointTensor>:$zero_point
  );
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input
    (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_DequantizeOp : Quark_Op<"dequantize", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "Converts codes back to floats";
  let description = [{
    The inverse of `quark.quantize`: `(code - zero_point) * scale` for
    integers, `decode(code) * scale` for narrow floats, an extension for
    casts. Operands and types follow the same rules as `quark.quantize`.

    A narrow-float spec (fp8, fp6, fp4 without MX scales) also takes
    builtin float values that are that format's codes already decoded:
    the first stage of a progressive spec (int4_fp8), whose second stage
    dequantizes to fp8 values, which this stage then scales:

    ```mlir
    %v = quark.dequantize %codes scale(%s2 : tensor<64xf32>) {spec = #int4_per_channel}
           : tensor<64x128x!quant.any<i4:f32>> -> tensor<64x128xf32>
    %w = quark.dequantize %v scale(%s1 : tensor<f32>) {spec = #fp8_per_tensor}
           : tensor<64x128xf32> -> tensor<64x128xbf16>
    ```
  }];
  let arguments = (ins
    AnyRankedTensor:$input,
    Quark_TensorSpecAttr:$spec,
    Optional<Quark_ScaleTensor>:$scale,
    Optional<Quark_ZeroPointTensor>:$zero_point
  );
  let results = (outs Quark_FloatTensor:$result);
  let assemblyFormat = [{
    $input
    (`scale` `(` $scale^ `:` type($scale) `)`)?
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// Whether the input holds decoded values (a progressive spec's first
    /// stage) rather than codes.
    bool hasDecodedInput();
  }];
  let hasVerifier = 1;
}

def Quark_StorageCastOp : Quark_Op<"storage_cast", [Pure]> {
  let summary = "Reinterprets codes as their raw storage values and back";
  let description = [{
    Converts between a tensor of quantization codes and the same bits as a
    plain tensor, so codes can be held in constants and passed to code that
    knows nothing of quantization. The storage of an integer code type is
    its storage integer (`!quant.any<i4:f32>` <-> `i4`, like upstream
    `quant.scast`); the storage of `!quark.qfloat<F>` is the builtin float
    type with the same encoding (`f8E4M3FN`, `f4E2M1FN`, ...) or `ui8` for
    `fp8_e5m3`, which has none.

    ```mlir
    %c = arith.constant dense<[0x38, 0x40]> : tensor<2xf8E4M3FN>
    %q = quark.storage_cast %c : tensor<2xf8E4M3FN> -> tensor<2x!quark.qfloat<fp8_e4m3>>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The raw storage element type of a code element type, or null.
    static ::mlir::Type getStorageElementType(::mlir::Type codeElement);
  }];
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

def Quark_PackOp : Quark_Op<"pack", [Pure]> {
  let summary = "Packs sub-byte codes along the last dimension";
  let description = [{
    Quark's checkpoint layouts, along the innermost dimension:

    * int4 / uint4 codes: eight per `i32` word, nibble slot `i` holding
      element `[0,2,4,6,1,3,5,7][i]` (`pack_method = reorder`, Quark's
      default) or `i` (`order`); a partial last word is zero-padded;
    * fp4 codes: two per `ui8`, the even element in the low nibble;
    * fp6 codes: four per three `ui8`, little-endian 6-bit fields;
    * int3 codes: eight per three `ui8`, little-endian 3-bit fields.

    ```mlir
    %p = quark.pack %q pack_method = reorder
           : tensor<64x128x!quant.any<i4:f32>> -> tensor<64x16xi32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       OptionalAttr<Quark_PackMethod>:$pack_method);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`pack_method` `=` $pack_method^)? attr-dict `:` type($input)
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Quark_UnpackOp : Quark_Op<"unpack", [Pure]> {
  let summary = "Unpacks sub-byte codes (the inverse of quark.pack)";
  let description = [{
    The result type names the code type and the unpacked extent of the
    last dimension (needed when the last int32 word is partial).

    ```mlir
    %q = quark.unpack %p pack_method = reorder
           : tensor<64x16xi32> -> tensor<64x128x!quant.any<i4:f32>>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       OptionalAttr<Quark_PackMethod>:$pack_method);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`pack_method` `=` $pack_method^)? attr-dict `:` type($input)
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

#endif // QUARK_DIALECT_QUARKOPS_TD
