// RUN: quark-opt %s --pass-pipeline='builtin.module(func.func(quark-fuse-row-chains), canonicalize, cse)' | FileCheck %s
// RUN: quark-opt %s --pass-pipeline='builtin.module(func.func(quark-fuse-row-chains{emulate=true}), canonicalize, cse)' | FileCheck %s --check-prefix=EMU

// Through the GPU pipeline: a per-tensor fp8 scale of one token (the
// chunks' statistics, their merge, the merge over the one row, two copies
// bufferization makes because the merges share their fills, the scale, the
// codes) is one launch of one workgroup: quark-copies-to-linalg makes the
// copies linalg ops (on the host they would be lost), and a chain of one
// row takes any access.
// RUN: quark-run-kernel --kernel dynamic-quantize --dtype fp8_e4m3 --qscheme per_tensor --m 1 --k 4096 --emit-quark \
// RUN:   | quark-opt --quark-lower-to-rocdl-pipeline="chip=gfx942 format=isa" | FileCheck %s --check-prefix=ONE-TOKEN
// ONE-TOKEN-LABEL: func.func @kernel(
// ONE-TOKEN-NOT:   memref.copy
// ONE-TOKEN:       gpu.launch_func {{.*}} blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)
// ONE-TOKEN-NOT:   gpu.launch_func
// ONE-TOKEN:       return

// The linearization's maps (@linearized): the innermost loop is the point
// modulo its extent, the outermost a quotient.
// CHECK-DAG: #[[INNER:.*]] = affine_map<(d0) -> (d0 mod 8)>
// CHECK-DAG: #[[OUTER:.*]] = affine_map<(d0) -> (d0 floordiv 8)>

// quark-fuse-row-chains runs a chain of linalg ops that pass data only
// within rows (a dynamic quantizer: statistics, scales, codes) as one
// kernel with a workgroup per row.

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row2 = affine_map<(d0, d1) -> (d0)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#red3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#id1 = affine_map<(d0) -> (d0)>

// A per-token scale and the codes: fill, a chunked absolute maximum
// (4 chunks of 64 per row), the merge of the chunks, the scale, the
// quantization. One launch of 4 workgroups (rows) of 256 threads (the
// widest op has 256 elements per row). Barriers only where an op reads
// what the ops since the last barrier wrote: none between the two fills.
// CHECK-LABEL: func.func @per_token
// CHECK-NOT:     linalg.
// CHECK:         gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c4, {{.*}} = %c1, {{.*}} = %c1) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c256, {{.*}} = %c1, {{.*}} = %c1)
// The fills: 4 partials and 1 maximum per row; thread t takes elements
// t, t + 256, ... of its row.
// CHECK:           scf.for %[[P:.*]] = %[[T]] to %c4 step %c256 {
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[ROW]], %[[P]]] : memref<4x4xf32>
// CHECK:           scf.for %{{.*}} = %[[T]] to %c1 step %c256 {
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[ROW]]] : memref<4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      gpu.barrier
// A chunk's 64 elements in order in one thread.
// CHECK:           scf.for %[[C:.*]] = %[[T]] to %c4 step %c256 {
// CHECK:             scf.for %[[E:.*]] = %c0 to %c64 step %c1 iter_args
// CHECK:               memref.load %{{.*}}[%[[ROW]], %[[C]], %[[E]]] : memref<4x4x64xf32>
// CHECK:           gpu.barrier
// CHECK:           scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args
// CHECK:           gpu.barrier
// CHECK:           arith.divf
// CHECK:           memref.store %{{.*}}, %{{.*}}[%[[ROW]]] : memref<4xf32>
// CHECK:           gpu.barrier
// CHECK:           scf.for %[[K:.*]] = %[[T]] to %c256 step %c256 {
// CHECK:             memref.load %{{.*}}[%[[ROW]], %[[K]]] : memref<4x256xf32>
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[ROW]], %[[K]]] : memref<4x256xi8>
// CHECK:         gpu.terminator
// CHECK:         return
// The emulation: rows, then each op's threads in turn.
// EMU-LABEL: func.func @per_token
// EMU-NOT:     gpu.launch
// EMU:         scf.for %[[ROW:.*]] = %c0 to %c4 step %c1 {
// EMU:           scf.for %[[T:.*]] = %c0 to %c256 step %c1 {
// EMU-NEXT:        scf.for %{{.*}} = %[[T]] to %c4 step %c256 {
// EMU-COUNT-5:   scf.for %{{.*}} = %c0 to %c256 step %c1 {
// EMU-NOT:       linalg.
// EMU-LABEL: func.func @linearized
func.func @per_token(%x: memref<4x256xf32>, %codes: memref<4x256xi8>) {
  %ninf = arith.constant 0xFF800000 : f32
  %c127 = arith.constant 127.0 : f32
  %chunks = memref.expand_shape %x [[0], [1, 2]] output_shape [4, 4, 64] : memref<4x256xf32> into memref<4x4x64xf32>
  %partial = memref.alloc() : memref<4x4xf32>
  linalg.fill ins(%ninf : f32) outs(%partial : memref<4x4xf32>)
  %amax = memref.alloc() : memref<4xf32>
  linalg.fill ins(%ninf : f32) outs(%amax : memref<4xf32>)
  linalg.generic {indexing_maps = [#id3, #red3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%chunks : memref<4x4x64xf32>) outs(%partial : memref<4x4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %a = math.absf %in : f32
    %m = arith.maximumf %a, %acc : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%partial : memref<4x4xf32>) outs(%amax : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.maximumf %in, %acc : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%amax : memref<4xf32>) outs(%amax : memref<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.divf %in, %c127 : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id2, #row2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %amax : memref<4x256xf32>, memref<4xf32>) outs(%codes : memref<4x256xi8>) {
  ^bb0(%in: f32, %s: f32, %out: i8):
    %q = arith.divf %in, %s : f32
    %c = arith.fptosi %q : f32 to i8
    linalg.yield %c : i8
  }
  return
}

// Several parallel loops after the row: linearized with the innermost
// fastest (thread t of a 2 x 4 x 8 op takes d2 = t mod 8, d1 = t / 8);
// 64 threads for 32 elements per row, the fewest a workgroup gets.
// CHECK-LABEL: func.func @linearized
// CHECK:         gpu.launch {{.*}} in ({{.*}} = %c2, {{.*}}) threads({{.*}}) in ({{.*}} = %c64, {{.*}})
// CHECK:           scf.for %[[P:.*]] = %{{.*}} to %c32 step %c64 {
// CHECK-DAG:         %[[D1:.*]] = affine.apply #[[OUTER]](%[[P]])
// CHECK-DAG:         %[[D2:.*]] = affine.apply #[[INNER]](%[[P]])
// CHECK:             memref.store %{{.*}}, %{{.*}}[%{{.*}}, %[[D1]], %[[D2]]] : memref<2x4x8xf32>
func.func @linearized(%x: memref<2x4x8xf32>, %y: memref<2x4x8xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%y : memref<2x4x8xf32>)
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : memref<2x4x8xf32>) outs(%y : memref<2x4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  }
  return
}

