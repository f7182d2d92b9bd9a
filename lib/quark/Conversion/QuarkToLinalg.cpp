//===- QuarkToLinalg.cpp - convert-quark-to-linalg ------------------------===//
//
// Quantization ops become elementwise linalg.generic ops whose bodies are the
// ElementCodec formulas; quark.linear becomes a GEMM linalg.generic. Weight
// decoding is then fused into the GEMMs by upstream's elementwise fusion.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "ElementCodec.h"
#include "quark/Analysis/SpecNumerics.h"
#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Support/ScalarQuant.h"
#include "quark/Support/TwoStageQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::quark {
#define GEN_PASS_DEF_CONVERTQUARKTOLINALG
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

/// Marks the generics that decode weights: the fusion step folds them into
/// the GEMMs that read them.
static constexpr llvm::StringLiteral kDecodeAttr = "quark.decode";

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

/// The storage element of a code element type after conversion.
static Type convertCodeElement(Type element) {
  MLIRContext *context = element.getContext();
  if (auto quantized = dyn_cast<quant::QuantizedType>(element))
    return IntegerType::get(context, quantized.getStorageTypeIntegralWidth());
  if (auto qfloat = dyn_cast<QFloatType>(element)) {
    if (FloatType builtin = qfloat.getBuiltinFloatType())
      return builtin;
    return IntegerType::get(context, qfloat.getBitWidth());
  }
  if (auto integer = dyn_cast<IntegerType>(element))
    if (!integer.isSignless())
      return IntegerType::get(context, integer.getWidth());
  return element;
}

namespace {
struct StorageTypeConverter : TypeConverter {
  StorageTypeConverter() {
    addConversion([](Type type) { return type; });
    addConversion([](RankedTensorType type) -> Type {
      return type.clone(convertCodeElement(type.getElementType()));
    });
    // Signless and signed/unsigned integers of one width share their bits.
    auto bitcast = [](OpBuilder &b, Type type, ValueRange inputs,
                      Location loc) -> Value {
      if (inputs.size() != 1)
        return {};
      return tensor::BitcastOp::create(b, loc, type, inputs[0]);
    };
    addSourceMaterialization(
        [](OpBuilder &b, Type type, ValueRange inputs, Location loc) -> Value {
          return UnrealizedConversionCastOp::create(b, loc, type, inputs)
              .getResult(0);
        });
    addTargetMaterialization(bitcast);
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// Shared builders
//===----------------------------------------------------------------------===//

/// A map from `numDims` loops to the first element of a one-element tensor
/// of type `paramType` (any rank), for reading it at every point.
static AffineMap firstElementMap(unsigned numDims, RankedTensorType paramType) {
  MLIRContext *context = paramType.getContext();
  SmallVector<AffineExpr> zeros(paramType.getRank(),
                                getAffineConstantExpr(0, context));
  return AffineMap::get(numDims, 0, zeros, context);
}

/// The map from a value's indices to its parameter's indices under `spec`.
static FailureOr<AffineMap> paramMap(Operation *op, TensorSpecAttr spec,
                                     RankedTensorType valueType,
                                     RankedTensorType paramType) {
  MLIRContext *context = op->getContext();
  int64_t rank = valueType.getRank();
  ArrayRef<int64_t> shape = valueType.getShape();
  if (paramType.getNumElements() == 1 &&
      spec.getQSchemeOrDefault() == QSchemeType::per_tensor)
    return firstElementMap(rank, paramType);
  int64_t axis = spec.getChAxis().value_or(0);
  if (axis < 0)
    axis += rank;
  switch (spec.getQSchemeOrDefault()) {
  case QSchemeType::per_channel:
    return AffineMap::get(rank, 0, {getAffineDimExpr(axis, context)}, context);
  case QSchemeType::per_group: {
    int64_t group = spec.getGroupSize().value_or(-1);
    if (group == -1)
      group = shape[axis];
    if (ShapedType::isDynamic(group))
      return op->emitOpError("needs a static extent along the group axis");
    SmallVector<AffineExpr> exprs;
    for (int64_t d = 0; d < rank; ++d)
      exprs.push_back(d == axis ? getAffineDimExpr(d, context).floorDiv(group)
                                : getAffineDimExpr(d, context));
    return AffineMap::get(rank, 0, exprs, context);
  }
  case QSchemeType::per_block: {
    SmallVector<AffineExpr> exprs;
    for (auto [d, block] : llvm::enumerate(spec.getBlockSize()))
      exprs.push_back(getAffineDimExpr(d, context).floorDiv(block));
    return AffineMap::get(rank, 0, exprs, context);
  }
  case QSchemeType::per_tensor:
    break;
  }
  return op->emitOpError("has a per_tensor scale with more than one element");
}

/// An all-parallel generic over `resultType` whose operands are read through
/// `maps` (the result through the identity). A dynamic result dimension
/// takes its extent from an input that some map reads along it.
static Value
buildElementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
                 ValueRange inputs, ArrayRef<AffineMap> maps,
                 function_ref<Value(OpBuilder &, Location, ValueRange)> body,
                 bool decodesWeights = false) {
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < resultType.getRank(); ++d) {
    if (!resultType.isDynamicDim(d))
      continue;
    for (auto [input, map] : llvm::zip(inputs, maps)) {
      std::optional<unsigned> position =
          map.getResultPosition(getAffineDimExpr(d, b.getContext()));
      if (!position)
        continue;
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, input, *position));
      break;
    }
  }
  Value init = tensor::EmptyOp::create(
      b, loc, resultType.getShape(), resultType.getElementType(), dynamicSizes);
  SmallVector<AffineMap> indexing(maps.begin(), maps.end());
  indexing.push_back(b.getMultiDimIdentityMap(resultType.getRank()));
  SmallVector<utils::IteratorType> iterators(resultType.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, inputs, ValueRange{init}, indexing,
      iterators, [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  if (decodesWeights)
    generic->setAttr(kDecodeAttr, b.getUnitAttr());
  return generic.getResult(0);
}

/// Operands of a quantize / dequantize / fake_quant: the value, scale and
/// zero point with their maps.
struct QuantOperands {
  SmallVector<Value> values;
  SmallVector<AffineMap> maps;
  bool hasScale = false;
  bool hasZeroPoint = false;
};

static FailureOr<QuantOperands>
collectQuantOperands(Operation *op, TensorSpecAttr spec, Value value,
                     RankedTensorType valueType, Value scale, Value zeroPoint,
                     OpBuilder &b) {
  QuantOperands operands;
  operands.values.push_back(value);
  operands.maps.push_back(b.getMultiDimIdentityMap(valueType.getRank()));
  if (!scale)
    return operands;
  auto scaleType = cast<RankedTensorType>(scale.getType());
  FailureOr<AffineMap> map = paramMap(op, spec, valueType, scaleType);
  if (failed(map))
    return failure();
  operands.values.push_back(scale);
  operands.maps.push_back(*map);
  operands.hasScale = true;
  if (zeroPoint) {
    operands.values.push_back(zeroPoint);
    operands.maps.push_back(*map);
    operands.hasZeroPoint = true;
  }
  return operands;
}

/// The numerics of an op's spec, or an error naming the op.
static FailureOr<TensorQuantSpec>
specNumerics(Operation *op, TensorSpecAttr spec, Type floatType) {
  auto emitError = [&]() { return op->emitOpError(); };
  FailureOr<TensorQuantSpec> numerics =
      getTensorQuantSpec(spec, floatType, emitError);
  if (failed(numerics))
    return failure();
  if (numerics->isBlockFloat())
    return op->emitOpError("uses a simulation-only block format (")
           << stringifyDtype(spec.getDtype()) << ") that has no kernel form";
  return numerics;
}

//===----------------------------------------------------------------------===//
// Parameters derived from the data (dynamic and MX specs)
//===----------------------------------------------------------------------===//

/// `value` (of rank >= 1) with all its dimensions collapsed into one.
static Value flatten(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() == 1)
    return value;
  SmallVector<ReassociationIndices> all(1);
  for (int64_t d = 0; d < type.getRank(); ++d)
    all[0].push_back(d);
  return tensor::CollapseShapeOp::create(b, loc, value, all);
}

