//===- FoldConstants.cpp - Evaluate quark ops on constants ----------------===//
//
// Runs the Quark-exact Support numerics on constant operands. The pass only
// moves data between DenseElementsAttr and buffers; every formula lives in
// lib/quark/Support.
//
//===----------------------------------------------------------------------===//

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKFOLDCONSTANTS
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// The constant value of `value`, if it has one.
DenseElementsAttr constantOf(Value value) {
  DenseElementsAttr attr;
  if (value && matchPattern(value, m_Constant(&attr)))
    return attr;
  return {};
}

/// The raw storage constant behind a tensor of codes (a quark.storage_cast
/// of a constant).
DenseElementsAttr codesConstantOf(Value codes) {
  auto cast = codes.getDefiningOp<StorageCastOp>();
  return cast ? constantOf(cast.getInput()) : DenseElementsAttr();
}

/// Everything the Support numerics need about one quantized tensor.
struct TensorQuantization {
  TensorQuantSpec spec;
  QuantLayout layout;
  QuantParams params;
};

/// Gathers the spec, layout and (constant) parameters of an op quantizing a
/// tensor of `floatType`. Fails silently when a parameter is not constant;
/// with a warning when the numerics cannot evaluate the spec.
FailureOr<TensorQuantization> getQuantization(Operation *op,
                                              TensorSpecAttr specAttr,
                                              RankedTensorType floatType,
                                              Value scale, Value zeroPoint,
                                              Type codeElement = {}) {
  auto warn = [&]() { return op->emitWarning("not folded: "); };
  FailureOr<TensorQuantSpec> spec =
      getTensorQuantSpec(specAttr, floatType.getElementType(), warn);
  if (failed(spec))
    return failure();
  TensorQuantization result{*spec, {}, {}};

  // A !quant.uniform code type carries its parameters.
  if (auto uniform =
          dyn_cast_or_null<quant::UniformQuantizedType>(codeElement)) {
    result.params.scales = {static_cast<float>(uniform.getScale())};
    if (result.spec.hasZeroPoint())
      result.params.zeroPoints = {static_cast<int32_t>(uniform.getZeroPoint())};
  } else if (auto perAxis =
                 dyn_cast_or_null<quant::UniformQuantizedPerAxisType>(
                     codeElement)) {
    for (double s : perAxis.getScales())
      result.params.scales.push_back(static_cast<float>(s));
    if (result.spec.hasZeroPoint())
      for (int64_t z : perAxis.getZeroPoints())
        result.params.zeroPoints.push_back(static_cast<int32_t>(z));
  } else {
    if (scale) {
      DenseElementsAttr scaleAttr = constantOf(scale);
      if (!scaleAttr)
        return failure();
      result.params.scales = readFloats(scaleAttr);
    }
    if (zeroPoint) {
      DenseElementsAttr zeroAttr = constantOf(zeroPoint);
      if (!zeroAttr)
        return failure();
      result.params.zeroPoints = readInts(zeroAttr);
    }
  }

  llvm::Expected<QuantLayout> layout =
      QuantLayout::get(floatType.getShape(), result.spec);
  if (!layout) {
    op->emitWarning("not folded: ") << llvm::toString(layout.takeError());
    return failure();
  }
  result.layout = std::move(*layout);
  return result;
}

LogicalResult reportNumericsError(Operation *op, llvm::Error error) {
  if (!error)
    return success();
  op->emitWarning("not folded: ") << llvm::toString(std::move(error));
  return failure();
}

/// Replaces `codes` (a tensor of code type) by a storage constant and a
/// quark.storage_cast.
Value materializeCodes(PatternRewriter &rewriter, Location loc,
                       RankedTensorType codeType, ArrayRef<int32_t> codes) {
  Type storage =
      StorageCastOp::getStorageElementType(codeType.getElementType());
  auto storageType = RankedTensorType::get(codeType.getShape(), storage);
  Value constant =
      arith::ConstantOp::create(rewriter, loc, makeCodes(storageType, codes));
  return StorageCastOp::create(rewriter, loc, codeType, constant);
}

