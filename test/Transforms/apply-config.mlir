// RUN: quark-opt %s --split-input-file --quark-apply-config --verify-diagnostics | FileCheck %s

// Quark's resolution: exclusions, then an exact name, then the first
// matching pattern in order, then the layer type, then global; a KV
// projection takes its KV-cache entry; a softmax spec goes to attention.

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
#int4 = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = -1, group_size = 4, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
#int8 = #quark.spec<dtype = int8, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>

// CHECK-DAG: #[[GLOBAL:layer_spec[0-9]*]] = #quark.layer_spec<input_tensors = #spec_fp8_e4m3, weight = #spec_fp8_e4m3>
// CHECK-DAG: #[[DOWN:layer_spec[0-9]*]] = #quark.layer_spec<weight = #spec_int4>
// CHECK-DAG: #[[LAYER1:layer_spec[0-9]*]] = #quark.layer_spec<weight = #spec_int8>
// CHECK-DAG: #[[KV:layer_spec[0-9]*]] = #quark.layer_spec<input_tensors = #spec_fp8_e4m3, output_tensors = #spec_fp8_e4m3, weight = #spec_fp8_e4m3>
module attributes {quark.quantization_config = {
    global_quant_config = #quark.layer_spec<input_tensors = #fp8, weight = #fp8>,
    layer_quant_config = [["*down_proj", #quark.layer_spec<weight = #int4>],
                          ["model.layers.1.*", #quark.layer_spec<weight = #int8>]],
    layer_type_quant_config = [],
    kv_cache_quant_config = [["*k_proj", #quark.layer_spec<input_tensors = #fp8, output_tensors = #fp8, weight = #fp8>]],
    exclude = ["lm_head.*", "lm_head"], kv_cache_group = ["*k_proj"],
    softmax_quant_spec = #fp8, min_kv_scale = 0.0 : f64, kv_cache_post_rope = false}} {
  // CHECK-LABEL: func @layers
  func.func @layers(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>, %a: tensor<1x2x8xf32>) {
    // CHECK: name = "model.layers.0.mlp.up_proj", quant = #[[GLOBAL]]}
    %0 = quark.linear %x, %w {name = "model.layers.0.mlp.up_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    // The first pattern wins over the later one that matches too.
    // CHECK: name = "model.layers.1.mlp.down_proj", quant = #[[DOWN]]}
    %1 = quark.linear %x, %w {name = "model.layers.1.mlp.down_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    // CHECK: name = "model.layers.1.mlp.up_proj", quant = #[[LAYER1]]}
    %2 = quark.linear %x, %w {name = "model.layers.1.mlp.up_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    // The KV-cache entry replaces the layer pattern's.
    // CHECK: name = "model.layers.1.self_attn.k_proj", quant = #[[KV]]}
    %3 = quark.linear %x, %w {name = "model.layers.1.self_attn.k_proj"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    // Excluded: no spec; a stale one is removed.
    // CHECK: name = "lm_head"}
    %4 = quark.linear %x, %w {name = "lm_head", quant = #quark.layer_spec<weight = #int8>} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
    // CHECK: quark.attention {{.*}}softmax_spec = #spec_fp8_e4m3
    %5 = quark.attention %a, %a, %a {num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64} : tensor<1x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8xf32> -> tensor<1x2x8xf32>
    return
  }
}

// -----

// expected-error @+1 {{the module has no 'quark.quantization_config' attribute}}
module {
}

// -----

// expected-error @+1 {{'quark.quantization_config': 'exclude' must be a list of strings}}
module attributes {quark.quantization_config = {exclude = [1]}} {
}
