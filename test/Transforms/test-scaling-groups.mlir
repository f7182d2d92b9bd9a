// The scaling-group analysis: norm -> linears (every expert and the router
// of an MoE share the norm), v -> o only when each query head has its own
// KV head, up -> down through the gated activation, fc1 -> relu -> fc2;
// nothing where another op reads the activation.
// RUN: quark-opt %s --quark-test-scaling-groups -o /dev/null | FileCheck %s

// CHECK: model.layers.0: model.layers.0.input_layernorm -> model.layers.0.self_attn.q_proj, model.layers.0.self_attn.k_proj, model.layers.0.self_attn.v_proj [16]
// CHECK-NEXT: model.layers.0: model.layers.0.self_attn.v_proj -> model.layers.0.self_attn.o_proj [16]
// CHECK-NEXT: model.layers.0: model.layers.0.post_attention_layernorm -> model.layers.0.mlp.gate_proj, model.layers.0.mlp.up_proj [16]
// CHECK-NEXT: model.layers.0: model.layers.0.mlp.up_proj -> model.layers.0.mlp.down_proj [32]
// GQA: no v -> o group.
// CHECK-NEXT: model.layers.1: model.layers.1.input_layernorm -> model.layers.1.self_attn.q_proj, model.layers.1.self_attn.k_proj, model.layers.1.self_attn.v_proj [16]
// CHECK-NEXT: model.layers.1: model.layers.1.post_attention_layernorm -> model.layers.1.block_sparse_moe.gate, model.layers.1.block_sparse_moe.experts.0.w1, model.layers.1.block_sparse_moe.experts.1.w1 [16]
// The third layer's norm output also feeds the residual add, so it has no
// group; fc1 -> relu -> fc2 has one.
// CHECK-NEXT: model.layers.2: model.layers.2.fc1 -> model.layers.2.fc2 [32]
// CHECK-NOT: model.layers.2.norm

