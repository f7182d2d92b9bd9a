// RUN: quark-opt %s --quark-insert-observers | FileCheck %s

// Static input and output specs get observers; weights, dynamic specs and
// MX formats need none; NVFP4-style inputs calibrate the second stage.

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#fp8_dyn = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 1, symmetric = true, is_dynamic = true, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
#mxfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = true, round_method = half_even, scale_type = float, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
#fp4_g16 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#fp8_scales = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>

// CHECK-LABEL: func @observers
// CHECK-SAME: (%[[X:.*]]: tensor<2x32xf32>, %[[W:.*]]: tensor<32x32xf32>)
func.func @observers(%x: tensor<2x32xf32>, %w: tensor<32x32xf32>) -> (tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>) {
  // CHECK: %[[IN:.*]] = quark.observe %[[X]] {name = "static.input", spec = #spec_fp8_e4m3} : tensor<2x32xf32>
  // CHECK: %[[Y:.*]] = quark.linear %[[IN]], %[[W]] {name = "static"
  // CHECK: %[[OUT:.*]] = quark.observe %[[Y]] {name = "static.output", spec = #spec_fp8_e4m3} : tensor<2x32xf32>
  %0 = quark.linear %x, %w {name = "static", quant = #quark.layer_spec<input_tensors = #fp8, output_tensors = #fp8, weight = #fp8>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  // CHECK-NOT: quark.observe
  // CHECK: quark.linear %[[X]], %[[W]] {name = "dynamic"
  %1 = quark.linear %x, %w {name = "dynamic", quant = #quark.layer_spec<input_tensors = #fp8_dyn, weight = #fp8>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  // CHECK: quark.linear %[[X]], %[[W]] {name = "mx"
  %2 = quark.linear %x, %w {name = "mx", quant = #quark.layer_spec<input_tensors = #mxfp4, weight = #mxfp4>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  // CHECK: %[[NV:.*]] = quark.observe %[[X]] {name = "nvfp4.input", spec = #spec_fp8_e4m3{{.*}}}
  // CHECK: quark.linear %[[NV]], %[[W]] {name = "nvfp4"
  %3 = quark.linear %x, %w {name = "nvfp4", quant = #quark.layer_spec<input_tensors = #quark.two_stage<#fp4_g16, #fp8_scales>>} : tensor<2x32xf32>, tensor<32x32xf32> -> tensor<2x32xf32>
  // Users of the output read the observed value.
  // CHECK: return %[[OUT]],
  return %0, %1, %2, %3 : tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>
}