/// `value` with a leading unit dimension.
static Value withUnitLeadingDim(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape{1};
  llvm::append_range(shape, type.getShape());
  SmallVector<ReassociationIndices> groups;
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(1)};
  llvm::append_range(sizes, tensor::getMixedSizes(b, loc, value));
  for (int64_t d = 0; d < type.getRank(); ++d)
    groups.push_back(d == 0 ? ReassociationIndices{0, 1}
                            : ReassociationIndices{d + 1});
  return tensor::ExpandShapeOp::create(b, loc, type.clone(shape), value, groups,
                                       sizes);
}

/// `value` without its leading unit dimension.
static Value dropUnitLeadingDim(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 1; d < type.getRank(); ++d)
    groups.push_back(d == 1 ? ReassociationIndices{0, 1}
                            : ReassociationIndices{d});
  return tensor::CollapseShapeOp::create(
      b, loc, type.clone(type.getShape().drop_front()), value, groups);
}

/// What a reduction of the statistics keeps per slot.
enum class Statistic {
  /// The NaN-skipping minimum and maximum (Support's observeMinMax:
  /// `x < lo ? x : lo`, `hi < x ? x : hi`).
  MinMax,
  /// The absolute maximum, which the first NaN replaces for good
  /// (computeMXScales).
  MXAbsMax,
  /// The largest absolute value of minima and maxima (scaleQuantBlockScales'
  /// fold over its slots, an unobserved slot's +-inf included).
  BoundsAbsMax,
};

/// One reduction of `sources` (read through the identity) into per-slot
/// statistics written through `slotMap`, in element order. A source is the
/// data (one tensor; minima and maxima for BoundsAbsMax) or, when
/// `merging`, earlier statistics of the same kind. Loops whose dimension is
/// a slot dimension are parallel, the others reductions.
static SmallVector<Value>
reduceStatisticsInOneStep(OpBuilder &b, Location loc, ValueRange sources,
                          AffineMap slotMap, ArrayRef<OpFoldResult> slotSizes,
                          Statistic statistic, bool merging) {
  Type f32 = b.getF32Type();
  auto constant = [&](float value) -> Value {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(value));
  };
  SmallVector<Value> inits;
  auto addInit = [&](float value) {
    Value empty = tensor::EmptyOp::create(b, loc, slotSizes, f32);
    inits.push_back(
        linalg::FillOp::create(b, loc, constant(value), empty).getResult(0));
  };
  if (statistic == Statistic::MinMax) {
    addInit(std::numeric_limits<float>::infinity());
    addInit(-std::numeric_limits<float>::infinity());
  } else {
    addInit(0.0f);
  }
  unsigned rank = slotMap.getNumDims();
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  for (AffineExpr expr : slotMap.getResults())
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      iterators[dim.getPosition()] = utils::IteratorType::parallel;
  SmallVector<AffineMap> maps(sources.size(), b.getMultiDimIdentityMap(rank));
  maps.append(inits.size(), slotMap);
  auto generic = linalg::GenericOp::create(
      b, loc, ValueRange(inits).getTypes(), sources, inits, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        auto less = [&](Value x, Value y) -> Value {
          return arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OLT, x, y);
        };
        auto isNaN = [&](Value x) -> Value {
          return arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::UNO, x, x);
        };
        auto select = [&](Value c, Value x, Value y) -> Value {
          return arith::SelectOp::create(nb, nl, c, x, y);
        };
        auto abs = [&](Value x) -> Value {
          return merging ? x : math::AbsFOp::create(nb, nl, x);
        };
        switch (statistic) {
        case Statistic::MXAbsMax: {
          Value x = toF32(nb, nl, args[0]), amax = args[1];
          Value magnitude = abs(x);
          Value larger = select(less(amax, magnitude), magnitude, amax);
          Value next = select(isNaN(amax), amax, select(isNaN(x), x, larger));
          linalg::YieldOp::create(nb, nl, next);
          return;
        }
        case Statistic::BoundsAbsMax: {
          Value amax = args[sources.size()];
          for (Value bound : args.take_front(sources.size())) {
            Value magnitude = abs(bound);
            amax = select(less(amax, magnitude), magnitude, amax);
          }
          linalg::YieldOp::create(nb, nl, amax);
          return;
        }
        case Statistic::MinMax: {
          Value lowIn = toF32(nb, nl, args[0]);
          Value highIn = merging ? args[1] : lowIn;
          Value lo = args[sources.size()], hi = args[sources.size() + 1];
          linalg::YieldOp::create(
              nb, nl,
              ValueRange{select(less(lowIn, lo), lowIn, lo),
                         select(less(hi, highIn), highIn, hi)});
          return;
        }
        }
      });
  return SmallVector<Value>(generic.getResults());
}

