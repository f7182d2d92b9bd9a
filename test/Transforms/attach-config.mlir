// RUN: quark-opt %s \
// RUN:   --quark-attach-config="quant-scheme=int4_wo_128 kv-cache-dtype=fp8 min-kv-scale=0.5 layer-quant-scheme=*down_proj=fp8" \
// RUN:   | FileCheck %s
// RUN: quark-opt %s \
// RUN:   --quark-attach-config="config-file=%S/Inputs/quark-config.json" \
// RUN:   | FileCheck %s --check-prefix=FILE
// RUN: quark-opt %s \
// RUN:   --quark-attach-config="quant-scheme=fp8 override-exclusions=true" \
// RUN:   | FileCheck %s --check-prefix=NOEXCLUDE

// CHECK-DAG: #[[INT4:spec_int4]] = #quark.spec<dtype = int4, qscheme = per_group, ch_axis = -1, group_size = 128, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerGroupMinMaxObserver>
// CHECK-DAG: #[[FP8:spec_fp8_e4m3[0-9]*]] = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, observer_cls = PerTensorMinMaxObserver>
// CHECK-DAG: #[[KV:layer_spec[0-9]*]] = #quark.layer_spec<output_tensors = #[[FP8]], weight = #[[INT4]]>
// CHECK: module attributes {quark.model_type = "llama", quark.quantization_config = {
// CHECK-SAME: exclude = ["lm_head.*", "lm_head"]
// CHECK-SAME: global_quant_config = #layer_spec{{[0-9]*}},
// CHECK-SAME: kv_cache_group = ["*k_proj", "*v_proj"]
// CHECK-SAME: kv_cache_quant_config = {{\[}}["*k_proj", #[[KV]]], ["*v_proj", #[[KV]]]]
// CHECK-SAME: layer_quant_config = {{\[}}["*down_proj", #layer_spec{{[0-9]*}}], ["*k_proj", #[[KV]]], ["*v_proj", #[[KV]]]]
// CHECK-SAME: min_kv_scale = 5.000000e-01 : f64

// The file's pattern order is kept (*v_proj before *k_proj).
// FILE: exclude = ["lm_head"]
// FILE-SAME: layer_quant_config = {{\[}}["*v_proj", #layer_spec{{[0-9]*}}], ["*k_proj", #layer_spec{{[0-9]*}}]]

// NOEXCLUDE: exclude = []
module attributes {quark.model_type = "llama"} {
}

