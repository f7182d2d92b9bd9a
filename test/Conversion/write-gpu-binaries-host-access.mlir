// RUN: rm -rf %t
// RUN: not quark-opt %s --quark-write-gpu-binaries=dir=%t -o /dev/null 2>&1 | FileCheck %s
// RUN: not ls %t

// The manifest lists launches only, so a host function that touches a
// buffer itself (here a copy the launcher would never make) is refused
// before anything is written.
// CHECK: error: accesses a buffer on the host in function 'host'; the kernel manifest can only launch kernels
// CHECK-NEXT: memref.copy
module attributes {gpu.container_module} {
  gpu.binary @kernels [#gpu.object<#rocdl.target<chip = "gfx942">, bin = "code">]
  func.func @host(%x: memref<4xf32>) -> memref<4xf32> {
    %c1 = arith.constant 1 : index
    %copy = memref.alloc() : memref<4xf32>
    memref.copy %x, %copy : memref<4xf32> to memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%copy : memref<4xf32>)
    return %copy : memref<4xf32>
  }
}
