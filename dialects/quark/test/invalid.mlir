// RUN: quark-dialect-opt %s -split-input-file -verify-diagnostics
// One case per verifier branch: specs (Quark's QTensorConfig rules), two-stage
// and layer specs, the qfloat type, and every op.

//===----------------------------------------------------------------------===//
// #quark.spec
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'mx_element_dtype' only applies to dtype = mx, got dtype = int8}}
func.func private @f() attributes {s = #quark.spec<dtype = int8, mx_element_dtype = fp4>}

// -----

// expected-error @+1 {{'scale_calculation_mode' only applies to MX scales}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, scale_calculation_mode = even>}

// -----

// expected-error @+1 {{'block_size' only applies to qscheme = per_block}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, block_size = [128, 128], is_dynamic = false, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = bfloat16 is a cast and only takes 'observer_cls' = PlaceholderObserver, got PerTensorMinMaxObserver}}
func.func private @f() attributes {s = #quark.spec<dtype = bfloat16, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = float16 is a cast and cannot quantize scales}}
func.func private @f() attributes {s = #quark.spec<dtype = float16, is_scale_quant = true>}

// -----

// expected-error @+1 {{dtype = mx derives its scales from the data and cannot quantize scales}}
func.func private @f() attributes {s = #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = fp4, is_scale_quant = true>}

// -----

// expected-error @+1 {{dtype = mx6 requires 'ch_axis'}}
func.func private @f() attributes {s = #quark.spec<dtype = mx6, group_size = 32>}

// -----

// expected-error @+1 {{dtype = bfp16 requires 'group_size'}}
func.func private @f() attributes {s = #quark.spec<dtype = bfp16, ch_axis = -1>}

// -----

// expected-error @+1 {{dtype = mx9 is block quantization: 'qscheme' must be per_group, got per_tensor}}
func.func private @f() attributes {s = #quark.spec<dtype = mx9, qscheme = per_tensor, ch_axis = -1, group_size = 32>}

// -----

// expected-error @+1 {{dtype = mx requires 'mx_element_dtype'}}
func.func private @f() attributes {s = #quark.spec<dtype = mx, ch_axis = -1, group_size = 32>}

// -----

// expected-error @+1 {{'mx_element_dtype' must be one of fp8_e4m3, fp8_e5m2, fp6_e2m3, fp6_e3m2, fp4, int8; got int4}}
func.func private @f() attributes {s = #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = int4>}

// -----

// expected-error @+1 {{dtype = mx is OCP MX with 32-element blocks: 'group_size' must be 32, got 16}}
func.func private @f() attributes {s = #quark.spec<dtype = mx, ch_axis = -1, group_size = 16, mx_element_dtype = fp4>}

// -----

// expected-error @+1 {{dtype = bfp16 uses 8-element blocks: 'group_size' must be 8, got 16}}
func.func private @f() attributes {s = #quark.spec<dtype = bfp16, ch_axis = -1, group_size = 16>}

// -----

// expected-error @+1 {{dtype = mx6 pairs block elements: 'group_size' must be a positive even number, got 15}}
func.func private @f() attributes {s = #quark.spec<dtype = mx6, ch_axis = -1, group_size = 15>}

// -----

// expected-error @+1 {{dtype = int8 requires 'is_dynamic'}}
func.func private @f() attributes {s = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = fp6_e2m3 requires 'observer_cls'}}
func.func private @f() attributes {s = #quark.spec<dtype = fp6_e2m3, qscheme = per_tensor>}

// -----

// expected-error @+1 {{dtype = fp8_e5m2 requires 'qscheme'}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e5m2, is_dynamic = true, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = uint4 requires 'symmetric'}}
func.func private @f() attributes {s = #quark.spec<dtype = uint4, qscheme = per_tensor, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = int4 requires 'round_method'}}
func.func private @f() attributes {s = #quark.spec<dtype = int4, qscheme = per_tensor, symmetric = true, is_dynamic = false, scale_type = float, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = int16 requires 'scale_type'}}
func.func private @f() attributes {s = #quark.spec<dtype = int16, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{dtype = fp8_e4m3 is a scaled float format without zero point: 'symmetric' cannot be false}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = false, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{qscheme = per_tensor needs a per-tensor 'observer_cls' (PerTensorMinMaxObserver, PerTensorPowOf2MinMaxObserver, PerTensorPowOf2MinMSEObserver, PerTensorHistogramObserver, PerTensorHistogramObserverPro, PerTensorPercentileObserver, PerTensorMSEObserver, LSQObserver, TQTObserver), got PerChannelMinMaxObserver}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerChannelMinMaxObserver>}

// -----

// Histogram, percentile and MSE observers observe whole tensors only.
// expected-error @+1 {{qscheme = per_channel needs a per-channel 'observer_cls' (PerChannelMinMaxObserver, PerChannelPowOf2MinMaxObserver, PerChannelPowOf2MinMSEObserver, LSQObserver), got PerTensorHistogramObserver}}
func.func private @f() attributes {s = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorHistogramObserver>}

// -----

// expected-error @+1 {{qscheme = per_channel requires 'ch_axis'}}
func.func private @f() attributes {s = #quark.spec<dtype = int8, qscheme = per_channel, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>}

// -----

// expected-error @+1 {{qscheme = per_group needs a per-group 'observer_cls' (PerGroupMinMaxObserver, PerBlockMXObserver, PerBlockMXBufferReuseObserver, PerBlockMXDiffsObserver, PerBlockBFPObserver, PerBlock2DMinMaxObserver), got PerTensorMSEObserver}}
func.func private @f() attributes {s = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 128, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMSEObserver>}

// -----

// expected-error @+1 {{qscheme = per_group requires 'ch_axis'}}
func.func private @f() attributes {s = #quark.spec<dtype = int4, qscheme = per_group, group_size = 128, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>}

// -----

// expected-error @+1 {{qscheme = per_group requires 'group_size'}}
func.func private @f() attributes {s = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>}

// -----

// expected-error @+1 {{'group_size' must be a positive integer or -1 (the whole axis), got 0}}
func.func private @f() attributes {s = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>}

// -----

// expected-error @+1 {{qscheme = per_block requires 'block_size' with two positive extents, e.g. [128, 128]}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_block, block_size = [128], is_dynamic = false, observer_cls = PerBlock2DMinMaxObserver>}

// -----

// expected-error @+1 {{scale_format = e8m0 is OCP MX: 'dtype' must be fp4, fp6_e2m3, fp6_e3m2, fp8_e4m3 or fp8_e5m2, got int4}}
func.func private @f() attributes {s = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 32, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, scale_format = e8m0, observer_cls = PerGroupMinMaxObserver>}

// -----

// expected-error @+1 {{scale_format = e8m0 is OCP MX: needs qscheme = per_group with 'group_size' = 32}}
func.func private @f() attributes {s = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = false, scale_format = e8m0, observer_cls = PerBlockMXObserver>}

// -----

// expected-error @+1 {{scale_format = e5m3 (AMD FP4) needs dtype = fp4, got fp6_e2m3}}
func.func private @f() attributes {s = #quark.spec<dtype = fp6_e2m3, qscheme = per_group, ch_axis = -1, group_size = 16, scale_format = e5m3, observer_cls = PerGroupMinMaxObserver>}

// -----

// expected-error @+1 {{scale_format = e5m3 needs qscheme = per_group with 'group_size' 16 or 32}}
func.func private @f() attributes {s = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 64, scale_format = e5m3, observer_cls = PerGroupMinMaxObserver>}

// -----

// expected-error @+1 {{scale_format = e4m3 (NVFP4 local scales) needs dtype = fp4 with qscheme = per_group}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, scale_format = e4m3, observer_cls = PerTensorMinMaxObserver>}

// -----

// expected-error @+1 {{a scale-quantizing spec ('is_scale_quant' = true) quantizes the first stage's scales per tensor: 'qscheme' must be per_tensor, got per_channel}}
func.func private @f() attributes {s = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, is_dynamic = false, observer_cls = PerChannelMinMaxObserver, is_scale_quant = true>}

// -----

// expected-error @+2 {{expected 'true' or 'false'}}
// expected-error @+1 {{failed to parse Quark_TensorSpecAttr parameter 'symmetric'}}
func.func private @f() attributes {s = #quark.spec<dtype = int8, symmetric = yes>}

// -----

// expected-error @+2 {{expected ::mlir::quark::Dtype to be one of}}
// expected-error @+1 {{failed to parse Quark_TensorSpecAttr parameter 'dtype'}}
func.func private @f() attributes {s = #quark.spec<dtype = int5>}

//===----------------------------------------------------------------------===//
// #quark.two_stage and #quark.layer_spec
//===----------------------------------------------------------------------===//

// -----

#fp8_scale = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
// expected-error @+1 {{the first stage of a two-stage spec quantizes values: its 'is_scale_quant' must be false}}
func.func private @f() attributes {s = #quark.two_stage<#fp8_scale, #fp8_scale>}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
#fp8_scale = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
// expected-error @+1 {{a scale-quantizing second stage needs a first stage with one scale per channel, group or block, not per_tensor}}
func.func private @f() attributes {s = #quark.two_stage<#fp8, #fp8_scale>}

// -----

#mx6 = #quark.spec<dtype = mx6, qscheme = per_group, ch_axis = -1, group_size = 32>
#fp8_scale = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
// expected-error @+1 {{the first stage (dtype = mx6) has no scales to quantize}}
func.func private @f() attributes {s = #quark.two_stage<#mx6, #fp8_scale>}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
#bf16 = #quark.spec<dtype = bfloat16>
// expected-error @+1 {{a progressive two-stage spec chains scaled integer or float quantizers; dtype = bfloat16 cannot take part}}
func.func private @f() attributes {s = #quark.two_stage<#fp8, #bf16>}

// -----

// expected-error @+1 {{'weight' must be a #quark.spec or #quark.two_stage}}
func.func private @f() attributes {s = #quark.layer_spec<weight = 4 : i32>}

// -----

#int4_static_group = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = -1, group_size = 64, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
// expected-error @+1 {{'input_tensors': static per_group quantization of activations is not supported (as in Quark); use 'is_dynamic' = true}}
func.func private @f() attributes {s = #quark.layer_spec<input_tensors = #int4_static_group, weight = #int4_static_group>}

//===----------------------------------------------------------------------===//
// !quark.qfloat
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{!quark.qfloat holds fp8, fp6 or fp4 codes; got int8}}
func.func private @f(tensor<4x!quark.qfloat<int8>>)

//===----------------------------------------------------------------------===//
// quark.observe
//===----------------------------------------------------------------------===//

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.observe' op expects 'min_values' and 'max_values' together}}
  %0 = quark.observe %x {spec = #fp8, min_values = dense<0.0> : tensor<f32>} : tensor<4x8xf32>
  return
}

// -----

#int8_ch = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 1, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.observe' op expects statistics of shape [8], got [4]}}
  %0 = quark.observe %x {spec = #int8_ch, min_values = dense<0.0> : tensor<4xf32>, max_values = dense<1.0> : tensor<4xf32>} : tensor<4x8xf32>
  return
}

// -----

#int8_ch = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 2, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.observe' op 'ch_axis' = 2 is out of range for a rank-2 tensor}}
  %0 = quark.observe %x {spec = #int8_ch, min_values = dense<0.0> : tensor<8xf32>, max_values = dense<1.0> : tensor<8xf32>} : tensor<4x8xf32>
  return
}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.observe' op carries a histogram but its observer_cls keeps none (histogram, percentile and MSE observers do)}}
  %0 = quark.observe %x {spec = #fp8, histogram = dense<1.0> : tensor<4xf32>, histogram_edges = dense<[0.0, 1.0, 2.0, 3.0, 4.0]> : tensor<5xf32>} : tensor<4x8xf32>
  return
}

// -----

#hist = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorHistogramObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.observe' op expects 'histogram_edges' (at least two bin edges) with a histogram}}
  %0 = quark.observe %x {spec = #hist, histogram = dense<1.0> : tensor<4xf32>} : tensor<4x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// quark.compute_qparams
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{'quark.compute_qparams' op dtype = mx6 has no quantization parameters}}
  %s = quark.compute_qparams %x {spec = #quark.spec<dtype = mx6, ch_axis = -1, group_size = 32>} : tensor<4x32xf32> -> tensor<4x1xf32>
  return
}

// -----

#uint8 = #quark.spec<dtype = uint8, qscheme = per_tensor, symmetric = false, is_dynamic = true, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{'quark.compute_qparams' op requires a 'zero_point' operand for an asymmetric spec}}
  %s = quark.compute_qparams %x {spec = #uint8} : tensor<4x32xf32> -> tensor<f32>
  return
}

//===----------------------------------------------------------------------===//
// quark.fake_quant: parameters
//===----------------------------------------------------------------------===//

// -----

#dyn = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = true, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.fake_quant' op derives its parameters from the input for dtype = fp8_e4m3 with is_dynamic = true; no 'scale' or 'zero_point' operand is allowed}}
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #dyn} : tensor<4x8xf32>
  return
}

// -----

#int8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.fake_quant' op requires a 'scale' operand for dtype = int8}}
  %0 = quark.fake_quant %x {spec = #int8} : tensor<4x8xf32>
  return
}

// -----

#int8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{'quark.fake_quant' op takes no 'zero_point' for a symmetric or float spec (dtype = int8)}}
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) zero_point(%z : tensor<i32>) {spec = #int8} : tensor<4x8xf32>
  return
}

// -----

#uint8 = #quark.spec<dtype = uint8, qscheme = per_tensor, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.fake_quant' op requires a 'zero_point' operand for an asymmetric spec}}
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #uint8} : tensor<4x8xf32>
  return
}

// -----

#int4_g = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 4, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<4x4xf32>) {
  // expected-error @+1 {{'quark.fake_quant' op expects a scale of shape [4, 2] for per_group quantization of a [4, 8] tensor, got [4, 4]}}
  %0 = quark.fake_quant %x scale(%s : tensor<4x4xf32>) {spec = #int4_g} : tensor<4x8xf32>
  return
}

// -----

#int4_g = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 3, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<4x3xf32>) {
  // expected-error @+1 {{'quark.fake_quant' op dimension 1 (8 elements) is not a multiple of 'group_size' = 3}}
  %0 = quark.fake_quant %x scale(%s : tensor<4x3xf32>) {spec = #int4_g} : tensor<4x8xf32>
  return
}

// -----

#block = #quark.spec<dtype = fp8_e4m3, qscheme = per_block, block_size = [2, 2], is_dynamic = false, observer_cls = PerBlock2DMinMaxObserver>
func.func @f(%x: tensor<4x8x2xf32>, %s: tensor<2x4xf32>) {
  // expected-error @+1 {{'quark.fake_quant' op per_block 'block_size' has 2 extents for a rank-3 tensor}}
  %0 = quark.fake_quant %x scale(%s : tensor<2x4xf32>) {spec = #block} : tensor<4x8x2xf32>
  return
}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f8E8M0FNU>) {
  // expected-error @+1 {{'quark.fake_quant' op an f8E8M0FNU scale needs an MX spec (dtype = mx or scale_format = e8m0)}}
  %0 = quark.fake_quant %x scale(%s : tensor<f8E8M0FNU>) {spec = #fp8} : tensor<4x8xf32>
  return
}

// -----

#uint8_ch = #quark.spec<dtype = uint8, qscheme = per_channel, ch_axis = 0, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<4xf32>, %z: tensor<8xi32>) {
  // expected-error @+1 {{'quark.fake_quant' op expects the zero point to have the scale's shape [4], got [8]}}
  %0 = quark.fake_quant %x scale(%s : tensor<4xf32>) zero_point(%z : tensor<8xi32>) {spec = #uint8_ch} : tensor<4x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// quark.quantize / quark.dequantize: code types
//===----------------------------------------------------------------------===//

// -----

#int8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.quantize' op takes its scale from the !quant.uniform code type; no 'scale' or 'zero_point' operand is allowed}}
  %0 = quark.quantize %x scale(%s : tensor<f32>) {spec = #int8} : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

#int8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.quantize' op expects codes and values of the same shape, got [8, 4] and [4, 8]}}
  %0 = quark.quantize %x scale(%s : tensor<f32>) {spec = #int8} : tensor<4x8xf32> -> tensor<8x4x!quant.any<i8:f32>>
  return
}

// -----

func.func @f(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{'quark.quantize' op dtype = bfp16 is a simulation-only format with no storage encoding; use quark.fake_quant}}
  %0 = quark.quantize %x {spec = #quark.spec<dtype = bfp16, ch_axis = -1, group_size = 8>} : tensor<4x32xf32> -> tensor<4x32xi8>
  return
}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.quantize' op expects codes of type '!quark.qfloat<fp8_e4m3>' for dtype = fp8_e4m3, got '!quark.qfloat<fp8_e5m2>'}}
  %0 = quark.quantize %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<4x8xf32> -> tensor<4x8x!quark.qfloat<fp8_e5m2>>
  return
}

// -----

#int8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.quantize' op expects integer codes as a !quant type (e.g. '!quant.any<i8:f32>') for dtype = int8, got 'i8'}}
  %0 = quark.quantize %x scale(%s : tensor<f32>) {spec = #int8} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

#uint4 = #quark.spec<dtype = uint4, qscheme = per_tensor, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%q: tensor<4x8x!quant.any<i4:f32>>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{'quark.dequantize' op expects unsigned 4-bit storage for dtype = uint4, got '!quant.any<i4:f32>'}}
  %0 = quark.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i32>) {spec = #uint4} : tensor<4x8x!quant.any<i4:f32>> -> tensor<4x8xf32>
  return
}

// -----

#int4 = #quark.spec<dtype = int4, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%v: tensor<4x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'quark.dequantize' op takes decoded float values only for a narrow-float spec without MX scales (a progressive spec's first stage); dtype = int4 needs codes}}
  %0 = quark.dequantize %v scale(%s : tensor<f32>) {spec = #int4} : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

#int8_ch = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.quantize' op a per-tensor !quant.uniform type cannot hold per_channel codes}}
  %0 = quark.quantize %x {spec = #int8_ch} : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32, 0.5>>
  return
}

// -----

#int8_ch = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
func.func @f(%x: tensor<4x2xf32>) {
  // expected-error @+1 {{'quark.quantize' op a per-axis !quant.uniform type on dimension 1 needs qscheme = per_channel with 'ch_axis' = 1}}
  %0 = quark.quantize %x {spec = #int8_ch} : tensor<4x2xf32> -> tensor<4x2x!quant.uniform<i8:f32:1, {0.5, 0.25}>>
  return
}

// -----

#int8_g = #quark.spec<dtype = int8, qscheme = per_group, ch_axis = 1, group_size = 2, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
func.func @f(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'quark.quantize' op unsupported quantized code type}}
  %0 = quark.quantize %x {spec = #int8_g} : tensor<2x4xf32> -> tensor<2x4x!quant.uniform<i8:f32:{1:2}, {{1.0, 2.0}, {3.0, 4.0}}>>
  return
}

//===----------------------------------------------------------------------===//
// quark.pack / quark.unpack
//===----------------------------------------------------------------------===//

// -----

func.func @f(%q: tensor<4x8x!quant.any<i8:f32>>) {
  // expected-error @+1 {{'quark.pack' op has no packed layout for '!quant.any<i8:f32>' (int8 and wider codes are stored unpacked; Quark stores int2 unpacked too)}}
  %0 = quark.pack %q : tensor<4x8x!quant.any<i8:f32>> -> tensor<4x8xui8>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quark.qfloat<fp8_e4m3>>) {
  // expected-error @+1 {{'quark.pack' op has no packed layout for '!quark.qfloat<fp8_e4m3>' (8-bit codes are stored as bytes)}}
  %0 = quark.pack %q : tensor<4x8x!quark.qfloat<fp8_e4m3>> -> tensor<4x8xui8>
  return
}

// -----

func.func @f(%q: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.pack' op packs quantization codes (!quant or !quark.qfloat elements), got 'f32'}}
  %0 = quark.pack %q : tensor<4x8xf32> -> tensor<4x1xi32>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quant.any<i4:f32>>) {
  // expected-error @+1 {{'quark.pack' op requires 'pack_method' (order or reorder) for int4 codes}}
  %0 = quark.pack %q : tensor<4x8x!quant.any<i4:f32>> -> tensor<4x1xi32>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quark.qfloat<fp4>>) {
  // expected-error @+1 {{'quark.pack' op takes 'pack_method' for int4 codes only}}
  %0 = quark.pack %q pack_method = order : tensor<4x8x!quark.qfloat<fp4>> -> tensor<4x4xui8>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quark.qfloat<fp4>>) {
  // expected-error @+1 {{'quark.pack' op expects packed elements of type 'ui8', got 'i8'}}
  %0 = quark.pack %q : tensor<4x8x!quark.qfloat<fp4>> -> tensor<4x4xi8>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quark.qfloat<fp4>>) {
  // expected-error @+1 {{'quark.pack' op expects codes and packed tensors of the same rank >= 1}}
  %0 = quark.pack %q : tensor<4x8x!quark.qfloat<fp4>> -> tensor<16xui8>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quark.qfloat<fp4>>) {
  // expected-error @+1 {{'quark.pack' op expects codes and packed tensors to agree on all but the last dimension}}
  %0 = quark.pack %q : tensor<4x8x!quark.qfloat<fp4>> -> tensor<2x8xui8>
  return
}

// -----

func.func @f(%q: tensor<4x6x!quark.qfloat<fp6_e3m2>>) {
  // expected-error @+1 {{'quark.pack' op expects the last dimension (6) to be a multiple of 4 for '!quark.qfloat<fp6_e3m2>'}}
  %0 = quark.pack %q : tensor<4x6x!quark.qfloat<fp6_e3m2>> -> tensor<4x4xui8>
  return
}

// -----

func.func @f(%p: tensor<4x2xi32>) {
  // expected-error @+1 {{'quark.unpack' op expects a packed last dimension of 3 for 20 codes, got 2}}
  %0 = quark.unpack %p pack_method = reorder : tensor<4x2xi32> -> tensor<4x20x!quant.any<i4:f32>>
  return
}

//===----------------------------------------------------------------------===//
// quark.storage_cast
//===----------------------------------------------------------------------===//

// -----

func.func @f(%a: tensor<2xf8E4M3FN>) {
  // expected-error @+1 {{'quark.storage_cast' op expects operand and result of the same shape}}
  %0 = quark.storage_cast %a : tensor<2xf8E4M3FN> -> tensor<4x!quark.qfloat<fp8_e4m3>>
  return
}

// -----

func.func @f(%a: tensor<2xf32>) {
  // expected-error @+1 {{'quark.storage_cast' op casts between quantization codes (!quant or !quark.qfloat elements) and their raw storage; exactly one side must hold codes}}
  %0 = quark.storage_cast %a : tensor<2xf32> -> tensor<2xi32>
  return
}

// -----

func.func @f(%a: tensor<2xf8E5M2>) {
  // expected-error @+1 {{'quark.storage_cast' op expects '!quark.qfloat<fp8_e4m3>' to be stored as 'f8E4M3FN', got 'f8E5M2'}}
  %0 = quark.storage_cast %a : tensor<2xf8E5M2> -> tensor<2x!quark.qfloat<fp8_e4m3>>
  return
}

// -----

#dyn = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = true, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @f(%q: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.attention' op expects a static, symmetric, per-tensor 'softmax_spec' (Quark's softmax_quant_spec)}}
  %0 = quark.attention %q, %q, %q {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64, softmax_spec = #dyn} : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.attention' op expects 'softmax_max' and 'softmax_scale' only with a 'softmax_spec'}}
  %0 = quark.attention %q, %q, %q {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64, softmax_scale = 0.5 : f32} : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32>
  return
}
