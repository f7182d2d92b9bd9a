//===- GemmToMatrixCores.cpp - W8A8 GEMMs on GPU matrix cores -------------===//
//
// Replaces the code-domain GEMMs of convert-quark-to-linalg (int8 x int8 with
// i32 accumulation, fp8 x fp8 with f32 accumulation), once bufferized, by a
// gpu.launch that stages tiles of both operands in workgroup memory and
// multiplies them with the chip's matrix instructions: amdgpu.mfma on AMD,
// mma.sync on NVIDIA. The generic path (one thread per output element) stays
// for everything else.
//
// Tiling (both vendors): a workgroup of 256 threads computes a 64x64 tile of
// the accumulator. K advances 64 codes per step: every thread copies 16 bytes
// of each operand into workgroup memory, then each wave (warp) reads its
// fragments and issues 64 / K instructions for each of its 2x2 blocks.
//
// What differs per instruction set is written once, in InstructionLayout:
// the block shape, which codes each lane holds (its fragment) and which
// elements of the block's result it receives.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "ElementCodec.h"
#include "GemmEpilogue.h"
#include "GenericBody.h"
#include "ZeroingFill.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKGEMMTOMATRIXCORES
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

/// The compute capability of an NVIDIA chip name (sm_90 -> 90, sm_90a ->
/// 90), or 0.
static unsigned nvidiaComputeCapability(StringRef chip) {
  if (!chip.consume_front("sm_"))
    return 0;
  unsigned capability = 0;
  if (chip.consumeInteger(10, capability) || chip.size() > 1)
    return 0;
  return capability;
}

std::optional<MatrixCoreTarget>
mlir::quark::getMatrixCoreTarget(StringRef chip, unsigned ptxVersion) {
  constexpr auto AmdMfma = MatrixInstructionSet::AmdMfma;
  constexpr auto NvidiaMmaSync = MatrixInstructionSet::NvidiaMmaSync;
  if (chip == "gfx942")
    return MatrixCoreTarget{AmdMfma, /*int8K=*/32, /*fp8=*/true,
                            /*fp8IsFnuz=*/true, /*ocpFp8Conversion=*/false};
  if (chip == "gfx950")
    return MatrixCoreTarget{AmdMfma, /*int8K=*/32, /*fp8=*/true,
                            /*fp8IsFnuz=*/false, /*ocpFp8Conversion=*/true};
  if (chip == "gfx90a")
    return MatrixCoreTarget{AmdMfma, /*int8K=*/16, /*fp8=*/false,
                            /*fp8IsFnuz=*/false, /*ocpFp8Conversion=*/false};
  // mma.sync m16n8k32: s8 since Ampere (sm_80), e4m3 / e5m2 since Ada
  // (sm_89) in PTX ISA 8.4.
  if (unsigned capability = nvidiaComputeCapability(chip); capability >= 80)
    return MatrixCoreTarget{NvidiaMmaSync, /*int8K=*/32,
                            /*fp8=*/capability >= 89 && ptxVersion >= 84,
                            /*fp8IsFnuz=*/false, /*ocpFp8Conversion=*/false};
  return std::nullopt;
}