func.func @forward(%h0: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  %h1 = quark.block "model.layers.0" (%h0) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  ^bb0(%x: tensor<1x?x16xf32>):
    %n1w = quark.param "model.layers.0.input_layernorm.weight" : tensor<16xbf16>
    %n1 = quark.rms_norm %x, %n1w {epsilon = 1.0e-5 : f64, name = "model.layers.0.input_layernorm"} : tensor<1x?x16xf32>, tensor<16xbf16> -> tensor<1x?x16xf32>
    %wq = quark.param "model.layers.0.self_attn.q_proj.weight" : tensor<16x16xbf16>
    %q = quark.linear %n1, %wq {name = "model.layers.0.self_attn.q_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    %wk = quark.param "model.layers.0.self_attn.k_proj.weight" : tensor<16x16xbf16>
    %k = quark.linear %n1, %wk {name = "model.layers.0.self_attn.k_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    %wv = quark.param "model.layers.0.self_attn.v_proj.weight" : tensor<16x16xbf16>
    %v = quark.linear %n1, %wv {name = "model.layers.0.self_attn.v_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    %a = quark.attention %q, %k, %v {head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f64} : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32> -> tensor<1x?x16xf32>
    %wo = quark.param "model.layers.0.self_attn.o_proj.weight" : tensor<16x16xbf16>
    %o = quark.linear %a, %wo {name = "model.layers.0.self_attn.o_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    %r = arith.addf %x, %o : tensor<1x?x16xf32>
    %n2w = quark.param "model.layers.0.post_attention_layernorm.weight" : tensor<16xbf16>
    %n2 = quark.rms_norm %r, %n2w {epsilon = 1.0e-5 : f64, name = "model.layers.0.post_attention_layernorm"} : tensor<1x?x16xf32>, tensor<16xbf16> -> tensor<1x?x16xf32>
    %wg = quark.param "model.layers.0.mlp.gate_proj.weight" : tensor<32x16xbf16>
    %g = quark.linear %n2, %wg {name = "model.layers.0.mlp.gate_proj"} : tensor<1x?x16xf32>, tensor<32x16xbf16> -> tensor<1x?x32xf32>
    %wu = quark.param "model.layers.0.mlp.up_proj.weight" : tensor<32x16xbf16>
    %u = quark.linear %n2, %wu {name = "model.layers.0.mlp.up_proj"} : tensor<1x?x16xf32>, tensor<32x16xbf16> -> tensor<1x?x32xf32>
    %act = quark.gated_activation silu %g, %u : tensor<1x?x32xf32>
    %wd = quark.param "model.layers.0.mlp.down_proj.weight" : tensor<16x32xbf16>
    %d = quark.linear %act, %wd {name = "model.layers.0.mlp.down_proj"} : tensor<1x?x32xf32>, tensor<16x32xbf16> -> tensor<1x?x16xf32>
    %y = arith.addf %r, %d : tensor<1x?x16xf32>
    quark.yield %y : tensor<1x?x16xf32>
  }
  %h2 = quark.block "model.layers.1" (%h1) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  ^bb0(%x: tensor<1x?x16xf32>):
    %n1w = quark.param "model.layers.1.input_layernorm.weight" : tensor<16xbf16>
    %n1 = quark.rms_norm %x, %n1w {epsilon = 1.0e-5 : f64, name = "model.layers.1.input_layernorm"} : tensor<1x?x16xf32>, tensor<16xbf16> -> tensor<1x?x16xf32>
    %wq = quark.param "model.layers.1.self_attn.q_proj.weight" : tensor<16x16xbf16>
    %q = quark.linear %n1, %wq {name = "model.layers.1.self_attn.q_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    %wk = quark.param "model.layers.1.self_attn.k_proj.weight" : tensor<8x16xbf16>
    %k = quark.linear %n1, %wk {name = "model.layers.1.self_attn.k_proj"} : tensor<1x?x16xf32>, tensor<8x16xbf16> -> tensor<1x?x8xf32>
    %wv = quark.param "model.layers.1.self_attn.v_proj.weight" : tensor<8x16xbf16>
    %v = quark.linear %n1, %wv {name = "model.layers.1.self_attn.v_proj"} : tensor<1x?x16xf32>, tensor<8x16xbf16> -> tensor<1x?x8xf32>
    %a = quark.attention %q, %k, %v {head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.35 : f64} : tensor<1x?x16xf32>, tensor<1x?x8xf32>, tensor<1x?x8xf32> -> tensor<1x?x16xf32>
    %wo = quark.param "model.layers.1.self_attn.o_proj.weight" : tensor<16x16xbf16>
    %o = quark.linear %a, %wo {name = "model.layers.1.self_attn.o_proj"} : tensor<1x?x16xf32>, tensor<16x16xbf16> -> tensor<1x?x16xf32>
    %r = arith.addf %x, %o : tensor<1x?x16xf32>
    %n2w = quark.param "model.layers.1.post_attention_layernorm.weight" : tensor<16xbf16>
    %n2 = quark.rms_norm %r, %n2w {epsilon = 1.0e-5 : f64, name = "model.layers.1.post_attention_layernorm"} : tensor<1x?x16xf32>, tensor<16xbf16> -> tensor<1x?x16xf32>
    %wr = quark.param "model.layers.1.block_sparse_moe.gate.weight" : tensor<2x16xbf16>
    %logits = quark.linear %n2, %wr {name = "model.layers.1.block_sparse_moe.gate"} : tensor<1x?x16xf32>, tensor<2x16xbf16> -> tensor<1x?x2xf32>
    %w, %i = quark.topk_router %logits {top_k = 1 : i64, normalize = true} : tensor<1x?x2xf32> -> tensor<1x?x1xf32>, tensor<1x?x1xi32>
    %m = quark.moe %n2, %w, %i : tensor<1x?x16xf32>, tensor<1x?x1xf32>, tensor<1x?x1xi32> -> tensor<1x?x16xf32> {
    ^bb0(%t: tensor<?x16xf32>):
      %w1 = quark.param "model.layers.1.block_sparse_moe.experts.0.w1.weight" : tensor<16x16xbf16>
      %e = quark.linear %t, %w1 {name = "model.layers.1.block_sparse_moe.experts.0.w1"} : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
      quark.yield %e : tensor<?x16xf32>
    }, {
    ^bb0(%t: tensor<?x16xf32>):
      %w1 = quark.param "model.layers.1.block_sparse_moe.experts.1.w1.weight" : tensor<16x16xbf16>
      %e = quark.linear %t, %w1 {name = "model.layers.1.block_sparse_moe.experts.1.w1"} : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
      quark.yield %e : tensor<?x16xf32>
    }
    %y = arith.addf %r, %m : tensor<1x?x16xf32>
    quark.yield %y : tensor<1x?x16xf32>
  }
  %h3 = quark.block "model.layers.2" (%h2) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  ^bb0(%x: tensor<1x?x16xf32>):
    %nw = quark.param "model.layers.2.norm.weight" : tensor<16xbf16>
    %n = quark.rms_norm %x, %nw {epsilon = 1.0e-5 : f64, name = "model.layers.2.norm"} : tensor<1x?x16xf32>, tensor<16xbf16> -> tensor<1x?x16xf32>
    %w1 = quark.param "model.layers.2.fc1.weight" : tensor<32x16xbf16>
    %f1 = quark.linear %n, %w1 {name = "model.layers.2.fc1"} : tensor<1x?x16xf32>, tensor<32x16xbf16> -> tensor<1x?x32xf32>
    %relu = quark.activation relu %f1 : tensor<1x?x32xf32>
    %w2 = quark.param "model.layers.2.fc2.weight" : tensor<16x32xbf16>
    %f2 = quark.linear %relu, %w2 {name = "model.layers.2.fc2"} : tensor<1x?x32xf32>, tensor<16x32xbf16> -> tensor<1x?x16xf32>
    %s = arith.addf %n, %f2 : tensor<1x?x16xf32>
    quark.yield %s : tensor<1x?x16xf32>
  }
  return %h3 : tensor<1x?x16xf32>
}
