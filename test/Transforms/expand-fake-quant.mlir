// RUN: quark-opt %s --quark-expand-fake-quant | FileCheck %s
// The expansion computes what the fake_quant computes: folding before and
// after expanding gives the same constants.
// RUN: quark-opt %s --quark-fold-constants | FileCheck %s --check-prefix=NUM
// RUN: quark-opt %s --quark-expand-fake-quant --quark-fold-constants --canonicalize | FileCheck %s --check-prefix=NUM

#int8_ch = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
#ptpc = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, is_dynamic = true, observer_cls = PerChannelMinMaxObserver>
#uint4_dyn = #quark.spec<dtype = uint4, qscheme = per_group, ch_axis = 1, group_size = 4, symmetric = false, is_dynamic = true, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
#mxfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
#nvfp4 = #quark.two_stage<<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>, <dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>>
#int4_fp8 = #quark.two_stage<<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver>, <dtype = int4, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerChannelMinMaxObserver>>

// CHECK-LABEL: func @static_int8
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>, %[[S:.*]]: tensor<2xf32>)
func.func @static_int8(%x: tensor<2x4xf32>, %s: tensor<2xf32>) -> tensor<2x4xf32> {
  // CHECK: %[[Q:.*]] = quark.quantize %[[X]] scale(%[[S]] : tensor<2xf32>) {spec = #{{.*}}} : tensor<2x4xf32> -> tensor<2x4x!quant.any<i8:f32>>
  // CHECK: %[[D:.*]] = quark.dequantize %[[Q]] scale(%[[S]] : tensor<2xf32>) {spec = #{{.*}}} : tensor<2x4x!quant.any<i8:f32>> -> tensor<2x4xf32>
  // CHECK: return %[[D]]
  %0 = quark.fake_quant %x scale(%s : tensor<2xf32>) {spec = #int8_ch} : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// Dynamic specs get their parameters materialized from the input.
// CHECK-LABEL: func @dynamic_per_token
// CHECK: %[[S:.*]] = quark.compute_qparams %[[X:.*]] {spec = #{{.*}}} : tensor<3x4xf32> -> tensor<3xf32>
// CHECK: %[[Q:.*]] = quark.quantize %[[X]] scale(%[[S]] : tensor<3xf32>) {{.*}} -> tensor<3x4x!quark.qfloat<fp8_e4m3>>
// CHECK: quark.dequantize %[[Q]] scale(%[[S]] : tensor<3xf32>)
func.func @dynamic_per_token(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %0 = quark.fake_quant %x {spec = #ptpc} : tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// CHECK-LABEL: func @dynamic_asymmetric
// CHECK: %[[S:.*]], %[[Z:.*]] = quark.compute_qparams %{{.*}} : tensor<2x8xf32> -> tensor<2x2xf32>, tensor<2x2xi32>
// CHECK: quark.quantize %{{.*}} scale(%[[S]] : tensor<2x2xf32>) zero_point(%[[Z]] : tensor<2x2xi32>) {{.*}} -> tensor<2x8x!quant.any<u4:f32>>
func.func @dynamic_asymmetric(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = quark.fake_quant %x {spec = #uint4_dyn} : tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// CHECK-LABEL: func @mx_without_scales
// CHECK: %[[S:.*]] = quark.compute_qparams %{{.*}} : tensor<2x64xf32> -> tensor<2x2xf32>
// CHECK: quark.quantize %{{.*}} scale(%[[S]] : tensor<2x2xf32>) {{.*}} -> tensor<2x64x!quark.qfloat<fp4>>
func.func @mx_without_scales(%x: tensor<2x64xf32>) -> tensor<2x64xf32> {
  %0 = quark.fake_quant %x {spec = #mxfp4} : tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// MXINT8 codes are int8 quant types.
// CHECK-LABEL: func @mx_int8
// CHECK: -> tensor<1x32x!quant.any<i8:f32>>
func.func @mx_int8(%x: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %0 = quark.fake_quant %x {spec = #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = int8>} : tensor<1x32xf32>
  return %0 : tensor<1x32xf32>
}

// Block formats have no storage form and stay simulated.
// CHECK-LABEL: func @block_format_kept
// CHECK: quark.fake_quant
// CHECK-NOT: quark.quantize
func.func @block_format_kept(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %0 = quark.fake_quant %x {spec = #quark.spec<dtype = bfp16, ch_axis = -1, group_size = 8>} : tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// NVFP4 activations: the block scales (quantized under the calibrated
// second scale) feed the first stage's quantize and dequantize.
// CHECK-LABEL: func @nvfp4
// CHECK-SAME: (%[[X:.*]]: tensor<2x32xf32>, %[[G:.*]]: tensor<f32>)
// CHECK: %[[S:.*]] = quark.compute_block_scales %[[X]] second_scale(%[[G]] : tensor<f32>) {spec = #{{.*}}} : tensor<2x32xf32> -> tensor<2x2xf32>
// CHECK: %[[Q:.*]] = quark.quantize %[[X]] scale(%[[S]] : tensor<2x2xf32>) {{.*}} -> tensor<2x32x!quark.qfloat<fp4>>
// CHECK: quark.dequantize %[[Q]] scale(%[[S]] : tensor<2x2xf32>)
// Without a calibrated scale the op derives it from the data.
// CHECK: quark.compute_block_scales %[[X]] {spec = #{{.*}}} : tensor<2x32xf32> -> tensor<2x2xf32>
func.func @nvfp4(%x: tensor<2x32xf32>, %g: tensor<f32>) -> (tensor<2x32xf32>, tensor<2x32xf32>) {
  %0 = quark.two_stage_fake_quant %x second_scale(%g : tensor<f32>) {spec = #nvfp4} : tensor<2x32xf32>
  %1 = quark.two_stage_fake_quant %x {spec = #nvfp4} : tensor<2x32xf32>
  return %0, %1 : tensor<2x32xf32>, tensor<2x32xf32>
}

// Progressive specs (int4_fp8) have no single code tensor: kept.
// CHECK-LABEL: func @progressive_kept
// CHECK: quark.two_stage_fake_quant
// CHECK-NOT: quark.quantize
func.func @progressive_kept(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = quark.two_stage_fake_quant %x {spec = #int4_fp8} : tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// Casts become a quantize to the narrow type and an extension back.
// CHECK-LABEL: func @cast
// CHECK: %[[Q:.*]] = quark.quantize %{{.*}} {spec = #{{.*}}} : tensor<4xf32> -> tensor<4xbf16>
// CHECK: quark.dequantize %[[Q]] {spec = #{{.*}}} : tensor<4xbf16> -> tensor<4xf32>
func.func @cast(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = quark.fake_quant %x {spec = #quark.spec<dtype = bfloat16, observer_cls = PlaceholderObserver>} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// Numerical equivalence on constants.
// NUM-LABEL: func @constants
// Row 0 per token: scale 3/448; 1.0 -> 149.33 -> e4m3 step 16 -> 144 -> 0.9642857.
// NUM-DAG: arith.constant dense<{{\[}}[0.964285731, -1.92857146, 3.000000e+00, 0.0100446427], [5.000000e-01, 2.500000e-01, -1.000000e+00, 1.000000e+00]]> : tensor<2x4xf32>
// uint4 over [0, 4]: scale 4/15; 2 * (1 / scale) = 7.4999995 in float32 -> 7.
// NUM-DAG: arith.constant dense<{{\[}}[1.06666672, 1.86666679, 2.9333334, 4.000000e+00, 4.800000e+00, 5.86666679, 6.93333387, 8.000000e+00]]> : tensor<1x8xf32>
// NUM-DAG: arith.constant dense<{{\[}}[1.0078125, 2.296875, 3.296875, 6.312500e+00]]> : tensor<1x4xf32>
func.func @constants() -> (tensor<2x4xf32>, tensor<1x8xf32>, tensor<1x4xf32>) {
  %x = arith.constant dense<[[1.0, -2.0, 3.0, 0.01], [0.5, 0.25, -1.0, 1.0]]> : tensor<2x4xf32>
  %0 = quark.fake_quant %x {spec = #ptpc} : tensor<2x4xf32>
  %y = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]> : tensor<1x8xf32>
  %1 = quark.fake_quant %y {spec = #uint4_dyn} : tensor<1x8xf32>
  %z = arith.constant dense<[[1.01, 2.3, 3.3, 6.3]]> : tensor<1x4xf32>
  %2 = quark.fake_quant %z {spec = #quark.spec<dtype = bfloat16, observer_cls = PlaceholderObserver>} : tensor<1x4xf32>
  return %0, %1, %2 : tensor<2x4xf32>, tensor<1x8xf32>, tensor<1x4xf32>
}

// NVFP4 with second scale 1/256: the block amax 2.9 gives 2.9 / 6, which
// is 123.7 units of the second scale, e4m3 120 (the step is 8 there):
// block scale 0.46875. Then 2.9 -> 6.19 saturates at fp4 6 (2.8125),
// 1.3 -> 2.77 -> 3 (1.40625), -0.7 -> -1.49 -> -1.5, 0.2 -> 0.43 -> 0.5.
// NUM-LABEL: func @nvfp4_constants
// NUM: arith.constant dense<{{\[}}[2.812500e+00, 1.406250e+00, -7.031250e-01, 2.343750e-01, 0.000000e+00,
func.func @nvfp4_constants() -> tensor<1x16xf32> {
  %x = arith.constant dense<[[2.9, 1.3, -0.7, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x16xf32>
  %g = arith.constant dense<0.00390625> : tensor<f32>
  %0 = quark.two_stage_fake_quant %x second_scale(%g : tensor<f32>) {spec = #nvfp4} : tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}