/// Elements of a long reduction each thread of the first step folds.
constexpr int64_t kStatisticsChunk = 64;

/// reduceStatisticsInOneStep, with a long innermost reduction (a token's
/// features for per-token scales, a tensor's rows for per-tensor ones)
/// split into contiguous chunks of kStatisticsChunk: the chunks' statistics
/// first, one thread each, then theirs, merged in chunk order. Each step
/// keeps element order (the first of equal minima, the first NaN of an MX
/// block), so the result is the same bits; on a GPU it is many threads
/// instead of one per slot walking the whole row.
static SmallVector<Value> reduceStatistics(OpBuilder &b, Location loc,
                                           ValueRange sources,
                                           AffineMap slotMap,
                                           ArrayRef<OpFoldResult> slotSizes,
                                           Statistic statistic, bool merging) {
  unsigned rank = slotMap.getNumDims();
  auto sourceType = cast<RankedTensorType>(sources.front().getType());
  int64_t length = sourceType.getShape().back();
  bool innermostReduced = rank > 0 && !slotMap.isFunctionOfDim(rank - 1);
  if (!innermostReduced || ShapedType::isDynamic(length) ||
      length % kStatisticsChunk || length < 2 * kStatisticsChunk)
    return reduceStatisticsInOneStep(b, loc, sources, slotMap, slotSizes,
                                     statistic, merging);
  MLIRContext *context = b.getContext();
  int64_t chunks = length / kStatisticsChunk;
  // [..., length] as [..., chunk, element of the chunk].
  SmallVector<int64_t> shape(sourceType.getShape().drop_back());
  shape.append({chunks, kStatisticsChunk});
  SmallVector<ReassociationIndices> groups;
  for (unsigned d = 0; d + 1 < rank; ++d)
    groups.push_back({d});
  groups.push_back({rank - 1, rank});
  SmallVector<Value> chunked;
  for (Value source : sources) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, source);
    sizes.back() = b.getIndexAttr(chunks);
    sizes.push_back(b.getIndexAttr(kStatisticsChunk));
    chunked.push_back(tensor::ExpandShapeOp::create(
        b, loc, sourceType.clone(shape), source, groups, sizes));
  }
  // Per chunk: the slot's dimensions and the chunk's.
  SmallVector<AffineExpr> chunkExprs(slotMap.getResults());
  chunkExprs.push_back(getAffineDimExpr(rank - 1, context));
  SmallVector<OpFoldResult> chunkSizes(slotSizes);
  chunkSizes.push_back(b.getIndexAttr(chunks));
  SmallVector<Value> partials = reduceStatisticsInOneStep(
      b, loc, chunked, AffineMap::get(rank + 1, 0, chunkExprs, context),
      chunkSizes, statistic, merging);
  // Then the chunks' statistics, merged (and split again when many).
  unsigned partialRank = slotMap.getNumResults() + 1;
  return reduceStatistics(
      b, loc, partials,
      AffineMap::getMultiDimIdentityMap(partialRank, context)
          .getMajorSubMap(partialRank - 1),
      slotSizes, statistic, /*merging=*/true);
}

/// Per-slot statistics of `input` under `spec` (see reduceStatistics),
/// shaped like the parameters, or with a leading unit dimension first
/// (`unitLeading`) when the parameters have no dimension of their own.
struct SlotStatistics {
  SmallVector<Value> values;
  bool unitLeading = false;
};

/// The statistics computeDynamicParams takes `spec`'s parameters from.
/// Per-tensor statistics reduce the last dimension first, so both steps
/// have parallel loops; a reduction without a slot dimension of its own
/// runs over a leading unit dimension, which the GPU pipelines need to
/// launch it.
static FailureOr<SlotStatistics>
buildSlotStatistics(OpBuilder &b, Location loc, Operation *op,
                    TensorSpecAttr spec, const TensorQuantSpec &numerics,
                    Value input) {
  if (numerics.scaleFormat == ScaleFormat::E4M3)
    return op->emitOpError(
        "derives one-spec e4m3 block scales (scale_format = e4m3), which "
        "need the whole tensor's maximum first; they have no kernel form: "
        "Quark's NVFP4 is the two-stage spec, which has");
  MLIRContext *context = b.getContext();
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t rank = inputType.getRank();
  auto emitError = [&]() { return op->emitOpError(); };
  FailureOr<SmallVector<int64_t>> paramShape =
      getParamShape(spec, inputType.getShape(), emitError);
  if (failed(paramShape))
    return failure();
  Statistic statistic =
      numerics.usesMXScales() ? Statistic::MXAbsMax : Statistic::MinMax;
  QSchemeType qscheme = spec.getQSchemeOrDefault();
  int64_t axis = spec.getChAxis().value_or(0);
  if (axis < 0)
    axis += rank;

  SmallVector<Value> sources{input};
  bool merging = false;
  auto dims = [&](int64_t count, ArrayRef<int64_t> keep) {
    SmallVector<AffineExpr> exprs;
    for (int64_t d : keep)
      exprs.push_back(getAffineDimExpr(d, context));
    return AffineMap::get(count, 0, exprs, context);
  };
  auto sizesOf = [&](Value value, ArrayRef<int64_t> keep) {
    SmallVector<OpFoldResult> all = tensor::getMixedSizes(b, loc, value);
    SmallVector<OpFoldResult> sizes;
    for (int64_t d : keep)
      sizes.push_back(all[d]);
    return sizes;
  };
  AffineMap slotMap;
  SmallVector<OpFoldResult> slotSizes;
  int64_t group = spec.getGroupSize().value_or(-1);
  if (qscheme == QSchemeType::per_tensor) {
    if (rank >= 2) {
      // Rows first (parallel), then the rows' statistics.
      auto rows = llvm::to_vector(llvm::seq<int64_t>(0, rank - 1));
      sources = reduceStatistics(b, loc, sources, dims(rank, rows),
                                 sizesOf(input, rows), statistic, false);
      merging = true;
    }
    slotMap = AffineMap::get(rank >= 2 ? rank - 1 : rank, 0, context);
  } else if (qscheme == QSchemeType::per_channel) {
    slotMap = dims(rank, {axis});
    slotSizes = sizesOf(input, {axis});
  } else if (qscheme == QSchemeType::per_group &&
             !inputType.isDynamicDim(axis) &&
             (group == -1 || inputType.getDimSize(axis) % group == 0)) {
    // The axis split into (group, element of the group): the groups are
    // parallel loops too.
    int64_t length = inputType.getDimSize(axis);
    if (group == -1)
      group = length;
    SmallVector<int64_t> shape;
    SmallVector<ReassociationIndices> groups;
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
    SmallVector<OpFoldResult> expandedSizes;
    for (int64_t d = 0, e = 0; d < rank; ++d) {
      if (d == axis) {
        shape.append({length / group, group});
        groups.push_back({e, e + 1});
        expandedSizes.append(
            {b.getIndexAttr(length / group), b.getIndexAttr(group)});
        e += 2;
        continue;
      }
      shape.push_back(inputType.getDimSize(d));
      groups.push_back({e++});
      expandedSizes.push_back(sizes[d]);
    }
    sources = {tensor::ExpandShapeOp::create(b, loc, inputType.clone(shape),
                                             input, groups, expandedSizes)};
    SmallVector<int64_t> keep;
    for (int64_t d = 0; d <= rank; ++d)
      if (d != axis + 1)
        keep.push_back(d);
    slotMap = dims(rank + 1, keep);
    slotSizes = sizesOf(sources.front(), keep);
  } else {
    // Ragged MX groups and blocks: slots through floordiv maps.
    auto paramType = RankedTensorType::get(*paramShape, b.getF32Type());
    FailureOr<AffineMap> map = paramMap(op, spec, inputType, paramType);
    if (failed(map))
      return failure();
    slotMap = *map;
    for (auto [expr, extent] : llvm::zip(slotMap.getResults(), *paramShape)) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        slotSizes.push_back(
            tensor::getMixedSize(b, loc, input, dim.getPosition()));
        continue;
      }
      if (ShapedType::isDynamic(extent))
        return op->emitOpError("needs a static extent along dimension ")
               << axis << " for its data-derived parameters";
      slotSizes.push_back(b.getIndexAttr(extent));
    }
  }
  bool unitLeading = llvm::none_of(
      slotMap.getResults(), [](AffineExpr e) { return isa<AffineDimExpr>(e); });
  if (unitLeading) {
    for (Value &source : sources)
      source = withUnitLeadingDim(b, loc, source);
    SmallVector<AffineExpr> exprs{getAffineDimExpr(0, context)};
    for (AffineExpr expr : slotMap.getResults())
      exprs.push_back(expr.shiftDims(slotMap.getNumDims(), 1));
    slotMap = AffineMap::get(slotMap.getNumDims() + 1, 0, exprs, context);
    slotSizes.insert(slotSizes.begin(), b.getIndexAttr(1));
  }
  return SlotStatistics{
      reduceStatistics(b, loc, sources, slotMap, slotSizes, statistic, merging),
      unitLeading};
}