struct FoldComputeQParams : OpRewritePattern<ComputeQParamsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ComputeQParamsOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr input = constantOf(op.getInput());
    if (!input)
      return failure();
    FailureOr<TensorQuantization> quant = getQuantization(
        op, op.getSpec(), op.getInput().getType(), Value(), Value());
    if (failed(quant))
      return failure();
    llvm::Expected<QuantParams> params =
        computeDynamicParams(quant->spec, quant->layout, readFloats(input));
    if (failed(reportNumericsError(op, params.takeError())))
      return failure();
    SmallVector<Value> results;
    results.push_back(arith::ConstantOp::create(
        rewriter, op.getLoc(),
        makeFloats(op.getScale().getType(), params->scales)));
    if (Value zeroPoint = op.getZeroPoint())
      results.push_back(arith::ConstantOp::create(
          rewriter, op.getLoc(),
          makeCodes(cast<RankedTensorType>(zeroPoint.getType()),
                    params->zeroPoints)));
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// A two-stage quantizer's constant operands: the input, the calibrated
/// second-stage scale when it has one, both stages' numerics and the first
/// stage's layout. Fails when an operand is not constant (silently) or the
/// numerics cannot evaluate the spec (with a warning on `op`).
struct ConstantTwoStage {
  std::vector<float> input;
  std::optional<float> secondScale;
  TensorQuantSpec first, second;
  QuantLayout firstLayout;
};

FailureOr<ConstantTwoStage> getConstantTwoStage(Operation *op,
                                                TwoStageSpecAttr spec,
                                                Value input,
                                                Value secondScale) {
  DenseElementsAttr inputAttr = constantOf(input);
  if (!inputAttr)
    return failure();
  std::optional<float> secondValue;
  if (secondScale) {
    DenseElementsAttr scaleAttr = constantOf(secondScale);
    if (!scaleAttr)
      return failure();
    secondValue = readFloats(scaleAttr).front();
  }
  auto floatType = cast<RankedTensorType>(input.getType());
  FailureOr<TensorQuantization> first =
      getQuantization(op, spec.getFirst(), floatType, Value(), Value());
  if (failed(first))
    return failure();
  FailureOr<TensorQuantSpec> second =
      getTensorQuantSpec(spec.getSecond(), floatType.getElementType(),
                         [&]() { return op->emitWarning("not folded: "); });
  if (failed(second))
    return failure();
  return ConstantTwoStage{readFloats(inputAttr), secondValue, first->spec,
                          *second, std::move(first->layout)};
}

struct FoldComputeBlockScales : OpRewritePattern<ComputeBlockScalesOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ComputeBlockScalesOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<ConstantTwoStage> quant = getConstantTwoStage(
        op, op.getSpec(), op.getInput(), op.getSecondScale());
    if (failed(quant))
      return failure();
    llvm::Expected<std::vector<float>> scales =
        scaleQuantBlockScales(quant->first, quant->second, quant->firstLayout,
                              quant->input, quant->secondScale);
    if (failed(reportNumericsError(op, scales.takeError())))
      return failure();
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, makeFloats(op.getScale().getType(), *scales));
    return success();
  }
};

struct FoldTwoStageFakeQuant : OpRewritePattern<TwoStageFakeQuantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TwoStageFakeQuantOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<ConstantTwoStage> quant = getConstantTwoStage(
        op, op.getSpec(), op.getInput(), op.getSecondScale());
    if (failed(quant))
      return failure();
    std::vector<float> &values = quant->input;
    ArrayRef<int64_t> shape = op.getInput().getType().getShape();
    llvm::Error error =
        op.getSpec().quantizesScales()
            ? fakeQuantizeScaleQuant(quant->first, quant->second, shape, values,
                                     quant->secondScale, values)
            : fakeQuantizeProgressive(quant->first, quant->second, shape,
                                      values, values);
    if (failed(reportNumericsError(op, std::move(error))))
      return failure();
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, makeFloats(op.getType(), values));
    return success();
  }
};

struct FoldFakeQuant : OpRewritePattern<FakeQuantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(FakeQuantOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr input = constantOf(op.getInput());
    if (!input)
      return failure();
    FailureOr<TensorQuantization> quant =
        getQuantization(op, op.getSpec(), op.getInput().getType(),
                        op.getScale(), op.getZeroPoint());
    if (failed(quant))
      return failure();
    std::vector<float> values = readFloats(input);
    // A dynamic spec computes its parameters from this very tensor.
    if (op.getSpec().isDynamic() && !op.getScale() &&
        !quant->spec.usesMXScales() && !quant->spec.isBlockFloat() &&
        !op.getSpec().isCast()) {
      llvm::Expected<QuantParams> params =
          computeDynamicParams(quant->spec, quant->layout, values);
      if (failed(reportNumericsError(op, params.takeError())))
        return failure();
      quant->params = std::move(*params);
    }
    if (failed(reportNumericsError(
            op, fakeQuantizeTensor(quant->spec, quant->layout, values,
                                   quant->params, values))))
      return failure();
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, makeFloats(op.getType(), values));
    return success();
  }
};