namespace {

constexpr int64_t kTile = 64;        // rows and columns of a workgroup's tile
constexpr int64_t kStepK = 64;       // codes of K staged per step
constexpr int64_t kLdsRowBytes = 80; // 64 codes + 16 bytes of padding
constexpr int64_t kThreads = 256;    // four waves of 64 or eight warps of 32
constexpr int64_t kBytesPerThread = kTile * kStepK / kThreads;
constexpr int64_t kBlocks = 2; // a wave's tile is 2x2 instruction blocks

/// What a matched GEMM multiplies: the element type of both code operands
/// and the instruction K it maps to.
struct GemmShape {
  linalg::GenericOp op;
  Value lhs, rhs, out; // memref<MxK>, memref<NxK>, the accumulator <MxN>
  Type code;           // i8, f8E4M3FN or f8E5M2
  int64_t n = 0, k = 0;
  int64_t instructionK = 0;
};

bool isCodeGemm(linalg::GenericOp op) {
  if (!op->hasAttr("quark.gemm_on_codes") || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !op.hasPureBufferSemantics())
    return false;
  MLIRContext *context = op.getContext();
  AffineExpr m = getAffineDimExpr(0, context), n = getAffineDimExpr(1, context),
             k = getAffineDimExpr(2, context);
  SmallVector<AffineMap> expected{AffineMap::get(3, 0, {m, k}, context),
                                  AffineMap::get(3, 0, {n, k}, context),
                                  AffineMap::get(3, 0, {m, n}, context)};
  return op.getIndexingMapsArray() == expected;
}

/// The GEMM's operands when this chip's matrix cores can compute it, its
/// shape tiles evenly in N and K (M is guarded row by row) and its
/// accumulator starts from zero.
std::optional<GemmShape> matchGemm(linalg::GenericOp op,
                                   const MatrixCoreTarget &target) {
  if (!isCodeGemm(op))
    return std::nullopt;
  GemmShape shape;
  shape.lhs = op.getDpsInputs()[0];
  shape.rhs = op.getDpsInputs()[1];
  shape.op = op;
  shape.out = op.getDpsInits()[0];
  // The kernel computes each accumulator element from zero.
  if (!zeroingFill(op, shape.out))
    return std::nullopt;
  auto lhsType = cast<MemRefType>(shape.lhs.getType());
  auto rhsType = cast<MemRefType>(shape.rhs.getType());
  auto accType = cast<MemRefType>(shape.out.getType());
  if (!rhsType.hasStaticShape() || !lhsType.getLayout().isIdentity() ||
      !rhsType.getLayout().isIdentity() || !accType.getLayout().isIdentity() ||
      lhsType.getElementType() != rhsType.getElementType())
    return std::nullopt;
  shape.code = lhsType.getElementType();
  shape.n = rhsType.getDimSize(0);
  shape.k = rhsType.getDimSize(1);
  if (shape.n % kTile || shape.k % kStepK)
    return std::nullopt;
  Type accElement = accType.getElementType();
  if (shape.code.isInteger(8) && accElement.isInteger(32))
    shape.instructionK = target.int8K;
  else if (isa<Float8E4M3FNType, Float8E5M2Type>(shape.code) &&
           accElement.isF32() && target.fp8)
    shape.instructionK = 32;
  else
    return std::nullopt;
  return shape;
}

/// Codes of one lane's fragment that lie together: `bytes` codes of block
/// row `row` from code `k` of the instruction's K on.
struct FragmentPiece {
  Value row, k;
  int64_t bytes;
};

/// One matrix instruction as the hardware documents it: D (m x n) += A
/// (m x K, rows of codes) * B (n x K, rows of codes, i.e. column-major B),
/// computed by `lanes` lanes that each hold pieces of A and B and receive
/// four elements of D.
class InstructionLayout {
public:
  InstructionLayout(MatrixInstructionSet set, int64_t k)
      : set(set), kCodes(k) {}

  int64_t lanes() const {
    return set == MatrixInstructionSet::AmdMfma ? 64 : 32;
  }
  int64_t m() const { return 16; }
  int64_t n() const { return set == MatrixInstructionSet::AmdMfma ? 16 : 8; }
  int64_t k() const { return kCodes; }

  /// The pieces of A (`isA`) or B a lane holds, in operand order.
  ///  - MFMA 16x16xK: row lane % 16, codes [K/4 * (lane / 16), +K/4), for A
  ///    and B alike.
  ///  - mma.sync m16n8k32 (g = lane / 4, t = lane % 4): A registers r = 0..3
  ///    hold row g + 8 (r % 2), codes 16 (r / 2) + 4t + [0, 4); B registers
  ///    r = 0..1 hold row (column of B) g, codes 16r + 4t + [0, 4).
  SmallVector<FragmentPiece> pieces(OpBuilder &b, Location loc, Value lane,
                                    bool isA) const {
    IndexMath math(b, loc);
    if (set == MatrixInstructionSet::AmdMfma)
      return {{math.rem(lane, 16), math.mul(math.div(lane, 16), kCodes / 4),
               kCodes / 4}};
    Value group = math.div(lane, 4), inGroup = math.mul(math.rem(lane, 4), 4);
    SmallVector<FragmentPiece> pieces;
    for (int64_t r = 0; r < (isA ? 4 : 2); ++r) {
      int64_t rowOffset = isA ? 8 * (r % 2) : 0;
      int64_t kOffset = 16 * (isA ? r / 2 : r);
      pieces.push_back({math.add(group, math.constant(rowOffset)),
                        math.add(inGroup, math.constant(kOffset)), 4});
    }
    return pieces;
  }