/// The scale (f32) and, for asymmetric integer specs, zero point (i32) that
/// a dynamic or MX `spec` derives from `input`, as computeDynamicParams
/// does: per-slot statistics, then Quark's formulas per slot (ElementCodec).
static FailureOr<std::pair<Value, Value>>
buildDynamicParams(OpBuilder &b, Location loc, Operation *op,
                   TensorSpecAttr spec, const TensorQuantSpec &numerics,
                   Value input) {
  FailureOr<SlotStatistics> statistics =
      buildSlotStatistics(b, loc, op, spec, numerics, input);
  if (failed(statistics))
    return failure();
  ValueRange stats = statistics->values;
  bool mx = numerics.usesMXScales();

  // Quark's formulas, one slot at a time.
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, stats[0]);
  int64_t slotRank = static_cast<int64_t>(sizes.size());
  bool zeroPoints = numerics.hasZeroPoint();
  SmallVector<Value> outs{
      tensor::EmptyOp::create(b, loc, sizes, b.getF32Type())};
  if (zeroPoints)
    outs.push_back(tensor::EmptyOp::create(b, loc, sizes, b.getI32Type()));
  SmallVector<AffineMap> maps(stats.size() + outs.size(),
                              b.getMultiDimIdentityMap(slotRank));
  SmallVector<utils::IteratorType> iterators(slotRank,
                                             utils::IteratorType::parallel);
  auto finalize = linalg::GenericOp::create(
      b, loc, ValueRange(outs).getTypes(), stats, outs, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        if (mx) {
          linalg::YieldOp::create(nb, nl,
                                  mxSharedScaleOf(nb, nl, numerics, args[0]));
          return;
        }
        auto [scale, zeroPoint] =
            quantParamsFromRange(nb, nl, numerics, args[0], args[1]);
        SmallVector<Value> results{scale};
        if (zeroPoints)
          results.push_back(zeroPoint);
        linalg::YieldOp::create(nb, nl, results);
      });
  SmallVector<Value> params(finalize.getResults());
  if (statistics->unitLeading)
    for (Value &param : params)
      param = dropUnitLeadingDim(b, loc, param);
  return std::pair{params[0], zeroPoints ? params[1] : Value()};
}

/// The largest absolute value behind per-slot minima and maxima, as
/// scaleQuantBlockScales folds them (an unobserved slot's +-inf included),
/// in a tensor<1xf32>: a reduction over a leading unit dimension, which the
/// GPU pipelines launch.
static Value reduceAbsMax(OpBuilder &b, Location loc, Value lo, Value hi) {
  MLIRContext *context = b.getContext();
  SmallVector<Value> sources;
  for (Value bounds : {lo, hi}) {
    // One dimension, so that the chunked reduction spreads all slots.
    sources.push_back(withUnitLeadingDim(b, loc, flatten(b, loc, bounds)));
  }
  return reduceStatistics(
             b, loc, sources,
             AffineMap::get(2, 0, {getAffineDimExpr(0, context)}, context),
             {b.getIndexAttr(1)}, Statistic::BoundsAbsMax, /*merging=*/false)
      .front();
}

