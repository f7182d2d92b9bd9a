// RUN: quark-opt %s --quark-fold-constants --canonicalize 2>&1 | FileCheck %s
// Quark's numerics on constants: every expected value is worked out in the
// comment above its check.

// CHECK: warning: not folded: scale_type = pof2 (power-of-two observers) is not supported by this build's numerics

#int8_t = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#int4_t = #quark.spec<dtype = int4, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#uint8_t = #quark.spec<dtype = uint8, qscheme = per_tensor, symmetric = false, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
#mxfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
#mxfp4_floor = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, scale_format = e8m0, scale_calculation_mode = floor, observer_cls = PerBlockMXObserver>

// CHECK-LABEL: func @int8_fake_quant
func.func @int8_fake_quant() -> tensor<4xf32> {
  // scale 0.01: 0.5 -> 50; -1.26 -> -126; 100 -> 10000 clamps to 127;
  // -2 -> -200 clamps to -128.
  // CHECK: arith.constant dense<[5.000000e-01, -1.260000e+00, 1.270000e+00, -1.280000e+00]> : tensor<4xf32>
  %x = arith.constant dense<[0.5, -1.26, 100.0, -2.0]> : tensor<4xf32>
  %s = arith.constant dense<0.01> : tensor<f32>
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #int8_t} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// CHECK-LABEL: func @uint8_codes
func.func @uint8_codes() -> tensor<3x!quant.any<u8:f32>> {
  // scale 0.5, zero point 128: 0 -> 128, 1 -> 130, -1 -> 126 (signless i8
  // storage prints 128 and 130 as negative).
  // CHECK: %[[C:.*]] = arith.constant dense<[-128, -126, 126]> : tensor<3xi8>
  // CHECK: quark.storage_cast %[[C]] : tensor<3xi8> -> tensor<3x!quant.any<u8:f32>>
  %x = arith.constant dense<[0.0, 1.0, -1.0]> : tensor<3xf32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<128> : tensor<i32>
  %0 = quark.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i32>) {spec = #uint8_t} : tensor<3xf32> -> tensor<3x!quant.any<u8:f32>>
  return %0 : tensor<3x!quant.any<u8:f32>>
}

// CHECK-LABEL: func @fp8_codes
func.func @fp8_codes() -> tensor<4x!quark.qfloat<fp8_e4m3>> {
  // Saturating at 448, -0 kept, 17 ties to 16.
  // CHECK: %[[C:.*]] = arith.constant dense<[4.480000e+02, 4.480000e+02, -0.000000e+00, 1.600000e+01]> : tensor<4xf8E4M3FN>
  // CHECK: quark.storage_cast %[[C]] : tensor<4xf8E4M3FN> -> tensor<4x!quark.qfloat<fp8_e4m3>>
  %x = arith.constant dense<[448.0, 1000.0, -0.0, 17.0]> : tensor<4xf32>
  %s = arith.constant dense<1.0> : tensor<f32>
  %0 = quark.quantize %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<4xf32> -> tensor<4x!quark.qfloat<fp8_e4m3>>
  return %0 : tensor<4x!quark.qfloat<fp8_e4m3>>
}

// CHECK-LABEL: func @mxfp4_pack
func.func @mxfp4_pack() -> (tensor<1x1xf32>, tensor<1x16xui8>) {
  // amax 3 = 1.5 * 2: scale 2^(1 - 2) = 0.5. Codes: 1.75 / 0.5 = 3.5 ties to
  // 4 (code 6); 0.5 / 0.5 = 1 (code 2); -3 / 0.5 = -6 (code 0xF). Bytes,
  // even element in the low nibble: 0x26 = 38, 0x0F = 15.
  // CHECK-DAG: arith.constant dense<5.000000e-01> : tensor<1x1xf32>
  // CHECK-DAG: arith.constant dense<{{\[}}[38, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]> : tensor<1x16xui8>
  %x = arith.constant dense<[[1.75, 0.5, -3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                              0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x32xf32>
  %s = quark.compute_qparams %x {spec = #mxfp4} : tensor<1x32xf32> -> tensor<1x1xf32>
  %q = quark.quantize %x scale(%s : tensor<1x1xf32>) {spec = #mxfp4} : tensor<1x32xf32> -> tensor<1x32x!quark.qfloat<fp4>>
  %p = quark.pack %q : tensor<1x32x!quark.qfloat<fp4>> -> tensor<1x16xui8>
  return %s, %p : tensor<1x1xf32>, tensor<1x16xui8>
}

// CHECK-LABEL: func @mx_scale_modes
func.func @mx_scale_modes() -> (tensor<1x1xf32>, tensor<1x1xf32>) {
  // amax 1.75: "even" rounds up to 2 (scale 2^-1), "floor" keeps 1 (2^-2).
  // CHECK-DAG: arith.constant dense<5.000000e-01> : tensor<1x1xf32>
  // CHECK-DAG: arith.constant dense<2.500000e-01> : tensor<1x1xf32>
  %x = arith.constant dense<1.75> : tensor<1x32xf32>
  %0 = quark.compute_qparams %x {spec = #mxfp4} : tensor<1x32xf32> -> tensor<1x1xf32>
  %1 = quark.compute_qparams %x {spec = #mxfp4_floor} : tensor<1x32xf32> -> tensor<1x1xf32>
  return %0, %1 : tensor<1x1xf32>, tensor<1x1xf32>
}

// CHECK-LABEL: func @int4_pack_orders
func.func @int4_pack_orders() -> (tensor<1x1xi32>, tensor<1x1xi32>) {
  // Codes 0..7; "order" packs 0x76543210, "reorder" 0x75316420.
  // CHECK-DAG: arith.constant dense<1985229328> : tensor<1x1xi32>
  // CHECK-DAG: arith.constant dense<1966171168> : tensor<1x1xi32>
  %x = arith.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]> : tensor<1x8xf32>
  %s = arith.constant dense<1.0> : tensor<f32>
  %q = quark.quantize %x scale(%s : tensor<f32>) {spec = #int4_t} : tensor<1x8xf32> -> tensor<1x8x!quant.any<i4:f32>>
  %0 = quark.pack %q pack_method = order : tensor<1x8x!quant.any<i4:f32>> -> tensor<1x1xi32>
  %1 = quark.pack %q pack_method = reorder : tensor<1x8x!quant.any<i4:f32>> -> tensor<1x1xi32>
  return %0, %1 : tensor<1x1xi32>, tensor<1x1xi32>
}

// CHECK-LABEL: func @unpack_dequantize
func.func @unpack_dequantize() -> tensor<1x8xf32> {
  // 0x7F5316E0 has nibble slots 0..7 = 0, E, 6, 1, 3, 5, F, 7; slot i holds
  // element [0,2,4,6,1,3,5,7][i], so the elements are 0, 3, -2, 5, 6, -1, 1,
  // 7 (E = -2, F = -1). Scale 0.5 halves them.
  // CHECK: arith.constant dense<{{\[}}[0.000000e+00, 1.500000e+00, -1.000000e+00, 2.500000e+00, 3.000000e+00, -5.000000e-01, 5.000000e-01, 3.500000e+00]]> : tensor<1x8xf32>
  %p = arith.constant dense<0x7F5316E0> : tensor<1x1xi32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %q = quark.unpack %p pack_method = reorder : tensor<1x1xi32> -> tensor<1x8x!quant.any<i4:f32>>
  %d = quark.dequantize %q scale(%s : tensor<f32>) {spec = #int4_t} : tensor<1x8x!quant.any<i4:f32>> -> tensor<1x8xf32>
  return %d : tensor<1x8xf32>
}

// CHECK-LABEL: func @uniform_type
func.func @uniform_type() -> tensor<3x!quant.uniform<i8:f32, 5.000000e-01>> {
  // The scale comes from the type: 0.5.
  // CHECK: arith.constant dense<[1, 2, -6]> : tensor<3xi8>
  %x = arith.constant dense<[0.5, 1.0, -3.0]> : tensor<3xf32>
  %0 = quark.quantize %x {spec = #int8_t} : tensor<3xf32> -> tensor<3x!quant.uniform<i8:f32, 0.5>>
  return %0 : tensor<3x!quant.uniform<i8:f32, 0.5>>
}

// CHECK-LABEL: func @block_formats
func.func @block_formats() -> (tensor<16xf32>, tensor<8xf32>) {
  // The MX6 golden block of test/reference/blockfloat_golden.py (block 0).
  // CHECK-DAG: arith.constant dense<[1.000000e+00, 2.500000e-01, -2.500000e-01, 2.500000e-01, 8.750000e-01, -0.000000e+00, 5.000000e-01, 5.000000e-01, 0.000000e+00, -7.500000e-01, 1.250000e-01, 1.250000e-01, 3.000000e+00, -3.000000e+00, 0.000000e+00, 0.000000e+00]> : tensor<16xf32>
  // BFP16: 127.9 rounds to 128 at step 1, so the block uses step 2.
  // CHECK-DAG: arith.constant dense<[1.280000e+02, 0.000000e+00, -4.000000e+00, 6.400000e+01, 0.000000e+00, -1.000000e+02, 1.200000e+01, 0.000000e+00]> : tensor<8xf32>
  %x = arith.constant dense<[1.0, 0.30000001192092896, -0.20000000298023224, 0.25999999046325684, 0.8999999761581421, -0.05000000074505806, 0.49000000953674316, 0.5099999904632568, 0.0010000000474974513, -0.699999988079071, 0.125, 0.12600000202655792, 3.0, -2.9000000953674316, 0.0, 0.0]> : tensor<16xf32>
  %0 = quark.fake_quant %x {spec = #quark.spec<dtype = mx6, ch_axis = 0, group_size = 16>} : tensor<16xf32>
  %y = arith.constant dense<[127.9000015258789, 1.0, -3.0, 64.0, 0.10000000149011612, -100.0, 12.0, 0.0]> : tensor<8xf32>
  %1 = quark.fake_quant %y {spec = #quark.spec<dtype = bfp16, ch_axis = 0, group_size = 8>} : tensor<8xf32>
  return %0, %1 : tensor<16xf32>, tensor<8xf32>
}

// CHECK-LABEL: func @bf16_cast
func.func @bf16_cast() -> tensor<2xbf16> {
  // CHECK: arith.constant dense<[1.000000e+00, 1.015630e+00]> : tensor<2xbf16>
  %x = arith.constant dense<[1.00390625, 1.01171875]> : tensor<2xf32>
  %0 = quark.quantize %x {spec = #quark.spec<dtype = bfloat16, observer_cls = PlaceholderObserver>} : tensor<2xf32> -> tensor<2xbf16>
  return %0 : tensor<2xbf16>
}

// Non-constant operands are left alone.
// CHECK-LABEL: func @not_constant
// CHECK: quark.fake_quant
func.func @not_constant(%s: tensor<f32>) -> tensor<2xf32> {
  %x = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #int8_t} : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// Parts of Quark's model the numerics do not compute are reported, not
// guessed (the warning is checked at the top: diagnostics come first).
// CHECK-LABEL: func @pof2
// CHECK: quark.fake_quant
func.func @pof2() -> tensor<2xf32> {
  %x = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %s = arith.constant dense<1.0> : tensor<f32>
  %0 = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = pof2, observer_cls = PerTensorPowOf2MinMaxObserver>} : tensor<2xf32>
  return %0 : tensor<2xf32>
}