  /// Element v (0..3) of a lane's result: its row and column in D.
  ///  - MFMA: row 4 (lane / 16) + v, column lane % 16.
  ///  - mma.sync: row g + 8 (v / 2), column 2t + v % 2.
  std::pair<Value, Value> resultPosition(OpBuilder &b, Location loc, Value lane,
                                         int64_t v) const {
    IndexMath math(b, loc);
    if (set == MatrixInstructionSet::AmdMfma)
      return {math.add(math.mul(math.div(lane, 16), 4), math.constant(v)),
              math.rem(lane, 16)};
    return {math.add(math.div(lane, 4), math.constant(8 * (v / 2))),
            math.add(math.mul(math.rem(lane, 4), 2), math.constant(v % 2))};
  }

  /// Index arithmetic on `index` values.
  struct IndexMath {
    OpBuilder &b;
    Location loc;
    IndexMath(OpBuilder &b, Location loc) : b(b), loc(loc) {}
    Value constant(int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    }
    Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
    Value mul(Value x, int64_t c) {
      return arith::MulIOp::create(b, loc, x, constant(c));
    }
    Value div(Value x, int64_t c) {
      return arith::DivUIOp::create(b, loc, x, constant(c));
    }
    Value rem(Value x, int64_t c) {
      return arith::RemUIOp::create(b, loc, x, constant(c));
    }
  };

private:
  MatrixInstructionSet set;
  int64_t kCodes;
};

/// Where one thread of a workgroup reads and writes: the pieces of the
/// kernel, shared by the GPU form and its CPU emulation.
struct ThreadIndices {
  Value m0, n0;                 // the workgroup's tile
  Value lane, waveRow, waveCol; // the wave's part of the tile
  Value copyRow, copyCol;       // the 16 bytes it moves into LDS
  Value lhsRow, rhsRow;         // their rows in global memory
};

class MatrixCoreKernelBuilder {
public:
  MatrixCoreKernelBuilder(OpBuilder &b, Location loc, const GemmShape &shape,
                          const MatrixCoreTarget &target,
                          const GemmResultStore &results)
      : b(b), loc(loc), math(b, loc), shape(shape), target(target),
        layout(target.instructions, shape.instructionK), results(results) {
    accVector = VectorType::get(
        {4}, cast<MemRefType>(shape.out.getType()).getElementType());
    // gfx942's fp8 MFMAs read fnuz codes.
    operandElement = shape.code;
    if (target.fp8IsFnuz && isa<Float8E4M3FNType>(shape.code))
      operandElement = Float8E4M3FNUZType::get(b.getContext());
    else if (target.fp8IsFnuz && isa<Float8E5M2Type>(shape.code))
      operandElement = Float8E5M2FNUZType::get(b.getContext());
    if (!shape.code.isInteger(8)) {
      TensorQuantSpec spec;
      spec.dtype =
          isa<Float8E4M3FNUZType>(operandElement)   ? QuantDType::FP8E4M3FNUZ
          : isa<Float8E5M2FNUZType>(operandElement) ? QuantDType::FP8E5M2FNUZ
          : isa<Float8E4M3FNType>(operandElement)   ? QuantDType::FP8E4M3
                                                    : QuantDType::FP8E5M2;
      operandCodec.emplace(spec);
    }
  }

