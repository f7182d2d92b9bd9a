#int4_g128 = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 128, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
func.func @w4a16(%x: tensor<16x256xf32>, %packed: tensor<64x32xi32>, %s: tensor<64x2xf32>) -> tensor<16x64xf32> {
  %q = quark.unpack %packed pack_method = reorder : tensor<64x32xi32> -> tensor<64x256x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<64x2xf32>) {spec = #int4_g128} : tensor<64x256x!quant.any<i4:f32>> -> tensor<64x256xf32>
  %y = quark.linear %x, %w {name = "l"} : tensor<16x256xf32>, tensor<64x256xf32> -> tensor<16x64xf32>
  return %y : tensor<16x64xf32>
}
