// RUN: quark-opt %s --split-input-file --quark-freeze --verify-diagnostics | FileCheck %s

// Calibrated observers become fake quantizers with Quark's parameters,
// computed by hand here:
//  * fp8 per-tensor, min -3, max 2: scale = amax/448 = 3/448;
//  * uint8 asymmetric per-channel, min [-1, 0.5], max [3, 2]: the range
//    always holds 0, so scale = [4/255, 2/255] and
//    zero point = -round(min/scale) = [round(63.75), 0] = [64, 0];
//  * int8 symmetric per-tensor, amax 2.55: Quark divides by
//    (qmax - qmin)/2 = 127.5, so the scale is exactly 0.02.

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#u8 = #quark.spec<dtype = uint8, qscheme = per_channel, ch_axis = 1, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
#i8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>

// CHECK-LABEL: func @observers
func.func @observers(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) {
  // CHECK: %[[S0:.*]] = arith.constant dense<0.00669642864> : tensor<f32>
  // CHECK: quark.fake_quant %{{.*}} scale(%[[S0]] : tensor<f32>) {spec = #spec_fp8_e4m3}
  %0 = quark.observe %x {name = "a", spec = #fp8, min_values = dense<-3.0> : tensor<f32>, max_values = dense<2.0> : tensor<f32>} : tensor<4x2xf32>
  // CHECK: %[[S1:.*]] = arith.constant dense<[0.0156862754, 0.00784313772]> : tensor<2xf32>
  // CHECK: %[[Z1:.*]] = arith.constant dense<[64, 0]> : tensor<2xi32>
  // CHECK: quark.fake_quant %{{.*}} scale(%[[S1]] : tensor<2xf32>) zero_point(%[[Z1]] : tensor<2xi32>) {spec = #spec_uint8}
  %1 = quark.observe %x {name = "b", spec = #u8, min_values = dense<[-1.0, 0.5]> : tensor<2xf32>, max_values = dense<[3.0, 2.0]> : tensor<2xf32>} : tensor<4x2xf32>
  // CHECK: %[[S2:.*]] = arith.constant dense<2.000000e-02> : tensor<f32>
  // CHECK: quark.fake_quant %{{.*}} scale(%[[S2]] : tensor<f32>) {spec = #spec_int8}
  %2 = quark.observe %x {name = "c", spec = #i8, min_values = dense<-2.55> : tensor<f32>, max_values = dense<1.0> : tensor<f32>} : tensor<4x2xf32>
  // CHECK-NOT: quark.observe
  return %0, %1, %2 : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>
}

// -----

// scale_type = float follows the model's dtype: in a bfloat16 model
// 3/448 = 1.7142857 * 2^-8 keeps 7 mantissa bits, 219/128 * 2^-8.

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
module attributes {quark.model_dtype = "bfloat16"} {
  // CHECK-LABEL: func @bf16_model
  func.func @bf16_model(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
    // CHECK: arith.constant dense<0.00668334961> : tensor<f32>
    %0 = quark.observe %x {name = "a", spec = #fp8, min_values = dense<-3.0> : tensor<f32>, max_values = dense<2.0> : tensor<f32>} : tensor<4x2xf32>
    return %0 : tensor<4x2xf32>
  }
}

// -----

// Weights take parameters computed from themselves; dynamic inputs compute
// theirs per call; MX blocks derive their own scales; NVFP4 weights are
// two-stage quantized; an NVFP4 input's observer fixes the second stage's
// scale: amax / (6 * 448) = 5.376 / 2688 = 0.002 (in float32 arithmetic,
// 0.00199999986).

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#fp8_dyn = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = true, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
#mxfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, round_method = half_even, scale_type = float, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
#mxfp4_dyn = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = true, round_method = half_even, scale_type = float, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
#fp4_g16 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#fp4_g16_static = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = false, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#fp8_scales = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>

// CHECK-DAG: #[[FP8DYN:spec_fp8_e4m3[_0-9]*]] = #quark.spec<{{.*}}per_channel{{.*}}is_dynamic = true
// CHECK-DAG: #[[MXDYN:spec_fp4[_0-9]*]] = #quark.spec<{{.*}}group_size = 32, is_dynamic = true
// CHECK-LABEL: func @layers
// CHECK-SAME: (%[[X:.*]]: tensor<2x32xf32>)
func.func @layers(%x: tensor<2x32xf32>) -> (tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>) {
  %w = quark.param "w" : tensor<32x32xf32>
  // CHECK: %[[W:.*]] = quark.param "w"
  // CHECK: %[[SCALE:.*]] = quark.compute_qparams %[[W]] {spec = #spec_fp8_e4m3} : tensor<32x32xf32> -> tensor<f32>
  // CHECK: %[[QW:.*]] = quark.fake_quant %[[W]] scale(%[[SCALE]] : tensor<f32>) {spec = #spec_fp8_e4m3}
  // CHECK: %[[QX:.*]] = quark.fake_quant %[[X]] {spec = #[[FP8DYN]]}
  // CHECK: quark.linear %[[QX]], %[[QW]] {name = "fp8_dynamic"
  %0 = quark.linear %x, %w {name = "fp8_dynamic", quant = #quark.layer_spec<input_tensors = #fp8_dyn, weight = #fp8>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  // CHECK: %[[MW:.*]] = quark.fake_quant %[[W]] {spec = #spec_fp4
  // CHECK: %[[MX:.*]] = quark.fake_quant %[[X]] {spec = #[[MXDYN]]}
  // CHECK: quark.linear %[[MX]], %[[MW]] {name = "mxfp4"
  %1 = quark.linear %x, %w {name = "mxfp4", quant = #quark.layer_spec<input_tensors = #mxfp4_dyn, weight = #mxfp4>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  // CHECK: %[[S2:.*]] = arith.constant dense<0.00199999986> : tensor<f32>
  // CHECK: %[[NX:.*]] = quark.two_stage_fake_quant %[[X]] second_scale(%[[S2]] : tensor<f32>)
  // CHECK: %[[NW:.*]] = quark.two_stage_fake_quant %[[W]] {spec = #two_stage
  // CHECK: quark.linear %[[NX]], %[[NW]] {name = "nvfp4"
  %in = quark.observe %x {name = "nvfp4.input", spec = #fp8_scales, min_values = dense<-5.376> : tensor<f32>, max_values = dense<1.0> : tensor<f32>} : tensor<2x32xf32>
  %2 = quark.linear %in, %w {name = "nvfp4", quant = #quark.layer_spec<input_tensors = #quark.two_stage<#fp4_g16, #fp8_scales>, weight = #quark.two_stage<#fp4_g16_static, #fp8_scales>>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  return %0, %1, %2 : tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>
}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @uncalibrated(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'a' has no statistics: run quark-calibrate first}}
  %0 = quark.observe %x {name = "a", spec = #fp8} : tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @no_observer(%x: tensor<2x32xf32>) -> tensor<2x32xf32> {
  %w = quark.param "w" : tensor<32x32xf32>
  // expected-error @+1 {{'static': its static input spec needs calibration: run quark-insert-observers and quark-calibrate first}}
  %0 = quark.linear %x, %w {name = "static", quant = #quark.layer_spec<input_tensors = #fp8, weight = #fp8>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

// Quark's softmax_quant_spec (--attention_dtype fp8): the probabilities'
// calibrated maximum, 1.0, gives the scale 1/448 (float32 model).

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
// CHECK-LABEL: func @softmax
func.func @softmax(%q: tensor<1x4x8xf32>, %k: tensor<1x4x8xf32>, %v: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  // CHECK: quark.attention {{.*}}softmax_max = 1.000000e+00 : f32, softmax_scale = 0.00223214296 : f32
  %0 = quark.attention %q, %k, %v {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64, softmax_spec = #fp8, softmax_max = 1.0 : f32} : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

// -----

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
func.func @softmax_uncalibrated(%q: tensor<1x4x8xf32>, %k: tensor<1x4x8xf32>, %v: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  // expected-error @+1 {{its softmax_spec needs the probabilities' maximum: run quark-calibrate first}}
  %0 = quark.attention %q, %k, %v {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64, softmax_spec = #fp8} : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

// -----

// The K and V projections of a layer share one output scale, the larger
// (Quark's export rule, _build_kv_scale), raised to min_kv_scale: layer 0's
// k and v observed 4.48 and 8.96, so both use 8.96 / 448 = 0.02; layer 1's
// (1/448 and 2/448) are below min_kv_scale = 0.01. Layers outside the group
// keep theirs.

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver>
module attributes {quark.quantization_config = {
    global_quant_config = #quark.layer_spec<weight = #fp8>, layer_quant_config = [],
    layer_type_quant_config = [], kv_cache_quant_config = [], exclude = [],
    kv_cache_group = ["*k_proj", "*v_proj"], min_kv_scale = 0.01 : f64,
    kv_cache_post_rope = false}} {
  // CHECK-LABEL: func @kv_cache
  func.func @kv_cache(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
    // CHECK: %[[K0:.*]] = quark.linear {{.*}}"model.layers.0.self_attn.k_proj"
    // CHECK: %[[S0:.*]] = arith.constant dense<2.000000e-02> : tensor<f32>
    // CHECK: quark.fake_quant %[[K0]] scale(%[[S0]] : tensor<f32>)
    %k0 = quark.linear %x, %w {name = "model.layers.0.self_attn.k_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    %qk0 = quark.observe %k0 {name = "k0", spec = #fp8, min_values = dense<-4.48> : tensor<f32>, max_values = dense<1.0> : tensor<f32>} : tensor<2x8xf32>
    // CHECK: %[[V0:.*]] = quark.linear {{.*}}"model.layers.0.self_attn.v_proj"
    // CHECK: %[[S1:.*]] = arith.constant dense<2.000000e-02> : tensor<f32>
    // CHECK: quark.fake_quant %[[V0]] scale(%[[S1]] : tensor<f32>)
    %v0 = quark.linear %x, %w {name = "model.layers.0.self_attn.v_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    %qv0 = quark.observe %v0 {name = "v0", spec = #fp8, min_values = dense<-1.0> : tensor<f32>, max_values = dense<8.96> : tensor<f32>} : tensor<2x8xf32>
    // CHECK: %[[K1:.*]] = quark.linear {{.*}}"model.layers.1.self_attn.k_proj"
    // CHECK: %[[S2:.*]] = arith.constant dense<0.00999999977> : tensor<f32>
    // CHECK: quark.fake_quant %[[K1]] scale(%[[S2]] : tensor<f32>)
    %k1 = quark.linear %x, %w {name = "model.layers.1.self_attn.k_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    %qk1 = quark.observe %k1 {name = "k1", spec = #fp8, min_values = dense<-1.0> : tensor<f32>, max_values = dense<1.0> : tensor<f32>} : tensor<2x8xf32>
    // CHECK: %[[V1:.*]] = quark.linear {{.*}}"model.layers.1.self_attn.v_proj"
    // CHECK: %[[S3:.*]] = arith.constant dense<0.00999999977> : tensor<f32>
    // CHECK: quark.fake_quant %[[V1]] scale(%[[S3]] : tensor<f32>)
    %v1 = quark.linear %x, %w {name = "model.layers.1.self_attn.v_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    %qv1 = quark.observe %v1 {name = "v1", spec = #fp8, min_values = dense<-2.0> : tensor<f32>, max_values = dense<1.0> : tensor<f32>} : tensor<2x8xf32>
    // CHECK: %[[O:.*]] = quark.linear {{.*}}"model.layers.0.self_attn.o_proj"
    // CHECK: %[[S4:.*]] = arith.constant dense<0.00223214296> : tensor<f32>
    // CHECK: quark.fake_quant %[[O]] scale(%[[S4]] : tensor<f32>)
    %o = quark.linear %x, %w {name = "model.layers.0.self_attn.o_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    %qo = quark.observe %o {name = "o", spec = #fp8, min_values = dense<-1.0> : tensor<f32>, max_values = dense<1.0> : tensor<f32>} : tensor<2x8xf32>
    return %qk0, %qv0, %qk1, %qv1, %qo : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
  }
}
