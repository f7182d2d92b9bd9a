// RUN: quark-dialect-opt %s -split-input-file -verify-diagnostics
// One case per verifier branch of the transformer ops.

// expected-error @+1 {{rope scaling 'factor' must be positive}}
func.func private @f() attributes {s = #quark.rope_scaling<type = "linear", factor = 0.0 : f64>}

// -----

// expected-error @+1 {{unsupported rope scaling type 'yarn' (supported: linear, llama3)}}
func.func private @f() attributes {s = #quark.rope_scaling<type = "yarn", factor = 4.0 : f64>}

// -----

// expected-error @+1 {{llama3 rope scaling needs 'low_freq_factor', 'high_freq_factor' and 'original_max_position_embeddings'}}
func.func private @f() attributes {s = #quark.rope_scaling<type = "llama3", factor = 8.0 : f64>}

// -----

// expected-error @+1 {{llama3 rope scaling needs low_freq_factor < high_freq_factor}}
func.func private @f() attributes {s = #quark.rope_scaling<type = "llama3", factor = 8.0 : f64, low_freq_factor = 4.0 : f64, high_freq_factor = 1.0 : f64, original_max_position_embeddings = 8192 : i64>}

// -----

func.func @f(%ids: tensor<1x4xi32>, %t: tensor<32xbf16>) {
  // expected-error @+1 {{'quark.embedding' op expects a [vocab, hidden] table}}
  %0 = quark.embedding %ids, %t : tensor<1x4xi32>, tensor<32xbf16> -> tensor<1x4x32xf32>
  return
}

// -----

func.func @f(%ids: tensor<1x4xi32>, %t: tensor<32x8xbf16>) {
  // expected-error @+1 {{'quark.embedding' op expects the result to be the ids' shape plus the table's hidden dimension}}
  %0 = quark.embedding %ids, %t : tensor<1x4xi32>, tensor<32x8xbf16> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @f(%ids: tensor<1x4xi32>, %t: tensor<32x8xbf16>) {
  // expected-error @+1 {{'quark.embedding' op expects the result to be the ids' shape plus the table's hidden dimension}}
  %0 = quark.embedding %ids, %t : tensor<1x4xi32>, tensor<32x8xbf16> -> tensor<1x5x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %t: tensor<16x8xbf16>) {
  // expected-error @+1 {{'quark.position_embedding' op expects a [batch, sequence, hidden] input and a [positions, hidden] table}}
  %0 = quark.position_embedding %x, %t {offset = 2 : i64} : tensor<4x8xf32>, tensor<16x8xbf16> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %t: tensor<16x4xbf16>) {
  // expected-error @+1 {{'quark.position_embedding' op expects the table's hidden size to match the input}}
  %0 = quark.position_embedding %x, %t {offset = 2 : i64} : tensor<1x4x8xf32>, tensor<16x4xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %t: tensor<16x8xbf16>) {
  // expected-error @+1 {{'quark.position_embedding' op expects a non-negative offset}}
  %0 = quark.position_embedding %x, %t {offset = -1 : i64} : tensor<1x4x8xf32>, tensor<16x8xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %t: tensor<16x8xbf16>) {
  // expected-error @+1 {{'quark.position_embedding' op expects the result to have the input's type}}
  %0 = quark.position_embedding %x, %t {offset = 2 : i64} : tensor<1x4x8xf32>, tensor<16x8xbf16> -> tensor<1x4x8xbf16>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'quark.linear' op expects an [out_features, in_features] weight}}
  %0 = quark.linear %x, %w {name = "l"} : tensor<1x4x8xf32>, tensor<8xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<16x4xbf16>) {
  // expected-error @+1 {{'quark.linear' op expects input features (8) to match the weight's in_features (4)}}
  %0 = quark.linear %x, %w {name = "l"} : tensor<1x4x8xf32>, tensor<16x4xbf16> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<16x8xbf16>) {
  // expected-error @+1 {{'quark.linear' op expects the result to be the input's leading dimensions plus out_features}}
  %0 = quark.linear %x, %w {name = "l"} : tensor<1x4x8xf32>, tensor<16x8xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<16x8xbf16>, %b: tensor<8xbf16>) {
  // expected-error @+1 {{'quark.linear' op expects an [out_features] bias}}
  %0 = quark.linear %x, %w, %b {name = "l"} : tensor<1x4x8xf32>, tensor<16x8xbf16>, tensor<8xbf16> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'quark.rms_norm' op expects the result to have the input's type}}
  %0 = quark.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<1x4x8xf32>, tensor<8xbf16> -> tensor<1x4x8xbf16>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<3xbf16>) {
  // expected-error @+1 {{'quark.rms_norm' op expects 'group_size' to divide the last dimension}}
  %0 = quark.rms_norm %x, %w {epsilon = 1.0e-5 : f64, group_size = 3} : tensor<1x4x8xf32>, tensor<3xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<4xbf16>) {
  // expected-error @+1 {{'quark.rms_norm' op expects a weight of 8 elements}}
  %0 = quark.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<1x4x8xf32>, tensor<4xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'quark.rms_norm' op expects a non-negative epsilon}}
  %0 = quark.rms_norm %x, %w {epsilon = -1.0 : f64} : tensor<1x4x8xf32>, tensor<8xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'quark.layer_norm' op expects the result to have the input's type}}
  %0 = quark.layer_norm %x, %w, %w {epsilon = 1.0e-5 : f64} : tensor<1x4x8xf32>, tensor<8xbf16>, tensor<8xbf16> -> tensor<1x4x8xbf16>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<8xbf16>, %b: tensor<4xbf16>) {
  // expected-error @+1 {{'quark.layer_norm' op expects weight and bias of the last dimension's size}}
  %0 = quark.layer_norm %x, %w, %b {epsilon = 1.0e-5 : f64} : tensor<1x4x8xf32>, tensor<8xbf16>, tensor<4xbf16> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'quark.rope' op expects [batch, sequence, heads * head_dim] input and result of the same type}}
  %0 = quark.rope %x {head_dim = 4 : i64, theta = 10000.0 : f64} : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x9xf32>) {
  // expected-error @+1 {{'quark.rope' op expects a positive, even 'head_dim'}}
  %0 = quark.rope %x {head_dim = 3 : i64, theta = 10000.0 : f64} : tensor<1x4x9xf32> -> tensor<1x4x9xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x10xf32>) {
  // expected-error @+1 {{'quark.rope' op expects the last dimension to be whole heads}}
  %0 = quark.rope %x {head_dim = 4 : i64, theta = 10000.0 : f64} : tensor<1x4x10xf32> -> tensor<1x4x10xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.rope' op expects a positive 'theta'}}
  %0 = quark.rope %x {head_dim = 4 : i64, theta = 0.0 : f64} : tensor<1x4x8xf32> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x12xf32>, %k: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.attention' op expects positive head counts with num_heads a multiple of num_kv_heads}}
  %0 = quark.attention %q, %k, %k {num_heads = 3 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64} : tensor<1x4x12xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x12xf32>
  return
}

