// RUN: quark-dialect-opt %s | FileCheck %s
// Round trip: the printed form parses back to the same IR.
// RUN: quark-dialect-opt %s | quark-dialect-opt | FileCheck %s
// RUN: quark-dialect-opt %s --mlir-print-op-generic | quark-dialect-opt | FileCheck %s

// Specs of Quark's built-in schemes.
#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, round_method = half_even, scale_type = float, symmetric = true>
#int8_ch = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
#uint4_g = #quark.spec<dtype = uint4, qscheme = per_group, ch_axis = 1, group_size = 32, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
#int4_g = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = -1, group_size = 32, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
#mxfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, scale_format = e8m0, scale_calculation_mode = even, scale_type = float, round_method = half_even, observer_cls = PerBlockMXObserver>
#ptpc = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, is_dynamic = true, observer_cls = PerChannelMinMaxObserver>

// CHECK-DAG: #[[FP8:[a-z0-9_]+]] = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
// CHECK-DAG: #[[INT8:[a-z0-9_]+]] = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
// CHECK-DAG: #[[UINT4:[a-z0-9_]+]] = #quark.spec<dtype = uint4, qscheme = per_group, ch_axis = 1, group_size = 32, symmetric = false
// CHECK-DAG: #[[BF16:[a-z0-9_]+]] = #quark.spec<dtype = bfloat16, observer_cls = PlaceholderObserver>
// CHECK-DAG: #[[SCALE_QUANT:[a-z0-9_]+]] = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
// CHECK-DAG: #[[NVFP4_IN:[a-z0-9_]+]] = #quark.two_stage<#spec_fp4_{{[0-9]+}}, #[[SCALE_QUANT]]>
// CHECK-DAG: #[[NVFP4:[a-z0-9_]+]] = #quark.layer_spec<input_tensors = #[[NVFP4_IN]], weight = #two_stage{{[0-9]*}}>
// CHECK-DAG: #[[INT4FP8:[a-z0-9_]+]] = #quark.layer_spec<weight = #two_stage{{[0-9]*}}, bias = #[[BF16]]>
// CHECK-DAG: #[[MXFP4:[a-z0-9_]+]] = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, round_method = half_even, scale_type = float, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>