  /// The kernel: a gpu.launch of 256 threads per 64x64 tile.
  void buildGpuKernel() {
    Value rows = memref::DimOp::create(b, loc, shape.lhs, 0);
    auto lds = MemRefType::get(
        {kTile, kLdsRowBytes}, b.getI8Type(), MemRefLayoutAttrInterface(),
        gpu::AddressSpaceAttr::get(b.getContext(),
                                   gpu::AddressSpace::Workgroup));
    auto launch = gpu::LaunchOp::create(
        b, loc, index(shape.n / kTile),
        arith::CeilDivUIOp::create(b, loc, rows, index(kTile)), index(1),
        index(kThreads), index(1), index(1),
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, TypeRange{lds, lds});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    ldsA = launch.getWorkgroupAttributions()[0];
    ldsB = launch.getWorkgroupAttributions()[1];
    ThreadIndices at = indices(launch.getThreadIds().x, launch.getBlockIds().x,
                               launch.getBlockIds().y, rows);
    // Where this lane's fragment codes lie in a block: the same for every
    // block and K step.
    SmallVector<FragmentPiece> piecesA = layout.pieces(b, loc, at.lane, true);
    SmallVector<FragmentPiece> piecesB = layout.pieces(b, loc, at.lane, false);
    Value zero =
        arith::ConstantOp::create(b, loc, accVector, b.getZeroAttr(accVector));
    auto loop =
        scf::ForOp::create(b, loc, index(0), index(shape.k), index(kStepK),
                           SmallVector<Value>(kBlocks * kBlocks, zero));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      auto [a, w] = loadTiles(at, loop.getInductionVar());
      // The previous step's fragments have been read by every wave.
      gpu::BarrierOp::create(b, loc);
      storeTiles(at, a, w);
      gpu::BarrierOp::create(b, loc);
      SmallVector<Value> acc(loop.getRegionIterArgs());
      for (int64_t step = 0; step < kStepK / shape.instructionK; ++step) {
        SmallVector<Value> opA[kBlocks], opB[kBlocks];
        for (int64_t i = 0; i < kBlocks; ++i) {
          opA[i] = instructionOperands(
              fragment(ldsA, blockRowA(at, i), piecesA, step));
          opB[i] = instructionOperands(
              fragment(ldsB, blockRowB(at, i), piecesB, step));
        }
        for (int64_t i = 0; i < kBlocks; ++i)
          for (int64_t j = 0; j < kBlocks; ++j)
            acc[kBlocks * i + j] =
                multiplyAccumulate(opA[i], opB[j], acc[kBlocks * i + j]);
      }
      scf::YieldOp::create(b, loc, acc);
    }
    storeResults(at, rows,
                 [&](int64_t block) { return loop.getResult(block); });
    gpu::TerminatorOp::create(b, loc);
  }

