// RUN: quark-opt %s --quark-annotate-kernel-arguments | FileCheck %s
// RUN: quark-opt %s --quark-annotate-kernel-arguments=alignment=64 | FileCheck %s --check-prefix=A64

// Kernel pointers that are buffer bases (host arguments, allocations,
// their reshapes) are aligned; noalias unless another argument views the
// same buffer (x and its expanded view here); a global's pointer and a
// subview's are left alone, and so is a kernel launched twice.
// CHECK-LABEL: gpu.func @k(
// CHECK-SAME:    %{{.*}}: memref<4x8xf32> {llvm.align = 16 : i64},
// CHECK-SAME:    %{{.*}}: memref<4x2x4xf32> {llvm.align = 16 : i64},
// CHECK-SAME:    %{{.*}}: memref<4xf32> {llvm.align = 16 : i64, llvm.noalias},
// CHECK-SAME:    %{{.*}}: memref<8xf32> {llvm.align = 16 : i64, llvm.noalias},
// CHECK-SAME:    %{{.*}}: memref<2xf32>,
// CHECK-SAME:    %{{.*}}: memref<2xf32, strided<[1], offset: 2>>)
// CHECK-LABEL: gpu.func @twice(
// CHECK-SAME:    %{{.*}}: memref<8xf32>)
// A64: memref<4xf32> {llvm.align = 64 : i64, llvm.noalias}
module attributes {gpu.container_module} {
  memref.global "private" constant @table : memref<2xf32> = dense<[1.0, 2.0]>
  func.func @host(%x: memref<4x8xf32>, %y: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %view = memref.expand_shape %x [[0], [1, 2]] output_shape [4, 2, 4] : memref<4x8xf32> into memref<4x2x4xf32>
    %out = memref.alloc() : memref<4xf32>
    %table = memref.get_global @table : memref<2xf32>
    %tail = memref.subview %y[2] [2] [1] : memref<8xf32> to memref<2xf32, strided<[1], offset: 2>>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%x : memref<4x8xf32>, %view : memref<4x2x4xf32>, %out : memref<4xf32>, %y : memref<8xf32>, %table : memref<2xf32>, %tail : memref<2xf32, strided<[1], offset: 2>>)
    gpu.launch_func @kernels::@twice blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%y : memref<8xf32>)
    gpu.launch_func @kernels::@twice blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%y : memref<8xf32>)
    return
  }
  gpu.module @kernels {
    gpu.func @k(%a: memref<4x8xf32>, %b: memref<4x2x4xf32>, %c: memref<4xf32>, %d: memref<8xf32>, %e: memref<2xf32>, %f: memref<2xf32, strided<[1], offset: 2>>) kernel {
      gpu.return
    }
    gpu.func @twice(%a: memref<8xf32>) kernel {
      gpu.return
    }
  }
}