// A buffer written in rows and read across them (transposed) would need
// other workgroups' results: the chain ends before the reader, and one op
// alone is not worth a kernel.
// CHECK-LABEL: func.func @across_rows
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.fill
// CHECK:         linalg.generic
func.func @across_rows(%x: memref<64x64xf32>, %y: memref<64x64xf32>) {
  %one = arith.constant 1.0 : f32
  %t = memref.alloc() : memref<64x64xf32>
  linalg.fill ins(%one : f32) outs(%t : memref<64x64xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%t : memref<64x64xf32>) outs(%y : memref<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  return
}

// GEMMs keep their own kernels; so does an op next to a memory copy the
// chain cannot see through.
// CHECK-LABEL: func.func @stops
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}}quark.gemm
// CHECK:         linalg.fill
// CHECK:         memref.copy
// CHECK:         linalg.fill
func.func @stops(%a: memref<4x64xf32>, %w: memref<64x64xf32>, %y: memref<4x64xf32>, %z: memref<4x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<4x64xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<4x64xf32>, memref<64x64xf32>) outs(%y : memref<4x64xf32>) attrs = {quark.gemm = "test"} {
  ^bb0(%x: f32, %v: f32, %acc: f32):
    %p = arith.mulf %x, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%z : memref<4x64xf32>)
  memref.copy %y, %a : memref<4x64xf32> to memref<4x64xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<4x64xf32>)
  return
}

// Many rows with one element each: a workgroup per row would leave its
// threads idle, so the ops keep their launches (one thread per element).
// A single row is one workgroup either way and is fused.
// CHECK-LABEL: func.func @narrow_rows
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.fill
// CHECK:         linalg.generic
// CHECK-LABEL: func.func @one_row
// CHECK:         gpu.launch {{.*}} in ({{.*}} = %c1, {{.*}}) threads({{.*}}) in ({{.*}} = %c64, {{.*}})
// CHECK:           scf.for %{{.*}} = %c0 to %c4096 step %c1 iter_args
// CHECK-NOT:     linalg.
func.func @narrow_rows(%x: memref<4096x16xf32>, %amax: memref<4096xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  linalg.fill ins(%ninf : f32) outs(%amax : memref<4096xf32>)
  linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4096x16xf32>) outs(%amax : memref<4096xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.maximumf %in, %acc : f32
    linalg.yield %m : f32
  }
  return
}
func.func @one_row(%x: memref<1x4096xf32>, %amax: memref<1xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  linalg.fill ins(%ninf : f32) outs(%amax : memref<1xf32>)
  linalg.generic {indexing_maps = [#id2, #row2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1x4096xf32>) outs(%amax : memref<1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.maximumf %in, %acc : f32
    linalg.yield %m : f32
  }
  return
}
