// Quark rejects a histogram observer on a per-channel spec (histogram,
// percentile and MSE observers only observe whole tensors); so does the
// quark dialect's verifier, with the field and the allowed values named:
//
//   quark-opt examples/invalid-spec.mlir
#bad = #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorHistogramObserver>

func.func @f(%x: tensor<4x8xf32>, %s: tensor<4xf32>) -> tensor<4x8xf32> {
  %0 = quark.fake_quant %x scale(%s : tensor<4xf32>) {spec = #bad} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