struct FoldQuantize : OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QuantizeOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr input = constantOf(op.getInput());
    if (!input)
      return failure();
    auto codeType = cast<RankedTensorType>(op.getType());
    FailureOr<TensorQuantization> quant = getQuantization(
        op, op.getSpec(), op.getInput().getType(), op.getScale(),
        op.getZeroPoint(), codeType.getElementType());
    if (failed(quant))
      return failure();
    std::vector<int32_t> codes(quant->layout.numElements());
    if (failed(reportNumericsError(
            op, quantizeTensor(quant->spec, quant->layout, readFloats(input),
                               quant->params, codes))))
      return failure();
    if (op.getSpec().isCast()) {
      // A cast's "codes" are plain bf16 / f16 values.
      rewriter.replaceOpWithNewOp<arith::ConstantOp>(
          op, makeCodes(codeType, codes));
      return success();
    }
    rewriter.replaceOp(
        op, materializeCodes(rewriter, op.getLoc(), codeType, codes));
    return success();
  }
};

struct FoldDequantize : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasDecodedInput())
      return failure();
    auto codeType = cast<RankedTensorType>(op.getInput().getType());
    DenseElementsAttr storage = op.getSpec().isCast()
                                    ? constantOf(op.getInput())
                                    : codesConstantOf(op.getInput());
    if (!storage)
      return failure();
    FailureOr<TensorQuantization> quant =
        getQuantization(op, op.getSpec(), op.getType(), op.getScale(),
                        op.getZeroPoint(), codeType.getElementType());
    if (failed(quant))
      return failure();
    std::vector<int32_t> codes = readCodes(storage, codeType.getElementType());
    std::vector<float> values(codes.size());
    if (failed(reportNumericsError(
            op, dequantizeTensor(quant->spec, quant->layout, codes,
                                 quant->params, values))))
      return failure();
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, makeFloats(op.getType(), values));
    return success();
  }
};

struct FoldPack : OpRewritePattern<PackOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PackOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr storage = codesConstantOf(op.getInput());
    if (!storage)
      return failure();
    auto codeType = cast<RankedTensorType>(op.getInput().getType());
    std::vector<int32_t> packed = packCodes(
        codeType.getElementType(), codeType.getShape(),
        readCodes(storage, codeType.getElementType()), op.getPackMethod());
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, makeCodes(cast<RankedTensorType>(op.getType()), packed));
    return success();
  }
};

struct FoldUnpack : OpRewritePattern<UnpackOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(UnpackOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr packed = constantOf(op.getInput());
    if (!packed)
      return failure();
    auto codeType = cast<RankedTensorType>(op.getType());
    std::vector<int32_t> codes =
        unpackCodes(codeType.getElementType(), codeType.getShape(),
                    readCodes(packed, Type()), op.getPackMethod());
    rewriter.replaceOp(
        op, materializeCodes(rewriter, op.getLoc(), codeType, codes));
    return success();
  }
};

struct FoldConstantsPass
    : mlir::quark::impl::QuarkFoldConstantsBase<FoldConstantsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldComputeQParams, FoldComputeBlockScales, FoldFakeQuant,
                 FoldTwoStageFakeQuant, FoldQuantize, FoldDequantize, FoldPack,
                 FoldUnpack>(&getContext());
    // Count the quark ops that disappear.
    int64_t before = countQuarkOps();
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numFolded += before - countQuarkOps();
  }

  int64_t countQuarkOps() {
    int64_t count = 0;
    getOperation()->walk([&](Operation *op) {
      if (isa<ComputeQParamsOp, ComputeBlockScalesOp, FakeQuantOp,
              TwoStageFakeQuantOp, QuantizeOp, DequantizeOp, PackOp, UnpackOp>(
              op))
        ++count;
    });
    return count;
  }
};

} // namespace