/// The block scales of a scale-quantizing two-stage spec, as
/// scaleQuantBlockScales derives them: the first stage's scale of each
/// block from its range, fake-quantized per tensor by the second stage with
/// `secondScale` or, when null, amax(input) / (first max * second max)
/// (zero: the 2^-23 floor).
static FailureOr<Value> buildBlockScales(OpBuilder &b, Location loc,
                                         Operation *op, TwoStageSpecAttr spec,
                                         Value input, Value secondScale,
                                         bool hardwareOcpFp8) {
  Type inputElement = cast<RankedTensorType>(input.getType()).getElementType();
  FailureOr<TensorQuantSpec> first =
      specNumerics(op, spec.getFirst(), inputElement);
  FailureOr<TensorQuantSpec> second =
      specNumerics(op, spec.getSecond(), inputElement);
  if (failed(first) || failed(second))
    return failure();
  if (first->usesMXScales() || first->hasZeroPoint())
    return op->emitOpError("expects a first stage with float block scales");
  FailureOr<SlotStatistics> statistics =
      buildSlotStatistics(b, loc, op, spec.getFirst(), *first, input);
  if (failed(statistics))
    return failure();
  Value lo = statistics->values[0], hi = statistics->values[1];
  auto slotType = cast<RankedTensorType>(lo.getType());
  bool derived = !secondScale;
  if (derived)
    secondScale = reduceAbsMax(b, loc, lo, hi);
  // The one per-tensor value (tensor<f32> or tensor<1xf32>) in every slot.
  AffineMap scalarMap = firstElementMap(
      slotType.getRank(), cast<RankedTensorType>(secondScale.getType()));
  float divisor = scaleQuantDivisor(*first, *second);
  ElementCodec secondCodec(*second, hardwareOcpFp8);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, lo);
  Value out = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(slotType.getRank()),
                              b.getMultiDimIdentityMap(slotType.getRank()),
                              scalarMap,
                              b.getMultiDimIdentityMap(slotType.getRank())};
  SmallVector<utils::IteratorType> iterators(slotType.getRank(),
                                             utils::IteratorType::parallel);
  auto finalize = linalg::GenericOp::create(
      b, loc, out.getType(), ValueRange{lo, hi, secondScale}, out, maps,
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value perTensor = scaleToF32(nb, nl, args[2]);
        if (derived) {
          // scaleQuantSecondScale, in each slot: one division and a select
          // cost less than a launch of their own.
          Type f32 = nb.getF32Type();
          Value quotient = arith::DivFOp::create(
              nb, nl, perTensor,
              arith::ConstantOp::create(nb, nl, f32,
                                        nb.getF32FloatAttr(divisor)));
          Value isZero = arith::CmpFOp::create(
              nb, nl, arith::CmpFPredicate::OEQ, quotient,
              arith::ConstantOp::create(nb, nl, f32, nb.getF32FloatAttr(0)));
          perTensor = arith::SelectOp::create(
              nb, nl, isZero,
              arith::ConstantOp::create(nb, nl, f32,
                                        nb.getF32FloatAttr(kScaleEpsilon)),
              quotient);
        }
        Value blockScale =
            quantParamsFromRange(nb, nl, *first, args[0], args[1]).first;
        Value code = secondCodec.quantize(nb, nl, blockScale, perTensor, {});
        linalg::YieldOp::create(
            nb, nl, secondCodec.dequantize(nb, nl, code, perTensor, {}));
      });
  Value scales = finalize.getResult(0);
  if (statistics->unitLeading)
    scales = dropUnitLeadingDim(b, loc, scales);
  return scales;
}

/// A quantize / fake_quant without scale operands must derive them.
static bool derivesParams(TensorSpecAttr spec,
                          const TensorQuantSpec &numerics) {
  return !spec.isCast() && (spec.isDynamic() || numerics.usesMXScales());
}

/// The verifier gives every other quantizer its scale operand; this names
/// the op should unverified IR get here.
static LogicalResult requireScale(Operation *op, Value scale,
                                  TensorSpecAttr spec) {
  if (scale || spec.isCast())
    return success();
  return op->emitOpError("has no scale operand (dtype = ")
         << stringifyDtype(spec.getDtype()) << ") and a static spec";
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

struct StorageCastLowering : OpConversionPattern<StorageCastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StorageCastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type target = getTypeConverter()->convertType(op.getType());
    Value input = adaptor.getInput();
    if (input.getType() != target)
      input = tensor::BitcastOp::create(rewriter, op.getLoc(), target, input);
    rewriter.replaceOp(op, input);
    return success();
  }
};

/// Shared by quantize, dequantize and fake_quant.
template <typename OpTy> struct QuantOpLowering : OpConversionPattern<OpTy> {
  using OpAdaptor = typename OpTy::Adaptor;

  QuantOpLowering(const TypeConverter &converter, MLIRContext *context,
                  bool hardwareOcpFp8)
      : OpConversionPattern<OpTy>(converter, context),
        hardwareOcpFp8(hardwareOcpFp8) {}
  bool hardwareOcpFp8;

  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    constexpr bool isQuantize = std::is_same_v<OpTy, QuantizeOp>;
    constexpr bool isDequantize = std::is_same_v<OpTy, DequantizeOp>;
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    Type floatType =
        isDequantize ? resultType.getElementType() : inputType.getElementType();
    if (isa<quant::UniformQuantizedType, quant::UniformQuantizedPerAxisType>(
            isQuantize ? resultType.getElementType()
                       : inputType.getElementType()))
      return op.emitOpError("has !quant.uniform codes that carry their "
                            "scale; the kernel form takes scales as operands "
                            "(!quant.any)");
    FailureOr<TensorQuantSpec> numerics =
        specNumerics(op, op.getSpec(), floatType);
    if (failed(numerics))
      return failure();
    Value scale = adaptor.getScale(), zeroPoint = adaptor.getZeroPoint();
    if (!scale && !isDequantize && derivesParams(op.getSpec(), *numerics)) {
      FailureOr<std::pair<Value, Value>> params =
          buildDynamicParams(rewriter, op.getLoc(), op, op.getSpec(), *numerics,
                             adaptor.getInput());
      if (failed(params))
        return failure();
      std::tie(scale, zeroPoint) = *params;
    } else if (failed(requireScale(op, op.getScale(), op.getSpec()))) {
      return failure();
    }
    FailureOr<QuantOperands> operands =
        collectQuantOperands(op, op.getSpec(), adaptor.getInput(), inputType,
                             scale, zeroPoint, rewriter);
    if (failed(operands))
      return failure();
    auto target = cast<RankedTensorType>(
        this->getTypeConverter()->convertType(resultType));
    ElementCodec codec(*numerics, hardwareOcpFp8);
    bool isCast = op.getSpec().isCast();
    bool unsignedCodes = codec.isInteger() && !codec.isSignedInteger();
    bool hasScale = operands->hasScale, hasZeroPoint = operands->hasZeroPoint;
    Type resultElement = target.getElementType();
    // bfloat16 / float16 specs round to their own type, whatever float type
    // the op reads and returns (a fake_quant on f32 still rounds to bf16).
    Type castType;
    if (isCast)
      castType = numerics->dtype == QuantDType::BFloat16
                     ? Type(rewriter.getBF16Type())
                     : Type(rewriter.getF16Type());
    auto body = [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
      Value scale = hasScale ? scaleToF32(b, loc, args[1]) : Value();
      Value zeroPoint = hasZeroPoint
                            ? zeroPointToI32(b, loc, args[2], unsignedCodes)
                            : Value();
      if (isCast) {
        // bfloat16 / float16: quantize rounds to the type, dequantize widens.
        if (isDequantize)
          return f32To(b, loc, toF32(b, loc, args[0]), resultElement);
        Value rounded = f32To(b, loc, toF32(b, loc, args[0]), castType);
        if constexpr (isQuantize)
          return rounded;
        return f32To(b, loc, toF32(b, loc, rounded), resultElement);
      }
      if constexpr (isDequantize) {
        if (op.hasDecodedInput()) // a progressive spec's first stage
          return f32To(
              b, loc,
              arith::MulFOp::create(b, loc, toF32(b, loc, args[0]), scale),
              resultElement);
        return f32To(b, loc,
                     codec.dequantize(b, loc, args[0], scale, zeroPoint),
                     resultElement);
      }
      Value code =
          codec.quantize(b, loc, toF32(b, loc, args[0]), scale, zeroPoint);
      if constexpr (isQuantize)
        return code;
      return f32To(b, loc, codec.dequantize(b, loc, code, scale, zeroPoint),
                   resultElement);
    };
    Value result =
        buildElementwise(rewriter, op.getLoc(), target, operands->values,
                         operands->maps, body, /*decodesWeights=*/isDequantize);
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// `value` as a tensor of `type`: elements converted (f32 scales to
/// bf16 / f16, i32 zero points to narrower integers), then cast to the
/// static or dynamic extents the type has.
static Value convertTensorTo(OpBuilder &b, Location loc, Value value,
                             RankedTensorType type) {
  auto valueType = cast<RankedTensorType>(value.getType());
  Type element = type.getElementType();
  if (valueType.getElementType() != element)
    value = buildElementwise(
        b, loc, valueType.clone(element), value,
        b.getMultiDimIdentityMap(valueType.getRank()),
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          if (isa<FloatType>(element))
            return f32To(nb, nl, args[0], element);
          return arith::TruncIOp::create(nb, nl, element, args[0]);
        });
  if (value.getType() != type)
    value = tensor::CastOp::create(b, loc, type, value);
  return value;
}

