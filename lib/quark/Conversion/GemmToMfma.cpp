//===- GemmToMfma.cpp - W8A8 GEMMs on AMD matrix cores --------------------===//
//
// Replaces the code-domain GEMMs of convert-quark-to-linalg (int8 x int8 with
// i32 accumulation, fp8 x fp8 with f32 accumulation), once bufferized, by a
// gpu.launch that stages tiles of both operands in workgroup memory (LDS) and
// multiplies them with amdgpu.mfma. The generic path (one thread per output
// element) stays for everything else.
//
// Tiling: a workgroup of four waves computes a 64x64 tile of the
// accumulator; each wave a 32x32 quarter as 2x2 MFMA 16x16 blocks. K advances
// 64 codes per step: every thread copies 16 bytes of each operand into LDS,
// then each wave reads its fragments from LDS and issues 64 / mfmaK MFMAs per
// block. The MFMA operand layout (16x16xK, one wave): lane l holds row l % 16
// of A and column l % 16 of B, for k in [(l / 16) * K/4, (l / 16 + 1) * K/4),
// and receives rows 4 * (l / 16) + [0, 4) of column l % 16 of D.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "ElementCodec.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKGEMMTOMFMA
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

std::optional<MatrixCoreTarget>
mlir::quark::getMatrixCoreTarget(StringRef chip) {
  if (chip == "gfx942")
    return MatrixCoreTarget{/*int8K=*/32, /*fp8=*/true, /*fp8IsFnuz=*/true,
                            /*ocpFp8Conversion=*/false};
  if (chip == "gfx950")
    return MatrixCoreTarget{/*int8K=*/32, /*fp8=*/true, /*fp8IsFnuz=*/false,
                            /*ocpFp8Conversion=*/true};
  if (chip == "gfx90a")
    return MatrixCoreTarget{/*int8K=*/16, /*fp8=*/false, /*fp8IsFnuz=*/false,
                            /*ocpFp8Conversion=*/false};
  return std::nullopt;
}

