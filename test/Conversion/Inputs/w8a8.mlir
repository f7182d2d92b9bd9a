// W8A8 linear layers for the matrix-core tests: int8 and OCP fp8 e4m3 codes
// with a per-tensor activation scale and per-channel weight scales. M = 100
// is not a multiple of the 64-row tile (the last tile is guarded);
// @int8_n96 has N = 96, which does not tile by 64 and keeps the generic
// kernel.
#int8_t = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#int8_c = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerChannelMinMaxObserver>
#fp8_t = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>
#fp8_c = #quark.spec<dtype = fp8_e4m3, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, observer_cls = PerChannelMinMaxObserver>

func.func @int8(%x: tensor<100x256xf32>, %sx: tensor<f32>, %w: tensor<128x256xi8>, %sw: tensor<128xf32>) -> tensor<100x128xf32> {
  %q = quark.quantize %x scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<100x256xf32> -> tensor<100x256x!quant.any<i8:f32>>
  %dx = quark.dequantize %q scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<100x256x!quant.any<i8:f32>> -> tensor<100x256xf32>
  %c = quark.storage_cast %w : tensor<128x256xi8> -> tensor<128x256x!quant.any<i8:f32>>
  %dw = quark.dequantize %c scale(%sw : tensor<128xf32>) {spec = #int8_c} : tensor<128x256x!quant.any<i8:f32>> -> tensor<128x256xf32>
  %y = quark.linear %dx, %dw {name = "int8"} : tensor<100x256xf32>, tensor<128x256xf32> -> tensor<100x128xf32>
  return %y : tensor<100x128xf32>
}

func.func @fp8(%x: tensor<100x256xf32>, %sx: tensor<f32>, %w: tensor<128x256xf8E4M3FN>, %sw: tensor<128xf32>) -> tensor<100x128xf32> {
  %q = quark.quantize %x scale(%sx : tensor<f32>) {spec = #fp8_t} : tensor<100x256xf32> -> tensor<100x256x!quark.qfloat<fp8_e4m3>>
  %dx = quark.dequantize %q scale(%sx : tensor<f32>) {spec = #fp8_t} : tensor<100x256x!quark.qfloat<fp8_e4m3>> -> tensor<100x256xf32>
  %c = quark.storage_cast %w : tensor<128x256xf8E4M3FN> -> tensor<128x256x!quark.qfloat<fp8_e4m3>>
  %dw = quark.dequantize %c scale(%sw : tensor<128xf32>) {spec = #fp8_c} : tensor<128x256x!quark.qfloat<fp8_e4m3>> -> tensor<128x256xf32>
  %y = quark.linear %dx, %dw {name = "fp8"} : tensor<100x256xf32>, tensor<128x256xf32> -> tensor<100x128xf32>
  return %y : tensor<100x128xf32>
}

func.func @int8_n96(%x: tensor<100x256xf32>, %sx: tensor<f32>, %w: tensor<96x256xi8>, %sw: tensor<96xf32>) -> tensor<100x96xf32> {
  %q = quark.quantize %x scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<100x256xf32> -> tensor<100x256x!quant.any<i8:f32>>
  %dx = quark.dequantize %q scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<100x256x!quant.any<i8:f32>> -> tensor<100x256xf32>
  %c = quark.storage_cast %w : tensor<96x256xi8> -> tensor<96x256x!quant.any<i8:f32>>
  %dw = quark.dequantize %c scale(%sw : tensor<96xf32>) {spec = #int8_c} : tensor<96x256x!quant.any<i8:f32>> -> tensor<96x256xf32>
  %y = quark.linear %dx, %dw {name = "int8_n96"} : tensor<100x256xf32>, tensor<96x256xf32> -> tensor<100x96xf32>
  return %y : tensor<100x96xf32>
}

// One token (decode): an int8 GEMM of one row is left to the split-K kernel
// (split-k-rows), an fp8 one stays on the matrix cores.
func.func @int8_gemv(%x: tensor<1x256xf32>, %sx: tensor<f32>, %w: tensor<128x256xi8>, %sw: tensor<128xf32>) -> tensor<1x128xf32> {
  %q = quark.quantize %x scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<1x256xf32> -> tensor<1x256x!quant.any<i8:f32>>
  %dx = quark.dequantize %q scale(%sx : tensor<f32>) {spec = #int8_t} : tensor<1x256x!quant.any<i8:f32>> -> tensor<1x256xf32>
  %c = quark.storage_cast %w : tensor<128x256xi8> -> tensor<128x256x!quant.any<i8:f32>>
  %dw = quark.dequantize %c scale(%sw : tensor<128xf32>) {spec = #int8_c} : tensor<128x256x!quant.any<i8:f32>> -> tensor<128x256xf32>
  %y = quark.linear %dx, %dw {name = "int8_gemv"} : tensor<1x256xf32>, tensor<128x256xf32> -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}

func.func @fp8_gemv(%x: tensor<1x256xf32>, %sx: tensor<f32>, %w: tensor<128x256xf8E4M3FN>, %sw: tensor<128xf32>) -> tensor<1x128xf32> {
  %q = quark.quantize %x scale(%sx : tensor<f32>) {spec = #fp8_t} : tensor<1x256xf32> -> tensor<1x256x!quark.qfloat<fp8_e4m3>>
  %dx = quark.dequantize %q scale(%sx : tensor<f32>) {spec = #fp8_t} : tensor<1x256x!quark.qfloat<fp8_e4m3>> -> tensor<1x256xf32>
  %c = quark.storage_cast %w : tensor<128x256xf8E4M3FN> -> tensor<128x256x!quark.qfloat<fp8_e4m3>>
  %dw = quark.dequantize %c scale(%sw : tensor<128xf32>) {spec = #fp8_c} : tensor<128x256x!quark.qfloat<fp8_e4m3>> -> tensor<128x256xf32>
  %y = quark.linear %dx, %dw {name = "fp8_gemv"} : tensor<1x256xf32>, tensor<128x256xf32> -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}