  /// The same kernel as host loops, for checking it on the CPU: the
  /// threads of a workgroup run one after another between the points where
  /// the GPU kernel has barriers, their accumulators live in memory, and
  /// each matrix instruction is computed from the fragments its lanes hold:
  /// every lane's pieces are placed where the instruction layout says they
  /// belong in the block's A and B, and each lane's result elements are
  /// taken from the product where the layout says they come from.
  void buildCpuEmulation() {
    Value rows = memref::DimOp::create(b, loc, shape.lhs, 0);
    auto lds = MemRefType::get({kTile, kLdsRowBytes}, b.getI8Type());
    ldsA = memref::AllocOp::create(b, loc, lds);
    ldsB = memref::AllocOp::create(b, loc, lds);
    Value accState = memref::AllocOp::create(
        b, loc, MemRefType::get({kThreads, kBlocks * kBlocks}, accVector));
    // The blocks' A and B as the wave's lanes hold them, in codes.
    Value blockA = memref::AllocOp::create(
        b, loc,
        MemRefType::get({kBlocks, layout.m(), layout.k()}, b.getI8Type()));
    Value blockB = memref::AllocOp::create(
        b, loc,
        MemRefType::get({kBlocks, layout.n(), layout.k()}, b.getI8Type()));
    int64_t waves = kThreads / layout.lanes();

    forRange(0, arith::CeilDivUIOp::create(b, loc, rows, index(kTile)), 1,
             [&](Value blockM) {
               forRange(0, index(shape.n / kTile), 1, [&](Value blockN) {
                 Value zero = arith::ConstantOp::create(
                     b, loc, accVector, b.getZeroAttr(accVector));
                 forThreads([&](Value thread) {
                   for (int64_t block = 0; block < kBlocks * kBlocks; ++block)
                     memref::StoreOp::create(b, loc, zero, accState,
                                             ValueRange{thread, index(block)});
                 });
                 forRange(0, index(shape.k), kStepK, [&](Value k0) {
                   forThreads([&](Value thread) {
                     ThreadIndices at = indices(thread, blockN, blockM, rows);
                     auto [a, w] = loadTiles(at, k0);
                     storeTiles(at, a, w);
                   });
                   for (int64_t step = 0; step < kStepK / shape.instructionK;
                        ++step) {
                     forRange(0, index(waves), 1, [&](Value wave) {
                       forLanes([&](Value lane) {
                         ThreadIndices at = indices(threadOf(wave, lane),
                                                    blockN, blockM, rows);
                         SmallVector<FragmentPiece> piecesA =
                             layout.pieces(b, loc, lane, true);
                         SmallVector<FragmentPiece> piecesB =
                             layout.pieces(b, loc, lane, false);
                         for (int64_t i = 0; i < kBlocks; ++i) {
                           placeFragment(
                               blockA, i, piecesA,
                               fragment(ldsA, blockRowA(at, i), piecesA, step));
                           placeFragment(
                               blockB, i, piecesB,
                               fragment(ldsB, blockRowB(at, i), piecesB, step));
                         }
                       });
                       forLanes([&](Value lane) {
                         for (int64_t i = 0; i < kBlocks; ++i)
                           for (int64_t j = 0; j < kBlocks; ++j)
                             emulateInstruction(accState, threadOf(wave, lane),
                                                lane, kBlocks * i + j, blockA,
                                                i, blockB, j);
                       });
                     });
                   }
                 });
                 forThreads([&](Value thread) {
                   ThreadIndices at = indices(thread, blockN, blockM, rows);
                   storeResults(at, rows, [&](int64_t block) -> Value {
                     return memref::LoadOp::create(
                         b, loc, accState, ValueRange{thread, index(block)});
                   });
                 });
               });
             });
    for (Value buffer : {ldsA, ldsB, accState, blockA, blockB})
      memref::DeallocOp::create(b, loc, buffer);
  }

private:
  Value index(int64_t v) { return math.constant(v); }

  void forRange(int64_t lo, Value hi, int64_t step,
                llvm::function_ref<void(Value)> body) {
    buildLoop(b, loc, index(lo), hi, index(step), body);
  }
  void forThreads(llvm::function_ref<void(Value)> body) {
    forRange(0, index(kThreads), 1, body);
  }
  void forLanes(llvm::function_ref<void(Value)> body) {
    forRange(0, index(layout.lanes()), 1, body);
  }
  Value threadOf(Value wave, Value lane) {
    return math.add(math.mul(wave, layout.lanes()), lane);
  }

  ThreadIndices indices(Value thread, Value blockN, Value blockM, Value rows) {
    ThreadIndices at;
    at.m0 = math.mul(blockM, kTile);
    at.n0 = math.mul(blockN, kTile);
    at.lane = math.rem(thread, layout.lanes());
    // Waves tile the 64x64 tile in a grid of (64 / waveRows) x (64 /
    // waveCols): 2x2 waves of 32x32 (MFMA), 2x4 warps of 32x16 (mma.sync).
    Value wave = math.div(thread, layout.lanes());
    int64_t waveCols = kBlocks * layout.n();
    int64_t wavesPerRow = kTile / waveCols;
    at.waveRow = math.mul(math.div(wave, wavesPerRow), kBlocks * layout.m());
    at.waveCol = math.mul(math.rem(wave, wavesPerRow), waveCols);
    // Global -> LDS copy: thread t moves 16 bytes of row t / 4. Rows past
    // M read row M - 1 instead: an A row only reaches its own output row,
    // which is not stored.
    at.copyRow = math.div(thread, kStepK / kBytesPerThread);
    at.copyCol =
        math.mul(math.rem(thread, kStepK / kBytesPerThread), kBytesPerThread);
    Value lastRow = arith::SubIOp::create(b, loc, rows, index(1));
    at.lhsRow =
        arith::MinUIOp::create(b, loc, math.add(at.m0, at.copyRow), lastRow)
            .getResult();
    at.rhsRow = math.add(at.n0, at.copyRow);
    return at;
  }