// -----

func.func @f(%q: tensor<4x16xf32>) {
  // expected-error @+1 {{'quark.attention' op expects [batch, sequence, features] tensors}}
  %0 = quark.attention %q, %q, %q {num_heads = 4 : i64, num_kv_heads = 4 : i64, head_dim = 4 : i64, scale = 0.5 : f64} : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x12xf32>, %k: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.attention' op expects q and the result to hold num_heads * head_dim features}}
  %0 = quark.attention %q, %k, %k {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64} : tensor<1x4x12xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x12xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16xf32>, %k: tensor<1x4x12xf32>) {
  // expected-error @+1 {{'quark.attention' op expects k and v to hold num_kv_heads * head_dim features}}
  %0 = quark.attention %q, %k, %k {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64} : tensor<1x4x16xf32>, tensor<1x4x12xf32>, tensor<1x4x12xf32> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16xf32>, %k: tensor<1x5x8xf32>) {
  // expected-error @+1 {{'quark.attention' op expects q, k, v and the result to agree on batch and sequence}}
  %0 = quark.attention %q, %k, %k {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64} : tensor<1x4x16xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16xf32>, %k: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.attention' op expects a positive 'sliding_window'}}
  %0 = quark.attention %q, %k, %k {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, scale = 0.5 : f64, sliding_window = 0 : i64} : tensor<1x4x16xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @f(%l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.topk_router' op expects 1 <= top_k <= number of experts}}
  %w, %i = quark.topk_router %l {top_k = 9 : i64, normalize = true} : tensor<1x4x8xf32> -> tensor<1x4x9xf32>, tensor<1x4x9xi32>
  return
}

// -----

func.func @f(%l: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.topk_router' op expects weights and indices of the logits' shape with top_k in the last dimension}}
  %w, %i = quark.topk_router %l {top_k = 2 : i64, normalize = true} : tensor<1x4x8xf32> -> tensor<1x4x3xf32>, tensor<1x4x2xi32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<1x4x2xf32>, %i: tensor<1x4x1xi32>) {
  // expected-error @+1 {{'quark.moe' op expects routing weights and indices of one shape}}
  %0 = quark.moe %x, %w, %i : tensor<1x4x8xf32>, tensor<1x4x2xf32>, tensor<1x4x1xi32> -> tensor<1x4x8xf32> {
  ^bb0(%t: tensor<?x8xf32>):
    quark.yield %t : tensor<?x8xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<1x4x2xf32>, %i: tensor<1x4x2xi32>) {
  // expected-error @+1 {{'quark.moe' op expects the result to have the input's type}}
  %0 = quark.moe %x, %w, %i : tensor<1x4x8xf32>, tensor<1x4x2xf32>, tensor<1x4x2xi32> -> tensor<1x4x8xbf16> {
  ^bb0(%t: tensor<?x8xf32>):
    quark.yield %t : tensor<?x8xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<1x4x2xf32>, %i: tensor<1x4x2xi32>) {
  // expected-error @+1 {{'quark.moe' op expects at least one expert region}}
  %0 = quark.moe %x, %w, %i : tensor<1x4x8xf32>, tensor<1x4x2xf32>, tensor<1x4x2xi32> -> tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<1x4x2xf32>, %i: tensor<1x4x2xi32>) {
  // expected-error @+1 {{'quark.moe' op expects expert 0 to take one argument of type 'tensor<?x8xf32>'}}
  %0 = quark.moe %x, %w, %i : tensor<1x4x8xf32>, tensor<1x4x2xf32>, tensor<1x4x2xi32> -> tensor<1x4x8xf32> {
  ^bb0(%t: tensor<4x8xf32>):
    quark.yield %t : tensor<4x8xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>, %w: tensor<1x4x2xf32>, %i: tensor<1x4x2xi32>, %other: tensor<4xf32>) {
  // expected-error @+1 {{'quark.moe' op expects expert 0 to yield 'tensor<?x8xf32>'}}
  %0 = quark.moe %x, %w, %i : tensor<1x4x8xf32>, tensor<1x4x2xf32>, tensor<1x4x2xi32> -> tensor<1x4x8xf32> {
  ^bb0(%t: tensor<?x8xf32>):
    quark.yield
  }
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.block' op expects the region's arguments to match the inputs}}
  %0 = quark.block "model.layers.0" (%x) : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  ^bb0(%a: tensor<1x4x4xf32>):
    %c = arith.constant dense<0.0> : tensor<1x4x8xf32>
    quark.yield %c : tensor<1x4x8xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'quark.block' op expects the region to yield the results' types}}
  %0 = quark.block "model.layers.0" (%x) : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  ^bb0(%a: tensor<1x4x8xf32>):
    quark.yield
  }
  return
}