// CHECK-LABEL: func @fake_quant
func.func @fake_quant(%x: tensor<16x64xf32>, %s: tensor<f32>, %sc: tensor<16xf32>,
                      %sg: tensor<16x2xf32>, %zg: tensor<16x2xi32>) -> tensor<16x64xf32> {
  // CHECK: quark.fake_quant %{{.*}} scale(%{{.*}} : tensor<f32>) {spec = #[[FP8]]} : tensor<16x64xf32>
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<16x64xf32>
  // CHECK: quark.fake_quant %{{.*}} scale(%{{.*}} : tensor<16xf32>) {spec = #[[INT8]]}
  %1 = quark.fake_quant %0 scale(%sc : tensor<16xf32>) {spec = #int8_ch} : tensor<16x64xf32>
  // CHECK: quark.fake_quant %{{.*}} scale(%{{.*}} : tensor<16x2xf32>) zero_point(%{{.*}} : tensor<16x2xi32>) {spec = #[[UINT4]]}
  %2 = quark.fake_quant %1 scale(%sg : tensor<16x2xf32>) zero_point(%zg : tensor<16x2xi32>) {spec = #uint4_g} : tensor<16x64xf32>
  // MX scales may be omitted: they are derived from each block.
  // CHECK: quark.fake_quant %{{.*}} {spec = #[[MXFP4]]} : tensor<16x64xf32>
  %3 = quark.fake_quant %2 {spec = #mxfp4} : tensor<16x64xf32>
  // Dynamic, block and cast formats take no parameters.
  // CHECK: quark.fake_quant %{{.*}} {spec = #{{.*}}} : tensor<16x64xf32>
  %4 = quark.fake_quant %3 {spec = #ptpc} : tensor<16x64xf32>
  %5 = quark.fake_quant %4 {spec = #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = int8>} : tensor<16x64xf32>
  %6 = quark.fake_quant %5 {spec = #quark.spec<dtype = mx6, ch_axis = -1, group_size = 32, scale_calculation_mode = even>} : tensor<16x64xf32>
  %7 = quark.fake_quant %6 {spec = #quark.spec<dtype = mx9, ch_axis = -1, group_size = 16>} : tensor<16x64xf32>
  %8 = quark.fake_quant %7 {spec = #quark.spec<dtype = bfp16, ch_axis = -1, group_size = 8>} : tensor<16x64xf32>
  // CHECK: quark.fake_quant %{{.*}} {spec = #[[BF16]]}
  %9 = quark.fake_quant %8 {spec = #quark.spec<dtype = bfloat16, observer_cls = PlaceholderObserver>} : tensor<16x64xf32>
  return %9 : tensor<16x64xf32>
}

// CHECK-LABEL: func @codes
func.func @codes(%x: tensor<16x64xf32>, %s: tensor<f32>, %sc: tensor<16xf32>,
                 %e8: tensor<16x2xf8E8M0FNU>) {
  // CHECK: quark.quantize %{{.*}} : tensor<16x64xf32> -> tensor<16x64x!quark.qfloat<fp8_e4m3>>
  %q0 = quark.quantize %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<16x64xf32> -> tensor<16x64x!quark.qfloat<fp8_e4m3>>
  // CHECK: quark.dequantize %{{.*}} : tensor<16x64x!quark.qfloat<fp8_e4m3>> -> tensor<16x64xbf16>
  %d0 = quark.dequantize %q0 scale(%s : tensor<f32>) {spec = #fp8} : tensor<16x64x!quark.qfloat<fp8_e4m3>> -> tensor<16x64xbf16>
  // A progressive spec's first stage scales values already decoded.
  // CHECK: quark.dequantize %{{.*}} : tensor<16x64xf32> -> tensor<16x64xbf16>
  %d2 = quark.dequantize %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<16x64xf32> -> tensor<16x64xbf16>
  // Integer codes reuse the upstream quant types.
  // CHECK: -> tensor<16x64x!quant.any<i8:f32>>
  %q1 = quark.quantize %x scale(%sc : tensor<16xf32>) {spec = #int8_ch} : tensor<16x64xf32> -> tensor<16x64x!quant.any<i8:f32>>
  // A !quant.uniform type carries its own scale.
  // CHECK: quark.quantize %{{.*}} {spec = #{{.*}}} : tensor<16x64xf32> -> tensor<16x64x!quant.uniform<i8:f32, 5.000000e-01>>
  %q2 = quark.quantize %x {spec = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>} : tensor<16x64xf32> -> tensor<16x64x!quant.uniform<i8:f32, 0.5>>
  %q3 = quark.quantize %x {spec = #int8_ch} : tensor<16x64xf32> -> tensor<16x64x!quant.uniform<i8:f32:0, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}>>
  // MX fp4 codes with E8M0 scales.
  // CHECK: quark.quantize %{{.*}} scale(%{{.*}} : tensor<16x2xf8E8M0FNU>) {spec = #[[MXFP4]]} : tensor<16x64xf32> -> tensor<16x64x!quark.qfloat<fp4>>
  %q4 = quark.quantize %x scale(%e8 : tensor<16x2xf8E8M0FNU>) {spec = #mxfp4} : tensor<16x64xf32> -> tensor<16x64x!quark.qfloat<fp4>>
  // Casts produce the builtin type.
  // CHECK: -> tensor<16x64xf16>
  %q5 = quark.quantize %x {spec = #quark.spec<dtype = float16, observer_cls = PlaceholderObserver>} : tensor<16x64xf32> -> tensor<16x64xf16>
  // Dynamic parameters, materialized.
  // CHECK: quark.compute_qparams %{{.*}} {spec = #{{.*}}} : tensor<16x64xf32> -> tensor<16xf32>
  %s6 = quark.compute_qparams %x {spec = #ptpc} : tensor<16x64xf32> -> tensor<16xf32>
  %q6 = quark.quantize %x scale(%s6 : tensor<16xf32>) {spec = #ptpc} : tensor<16x64xf32> -> tensor<16x64x!quark.qfloat<fp8_e4m3>>
  // CHECK: quark.compute_qparams %{{.*}} : tensor<16x64xf32> -> tensor<16x2xf32>, tensor<16x2xi32>
  %s7, %z7 = quark.compute_qparams %x {spec = #uint4_g} : tensor<16x64xf32> -> tensor<16x2xf32>, tensor<16x2xi32>
  return
}

// CHECK-LABEL: func @packing
func.func @packing(%i4: tensor<8x20x!quant.any<i4:f32>>, %u4: tensor<8x64x!quant.any<u4:f32>>,
                   %f4: tensor<8x64x!quark.qfloat<fp4>>, %f6: tensor<8x64x!quark.qfloat<fp6_e2m3>>,
                   %i3: tensor<8x64x!quant.any<i3:f32>>) {
  // A partial last word: 20 codes -> 3 words.
  // CHECK: quark.pack %{{.*}} pack_method = reorder : tensor<8x20x!quant.any<i4:f32>> -> tensor<8x3xi32>
  %0 = quark.pack %i4 pack_method = reorder : tensor<8x20x!quant.any<i4:f32>> -> tensor<8x3xi32>
  // CHECK: quark.pack %{{.*}} pack_method = order : tensor<8x64x!quant.any<u4:f32>> -> tensor<8x8xi32>
  %1 = quark.pack %u4 pack_method = order : tensor<8x64x!quant.any<u4:f32>> -> tensor<8x8xi32>
  // CHECK: quark.pack %{{.*}} : tensor<8x64x!quark.qfloat<fp4>> -> tensor<8x32xui8>
  %2 = quark.pack %f4 : tensor<8x64x!quark.qfloat<fp4>> -> tensor<8x32xui8>
  // CHECK: quark.pack %{{.*}} : tensor<8x64x!quark.qfloat<fp6_e2m3>> -> tensor<8x48xui8>
  %3 = quark.pack %f6 : tensor<8x64x!quark.qfloat<fp6_e2m3>> -> tensor<8x48xui8>
  // CHECK: quark.pack %{{.*}} : tensor<8x64x!quant.any<i3:f32>> -> tensor<8x24xui8>
  %4 = quark.pack %i3 : tensor<8x64x!quant.any<i3:f32>> -> tensor<8x24xui8>
  // CHECK: quark.unpack %{{.*}} pack_method = reorder : tensor<8x3xi32> -> tensor<8x20x!quant.any<i4:f32>>
  %5 = quark.unpack %0 pack_method = reorder : tensor<8x3xi32> -> tensor<8x20x!quant.any<i4:f32>>
  // CHECK: quark.unpack %{{.*}} : tensor<8x48xui8> -> tensor<8x64x!quark.qfloat<fp6_e2m3>>
  %6 = quark.unpack %3 : tensor<8x48xui8> -> tensor<8x64x!quark.qfloat<fp6_e2m3>>
  return
}

// CHECK-LABEL: func @observe
func.func @observe(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  // CHECK: quark.observe %{{.*}} {max_values = dense<2.500000e+00> : tensor<f32>, min_values = dense<-3.000000e+00> : tensor<f32>, name = "layers.0.q_proj.input", spec = #[[FP8]]} : tensor<16x64xf32>
  %0 = quark.observe %x {spec = #fp8, name = "layers.0.q_proj.input", min_values = dense<-3.0> : tensor<f32>, max_values = dense<2.5> : tensor<f32>} : tensor<16x64xf32>
  // CHECK: histogram = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>, histogram_edges = dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<5xf32>
  %1 = quark.observe %0 {spec = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorHistogramObserver>, histogram = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>, histogram_edges = dense<[0.0, 1.0, 2.0, 3.0, 4.0]> : tensor<5xf32>} : tensor<16x64xf32>
  // Per-channel statistics are shaped like the scale.
  // CHECK: min_values = dense<0.000000e+00> : tensor<16xf32>
  %2 = quark.observe %1 {spec = #int8_ch, min_values = dense<0.0> : tensor<16xf32>, max_values = dense<1.0> : tensor<16xf32>} : tensor<16x64xf32>
  return %2 : tensor<16x64xf32>
}

// Layer and two-stage specs (NVFP4 and Quark's int4_fp8), every enum value.
// CHECK-LABEL: func @layer_specs
// CHECK-SAME: quark.int4_fp8 = #[[INT4FP8]], quark.nvfp4 = #[[NVFP4]]
func.func @layer_specs() attributes {
  quark.nvfp4 = #quark.layer_spec<
    input_tensors = #quark.two_stage<
      #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, scale_format = e4m3, observer_cls = PerBlockMXObserver>,
      #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>>,
    weight = #quark.two_stage<
      #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = false, scale_format = e4m3, observer_cls = PerBlockMXObserver>,
      #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>>>,
  quark.int4_fp8 = #quark.layer_spec<
    weight = #quark.two_stage<
      #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>,
      #quark.spec<dtype = int4, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>>,
    bias = #quark.spec<dtype = bfloat16, observer_cls = PlaceholderObserver>>,
  quark.amdfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = false, scale_format = e5m3, scale_type = float8_e5m3, observer_cls = PerGroupMinMaxObserver>,
  quark.per_block = #quark.spec<dtype = fp8_e4m3, qscheme = per_block, block_size = [128, 128], is_dynamic = false, observer_cls = PerBlock2DMinMaxObserver>,
  quark.enums = [
    #quark.spec<dtype = int2, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = round, scale_type = pof2, observer_cls = PerTensorPowOf2MinMaxObserver>,
    #quark.spec<dtype = int3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = floor, scale_type = float32, observer_cls = PerTensorPowOf2MinMSEObserver>,
    #quark.spec<dtype = uint8, qscheme = per_tensor, symmetric = false, is_dynamic = true, round_method = half_even, scale_type = float16, observer_cls = PerTensorHistogramObserverPro>,
    #quark.spec<dtype = int16, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = bfloat16, observer_cls = PerTensorPercentileObserver>,
    #quark.spec<dtype = uint16, qscheme = per_tensor, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float8_e8m0fnu, observer_cls = PerTensorMSEObserver>,
    #quark.spec<dtype = int32, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = TQTObserver>,
    #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelPowOf2MinMaxObserver>,
    #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelPowOf2MinMSEObserver>,
    #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = LSQObserver>,
    #quark.spec<dtype = fp8_e4m3fnuz, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>,
    #quark.spec<dtype = fp8_e5m2, qscheme = per_tensor, is_dynamic = true, observer_cls = PerTensorMinMaxObserver>,
    #quark.spec<dtype = fp8_e5m2fnuz, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>,
    #quark.spec<dtype = fp8_e5m3, qscheme = per_tensor, observer_cls = PerTensorMinMaxObserver>,
    #quark.spec<dtype = fp6_e2m3, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = true, scale_format = e8m0, scale_calculation_mode = floor, observer_cls = PerBlockMXBufferReuseObserver>,
    #quark.spec<dtype = fp6_e3m2, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = true, scale_format = e8m0, scale_calculation_mode = ceil, observer_cls = PerBlockMXDiffsObserver>,
    #quark.spec<dtype = fp8_e5m2, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, scale_format = e8m0, observer_cls = PerBlockMXObserver>,
    #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, scale_format = float32, observer_cls = PerBlockBFPObserver>,
    #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = fp8_e4m3, qscheme = per_group>,
    #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = fp8_e5m2>,
    #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = fp6_e2m3>,
    #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = fp6_e3m2>,
    #quark.spec<dtype = mx, ch_axis = -1, group_size = 32, mx_element_dtype = fp4, observer_cls = UniformScalingObserver>,
    #quark.spec<dtype = float16>
  ]} {
  return
}

// The qfloat types.
// CHECK-LABEL: func @qfloat_types
// CHECK-SAME: tensor<4x!quark.qfloat<fp8_e4m3fnuz>>, %{{.*}}: tensor<4x!quark.qfloat<fp8_e5m2>>, %{{.*}}: tensor<4x!quark.qfloat<fp8_e5m2fnuz>>, %{{.*}}: tensor<4x!quark.qfloat<fp8_e5m3>>, %{{.*}}: tensor<4x!quark.qfloat<fp6_e3m2>>
func.func @qfloat_types(%a: tensor<4x!quark.qfloat<fp8_e4m3fnuz>>, %b: tensor<4x!quark.qfloat<fp8_e5m2>>,
                        %c: tensor<4x!quark.qfloat<fp8_e5m2fnuz>>, %d: tensor<4x!quark.qfloat<fp8_e5m3>>,
                        %e: tensor<4x!quark.qfloat<fp6_e3m2>>) {
  return
}

// CHECK-LABEL: func @storage_cast
func.func @storage_cast(%a: tensor<2xf8E4M3FN>, %b: tensor<4xi4>, %c: tensor<2xui8>) {
  // CHECK: quark.storage_cast %{{.*}} : tensor<2xf8E4M3FN> -> tensor<2x!quark.qfloat<fp8_e4m3>>
  %0 = quark.storage_cast %a : tensor<2xf8E4M3FN> -> tensor<2x!quark.qfloat<fp8_e4m3>>
  // CHECK: quark.storage_cast %{{.*}} : tensor<4xi4> -> tensor<4x!quant.any<i4:f32>>
  %1 = quark.storage_cast %b : tensor<4xi4> -> tensor<4x!quant.any<i4:f32>>
  // CHECK: quark.storage_cast %{{.*}} : tensor<2xui8> -> tensor<2x!quark.qfloat<fp8_e5m3>>
  %2 = quark.storage_cast %c : tensor<2xui8> -> tensor<2x!quark.qfloat<fp8_e5m3>>
  // CHECK: quark.storage_cast %{{.*}} : tensor<2x!quark.qfloat<fp8_e4m3>> -> tensor<2xf8E4M3FN>
  %3 = quark.storage_cast %0 : tensor<2x!quark.qfloat<fp8_e4m3>> -> tensor<2xf8E4M3FN>
  return
}
