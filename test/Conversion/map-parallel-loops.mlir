// RUN: quark-opt %s --pass-pipeline='builtin.module(func.func(quark-map-parallel-loops), cse)' | FileCheck %s
// RUN: not quark-opt %s --pass-pipeline='builtin.module(func.func(quark-map-parallel-loops{threads=100}))' 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: threads must be a positive power of two, got 100

// A batch-1 GEMV's (m, n) loops: 1 x 256 tiles, n on x.
// CHECK-LABEL: func.func @gemv
// CHECK-DAG:   %[[ONE:.*]] = arith.constant 1 : index
// CHECK-DAG:   %[[T256:.*]] = arith.constant 256 : index
// CHECK:       %[[TM:.*]] = arith.muli %{{.*}}, %[[ONE]] : index
// CHECK:       %[[TN:.*]] = arith.muli %{{.*}}, %[[T256]] : index
// CHECK:       scf.parallel ({{.*}}) = ({{.*}}) to (%c1, %c4096) step (%[[TM]], %[[TN]])
// CHECK:         scf.parallel ({{.*}}) = ({{.*}}) to (%[[TM]], %[[TN]]) step
// CHECK-NOT:       scf.if
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = thread_y, map = (d0) -> (d0), bound = (d0) -> (d0)>, #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK:       } {mapping = [#gpu.loop_dim_map<processor = block_y, map = (d0) -> (d0), bound = (d0) -> (d0)>, #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
func.func @gemv(%out: memref<1x4096xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4096 = arith.constant 4096 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %c4096) step (%c1, %c1) {
    memref.store %v, %out[%i, %j] : memref<1x4096xf32>
  }
  return
}

// 100 x 96: 128 threads cover n, the other 2 go to m; bounds checked inside.
// CHECK-LABEL: func.func @ragged
// CHECK-DAG:   %[[T2:.*]] = arith.constant 2 : index
// CHECK-DAG:   %[[T128:.*]] = arith.constant 128 : index
// CHECK:       %[[TM:.*]] = arith.muli %{{.*}}, %[[T2]] : index
// CHECK:       %[[TN:.*]] = arith.muli %{{.*}}, %[[T128]] : index
// CHECK:       scf.parallel ({{.*}}) = ({{.*}}) to (%c100, %c96) step (%[[TM]], %[[TN]])
// CHECK:         arith.cmpi ult, %{{.*}}, %c100 : index
// CHECK:         arith.cmpi ult, %{{.*}}, %c96 : index
// CHECK:         scf.if
func.func @ragged(%out: memref<100x96xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %c96 = arith.constant 96 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c100, %c96) step (%c1, %c1) {
    memref.store %v, %out[%i, %j] : memref<100x96xf32>
  }
  return
}

// Rank 3: the outer dimension gets one thread and z.
// CHECK-LABEL: func.func @rank3
// CHECK-DAG:   %[[T4:.*]] = arith.constant 4 : index
// CHECK-DAG:   %[[T64:.*]] = arith.constant 64 : index
// CHECK:       %[[TY:.*]] = arith.muli %{{.*}}, %[[T4]] : index
// CHECK:       %[[TX:.*]] = arith.muli %{{.*}}, %[[T64]] : index
// CHECK:       scf.parallel ({{.*}}) = ({{.*}}) to (%c2, %c3, %c64) step (%{{.*}}, %[[TY]], %[[TX]])
// CHECK:       {mapping = [#gpu.loop_dim_map<processor = thread_z{{.*}}>, #gpu.loop_dim_map<processor = thread_y{{.*}}>, #gpu.loop_dim_map<processor = thread_x{{.*}}>]}
// CHECK:       {mapping = [#gpu.loop_dim_map<processor = block_z{{.*}}>, #gpu.loop_dim_map<processor = block_y{{.*}}>, #gpu.loop_dim_map<processor = block_x{{.*}}>]}
func.func @rank3(%out: memref<2x3x64xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c2, %c3, %c64) step (%c1, %c1, %c1) {
    memref.store %v, %out[%i, %j, %k] : memref<2x3x64xf32>
  }
  return
}
