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
  int64_t n, k;
  int64_t mfmaK;
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
  GemmShape shape{op.getDpsInputs()[0],
                  op.getDpsInputs()[1],
                  op.getDpsInits()[0],
                  nullptr,
                  0,
                  0,
                  0};
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

class MfmaKernelBuilder {
public:
  MfmaKernelBuilder(OpBuilder &b, Location loc, const GemmShape &shape,
                    const MatrixCoreTarget &target)
      : b(b), loc(loc), shape(shape), target(target) {}

  void build() {
    Value rows = memref::DimOp::create(b, loc, shape.lhs, 0);
    Value gridX = index(shape.n / kTile);
    Value gridY = arith::CeilDivUIOp::create(b, loc, rows, index(kTile));
    auto lds = MemRefType::get(
        {kTile, kLdsRowBytes}, b.getI8Type(), MemRefLayoutAttrInterface(),
        gpu::AddressSpaceAttr::get(b.getContext(),
                                   gpu::AddressSpace::Workgroup));
    auto launch = gpu::LaunchOp::create(
        b, loc, gridX, gridY, index(1), index(kThreads), index(1), index(1),
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, TypeRange{lds, lds});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    ldsA = launch.getWorkgroupAttributions()[0];
    ldsB = launch.getWorkgroupAttributions()[1];
    emitBody(launch.getThreadIds().x, launch.getBlockIds().x,
             launch.getBlockIds().y, rows);
    gpu::TerminatorOp::create(b, loc);
  }

private:
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

  /// Element type of the MFMA operands: gfx942's fp8 MFMAs read fnuz codes.
  Type operandElement() const {
    if (!target.fp8IsFnuz || shape.code.isInteger(8))
      return shape.code;
    if (isa<Float8E4M3FNType>(shape.code))
      return Float8E4M3FNUZType::get(b.getContext());
    return Float8E5M2FNUZType::get(b.getContext());
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
    if (operandElement() == shape.code)
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

  /// The MFMA operand of a lane for rows [base, base + 16) of `lds` and
  /// K-step `step`: row base + lane % 16 (`laneRow`), codes from
  /// (lane / 16) * K/4 (`laneK`).
  Value fragment(Value lds, Value base, Value laneRow, Value laneK,
                 int64_t step) {
    int64_t perLane = shape.mfmaK / 4;
    Value row = add(base, laneRow);
    Value col = add(index(step * shape.mfmaK), laneK);
    auto bytes = VectorType::get({perLane}, b.getI8Type());
    Value v =
        vector::LoadOp::create(b, loc, bytes, lds, ValueRange{row, col},
                               /*nontemporal=*/false, llvm::Align(perLane));
    Type element = operandElement();
    if (!element.isInteger(8))
      v = vector::BitCastOp::create(b, loc, VectorType::get({perLane}, element),
                                    v);
    return v;
  }

  void emitBody(Value thread, Value blockN, Value blockM, Value rows) {
    Value m0 = mul(blockM, kTile), n0 = mul(blockN, kTile);
    Value lane = rem(thread, 64), wave = div(thread, 64);
    Value waveRow = mul(div(wave, 2), 32), waveCol = mul(rem(wave, 2), 32);
    // Global -> LDS copy: thread t moves 16 bytes of row t / 4. Rows past
    // M read row M - 1 instead: an A row only reaches its own output row,
    // which is not stored.
    Value copyRow = div(thread, kStepK / kBytesPerThread);
    Value copyCol = mul(rem(thread, kStepK / kBytesPerThread), kBytesPerThread);
    Value lastRow = arith::SubIOp::create(b, loc, rows, index(1));
    Value lhsRow =
        arith::MinUIOp::create(b, loc, add(m0, copyRow), lastRow).getResult();
    Value rhsRow = add(n0, copyRow);

    Type accElement = cast<MemRefType>(shape.acc.getType()).getElementType();
    auto accVector = VectorType::get({4}, accElement);
    Value zero =
        arith::ConstantOp::create(b, loc, accVector, b.getZeroAttr(accVector));
    SmallVector<Value> inits(4, zero);
    auto loop = scf::ForOp::create(b, loc, index(0), index(shape.k),
                                   index(kStepK), inits);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k0 = loop.getInductionVar();
      Value a = loadBytes(shape.lhs, lhsRow, add(k0, copyCol));
      Value w = loadBytes(shape.rhs, rhsRow, add(k0, copyCol));
      // The previous step's fragments have been read by every wave.
      gpu::BarrierOp::create(b, loc);
      vector::StoreOp::create(b, loc, a, ldsA, ValueRange{copyRow, copyCol},
                              /*nontemporal=*/false, llvm::Align(16));
      vector::StoreOp::create(b, loc, w, ldsB, ValueRange{copyRow, copyCol},
                              /*nontemporal=*/false, llvm::Align(16));
      gpu::BarrierOp::create(b, loc);
      SmallVector<Value> acc(loop.getRegionIterArgs());
      Value laneRow = rem(lane, 16);
      Value laneK = mul(div(lane, 16), shape.mfmaK / 4);
      for (int64_t step = 0; step < kStepK / shape.mfmaK; ++step) {
        Value fa[2], fb[2];
        for (int64_t i = 0; i < 2; ++i) {
          fa[i] =
              fragment(ldsA, add(waveRow, index(16 * i)), laneRow, laneK, step);
          fb[i] =
              fragment(ldsB, add(waveCol, index(16 * i)), laneRow, laneK, step);
        }
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j)
            acc[2 * i + j] =
                amdgpu::MFMAOp::create(b, loc, accVector, 16, 16, shape.mfmaK,
                                       1, fa[i], fb[j], acc[2 * i + j]);
      }
      scf::YieldOp::create(b, loc, acc);
    }

    // D of block (i, j): lane holds column lane % 16, rows 4 * (lane / 16)
    // + v.
    bool halved = operandElement() != shape.code;
    Value laneRow = mul(div(lane, 16), 4), laneCol = rem(lane, 16);
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        Value col = add(add(n0, waveCol), add(index(16 * j), laneCol));
        for (int64_t v = 0; v < 4; ++v) {
          Value row = add(add(m0, waveRow), add(index(16 * i + v), laneRow));
          Value inside = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, row, rows);
          auto ifOp = scf::IfOp::create(b, loc, inside);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&ifOp.getThenRegion().front());
          Value value = vector::ExtractOp::create(
              b, loc, loop.getResult(2 * i + j), ArrayRef<int64_t>{v});
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
  const MatrixCoreTarget &target;
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
      MfmaKernelBuilder(b, gemm.getLoc(), *shape, *target).build();
      gemm->erase();
    }
  }
};

} // namespace