  /// The first LDS row of the wave's A block i / B block j.
  Value blockRowA(const ThreadIndices &at, int64_t i) {
    return math.add(at.waveRow, index(layout.m() * i));
  }
  Value blockRowB(const ThreadIndices &at, int64_t j) {
    return math.add(at.waveCol, index(layout.n() * j));
  }

  /// 16 codes from global memory as bytes for LDS. An OCP fp8 code read as
  /// fnuz is worth half its value (the exponent biases differ by one) except
  /// 0x80, -0 in OCP and NaN in fnuz, which becomes +0. The accumulator is
  /// scaled back by 4 (a power of two: exact).
  Value loadBytes(Value source, Value row, Value col) {
    auto codes = VectorType::get({kBytesPerThread}, shape.code);
    auto bytes = VectorType::get({kBytesPerThread}, b.getI8Type());
    Value v =
        vector::LoadOp::create(b, loc, codes, source, ValueRange{row, col},
                               /*nontemporal=*/false, llvm::Align(16));
    if (codes != bytes)
      v = vector::BitCastOp::create(b, loc, bytes, v);
    if (operandElement == shape.code)
      return v;
    // Four codes per i32 word. A byte's magnitude m <= 0x7f is zero iff
    // m + 0x7f leaves its high bit clear (no carry crosses bytes); those
    // bytes lose their sign bit.
    auto words = VectorType::get({kBytesPerThread / 4}, b.getI32Type());
    auto splat = [&](uint32_t c) {
      return arith::ConstantOp::create(
          b, loc, words, DenseElementsAttr::get(words, b.getI32IntegerAttr(c)));
    };
    Value w = vector::BitCastOp::create(b, loc, words, v);
    Value magnitude = arith::AndIOp::create(b, loc, w, splat(0x7f7f7f7f));
    Value nonZero = arith::AddIOp::create(b, loc, magnitude, splat(0x7f7f7f7f));
    Value zeroSigns = arith::AndIOp::create(
        b, loc, arith::XOrIOp::create(b, loc, nonZero, splat(0xffffffff)),
        splat(0x80808080));
    w = arith::AndIOp::create(
        b, loc, w, arith::XOrIOp::create(b, loc, zeroSigns, splat(0xffffffff)));
    return vector::BitCastOp::create(b, loc, bytes, w);
  }

  std::pair<Value, Value> loadTiles(const ThreadIndices &at, Value k0) {
    Value col = math.add(k0, at.copyCol);
    return {loadBytes(shape.lhs, at.lhsRow, col),
            loadBytes(shape.rhs, at.rhsRow, col)};
  }

  void storeTiles(const ThreadIndices &at, Value a, Value w) {
    for (auto [tile, lds] : {std::pair{a, ldsA}, std::pair{w, ldsB}})
      vector::StoreOp::create(b, loc, tile, lds,
                              ValueRange{at.copyRow, at.copyCol},
                              /*nontemporal=*/false, llvm::Align(16));
  }

  /// A lane's fragment (the codes of its `pieces` as bytes, in operand
  /// order) of the block whose rows start at LDS row `base`, for K-step
  /// `step`.
  SmallVector<Value> fragment(Value lds, Value base,
                              ArrayRef<FragmentPiece> pieces, int64_t step) {
    SmallVector<Value> bytes;
    for (const FragmentPiece &piece : pieces) {
      Value row = math.add(base, piece.row);
      Value col = math.add(index(step * shape.instructionK), piece.k);
      bytes.push_back(vector::LoadOp::create(
          b, loc, VectorType::get({piece.bytes}, b.getI8Type()), lds,
          ValueRange{row, col}, /*nontemporal=*/false,
          llvm::Align(piece.bytes)));
    }
    return bytes;
  }