/// compute_qparams: the parameters a dynamic quantizer derives at run time.
struct ComputeQParamsLowering : OpConversionPattern<ComputeQParamsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ComputeQParamsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<TensorQuantSpec> numerics = specNumerics(
        op, op.getSpec(), op.getInput().getType().getElementType());
    if (failed(numerics))
      return failure();
    FailureOr<std::pair<Value, Value>> params = buildDynamicParams(
        rewriter, op.getLoc(), op, op.getSpec(), *numerics, adaptor.getInput());
    if (failed(params))
      return failure();
    SmallVector<Value> values{params->first, params->second}, results;
    for (auto [result, value] : llvm::zip(op->getResults(), values)) {
      auto type = cast<RankedTensorType>(
          getTypeConverter()->convertType(result.getType()));
      results.push_back(convertTensorTo(rewriter, op.getLoc(), value, type));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct ComputeBlockScalesLowering : OpConversionPattern<ComputeBlockScalesOp> {
  ComputeBlockScalesLowering(const TypeConverter &converter,
                             MLIRContext *context, bool hardwareOcpFp8)
      : OpConversionPattern(converter, context),
        hardwareOcpFp8(hardwareOcpFp8) {}
  bool hardwareOcpFp8;

  LogicalResult
  matchAndRewrite(ComputeBlockScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<Value> scales = buildBlockScales(
        rewriter, op.getLoc(), op, op.getSpec(), adaptor.getInput(),
        adaptor.getSecondScale(), hardwareOcpFp8);
    if (failed(scales))
      return failure();
    rewriter.replaceOp(op, convertTensorTo(rewriter, op.getLoc(), *scales,
                                           op.getScale().getType()));
    return success();
  }
};

/// NVFP4-style fake quantization: its block scales, then the first stage's
/// quantize and dequantize, which the other patterns lower.
struct TwoStageFakeQuantLowering : OpConversionPattern<TwoStageFakeQuantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TwoStageFakeQuantOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    return expandTwoStageFakeQuant(rewriter, op, op.getSpec().getFirst());
  }
};

struct UnpackLowering : OpConversionPattern<UnpackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(UnpackOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto resultType = cast<RankedTensorType>(op.getType());
    auto target =
        cast<RankedTensorType>(getTypeConverter()->convertType(resultType));
    unsigned bits = target.getElementType().getIntOrFloatBitWidth();
    auto packedType = cast<RankedTensorType>(adaptor.getInput().getType());
    unsigned wordBits = packedType.getElementType().getIntOrFloatBitWidth();
    if (bits != 4 || (wordBits != 32 && wordBits != 8))
      return op.emitOpError("unpacks ")
             << bits << "-bit codes from " << wordBits
             << "-bit words; kernels are built for int4 / uint4 in i32 words "
                "and fp4 in bytes";
    int64_t perWord = wordBits / bits;
    // Nibble slot of element j of a word: reorder stores element
    // [0,2,4,6,1,3,5,7][slot] in slot, so element j sits in slot
    // j / 2 + (j % 2) * 4; order (and fp4's two per byte) in slot j.
    bool reorder =
        wordBits == 32 &&
        op.getPackMethod().value_or(PackMethod::reorder) == PackMethod::reorder;
    MLIRContext *context = op.getContext();
    int64_t rank = target.getRank();
    SmallVector<AffineExpr> exprs;
    for (int64_t d = 0; d < rank; ++d)
      exprs.push_back(d == rank - 1
                          ? getAffineDimExpr(d, context).floorDiv(perWord)
                          : getAffineDimExpr(d, context));
    AffineMap wordMap = AffineMap::get(rank, 0, exprs, context);
    Type element = target.getElementType();
    auto body = [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
      Value index = linalg::IndexOp::create(b, loc, rank - 1);
      Value j = arith::RemUIOp::create(
          b, loc, index, arith::ConstantIndexOp::create(b, loc, perWord));
      Value slot = j;
      if (reorder) {
        Value two = arith::ConstantIndexOp::create(b, loc, 2);
        slot = arith::AddIOp::create(
            b, loc, arith::DivUIOp::create(b, loc, j, two),
            arith::MulIOp::create(b, loc,
                                  arith::RemUIOp::create(b, loc, j, two),
                                  arith::ConstantIndexOp::create(b, loc, 4)));
      }
      Type wordType = args[0].getType();
      Value shift = arith::MulIOp::create(
          b, loc, arith::IndexCastOp::create(b, loc, wordType, slot),
          arith::ConstantIntOp::create(b, loc, wordType, bits));
      Value nibble = arith::TruncIOp::create(
          b, loc, b.getIntegerType(bits),
          arith::ShRUIOp::create(b, loc, args[0], shift));
      if (element != nibble.getType())
        nibble = arith::BitcastOp::create(b, loc, element, nibble);
      return nibble;
    };
    rewriter.replaceOp(op, buildElementwise(rewriter, op.getLoc(), target,
                                            {adaptor.getInput()}, {wordMap},
                                            body, /*decodesWeights=*/true));
    return success();
  }
};

