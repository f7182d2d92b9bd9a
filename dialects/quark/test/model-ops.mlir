// RUN: quark-dialect-opt %s | quark-dialect-opt | FileCheck %s
// Round trip of the transformer ops: a two-layer toy model with a llama
// layer and a mixtral MoE layer.

// CHECK-LABEL: func @forward
func.func @forward(%ids: tensor<1x?xi32>) -> tensor<1x?x32xf32> attributes {quark.model_type = "llama"} {
  %table = quark.param "model.embed_tokens.weight" : tensor<32x16xbf16>
  // CHECK: quark.embedding %{{.*}}, %{{.*}} : tensor<1x?xi32>, tensor<32x16xbf16> -> tensor<1x?x16xf32>
  %h0 = quark.embedding %ids, %table : tensor<1x?xi32>, tensor<32x16xbf16> -> tensor<1x?x16xf32>
  // CHECK: quark.block "model.layers.0"(%{{.*}}) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  %h1 = quark.block "model.layers.0" (%h0) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  ^bb0(%x: tensor<1x?x16xf32>):
    %ln = quark.param "model.layers.0.input_layernorm.weight" : tensor<16xbf16>
    %n = quark.rms_norm %x, %ln {epsilon = 1.0e-5 : f64, name = "model.layers.0.input_layernorm"} : tensor<1x?x16xf32>, tensor<16xbf16> -> tensor<1x?x16xf32>
    %wq = quark.param "model.layers.0.self_attn.q_proj.weight" : tensor<16x16xbf16>
    %wk = quark.param "model.layers.0.self_attn.k_proj.weight" : tensor<8x16xbf16>
    %bk = quark.param "model.layers.0.self_attn.k_proj.bias" from "overlay.safetensors" : tensor<8xbf16>
    // CHECK: quark.linear %{{.*}}, %{{.*}} {name = "model.layers.0.self_attn.q_proj"}
    %q = quark.linear %n, %wq {name = "model.layers.0.self_attn.q_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    // CHECK: quark.linear %{{.*}}, %{{.*}}, %{{.*}} {name = "model.layers.0.self_attn.k_proj"} : tensor<1x?x16xf32>, tensor<8x16xbf16>, tensor<8xbf16> -> tensor<1x?x8xf32>
    %k = quark.linear %n, %wk, %bk {name = "model.layers.0.self_attn.k_proj"} : tensor<1x?x16xf32>, tensor<8x16xbf16>, tensor<8xbf16> -> tensor<1x?x8xf32>
    %v = quark.linear %n, %wk {name = "model.layers.0.self_attn.v_proj"} : tensor<1x?x16xf32>, tensor<8x16xbf16> -> tensor<1x?x8xf32>
    %qnw = quark.param "model.layers.0.self_attn.q_norm.weight" : tensor<4xbf16>
    // CHECK: quark.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.9999999999999995E-7 : f64, group_size = 4 : i64}
    %qn = quark.rms_norm %q, %qnw {epsilon = 1.0e-6 : f64, group_size = 4} : tensor<1x?x16xf32>, tensor<4xbf16> -> tensor<1x?x16xf32>
    // CHECK: quark.rope %{{.*}} {head_dim = 4 : i64, scaling = #quark.rope_scaling<type = "llama3", factor = 8.000000e+00 : f64, low_freq_factor = 1.000000e+00 : f64, high_freq_factor = 4.000000e+00 : f64, original_max_position_embeddings = 8192 : i64>, theta = 5.000000e+05 : f64}
    %qr = quark.rope %qn {head_dim = 4 : i64, theta = 500000.0 : f64, scaling = #quark.rope_scaling<type = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64, original_max_position_embeddings = 8192 : i64>} : tensor<1x?x16xf32> -> tensor<1x?x16xf32>
    %kr = quark.rope %k {head_dim = 4 : i64, theta = 10000.0 : f64} : tensor<1x?x8xf32> -> tensor<1x?x8xf32>
    // CHECK: quark.attention %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 5.000000e-01 : f64, sliding_window = 4096 : i64}
    %a = quark.attention %qr, %kr, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, sliding_window = 4096 : i64} : tensor<1x?x16xf32>, tensor<1x?x8xf32>, tensor<1x?x8xf32> -> tensor<1x?x16xf32>
    %r = arith.addf %x, %a : tensor<1x?x16xf32>
    // CHECK: quark.gated_activation silu %{{.*}}, %{{.*}} : tensor<1x?x16xf32>
    %g = quark.gated_activation silu %r, %r : tensor<1x?x16xf32>
    %act = quark.activation gelu_tanh %g : tensor<1x?x16xf32>
    quark.yield %act : tensor<1x?x16xf32>
  }
  %h2 = quark.block "model.layers.1" (%h1) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  ^bb0(%x: tensor<1x?x16xf32>):
    %wg = quark.param "model.layers.1.block_sparse_moe.gate.weight" : tensor<2x16xbf16>
    %logits = quark.linear %x, %wg {name = "model.layers.1.block_sparse_moe.gate"} : tensor<1x?x16xf32>, tensor<2x16xbf16> -> tensor<1x?x2xf32>
    // CHECK: quark.topk_router %{{.*}} {normalize = true, top_k = 1 : i64}
    %w, %i = quark.topk_router %logits {top_k = 1 : i64, normalize = true} : tensor<1x?x2xf32> -> tensor<1x?x1xf32>, tensor<1x?x1xi32>
    // CHECK: quark.moe
    %m = quark.moe %x, %w, %i : tensor<1x?x16xf32>, tensor<1x?x1xf32>, tensor<1x?x1xi32> -> tensor<1x?x16xf32> {
    ^bb0(%t: tensor<?x16xf32>):
      %w1 = quark.param "model.layers.1.block_sparse_moe.experts.0.w1.weight" : tensor<16x16xbf16>
      %y = quark.linear %t, %w1 {name = "model.layers.1.block_sparse_moe.experts.0.w1"} : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
      quark.yield %y : tensor<?x16xf32>
    }, {
    ^bb0(%t: tensor<?x16xf32>):
      quark.yield %t : tensor<?x16xf32>
    }
    quark.yield %m : tensor<1x?x16xf32>
  }
  %lw = quark.param "model.norm.weight" : tensor<16xbf16>
  %lb = quark.param "model.norm.bias" : tensor<16xbf16>
  %n = quark.layer_norm %h2, %lw, %lb {epsilon = 1.0e-5 : f64} : tensor<1x?x16xf32>, tensor<16xbf16>, tensor<16xbf16> -> tensor<1x?x16xf32>
  %pos = quark.param "model.decoder.embed_positions.weight" : tensor<10x16xbf16>
  %np = quark.position_embedding %n, %pos {offset = 2 : i64} : tensor<1x?x16xf32>, tensor<10x16xbf16> -> tensor<1x?x16xf32>
  %head = quark.param "lm_head.weight" : tensor<32x16xbf16>
  %logits = quark.linear %np, %head {name = "lm_head"} : tensor<1x?x16xf32>, tensor<32x16xbf16> -> tensor<1x?x32xf32>
  return %logits : tensor<1x?x32xf32>
}