  /// A fragment as the instruction's operands: one vector of codes (MFMA)
  /// or one i32 register per four codes (mma.sync).
  SmallVector<Value> instructionOperands(ArrayRef<Value> fragment) {
    SmallVector<Value> operands;
    for (Value piece : fragment) {
      auto type = cast<VectorType>(piece.getType());
      if (target.instructions == MatrixInstructionSet::NvidiaMmaSync) {
        Value word = vector::BitCastOp::create(
            b, loc, VectorType::get({1}, b.getI32Type()), piece);
        operands.push_back(
            vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0}));
      } else if (operandElement.isInteger(8)) {
        operands.push_back(piece);
      } else {
        operands.push_back(vector::BitCastOp::create(
            b, loc, VectorType::get(type.getShape(), operandElement), piece));
      }
    }
    return operands;
  }

  /// acc + A * B for one block, on the matrix cores.
  Value multiplyAccumulate(ArrayRef<Value> a, ArrayRef<Value> w, Value acc) {
    if (target.instructions == MatrixInstructionSet::AmdMfma)
      return amdgpu::MFMAOp::create(b, loc, accVector, 16, 16,
                                    shape.instructionK, 1, a.front(), w.front(),
                                    acc);
    // llvm.nvvm.mma.m16n8k32.row.col.{s8 | f32.<a>.<b>.f32}: four A
    // registers, two B registers, four C values; a struct of four D values.
    Type element = accVector.getElementType();
    std::string codeName = isa<Float8E4M3FNType>(shape.code) ? "e4m3" : "e5m2";
    std::string intrinsic = shape.code.isInteger(8)
                                ? "llvm.nvvm.mma.m16n8k32.row.col.s8"
                                : "llvm.nvvm.mma.m16n8k32.row.col.f32." +
                                      codeName + "." + codeName + ".f32";
    SmallVector<Value> args(a.begin(), a.end());
    args.append(w.begin(), w.end());
    for (int64_t v = 0; v < 4; ++v)
      args.push_back(
          vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{v}));
    auto resultType = LLVM::LLVMStructType::getLiteral(
        b.getContext(), SmallVector<Type>(4, element));
    Value d = LLVM::CallIntrinsicOp::create(b, loc, resultType,
                                            b.getStringAttr(intrinsic), args)
                  .getResult(0);
    SmallVector<Value> elements;
    for (int64_t v = 0; v < 4; ++v)
      elements.push_back(LLVM::ExtractValueOp::create(b, loc, d, v));
    return vector::FromElementsOp::create(b, loc, accVector, elements);
  }

  /// Writes a lane's fragment of block `block` into `blockCodes` where the
  /// instruction layout places its `pieces`.
  void placeFragment(Value blockCodes, int64_t block,
                     ArrayRef<FragmentPiece> pieces, ArrayRef<Value> fragment) {
    for (auto [piece, bytes] : llvm::zip_equal(pieces, fragment))
      vector::StoreOp::create(b, loc, bytes, blockCodes,
                              ValueRange{index(block), piece.row, piece.k});
  }

  /// A code of a block as an i32 (int8) or its exact f32 value (fp8,
  /// decoded as the instruction reads it: fnuz on gfx942, OCP elsewhere).
  Value operandValue(Value blockCodes, int64_t block, Value row, int64_t k) {
    Value byte = memref::LoadOp::create(
        b, loc, blockCodes, ValueRange{index(block), row, index(k)});
    if (!operandCodec)
      return arith::ExtSIOp::create(b, loc, b.getI32Type(), byte);
    return operandCodec->decodeFloat(b, loc, byte);
  }

  /// D += A * B for output block `block` of `lane`: each of its four
  /// elements is the dot product, in k order, of the A row and B column the
  /// layout assigns it.
  void emulateInstruction(Value accState, Value thread, Value lane,
                          int64_t block, Value blockA, int64_t i, Value blockB,
                          int64_t j) {
    bool integer = shape.code.isInteger(8);
    Value acc = memref::LoadOp::create(b, loc, accState,
                                       ValueRange{thread, index(block)});
    for (int64_t v = 0; v < 4; ++v) {
      auto [row, col] = layout.resultPosition(b, loc, lane, v);
      Value sum = vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{v});
      for (int64_t k = 0; k < layout.k(); ++k) {
        Value x = operandValue(blockA, i, row, k);
        Value y = operandValue(blockB, j, col, k);
        sum = integer ? Value(arith::AddIOp::create(
                            b, loc, sum, arith::MulIOp::create(b, loc, x, y)))
                      : Value(arith::AddFOp::create(
                            b, loc, sum, arith::MulFOp::create(b, loc, x, y)));
      }
      acc = vector::InsertOp::create(b, loc, sum, acc, ArrayRef<int64_t>{v});
    }
    memref::StoreOp::create(b, loc, acc, accState,
                            ValueRange{thread, index(block)});
  }

  /// Writes the thread's D elements of its 2x2 blocks (`accOf(2i + j)`)
  /// that fall inside the M rows.
  void storeResults(const ThreadIndices &at, Value rows,
                    llvm::function_ref<Value(int64_t)> accOf) {
    bool halved = operandElement != shape.code;
    for (int64_t i = 0; i < kBlocks; ++i) {
      for (int64_t j = 0; j < kBlocks; ++j) {
        Value acc = accOf(kBlocks * i + j);
        for (int64_t v = 0; v < 4; ++v) {
          auto [blockRow, blockCol] = layout.resultPosition(b, loc, at.lane, v);
          Value row = math.add(math.add(at.m0, blockRowA(at, i)), blockRow);
          Value col = math.add(math.add(at.n0, blockRowB(at, j)), blockCol);
          Value inside = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, row, rows);
          auto ifOp = scf::IfOp::create(b, loc, inside);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&ifOp.getThenRegion().front());
          Value value =
              vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{v});
          if (halved)
            value = arith::MulFOp::create(
                b, loc, value,
                arith::ConstantOp::create(b, loc, b.getF32FloatAttr(4.0f)));
          results.store(b, loc, value, row, col);
        }
      }
    }
  }

  OpBuilder &b;
  Location loc;
  InstructionLayout::IndexMath math;
  const GemmShape &shape;
  const MatrixCoreTarget &target;
  InstructionLayout layout;
  VectorType accVector;
  /// What the instruction reads the codes as, and (fp8) how the emulation
  /// decodes them.
  Type operandElement;
  std::optional<ElementCodec> operandCodec;
  Value ldsA, ldsB;
  const GemmResultStore &results;
};

