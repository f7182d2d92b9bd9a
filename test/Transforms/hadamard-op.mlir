// quark.hadamard round-trips and needs a static last dimension.
// RUN: quark-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @rotate
// CHECK: quark.hadamard %arg0 {name = "model.layers.0.mlp.down_proj.online_rotation"} : tensor<?x?x768xf32>
func.func @rotate(%x: tensor<?x?x768xf32>) -> tensor<?x?x768xf32> {
  %r = quark.hadamard %x {name = "model.layers.0.mlp.down_proj.online_rotation"} : tensor<?x?x768xf32>
  return %r : tensor<?x?x768xf32>
}

// -----

func.func @dynamic(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  // expected-error @+1 {{expects a static last dimension to rotate}}
  %r = quark.hadamard %x : tensor<4x?xf32>
  return %r : tensor<4x?xf32>
}