namespace {

constexpr int64_t kTile = 64;        // rows and columns of a workgroup's tile
constexpr int64_t kStepK = 64;       // codes of K staged per step
constexpr int64_t kLdsRowBytes = 80; // 64 codes + 16 bytes of padding
constexpr int64_t kThreads = 256;    // four waves of 64 lanes
constexpr int64_t kBytesPerThread = kTile * kStepK / kThreads;

/// What a matched GEMM multiplies: the element type of both code operands
/// and the MFMA K it maps to.
struct GemmShape {
  Value lhs, rhs, acc; // memref<MxK>, memref<NxK>, memref<MxN>
  Type code;           // i8, f8E4M3FN or f8E5M2
  int64_t n = 0, k = 0;
  int64_t mfmaK = 0;
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

/// The GEMM's operands when this chip's matrix cores can compute it and
/// its shape tiles evenly in N and K (M is guarded row by row).
std::optional<GemmShape> matchGemm(linalg::GenericOp op,
                                   const MatrixCoreTarget &target) {
  if (!isCodeGemm(op))
    return std::nullopt;
  GemmShape shape;
  shape.lhs = op.getDpsInputs()[0];
  shape.rhs = op.getDpsInputs()[1];
  shape.acc = op.getDpsInits()[0];
  auto lhsType = cast<MemRefType>(shape.lhs.getType());
  auto rhsType = cast<MemRefType>(shape.rhs.getType());
  auto accType = cast<MemRefType>(shape.acc.getType());
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
    shape.mfmaK = target.int8K;
  else if (isa<Float8E4M3FNType, Float8E5M2Type>(shape.code) &&
           accElement.isF32() && target.fp8)
    shape.mfmaK = 32;
  else
    return std::nullopt;
  return shape;
}

/// The linalg.fill that zeroes `buffer` just for `gemm`, which overwrites
/// every element itself.
linalg::FillOp zeroingFill(linalg::GenericOp gemm, Value buffer) {
  for (Operation *op = gemm->getPrevNode(); op; op = op->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(op))
      if (fill.getDpsInits()[0] == buffer)
        return fill;
    if (llvm::is_contained(op->getOperands(), buffer))
      return nullptr;
  }
  return nullptr;
}

/// Where one thread of a workgroup reads and writes: the pieces of the
/// kernel, shared by the GPU form and its CPU emulation.
struct ThreadIndices {
  Value m0, n0;                 // the workgroup's tile
  Value lane, waveRow, waveCol; // the wave's 32x32 quarter
  Value copyRow, copyCol;       // the 16 bytes it moves into LDS
  Value lhsRow, rhsRow;         // their rows in global memory
  // Its fragments: row lane % 16, codes from K/4 * (lane / 16).
  Value laneRow, laneK;
  // Its D elements: rows 4 * (lane / 16) + v, column lane % 16.
  Value outRow, outCol;
};

class MfmaKernelBuilder {
public:
  MfmaKernelBuilder(OpBuilder &b, Location loc, const GemmShape &shape,
                    const MatrixCoreTarget &target)
      : b(b), loc(loc), shape(shape) {
    accVector = VectorType::get(
        {4}, cast<MemRefType>(shape.acc.getType()).getElementType());
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
    Value zero =
        arith::ConstantOp::create(b, loc, accVector, b.getZeroAttr(accVector));
    auto loop = scf::ForOp::create(b, loc, index(0), index(shape.k),
                                   index(kStepK), SmallVector<Value>(4, zero));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      auto [a, w] = loadTiles(at, loop.getInductionVar());
      // The previous step's fragments have been read by every wave.
      gpu::BarrierOp::create(b, loc);
      storeTiles(at, a, w);
      gpu::BarrierOp::create(b, loc);
      SmallVector<Value> acc(loop.getRegionIterArgs());
      for (int64_t step = 0; step < kStepK / shape.mfmaK; ++step) {
        Fragments f = fragments(at, step);
        Value opA[2] = {mfmaOperand(f.a[0]), mfmaOperand(f.a[1])};
        Value opB[2] = {mfmaOperand(f.b[0]), mfmaOperand(f.b[1])};
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j)
            acc[2 * i + j] =
                amdgpu::MFMAOp::create(b, loc, accVector, 16, 16, shape.mfmaK,
                                       1, opA[i], opB[j], acc[2 * i + j]);
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
  /// each MFMA is computed from the fragments its 64 lanes hold, with the
  /// operand layout the kernel assumes.
  void buildCpuEmulation() {
    Value rows = memref::DimOp::create(b, loc, shape.lhs, 0);
    auto lds = MemRefType::get({kTile, kLdsRowBytes}, b.getI8Type());
    ldsA = memref::AllocOp::create(b, loc, lds);
    ldsB = memref::AllocOp::create(b, loc, lds);
    Value accState = memref::AllocOp::create(
        b, loc, MemRefType::get({kThreads, 4}, accVector));
    int64_t perLane = shape.mfmaK / 4;
    auto fragmentType = VectorType::get({perLane}, b.getI8Type());
    Value fragA =
        memref::AllocOp::create(b, loc, MemRefType::get({64, 2}, fragmentType));
    Value fragB =
        memref::AllocOp::create(b, loc, MemRefType::get({64, 2}, fragmentType));

    forRange(0, arith::CeilDivUIOp::create(b, loc, rows, index(kTile)), 1,
             [&](Value blockM) {
               forRange(0, index(shape.n / kTile), 1, [&](Value blockN) {
                 Value zero = arith::ConstantOp::create(
                     b, loc, accVector, b.getZeroAttr(accVector));
                 forThreads([&](Value thread) {
                   for (int64_t block = 0; block < 4; ++block)
                     memref::StoreOp::create(b, loc, zero, accState,
                                             ValueRange{thread, index(block)});
                 });
                 forRange(0, index(shape.k), kStepK, [&](Value k0) {
                   forThreads([&](Value thread) {
                     ThreadIndices at = indices(thread, blockN, blockM, rows);
                     auto [a, w] = loadTiles(at, k0);
                     storeTiles(at, a, w);
                   });
                   for (int64_t step = 0; step < kStepK / shape.mfmaK; ++step) {
                     forRange(0, index(4), 1, [&](Value wave) {
                       forRange(0, index(64), 1, [&](Value lane) {
                         Value thread = add(mul(wave, 64), lane);
                         Fragments f = fragments(
                             indices(thread, blockN, blockM, rows), step);
                         for (int64_t i = 0; i < 2; ++i) {
                           memref::StoreOp::create(b, loc, f.a[i], fragA,
                                                   ValueRange{lane, index(i)});
                           memref::StoreOp::create(b, loc, f.b[i], fragB,
                                                   ValueRange{lane, index(i)});
                         }
                       });
                       forRange(0, index(64), 1, [&](Value lane) {
                         Value thread = add(mul(wave, 64), lane);
                         for (int64_t i = 0; i < 2; ++i)
                           for (int64_t j = 0; j < 2; ++j)
                             emulateMfma(accState, thread, lane, 2 * i + j,
                                         fragA, i, fragB, j);
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
    for (Value buffer : {ldsA, ldsB, accState, fragA, fragB})
      memref::DeallocOp::create(b, loc, buffer);
  }

private:
  struct Fragments {
    Value a[2], b[2];
  };

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, int64_t c) {
    return arith::MulIOp::create(b, loc, x, index(c));
  }
  Value div(Value x, int64_t c) {
    return arith::DivUIOp::create(b, loc, x, index(c));
  }
  Value rem(Value x, int64_t c) {
    return arith::RemUIOp::create(b, loc, x, index(c));
  }

  void forRange(int64_t lo, Value hi, int64_t step,
                llvm::function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, loc, index(lo), hi, index(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  }
  void forThreads(llvm::function_ref<void(Value)> body) {
    forRange(0, index(kThreads), 1, body);
  }

  ThreadIndices indices(Value thread, Value blockN, Value blockM, Value rows) {
    ThreadIndices at;
    at.m0 = mul(blockM, kTile);
    at.n0 = mul(blockN, kTile);
    at.lane = rem(thread, 64);
    Value wave = div(thread, 64);
    at.waveRow = mul(div(wave, 2), 32);
    at.waveCol = mul(rem(wave, 2), 32);
    // Global -> LDS copy: thread t moves 16 bytes of row t / 4. Rows past
    // M read row M - 1 instead: an A row only reaches its own output row,
    // which is not stored.
    at.copyRow = div(thread, kStepK / kBytesPerThread);
    at.copyCol = mul(rem(thread, kStepK / kBytesPerThread), kBytesPerThread);
    Value lastRow = arith::SubIOp::create(b, loc, rows, index(1));
    at.lhsRow = arith::MinUIOp::create(b, loc, add(at.m0, at.copyRow), lastRow)
                    .getResult();
    at.rhsRow = add(at.n0, at.copyRow);
    at.laneRow = rem(at.lane, 16);
    at.laneK = mul(div(at.lane, 16), shape.mfmaK / 4);
    at.outRow = mul(div(at.lane, 16), 4);
    at.outCol = rem(at.lane, 16);
    return at;
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
    Value col = add(k0, at.copyCol);
    return {loadBytes(shape.lhs, at.lhsRow, col),
            loadBytes(shape.rhs, at.rhsRow, col)};
  }

  void storeTiles(const ThreadIndices &at, Value a, Value w) {
    for (auto [tile, lds] : {std::pair{a, ldsA}, std::pair{w, ldsB}})
      vector::StoreOp::create(b, loc, tile, lds,
                              ValueRange{at.copyRow, at.copyCol},
                              /*nontemporal=*/false, llvm::Align(16));
  }

  /// The codes of a lane's MFMA operand (as bytes) for rows
  /// [base, base + 16) of `lds` and K-step `step`.
  Value fragment(Value lds, Value base, const ThreadIndices &at, int64_t step) {
    int64_t perLane = shape.mfmaK / 4;
    Value row = add(base, at.laneRow);
    Value col = add(index(step * shape.mfmaK), at.laneK);
    return vector::LoadOp::create(
        b, loc, VectorType::get({perLane}, b.getI8Type()), lds,
        ValueRange{row, col}, /*nontemporal=*/false, llvm::Align(perLane));
  }

  Fragments fragments(const ThreadIndices &at, int64_t step) {
    Fragments f;
    for (int64_t i = 0; i < 2; ++i) {
      f.a[i] = fragment(ldsA, add(at.waveRow, index(16 * i)), at, step);
      f.b[i] = fragment(ldsB, add(at.waveCol, index(16 * i)), at, step);
    }
    return f;
  }

  /// A fragment's bytes as the MFMA's operand type.
  Value mfmaOperand(Value bytes) {
    if (operandElement.isInteger(8))
      return bytes;
    auto type = cast<VectorType>(bytes.getType());
    return vector::BitCastOp::create(
        b, loc, VectorType::get(type.getShape(), operandElement), bytes);
  }

  /// Element `k` of a fragment as an i32 (int8) or its exact f32 value
  /// (fp8, decoded as the MFMA reads it: fnuz on gfx942, OCP on gfx950).
  Value operandValue(Value bytes, int64_t k) {
    Value byte = vector::ExtractOp::create(b, loc, bytes, ArrayRef<int64_t>{k});
    if (!operandCodec)
      return arith::ExtSIOp::create(b, loc, b.getI32Type(), byte);
    return operandCodec->decodeFloat(b, loc, byte);
  }

  /// D += A * B for output block `block` of `lane`: element v is row
  /// r = 4 * (lane / 16) + v, column c = lane % 16 of the 16x16 product,
  /// whose A row r is held by lanes r + 16q and B column c by lanes
  /// c + 16q (q = 0..3, K/4 codes each).
  void emulateMfma(Value accState, Value thread, Value lane, int64_t block,
                   Value fragA, int64_t i, Value fragB, int64_t j) {
    int64_t perLane = shape.mfmaK / 4;
    bool integer = shape.code.isInteger(8);
    Value acc = memref::LoadOp::create(b, loc, accState,
                                       ValueRange{thread, index(block)});
    Value column = rem(lane, 16), rowBase = mul(div(lane, 16), 4);
    for (int64_t v = 0; v < 4; ++v) {
      Value row = add(rowBase, index(v));
      Value sum = vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{v});
      for (int64_t q = 0; q < 4; ++q) {
        Value a = memref::LoadOp::create(
            b, loc, fragA, ValueRange{add(row, index(16 * q)), index(i)});
        Value w = memref::LoadOp::create(
            b, loc, fragB, ValueRange{add(column, index(16 * q)), index(j)});
        for (int64_t k = 0; k < perLane; ++k) {
          Value x = operandValue(a, k), y = operandValue(w, k);
          sum = integer
                    ? Value(arith::AddIOp::create(
                          b, loc, sum, arith::MulIOp::create(b, loc, x, y)))
                    : Value(arith::AddFOp::create(
                          b, loc, sum, arith::MulFOp::create(b, loc, x, y)));
        }
      }
      acc = vector::InsertOp::create(b, loc, sum, acc, ArrayRef<int64_t>{v});
    }
    memref::StoreOp::create(b, loc, acc, accState,
                            ValueRange{thread, index(block)});
  }

  /// Writes the thread's D elements of the four blocks (`accOf(2i + j)`)
  /// that fall inside the M rows.
  void storeResults(const ThreadIndices &at, Value rows,
                    llvm::function_ref<Value(int64_t)> accOf) {
    bool halved = operandElement != shape.code;
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        Value acc = accOf(2 * i + j);
        Value col = add(add(at.n0, at.waveCol), add(index(16 * j), at.outCol));
        for (int64_t v = 0; v < 4; ++v) {
          Value row =
              add(add(at.m0, at.waveRow), add(index(16 * i + v), at.outRow));
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
          memref::StoreOp::create(b, loc, value, shape.acc,
                                  ValueRange{row, col});
        }
      }
    }
  }

  OpBuilder &b;
  Location loc;
  const GemmShape &shape;
  VectorType accVector;
  /// What the MFMA reads the codes as, and (fp8) how the emulation decodes
  /// them.
  Type operandElement;
  std::optional<ElementCodec> operandCodec;
  Value ldsA, ldsB;
};

struct QuarkGemmToMfmaPass
    : mlir::quark::impl::QuarkGemmToMfmaBase<QuarkGemmToMfmaPass> {
  using QuarkGemmToMfmaBase::QuarkGemmToMfmaBase;

  void runOnOperation() override {
    std::optional<MatrixCoreTarget> target = getMatrixCoreTarget(chip);
    if (!target)
      return; // no matrix cores this pass knows: the generic kernels stay
    SmallVector<linalg::GenericOp> gemms;
    getOperation().walk([&](linalg::GenericOp op) { gemms.push_back(op); });
    for (linalg::GenericOp gemm : gemms) {
      std::optional<GemmShape> shape = matchGemm(gemm, *target);
      if (!shape)
        continue;
      if (linalg::FillOp fill = zeroingFill(gemm, shape->acc))
        fill->erase();
      OpBuilder b(gemm);
      MfmaKernelBuilder builder(b, gemm.getLoc(), *shape, *target);
      if (emulate)
        builder.buildCpuEmulation();
      else
        builder.buildGpuKernel();
      gemm->erase();
    }
  }
};

} // namespace
