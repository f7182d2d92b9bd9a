// RUN: quark-opt %s --convert-quark-to-linalg --split-input-file -verify-diagnostics | FileCheck %s

// W4A16: the unpack of Quark's reorder layout and the per-group
// dequantization are fused into the GEMM, which reads packed words and
// scales through `k floordiv 8` and `k floordiv 128`.
#int4_g128 = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 128, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[WORD:.*]] = affine_map<(d0, d1, d2) -> (d1, d2 floordiv 8)>
// CHECK-DAG: #[[GROUP:.*]] = affine_map<(d0, d1, d2) -> (d1, d2 floordiv 128)>
// CHECK-LABEL: func.func @w4a16(
// CHECK-SAME: %[[ARG0:.*]]: tensor<2x8x256xbf16>, %[[ARG1:.*]]: tensor<64x32xi32>, %[[ARG2:.*]]: tensor<64x2xf32>) -> tensor<2x8x64xbf16>
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[ARG0]] {{\[\[}}0, 1], [2]] : tensor<2x8x256xbf16> into tensor<16x256xbf16>
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[WORD]], #[[GROUP]], {{.*}}], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[ROWS]], %[[ARG1]], %[[ARG2]] : tensor<16x256xbf16>, tensor<64x32xi32>, tensor<64x2xf32>)
// CHECK: arith.shrui
// CHECK: arith.trunci %{{.*}} : i32 to i4
// CHECK: arith.extsi %{{.*}} : i4 to i32
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: tensor.expand_shape
func.func @w4a16(%x: tensor<2x8x256xbf16>, %packed: tensor<64x32xi32>, %s: tensor<64x2xf32>) -> tensor<2x8x64xbf16> {
  %q = quark.unpack %packed pack_method = reorder : tensor<64x32xi32> -> tensor<64x256x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<64x2xf32>) {spec = #int4_g128} : tensor<64x256x!quant.any<i4:f32>> -> tensor<64x256xf32>
  %y = quark.linear %x, %w {name = "l"} : tensor<2x8x256xbf16>, tensor<64x256xf32> -> tensor<2x8x64xbf16>
  return %y : tensor<2x8x64xbf16>
}

// -----

// W8A8 int8: the GEMM multiplies the codes with i32 accumulation; the
// scales (per tensor, per channel) and the bias come in the epilogue.
#int8_t = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#int8_c = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
// CHECK-LABEL: func.func @w8a8_int8(
// CHECK-SAME: %{{.*}}: tensor<4x32xi8>
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i32
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: linalg.fill ins(%{{.*}} : i32)
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: tensor<2x32xi8>, tensor<4x32xi8>
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: linalg.generic
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: arith.mulf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK-NOT: quark.
func.func @w8a8_int8(%x: tensor<2x32xf32>, %sx: tensor<f32>, %wc: tensor<4x32xi8>, %sw: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %qx = quark.quantize %x scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<2x32xf32> -> tensor<2x32x!quant.any<i8:f32>>
  %dx = quark.dequantize %qx scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<2x32x!quant.any<i8:f32>> -> tensor<2x32xf32>
  %qw = quark.storage_cast %wc : tensor<4x32xi8> -> tensor<4x32x!quant.any<i8:f32>>
  %dw = quark.dequantize %qw scale(%sw : tensor<4xf32>) {spec = #int8_c} : tensor<4x32x!quant.any<i8:f32>> -> tensor<4x32xf32>
  %y = quark.linear %dx, %dw, %b {name = "l"} : tensor<2x32xf32>, tensor<4x32xf32>, tensor<4xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// fp8 codes are the builtin f8E4M3FN type at function boundaries; the
// encoding is explicit integer arithmetic ending in a bitcast.
#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
// CHECK-LABEL: func.func @fp8_quantize(
// CHECK-SAME: -> tensor<8xf8E4M3FN>
// CHECK: arith.divf
// CHECK: arith.minui
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: arith.bitcast %{{.*}} : i8 to f8E4M3FN
func.func @fp8_quantize(%x: tensor<8xf32>, %s: tensor<f32>) -> tensor<8x!quark.qfloat<fp8_e4m3>> {
  %q = quark.quantize %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<8xf32> -> tensor<8x!quark.qfloat<fp8_e4m3>>
  return %q : tensor<8x!quark.qfloat<fp8_e4m3>>
}

// -----

// A bfloat16 cast spec rounds to bf16 even on an f32 tensor.
// CHECK-LABEL: func.func @bf16_fake_quant(
// CHECK: linalg.generic
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: arith.extf %[[R]] : bf16 to f32
func.func @bf16_fake_quant(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = quark.fake_quant %x {spec = #quark.spec<dtype = bfloat16>} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Dynamic parameters have no kernel form yet: the op is named.
#fp8_dyn = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = true, observer_cls = PerTensorMinMaxObserver>
func.func @dynamic(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+2 {{has no scale operand (dtype = fp8_e4m3)}}
  // expected-error @+1 {{failed to legalize operation 'quark.fake_quant'}}
  %y = quark.fake_quant %x {spec = #fp8_dyn} : tensor<8xf32>
  return %y : tensor<8xf32>
}