/// The codes, scale and numerics of one GEMM operand in the code domain.
struct CodeOperand {
  Value codes;
  Value scale;
  TensorQuantSpec numerics;
};

struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;

  /// Both operands dequantized from int8 or from the same fp8 format, with
  /// per-tensor or per-row scales: a GEMM on the codes.
  static bool codeDomain(LinearOp op, int64_t m, int64_t n,
                         std::optional<CodeOperand> &x,
                         std::optional<CodeOperand> &w,
                         ConversionPatternRewriter &rewriter) {
    auto dqx = op.getInput().getDefiningOp<DequantizeOp>();
    auto dqw = op.getWeight().getDefiningOp<DequantizeOp>();
    if (!dqx || !dqw || !dqx.getScale() || !dqw.getScale() ||
        dqx.getZeroPoint() || dqw.getZeroPoint() || dqx.hasDecodedInput() ||
        dqw.hasDecodedInput())
      return false;
    auto none = [] { return InFlightDiagnostic(); };
    FailureOr<TensorQuantSpec> sx =
        getTensorQuantSpec(dqx.getSpec(), dqx.getType().getElementType(), none);
    FailureOr<TensorQuantSpec> sw =
        getTensorQuantSpec(dqw.getSpec(), dqw.getType().getElementType(), none);
    if (failed(sx) || failed(sw) || sx->elementType() != sw->elementType())
      return false;
    QuantDType type = sx->elementType();
    if (type != QuantDType::Int8 && type != QuantDType::FP8E4M3 &&
        type != QuantDType::FP8E5M2)
      return false;
    auto count = [](Value v) {
      return cast<RankedTensorType>(v.getType()).getNumElements();
    };
    int64_t nx = count(dqx.getScale()), nw = count(dqw.getScale());
    if ((nx != 1 && nx != m) || (nw != 1 && nw != n))
      return false;
    if (nw == n && n != 1 &&
        !(dqw.getSpec().getQSchemeOrDefault() == QSchemeType::per_channel &&
          dqw.getSpec().getChAxis().value_or(0) == 0))
      return false;
    // Per-row activation scales (per token): per channel along the rows of
    // a rank-2 input (ch_axis 0 or -2).
    if (nx == m && m != 1) {
      int64_t axis = dqx.getSpec().getChAxis().value_or(0);
      if (dqx.getSpec().getQSchemeOrDefault() != QSchemeType::per_channel ||
          dqx.getType().getRank() != 2 || (axis != 0 && axis != -2))
        return false;
    }
    x = CodeOperand{rewriter.getRemappedValue(dqx.getInput()),
                    rewriter.getRemappedValue(dqx.getScale()), *sx};
    w = CodeOperand{rewriter.getRemappedValue(dqw.getInput()),
                    rewriter.getRemappedValue(dqw.getScale()), *sw};
    return true;
  }

  /// [[0, ..., rank - 2], [rank - 1]]: the rows of a rank-`rank` tensor
  /// and its last dimension.
  static SmallVector<ReassociationIndices> rowsAndLast(int64_t rank) {
    SmallVector<ReassociationIndices> groups(2);
    for (int64_t d = 0; d + 1 < rank; ++d)
      groups[0].push_back(d);
    groups[1].push_back(rank - 1);
    return groups;
  }

  /// `value` with its leading dimensions collapsed into one.
  static Value collapseRows(OpBuilder &b, Location loc, Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == 2)
      return value;
    return tensor::CollapseShapeOp::create(b, loc, value,
                                           rowsAndLast(type.getRank()));
  }

  /// A per-row parameter as a rank-1 tensor of `count` elements or, when
  /// it has one element, read through a constant map.
  static std::pair<Value, AffineMap> rowParam(OpBuilder &b, Location loc,
                                              Value param, unsigned dim) {
    MLIRContext *context = b.getContext();
    auto type = cast<RankedTensorType>(param.getType());
    if (type.getNumElements() == 1)
      return {param, firstElementMap(2, type)};
    return {flatten(b, loc, param),
            AffineMap::get(2, 0, {getAffineDimExpr(dim, context)}, context)};
  }

  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = op.getContext();
    auto resultType = cast<RankedTensorType>(op.getType());
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto weightType = cast<RankedTensorType>(op.getWeight().getType());
    if (inputType.getRank() < 2 || !weightType.hasStaticShape())
      return op.emitOpError("needs an input of rank >= 2 and a static weight");
    int64_t n = weightType.getDimSize(0);
    int64_t m = 1;
    for (int64_t d = 0; d + 1 < inputType.getRank(); ++d)
      m = ShapedType::isDynamic(m) || inputType.isDynamicDim(d)
              ? ShapedType::kDynamic
              : m * inputType.getDimSize(d);

    std::optional<CodeOperand> x, w;
    bool onCodes =
        !ShapedType::isDynamic(m) && codeDomain(op, m, n, x, w, rewriter);
    Value lhs =
        collapseRows(rewriter, loc, onCodes ? x->codes : adaptor.getInput());
    Value rhs = onCodes ? w->codes : adaptor.getWeight();
    bool integerCodes =
        onCodes && x->numerics.elementType() == QuantDType::Int8;
    Type accType = integerCodes ? Type(rewriter.getI32Type())
                                : Type(rewriter.getF32Type());

    // GEMM over (m, n, k): acc[m, n] += x[m, k] * w[n, k].
    SmallVector<OpFoldResult> accShape{
        tensor::getMixedSize(rewriter, loc, lhs, 0), rewriter.getIndexAttr(n)};
    Value empty = tensor::EmptyOp::create(rewriter, loc, accShape, accType);
    Value zero = arith::ConstantOp::create(rewriter, loc, accType,
                                           rewriter.getZeroAttr(accType));
    Value acc = linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
    AffineExpr dm = getAffineDimExpr(0, context),
               dn = getAffineDimExpr(1, context),
               dk = getAffineDimExpr(2, context);
    SmallVector<AffineMap> maps{AffineMap::get(3, 0, {dm, dk}, context),
                                AffineMap::get(3, 0, {dn, dk}, context),
                                AffineMap::get(3, 0, {dm, dn}, context)};
    SmallVector<utils::IteratorType> iterators{utils::IteratorType::parallel,
                                               utils::IteratorType::parallel,
                                               utils::IteratorType::reduction};
    std::optional<ElementCodec> codec;
    if (onCodes)
      codec.emplace(x->numerics);
    auto gemm = linalg::GenericOp::create(
        rewriter, loc, TypeRange{acc.getType()}, ValueRange{lhs, rhs},
        ValueRange{acc}, maps, iterators,
        [&](OpBuilder &b, Location nestedLoc, ValueRange args) {
          Value a, c;
          if (integerCodes) {
            a = codec->codeToI32(b, nestedLoc, args[0]);
            c = codec->codeToI32(b, nestedLoc, args[1]);
            Value product = arith::MulIOp::create(b, nestedLoc, a, c);
            linalg::YieldOp::create(
                b, nestedLoc,
                Value(arith::AddIOp::create(b, nestedLoc, args[2], product)));
            return;
          }
          if (onCodes) {
            // fp8 x fp8 products are exact in f32; the scales come after.
            a = codec->decodeFloat(b, nestedLoc, args[0]);
            c = codec->decodeFloat(b, nestedLoc, args[1]);
          } else {
            a = toF32(b, nestedLoc, args[0]);
            c = toF32(b, nestedLoc, args[1]);
          }
          Value product = arith::MulFOp::create(b, nestedLoc, a, c);
          linalg::YieldOp::create(
              b, nestedLoc,
              Value(arith::AddFOp::create(b, nestedLoc, args[2], product)));
        });
    gemm->setAttr("quark.gemm", rewriter.getStringAttr(op.getName()));
    // Exact products of raw codes: what quark-gemm-to-matrix-cores may replace
    // by matrix-core instructions.
    if (onCodes)
      gemm->setAttr("quark.gemm_on_codes", rewriter.getUnitAttr());
    Value result = gemm.getResult(0);

    // Epilogue over (m, n): scales, bias, the result's element type.
    Type resultElement = resultType.getElementType();
    bool needsEpilogue = onCodes || adaptor.getBias() || !resultElement.isF32();
    if (needsEpilogue) {
      SmallVector<Value> inputs{result};
      SmallVector<AffineMap> epilogueMaps{rewriter.getMultiDimIdentityMap(2)};
      if (onCodes) {
        for (auto [param, dim] :
             {std::pair{x->scale, 0u}, std::pair{w->scale, 1u}}) {
          auto [value, map] = rowParam(rewriter, loc, param, dim);
          inputs.push_back(value);
          epilogueMaps.push_back(map);
        }
      }
      bool hasBias = static_cast<bool>(adaptor.getBias());
      if (hasBias) {
        inputs.push_back(adaptor.getBias());
        epilogueMaps.push_back(AffineMap::get(2, 0, {dn}, context));
      }
      auto outType = RankedTensorType::get(
          cast<RankedTensorType>(result.getType()).getShape(), resultElement);
      result = buildElementwise(
          rewriter, loc, outType, inputs, epilogueMaps,
          [&](OpBuilder &b, Location nestedLoc, ValueRange args) -> Value {
            Value value = args[0];
            if (integerCodes)
              value =
                  arith::SIToFPOp::create(b, nestedLoc, b.getF32Type(), value);
            unsigned next = 1;
            if (onCodes) {
              value = arith::MulFOp::create(
                  b, nestedLoc, value, scaleToF32(b, nestedLoc, args[next++]));
              value = arith::MulFOp::create(
                  b, nestedLoc, value, scaleToF32(b, nestedLoc, args[next++]));
            }
            if (hasBias)
              value = arith::AddFOp::create(b, nestedLoc, value,
                                            toF32(b, nestedLoc, args[next]));
            return f32To(b, nestedLoc, value, resultElement);
          });
    }
    if (resultType.getRank() != 2)
      result = tensor::ExpandShapeOp::create(rewriter, loc, resultType, result,
                                             rowsAndLast(resultType.getRank()));
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ConvertQuarkToLinalgPass
    : mlir::quark::impl::ConvertQuarkToLinalgBase<ConvertQuarkToLinalgPass> {
  using ConvertQuarkToLinalgBase::ConvertQuarkToLinalgBase;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    StorageTypeConverter converter;
    ConversionTarget target(*context);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect>();
    target.addIllegalOp<QuantizeOp, DequantizeOp, FakeQuantOp, UnpackOp, PackOp,
                        StorageCastOp, LinearOp, ComputeQParamsOp,
                        ComputeBlockScalesOp, TwoStageFakeQuantOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return converter.isSignatureLegal(op.getFunctionType()) &&
             converter.isLegal(&op.getBody());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(context);
    patterns.add<StorageCastLowering, UnpackLowering, LinearLowering,
                 ComputeQParamsLowering, TwoStageFakeQuantLowering>(converter,
                                                                    context);
    patterns.add<ComputeBlockScalesLowering>(converter, context,
                                             hardwareOcpFp8);
    patterns.add<QuantOpLowering<QuantizeOp>, QuantOpLowering<DequantizeOp>,
                 QuantOpLowering<FakeQuantOp>>(converter, context,
                                               hardwareOcpFp8);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      return signalPassFailure();

    if (!fuseWeightDecoding)
      return;
    // Fold unpack / dequantize producers into their consumers (the GEMMs),
    // so the kernels read packed words and scales.
    RewritePatternSet fusion(context);
    linalg::populateElementwiseOpsFusionPatterns(
        fusion, [](OpOperand *operand) {
          Operation *producer = operand->get().getDefiningOp();
          return producer && producer->hasAttr(kDecodeAttr);
        });
    linalg::FillOp::getCanonicalizationPatterns(fusion, context);
    if (failed(applyPatternsGreedily(getOperation(), std::move(fusion))))
      return signalPassFailure();
  }
};

} // namespace
