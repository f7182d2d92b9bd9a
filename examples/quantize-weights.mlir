// A 2x32 weight quantized with three of Quark's schemes: INT4 per-group
// (int4_wo_32, packed eight codes per int32 in Quark's "reorder" layout), OCP
// MXFP4 (fp4 codes + E8M0 scales, two codes per byte) and FP8 per-tensor.
//
//   quark-opt examples/quantize-weights.mlir \
//     --quark-expand-fake-quant --quark-fold-constants --canonicalize
//
// folds everything to constants computed with Quark's exact numerics.

#int4_wo_32 = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = -1, group_size = 32, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
#mxfp4 = #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 32, is_dynamic = false, round_method = half_even, scale_type = float, scale_format = e8m0, scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>

func.func @weights() -> (tensor<2x4xi32>, tensor<2x1xf32>, tensor<2x16xui8>, tensor<2x1xf32>, tensor<2x32xf32>) {
  %w = arith.constant dense<[
    [0.12, -0.50, 0.33, 0.91, -0.07, 0.25, -0.66, 0.48, 0.02, -0.31, 0.77, -0.95, 0.14, 0.59, -0.21, 0.36,
     -0.44, 0.08, 0.69, -0.13, 0.52, -0.83, 0.27, 0.05, -0.38, 0.61, -0.17, 0.94, -0.02, 0.41, -0.72, 0.19],
    [1.50, -2.25, 0.75, 3.10, -0.40, 2.20, -1.10, 0.05, 0.60, -3.50, 1.90, -0.85, 2.70, 0.30, -1.75, 1.25,
     -0.65, 2.95, -2.60, 0.15, 1.05, -0.20, 3.30, -1.40, 0.90, -2.05, 0.45, 1.65, -3.05, 2.45, -0.95, 0.10]
  ]> : tensor<2x32xf32>

  // INT4, symmetric, one scale per 32 weights: scale = amax / 7.5.
  %s4 = quark.compute_qparams %w {spec = #int4_wo_32} : tensor<2x32xf32> -> tensor<2x1xf32>
  %q4 = quark.quantize %w scale(%s4 : tensor<2x1xf32>) {spec = #int4_wo_32} : tensor<2x32xf32> -> tensor<2x32x!quant.any<i4:f32>>
  %p4 = quark.pack %q4 pack_method = reorder : tensor<2x32x!quant.any<i4:f32>> -> tensor<2x4xi32>

  // MXFP4: power-of-two scale per 32 weights from the block maximum.
  %sm = quark.compute_qparams %w {spec = #mxfp4} : tensor<2x32xf32> -> tensor<2x1xf32>
  %qm = quark.quantize %w scale(%sm : tensor<2x1xf32>) {spec = #mxfp4} : tensor<2x32xf32> -> tensor<2x32x!quark.qfloat<fp4>>
  %pm = quark.pack %qm : tensor<2x32x!quark.qfloat<fp4>> -> tensor<2x16xui8>

  // FP8 simulated quantization with a calibrated scale (amax 3.5 / 448).
  %s8 = arith.constant dense<0.0078125> : tensor<f32>
  %f8 = quark.fake_quant %w scale(%s8 : tensor<f32>) {spec = #fp8} : tensor<2x32xf32>

  return %p4, %s4, %pm, %sm, %f8 : tensor<2x4xi32>, tensor<2x1xf32>, tensor<2x16xui8>, tensor<2x1xf32>, tensor<2x32xf32>
}