struct QuarkGemmToMatrixCoresPass
    : mlir::quark::impl::QuarkGemmToMatrixCoresBase<
          QuarkGemmToMatrixCoresPass> {
  using QuarkGemmToMatrixCoresBase::QuarkGemmToMatrixCoresBase;

  void runOnOperation() override {
    std::optional<MatrixCoreTarget> target = getMatrixCoreTarget(chip, ptx);
    if (!target)
      return; // no matrix cores this pass knows: the generic kernels stay
    auto match = [&](linalg::GenericOp op) -> std::optional<GemmShape> {
      std::optional<GemmShape> shape = matchGemm(op, *target);
      // Decoding one token or a few: the split-K kernel's 32 threads per
      // column stream the weights; a 64-row tile would be mostly padding.
      if (shape && shape->code.isInteger(8) && matchSplitKGemm(op, splitKRows))
        return std::nullopt;
      return shape;
    };
    // matchGemm requires the zeroing fill, so outputZeroed always holds.
    replaceGemmsWithKernels(getOperation(), match, emulate,
                            [&](OpBuilder &b, const GemmShape &shape, bool,
                                const GemmResultStore &results) {
                              return MatrixCoreKernelBuilder(
                                  b, shape.op->getLoc(), shape, *target,
                                  results);
                            });
  }
};

} // namespace
