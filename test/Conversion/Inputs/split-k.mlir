// W4A16 int4 g128 linears for quark-split-k-gemm: @gemv (one token) and
// @rows16 take the split-K kernel; @rows17 has more rows than max-rows,
// @n60 an N that is not a multiple of 8 and @k128 a K that is not a
// multiple of 256: those three keep the generic kernel.
#int4_g128 = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1, group_size = 128, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>

func.func @gemv(%x: tensor<1x256xf32>, %packed: tensor<64x32xi32>, %s: tensor<64x2xf32>) -> tensor<1x64xf32> {
  %q = quark.unpack %packed pack_method = reorder : tensor<64x32xi32> -> tensor<64x256x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<64x2xf32>) {spec = #int4_g128} : tensor<64x256x!quant.any<i4:f32>> -> tensor<64x256xf32>
  %y = quark.linear %x, %w {name = "gemv"} : tensor<1x256xf32>, tensor<64x256xf32> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

func.func @rows16(%x: tensor<16x256xf32>, %packed: tensor<64x32xi32>, %s: tensor<64x2xf32>) -> tensor<16x64xf32> {
  %q = quark.unpack %packed pack_method = reorder : tensor<64x32xi32> -> tensor<64x256x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<64x2xf32>) {spec = #int4_g128} : tensor<64x256x!quant.any<i4:f32>> -> tensor<64x256xf32>
  %y = quark.linear %x, %w {name = "rows16"} : tensor<16x256xf32>, tensor<64x256xf32> -> tensor<16x64xf32>
  return %y : tensor<16x64xf32>
}

func.func @rows17(%x: tensor<17x256xf32>, %packed: tensor<64x32xi32>, %s: tensor<64x2xf32>) -> tensor<17x64xf32> {
  %q = quark.unpack %packed pack_method = reorder : tensor<64x32xi32> -> tensor<64x256x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<64x2xf32>) {spec = #int4_g128} : tensor<64x256x!quant.any<i4:f32>> -> tensor<64x256xf32>
  %y = quark.linear %x, %w {name = "rows17"} : tensor<17x256xf32>, tensor<64x256xf32> -> tensor<17x64xf32>
  return %y : tensor<17x64xf32>
}

func.func @n60(%x: tensor<1x256xf32>, %packed: tensor<60x32xi32>, %s: tensor<60x2xf32>) -> tensor<1x60xf32> {
  %q = quark.unpack %packed pack_method = reorder : tensor<60x32xi32> -> tensor<60x256x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<60x2xf32>) {spec = #int4_g128} : tensor<60x256x!quant.any<i4:f32>> -> tensor<60x256xf32>
  %y = quark.linear %x, %w {name = "n60"} : tensor<1x256xf32>, tensor<60x256xf32> -> tensor<1x60xf32>
  return %y : tensor<1x60xf32>
}

func.func @k128(%x: tensor<1x128xf32>, %packed: tensor<64x16xi32>, %s: tensor<64x1xf32>) -> tensor<1x64xf32> {
  %q = quark.unpack %packed pack_method = reorder : tensor<64x16xi32> -> tensor<64x128x!quant.any<i4:f32>>
  %w = quark.dequantize %q scale(%s : tensor<64x1xf32>) {spec = #int4_g128} : tensor<64x128x!quant.any<i4:f32>> -> tensor<64x128xf32>
  %y = quark.linear %x, %w {name = "k128"} : tensor<1x128xf32>, tensor<64x128xf32> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
