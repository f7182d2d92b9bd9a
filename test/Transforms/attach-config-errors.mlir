// RUN: not quark-opt %s --quark-attach-config="quant-scheme=int5" 2>&1 | FileCheck %s --check-prefix=SCHEME
// SCHEME: error: unknown quantization scheme 'int5'; valid schemes: int4_wo_32, int4_wo_64, int4_wo_128
// RUN: not quark-opt %s --quark-attach-config="quant-scheme=fp8 group-size=64" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: --group_size does not apply to 'fp8'
// RUN: not quark-opt %s --quark-attach-config="quant-scheme=fp8 layer-quant-scheme=oops" 2>&1 | FileCheck %s --check-prefix=ENTRY
// ENTRY: error: layer-quant-scheme entry 'oops' is not PATTERN=SCHEME
// RUN: not quark-opt %s --quark-attach-config 2>&1 | FileCheck %s --check-prefix=NONE
// NONE: error: quark-attach-config needs exactly one of quant-scheme and config-file
// RUN: not quark-opt %s --quark-attach-config="quant-scheme=fp8 kv-cache-dtype=int8" 2>&1 | FileCheck %s --check-prefix=KV
// KV: error: unsupported --kv_cache_dtype 'int8' (supported: fp8)
// RUN: not quark-opt %s --quark-attach-config="config-file=%s.missing" 2>&1 | FileCheck %s --check-prefix=FILE
// FILE: error: {{.*}}.missing: cannot open
// RUN: not quark-opt %s --quark-attach-config="quant-scheme=fp8 moe-experts-second-step-config=int4_wo_per_channel" 2>&1 | FileCheck %s --check-prefix=MOE
// MOE: error: --moe_experts_second_step_config: model type 'llama' has no MoE experts
// RUN: echo 'module {}' | not quark-opt --quark-attach-config="quant-scheme=fp8" 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: the module has no 'quark.model_type': a scheme needs the model's template
module attributes {quark.model_type = "llama"} {
}
