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

// A dynamic per-tensor fake_quant derives its scale from the data: the
// rows' NaN-skipping minima and maxima, then theirs over a leading unit
// dimension (so that the GPU pipelines have a parallel loop to launch),
// Quark's scale formula, and the quantize-dequantize body with that scale.
#fp8_dyn = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = true, observer_cls = PerTensorMinMaxObserver>
// CHECK-LABEL: func.func @dynamic_per_tensor(
// CHECK: %[[ROWS:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%{{.*}} : tensor<4x8xf32>)
// CHECK: arith.cmpf olt
// CHECK: tensor.expand_shape %[[ROWS]]#0 {{\[\[}}0, 1]] output_shape [1, 4]
// CHECK: %[[ALL:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}}, %{{.*}} : tensor<1xf32>, tensor<1xf32>)
// CHECK: %[[SCALE:.*]] = linalg.generic {{.*}} ins(%[[ALL]]#0, %[[ALL]]#1 : tensor<1xf32>, tensor<1xf32>)
// CHECK: arith.divf
// CHECK: %[[S:.*]] = tensor.collapse_shape %[[SCALE]] [] : tensor<1xf32> into tensor<f32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[S]] : tensor<4x8xf32>, tensor<f32>)
func.func @dynamic_per_tensor(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = quark.fake_quant %x {spec = #fp8_dyn} : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// Per-token (per channel along the rows) scales and asymmetric zero points
// with dynamic rows: one parallel loop per row, its elements reduced.
#uint8_tok = #quark.spec<dtype = uint8, qscheme = per_channel, ch_axis = 0, symmetric = false, is_dynamic = true, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
// CHECK-LABEL: func.func @per_token(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}}, %{{.*}} : tensor<?xf32>, tensor<?xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]{{.*}} outs(%{{.*}}, %{{.*}} : tensor<?xf32>, tensor<?xi32>)
// CHECK: math.roundeven
// CHECK: arith.fptosi
// CHECK: arith.trunci %{{.*}} : i32 to i8
func.func @per_token(%x: tensor<?x64xf32>) -> (tensor<?xf32>, tensor<?xi8>) {
  %s, %z = quark.compute_qparams %x {spec = #uint8_tok} : tensor<?x64xf32> -> tensor<?xf32>, tensor<?xi8>
  return %s, %z : tensor<?xf32>, tensor<?xi8>
}

// -----

// A per-token fake_quant with dynamic rows: the elementwise ops take their
// extent from the input (they built an invalid tensor.empty before).
#fp8_tok = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, is_dynamic = true, observer_cls = PerChannelMinMaxObserver>
// CHECK-LABEL: func.func @dynamic_rows(
// CHECK-SAME: %[[X:.*]]: tensor<?x8xf32>
// CHECK: %[[ROWS:.*]] = tensor.dim %[[X]], %c0 : tensor<?x8xf32>
// CHECK: tensor.empty(%[[ROWS]]) : tensor<?xf32>
// CHECK: %[[N:.*]] = tensor.dim %[[X]], %c0 : tensor<?x8xf32>
// CHECK: tensor.empty(%[[N]]) : tensor<?x8xf32>
func.func @dynamic_rows(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = quark.fake_quant %x {spec = #fp8_tok} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// OCP MX block scales: the axis is split into (block, element), so blocks
// are parallel loops; the absolute maximum keeps the first NaN; Quark's
// even rounding works on the f32 bits.
#mx = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = true, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
// CHECK-LABEL: func.func @mx_scales(
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [4, 2, 32]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]] : tensor<4x2x32xf32>)
// CHECK: math.absf
// CHECK: arith.cmpf uno
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x2xf32>)
// CHECK: arith.bitcast %{{.*}} : f32 to i32
func.func @mx_scales(%x: tensor<4x64xf32>) -> tensor<4x2xf32> {
  %s = quark.compute_qparams %x {spec = #mx} : tensor<4x64xf32> -> tensor<4x2xf32>
  return %s : tensor<4x2xf32>
}

// -----

// One spec with e4m3 block scales needs the tensor's maximum first:
// refused, naming the op (Quark's NVFP4 is the two-stage spec below).
#nv = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float, scale_format = e4m3, observer_cls = PerBlockMXObserver>
func.func @nvfp4(%x: tensor<4x64xf32>) -> tensor<4x4xf32> {
  // expected-error @+2 {{derives one-spec e4m3 block scales}}
  // expected-error @+1 {{failed to legalize operation 'quark.compute_qparams'}}
  %s = quark.compute_qparams %x {spec = #nv} : tensor<4x64xf32> -> tensor<4x4xf32>
  return %s : tensor<4x4xf32>
}

// -----

// NVFP4 block scales under the calibrated second scale: the blocks'
// minima and maxima (blocks as a parallel loop), then per block the fp4
// scale (amax / 6) quantized to e4m3 in units of the second scale, which
// every block reads through a constant map.
#fp4_dyn = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = true, round_method = half_even, scale_type = float32, scale_format = float32, observer_cls = PerBlockMXObserver>
#e4m3_scales = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>
// CHECK-DAG: #[[IDENTITY:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[SCALAR:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @block_scales_calibrated(
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [4, 4, 16]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]] : tensor<4x4x16xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[IDENTITY]], #[[IDENTITY]], #[[SCALAR]], #[[IDENTITY]]]
// CHECK: arith.divf
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK-NOT: quark.compute
func.func @block_scales_calibrated(%x: tensor<4x64xf32>, %g: tensor<f32>) -> tensor<4x4xf32> {
  %s = quark.compute_block_scales %x second_scale(%g : tensor<f32>) {spec = #quark.two_stage<#fp4_dyn, #e4m3_scales>} : tensor<4x64xf32> -> tensor<4x4xf32>
  return %s : tensor<4x4xf32>
}

// Without it, the second scale is the blocks' absolute maximum (one more
// reduction, over a leading unit dimension that the GPU pipelines launch)
// divided by 6 * 448 in one step, as Quark computes it.
// CHECK-LABEL: func.func @block_scales_derived(
// CHECK: arith.constant 2.688000e+03 : f32
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x16xf32>, tensor<1x16xf32>) outs(%{{.*}} : tensor<1xf32>)
func.func @block_scales_derived(%x: tensor<4x64xf32>) -> tensor<4x4xf32> {
  %s = quark.compute_block_scales %x {spec = #quark.two_stage<#fp4_dyn, #e4m3_scales>} : tensor<4x64xf32> -> tensor<4x4xf32>
  return %s : tensor<4x4xf32>
}

// A two-stage fake_quant lowers through its expansion: no quark op remains.
// CHECK-LABEL: func.func @two_stage_fake_quant(
// CHECK-NOT: quark.{{[a-z_]+}} %
// CHECK: return
func.func @two_stage_fake_quant(%x: tensor<2x16x64xf32>, %g: tensor<f32>) -> tensor<2x16x64xf32> {
  %0 = quark.two_stage_fake_quant %x second_scale(%g : tensor<f32>) {spec = #quark.two_stage<#fp4_dyn, #e4m3_scales>} : tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// -----

// A progressive two-stage fake_quant (int4_fp8) has no code tensor of its
// own: refused, naming the op.
#fp8_stage = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerTensorMinMaxObserver>
#int4_stage = #quark.spec<dtype = int4, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float32, observer_cls = PerChannelMinMaxObserver>
func.func @progressive(%w: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+2 {{is progressive}}
  // expected-error @+1 {{failed to legalize operation 'quark.two_stage_fake_quant'}}
  %0 = quark.two_stage_fake_quant %w {spec = #quark.two_stage<#fp8_stage, #int4_stage>} : tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

// A long reduction (a token's 256 features) runs in contiguous chunks of
// 64, each chunk's minimum and maximum one parallel loop, then the chunks'
// statistics merged in order: the same bits, four times the threads.
#token = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = true, observer_cls = PerChannelMinMaxObserver>
// CHECK-LABEL: func.func @chunked_per_token(
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [2, 4, 64]
// CHECK: %[[C:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]] : tensor<2x4x64xf32>) outs({{.*}} : tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[C]]#0, %[[C]]#1 : tensor<2x4xf32>, tensor<2x4xf32>) outs({{.*}} : tensor<2xf32>, tensor<2xf32>)
func.func @chunked_per_token(%x: tensor<2x256xf32>) -> tensor<2xf32> {
  %s = quark.compute_qparams %x {spec = #token} : tensor<2x256xf32> -> tensor<2xf32>
  return %s : tensor<2xf32>
}
