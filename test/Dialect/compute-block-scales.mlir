// RUN: quark-opt %s --split-input-file -verify-diagnostics | FileCheck %s

// quark.compute_block_scales round-trips with and without the calibrated
// second scale.
#fp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#e4m3 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
// CHECK-LABEL: func.func @round_trip
// CHECK: quark.compute_block_scales %{{.*}} second_scale(%{{.*}} : tensor<f32>) {spec = #{{.*}}} : tensor<4x64xf32> -> tensor<4x4xf32>
// CHECK: quark.compute_block_scales %{{.*}} {spec = #{{.*}}} : tensor<4x64xf32> -> tensor<4x4xf32>
func.func @round_trip(%x: tensor<4x64xf32>, %g: tensor<f32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %0 = quark.compute_block_scales %x second_scale(%g : tensor<f32>) {spec = #quark.two_stage<#fp4, #e4m3>} : tensor<4x64xf32> -> tensor<4x4xf32>
  %1 = quark.compute_block_scales %x {spec = #quark.two_stage<#fp4, #e4m3>} : tensor<4x64xf32> -> tensor<4x4xf32>
  return %0, %1 : tensor<4x4xf32>, tensor<4x4xf32>
}

// -----

#fp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#e4m3 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
func.func @wrong_shape(%x: tensor<4x64xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{expects a scale of shape [4, 4]}}
  %0 = quark.compute_block_scales %x {spec = #quark.two_stage<#fp4, #e4m3>} : tensor<4x64xf32> -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

#fp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#e4m3 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
func.func @vector_second_scale(%x: tensor<4x64xf32>, %g: tensor<4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{expects a scalar 'second_scale' (tensor<f32>)}}
  %0 = quark.compute_block_scales %x second_scale(%g : tensor<4xf32>) {spec = #quark.two_stage<#fp4, #e4m3>} : tensor<4x64xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// A progressive spec (int4_fp8) quantizes values twice; it has no block
// scales to quantize.
#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver>
#int4 = #quark.spec<dtype = int4, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerChannelMinMaxObserver>
func.func @progressive(%x: tensor<4x64xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expects a scale-quantizing two-stage spec}}
  %0 = quark.compute_block_scales %x {spec = #quark.two_stage<#fp8, #int4>} : tensor<4x64xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
