module attributes {quark.w = #quark.spec<dtype = fp8_e4m3fnuz, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver>} {}
