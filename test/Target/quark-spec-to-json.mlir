// RUN: quark-translate %s --quark-spec-to-json | FileCheck %s
// Round trip through JSON back to the same attributes.
// RUN: quark-translate %s --quark-spec-to-json | quark-translate --json-to-quark-spec | FileCheck %s --check-prefix=BACK

// The FP8 W8A8 layer config of Quark's fp8 scheme, with every key of
// QTensorConfig.to_dict() and QLayerConfig.to_dict().
// Module attributes "quark.<key>" become JSON keys "<key>".
// CHECK:      "fp8_layer": {
// CHECK-NEXT:   "bias": null,
// CHECK-NEXT:   "input_tensors": {
// CHECK-NEXT:     "block_size": null,
// CHECK-NEXT:     "ch_axis": null,
// CHECK-NEXT:     "dtype": "fp8_e4m3",
// CHECK-NEXT:     "enable_buffer_reuse": false,
// CHECK-NEXT:     "group_size": null,
// CHECK-NEXT:     "is_dynamic": false,
// CHECK-NEXT:     "is_scale_quant": false,
// CHECK-NEXT:     "max_input_numel": 4194304,
// CHECK-NEXT:     "mx_element_dtype": null,
// CHECK-NEXT:     "observer_cls": "PerTensorMinMaxObserver",
// CHECK-NEXT:     "qscheme": "per_tensor",
// CHECK-NEXT:     "round_method": "half_even",
// CHECK-NEXT:     "scale_calculation_mode": null,
// CHECK-NEXT:     "scale_format": null,
// CHECK-NEXT:     "scale_type": "float",
// CHECK-NEXT:     "symmetric": true
// CHECK-NEXT:   },
// CHECK-NEXT:   "output_tensors": null,
// CHECK-NEXT:   "target_device": null,
// CHECK-NEXT:   "weight": {
// CHECK:          "dtype": "fp8_e4m3",
// A two-stage spec is a list of two dicts.
// CHECK:      "nvfp4_weight": [
// CHECK-NEXT:   {
// CHECK:          "dtype": "fp4",
// CHECK:          "group_size": 16,
// CHECK:          "scale_format": "e4m3",
// CHECK:        },
// CHECK-NEXT:   {
// CHECK:          "dtype": "fp8_e4m3",
// CHECK:          "is_scale_quant": true,
// CHECK:      "per_block": {
// CHECK-NEXT:   "block_size": [
// CHECK-NEXT:     128,
// CHECK-NEXT:     128
// CHECK-NEXT:   ],

// BACK-DAG: #[[FP8:spec_fp8_e4m3]] = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true
// BACK-DAG: #[[BLOCK:spec_fp8_e4m3_[0-9]+]] = #quark.spec<dtype = fp8_e4m3, qscheme = per_block, block_size = [128, 128]
// BACK-DAG: #[[LAYER:layer_spec]] = #quark.layer_spec<input_tensors = #[[FP8]], weight = #[[FP8]]>
// BACK-DAG: #[[TWO:two_stage]] = #quark.two_stage<#spec_fp4, #spec_fp8_e4m3_{{[0-9]+}}>
// BACK: module attributes {quark.fp8_layer = #[[LAYER]], quark.nvfp4_weight = #[[TWO]], quark.per_block = #[[BLOCK]]}

#fp8 = #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, is_dynamic = false, round_method = half_even, scale_type = float, observer_cls = PerTensorMinMaxObserver>
module attributes {
  quark.fp8_layer = #quark.layer_spec<input_tensors = #fp8, weight = #fp8>,
  quark.nvfp4_weight = #quark.two_stage<
    #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, group_size = 16, is_dynamic = false, scale_format = e4m3, observer_cls = PerBlockMXObserver>,
    #quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, is_dynamic = false, observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>>,
  quark.per_block = #quark.spec<dtype = fp8_e4m3, qscheme = per_block, block_size = [128, 128], is_dynamic = false, observer_cls = PerBlock2DMinMaxObserver>,
  quark.unrelated = 3 : i32
} {}
