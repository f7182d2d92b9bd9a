//===- QuantizeWeights.cpp - Weights stored as codes and scales -----------===//
//
// Finds the weights `quark-freeze` fake-quantized (a quark.fake_quant or a
// quark.two_stage_fake_quant of a quark.param), writes their codes and
// parameters to one safetensors file, streaming one weight at a time, and
// rewrites each into param -> storage_cast | unpack -> dequantize (and, for
// a progressive spec, a second dequantize by the first stage's scale).
//
//===----------------------------------------------------------------------===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/Packing.h"
#include "quark/Support/Parallel.h"
#include "quark/Support/Safetensors.h"
#include "quark/Support/ScalarQuant.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SwapByteOrder.h"

#include <cstring>
#include <mutex>
#include <optional>

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKQUANTIZEWEIGHTS
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// One weight to store.
struct StoredWeight {
  Operation *quantizer; // the fake_quant / two_stage_fake_quant
  ParamOp param;
  TensorSpecAttr spec; // the spec of the stored codes
  TwoStageSpecAttr twoStage;
  TensorQuantSpec numerics;
  /// The stage whose codes are not stored, with one per-tensor scale
  /// (`otherStageScale`): of a scale-quantizing spec (NVFP4), the second,
  /// which quantizes the block scales; of a progressive spec (int4_fp8),
  /// the first, whose fp8 values the stored second-stage codes encode.
  TensorQuantSpec otherStage;
  bool progressive = false;
  /// Whether the spec quantizes its block scales (NVFP4): then the scales
  /// are stored as `otherStage` codes at `otherStageScale`.
  bool quantizesScales() const { return twoStage && !progressive; }
  TensorDType storage;
  TensorDType scaleStorage = TensorDType::F32; // of scale codes
  RankedTensorType paramType; // of the scales (and zero points)
  bool hasZeroPoint = false;
  /// The codes' element type (!quant.any<i4:f32>, !quark.qfloat<fp4>, ...).
  Type codeElement;
  /// Sub-byte codes are stored packed along the last dimension, as Quark's
  /// checkpoints hold them (int4: eight per int32 word, AWQ order; fp4: two
  /// per byte; fp6: four per three bytes); others one per element.
  bool packed = false;
  llvm::SmallVector<int64_t, 4> storedShape;
  /// Parameters an algorithm chose (GPTQ): the quantizer's scale and zero
  /// point are params, not computed from the weight.
  ParamOp givenScale, givenZeroPoint;
  /// Parameters fixed in the IR as constants (a scale shared across a
  /// group of layers, quark-share-weight-scales): the scale and zero point
  /// of a one-stage spec, or a scale-quantizing spec's second-stage scale.
  std::optional<QuantParams> fixedParams;
  std::optional<float> fixedOtherStageScale;
};

/// Packed storage for `codeElement` codes of a tensor of `shape`: the
/// dtype and shape of Quark's layout, if it has one for that shape.
std::optional<std::pair<TensorDType, llvm::SmallVector<int64_t, 4>>>
packedStorage(Type codeElement, llvm::ArrayRef<int64_t> shape) {
  if (shape.empty())
    return std::nullopt;
  llvm::SmallVector<int64_t, 4> stored(shape);
  int64_t cols = shape.back();
  if (auto quantized = dyn_cast<quant::QuantizedType>(codeElement)) {
    if (quantized.getStorageTypeIntegralWidth() != 4)
      return std::nullopt;
    stored.back() = packedInt4Cols(cols);
    return std::make_pair(TensorDType::I32, stored);
  }
  auto qfloat = dyn_cast<QFloatType>(codeElement);
  if (qfloat && qfloat.getBitWidth() == 4 && cols % 2 == 0) {
    stored.back() = cols / 2;
    return std::make_pair(TensorDType::U8, stored);
  }
  if (qfloat && qfloat.getBitWidth() == 6 && cols % 4 == 0) {
    stored.back() = cols / 4 * 3;
    return std::make_pair(TensorDType::U8, stored);
  }
  return std::nullopt;
}

/// The int4 packing order: Quark's default, the AutoAWQ interleave.
constexpr PackMethod kInt4PackMethod = PackMethod::reorder;

/// Safetensors dtype holding one code per element.
std::optional<TensorDType> storageDType(const TensorQuantSpec &spec) {
  const DTypeInfo &info = getDTypeInfo(spec.elementType());
  if (info.isInteger()) {
    if (info.bits <= 8)
      return info.isSigned() ? TensorDType::I8 : TensorDType::U8;
    if (info.bits <= 16 && info.isSigned())
      return TensorDType::I16;
    if (info.bits <= 32 && info.isSigned())
      return TensorDType::I32;
    return std::nullopt;
  }
  if (info.kind != DTypeKind::Float)
    return std::nullopt;
  if (info.dtype == QuantDType::FP8E4M3)
    return TensorDType::F8_E4M3;
  if (info.dtype == QuantDType::FP8E5M2)
    return TensorDType::F8_E5M2;
  return TensorDType::U8; // fp6, fp4, e5m3 bit patterns
}

/// Stores unpacked codes as `dtype`'s little-endian bytes into `out`.
void encodeCodes(llvm::ArrayRef<int32_t> codes, TensorDType dtype,
                 llvm::MutableArrayRef<uint8_t> out) {
  size_t width = tensorDTypeSize(dtype);
  assert(out.size() == codes.size() * width);
  if (width == 1) { // every 8-bit and narrower code: a plain narrowing
    for (size_t i = 0; i < codes.size(); ++i)
      out[i] = static_cast<uint8_t>(codes[i]);
    return;
  }
  if (width == 4 && llvm::sys::IsLittleEndianHost) { // safetensors' order
    std::memcpy(out.data(), codes.data(), out.size());
    return;
  }
  for (size_t i = 0; i < codes.size(); ++i) {
    uint32_t value = static_cast<uint32_t>(codes[i]);
    for (size_t b = 0; b < width; ++b)
      out[i * width + b] = static_cast<uint8_t>(value >> (8 * b));
  }
}

template <typename T>
llvm::ArrayRef<uint8_t> asBytes(llvm::ArrayRef<T> values) {
  return {reinterpret_cast<const uint8_t *>(values.data()),
          values.size() * sizeof(T)};
}

/// Elements converted to float32 at a time per thread: the chunk, its
/// codes and its parameters stay in cache.
constexpr int64_t kChunkElements = 1 << 16;
/// Elements quantized between writes to the output file.
constexpr int64_t kBatchElements = 1 << 24;

/// Whether every parameter slot of `layout` covers elements of one row
/// (first-dimension slice) only, slots ordered by row: then rows quantize
/// independently, in chunks.
bool isRowLocal(const TensorQuantSpec &spec, llvm::ArrayRef<int64_t> shape) {
  int64_t rank = static_cast<int64_t>(shape.size());
  if (rank < 2 || spec.scaleFormat == ScaleFormat::E4M3) // NVFP4-style
    return false;                                        // global max
  int64_t axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
  switch (spec.qscheme) {
  case QScheme::PerChannel:
    return axis == 0;
  case QScheme::PerGroup:
    return axis == rank - 1;
  case QScheme::PerTensor:
  case QScheme::PerBlock:
    return false;
  }
  return false;
}

/// Quantizes weight `weight` chunk by chunk of rows read straight from the
/// checkpoint, on all threads, and appends its codes to `writer`: a weight
/// never exists whole in float32, so the resident set stays small and the
/// work runs at memory speed. Per-tensor scales (and a two-stage spec's
/// other-stage scale) take one extra pass over the rows for the tensor's
/// extremes. The result
/// equals quantizing the whole tensor at once.
llvm::Error quantizeStreaming(StoredWeight &weight, WeightStore &store,
                              SafetensorsWriter &writer, QuantParams &params,
                              float &otherStageScale) {
  std::string name = weight.param.getName().str();
  llvm::StringRef file = weight.param.getFile().value_or("");
  const TensorQuantSpec &spec = weight.numerics;
  llvm::Expected<llvm::SmallVector<int64_t, 4>> shape =
      store.shapeOf(name, file);
  if (!shape)
    return shape.takeError();
  llvm::Expected<QuantLayout> layout = QuantLayout::get(*shape, spec);
  if (!layout)
    return layout.takeError();
  int64_t rows = shape->empty() ? 1 : shape->front();
  int64_t rowElements = rows == 0 ? 0 : layout->numElements() / rows;
  bool perTensor = spec.qscheme == QScheme::PerTensor && !spec.usesMXScales();
  bool chunked = rowElements > 0 && (perTensor || isRowLocal(spec, *shape));
  int64_t chunkRows =
      chunked ? std::max<int64_t>(1, kChunkElements / rowElements) : rows;
  int64_t batchRows =
      chunked ? std::max<int64_t>(chunkRows, kBatchElements / rowElements)
              : rows;
  auto chunkShape = [&](int64_t count) {
    llvm::SmallVector<int64_t, 4> result(*shape);
    if (!result.empty())
      result.front() = count;
    return result;
  };

  // Runs fn(begin, end, values) on every chunk of rows of [first, last),
  // in parallel; the first error wins.
  std::mutex mutex;
  std::optional<std::string> failure;
  auto forChunks = [&](int64_t first, int64_t last, auto fn) {
    parallelChunks(last - first, chunkRows, [&](int64_t from, int64_t to) {
      std::vector<float> values;
      for (int64_t begin = first + from; begin < first + to;
           begin += chunkRows) {
        int64_t end = std::min(first + to, begin + chunkRows);
        values.resize(static_cast<size_t>((end - begin) * rowElements));
        llvm::Error error = store.readRows(name, file, begin, end, values);
        if (!error)
          error = fn(begin, end, values);
        if (error) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!failure)
            failure = llvm::toString(std::move(error));
          else
            llvm::consumeError(std::move(error));
          return;
        }
      }
    });
  };
  auto takeFailure = [&]() -> llvm::Error {
    if (!failure)
      return llvm::Error::success();
    return llvm::createStringError(llvm::inconvertibleErrorCode(), *failure);
  };

  // Parameters an algorithm or the IR fixed, read whole (they are small).
  std::optional<QuantParams> given = weight.fixedParams;
  if (weight.givenScale) {
    given.emplace();
    llvm::Expected<Tensor> scales = store.get(
        weight.givenScale.getName(), weight.givenScale.getFile().value_or(""));
    if (!scales)
      return scales.takeError();
    given->scales.assign(scales->floats().begin(), scales->floats().end());
    if (weight.givenZeroPoint) {
      llvm::Expected<Tensor> zeros =
          store.getCodes(weight.givenZeroPoint.getName(),
                         weight.givenZeroPoint.getFile().value_or(""));
      if (!zeros)
        return zeros.takeError();
      given->zeroPoints.assign(zeros->ints().begin(), zeros->ints().end());
    }
  }
  if (given) {
    if (static_cast<int64_t>(given->scales.size()) != layout->numParams() ||
        (spec.hasZeroPoint() &&
         given->zeroPoints.size() != given->scales.size()))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("'{0}': the given parameters do not fit its {1} "
                        "slots",
                        name, layout->numParams()));
  }

  // Whole-tensor statistics, where the parameters depend on them.
  std::optional<QuantParams> shared;
  if (given && perTensor) {
    shared = given;
  } else if (weight.fixedOtherStageScale) {
    otherStageScale = *weight.fixedOtherStageScale;
  } else if (perTensor || weight.twoStage) {
    llvm::Expected<MinMaxStats> whole =
        streamedExtremes(store, name, file, *shape);
    if (!whole)
      return whole.takeError();
    const MinMaxStats &extremes = *whole;
    if (weight.progressive) {
      // The first stage's per-tensor scale, as Quark's observer takes it.
      llvm::Expected<QuantParams> first =
          computeQuantParams(weight.otherStage, extremes);
      if (!first)
        return first.takeError();
      otherStageScale = first->scales.front();
    } else if (weight.twoStage) {
      float amax = std::max(std::fabs(std::min(extremes.min[0], 0.0f)),
                            std::fabs(std::max(extremes.max[0], 0.0f)));
      otherStageScale = scaleQuantSecondScale(spec, weight.otherStage, amax);
    } else {
      llvm::Expected<QuantParams> computed = computeQuantParams(spec, extremes);
      if (!computed)
        return computed.takeError();
      shared = std::move(*computed);
    }
  }

  // Codes, batch by batch of rows; parameters into their row's slots.
  int64_t slotsPerRow = rows == 0 ? 0 : layout->numParams() / rows;
  if (shared) {
    params = *shared;
  } else {
    params.scales.assign(static_cast<size_t>(layout->numParams()), 0.0f);
    if (spec.hasZeroPoint())
      params.zeroPoints.assign(params.scales.size(), 0);
  }
  // Bytes of one row (first-dimension slice) as stored.
  int64_t storedElements = 1;
  for (int64_t dim : weight.storedShape)
    storedElements *= dim;
  int64_t storedRowBytes =
      rows == 0 ? 0
                : storedElements / rows *
                      static_cast<int64_t>(tensorDTypeSize(weight.storage));
  if (llvm::Error error = writer.begin(name))
    return error;
  for (int64_t first = 0; first < rows; first += batchRows) {
    int64_t last = std::min(rows, first + batchRows);
    // A fresh buffer per batch: the writer takes it over and writes it
    // while the next batch is computed.
    std::vector<uint8_t> bytes(
        static_cast<size_t>((last - first) * storedRowBytes));
    forChunks(
        first, last,
        [&](int64_t begin, int64_t end,
            llvm::ArrayRef<float> values) -> llvm::Error {
          llvm::Expected<QuantLayout> part =
              QuantLayout::get(chunkShape(end - begin), spec);
          if (!part)
            return part.takeError();
          QuantParams local;
          if (shared) {
            local = *shared;
          } else if (given) {
            auto first = static_cast<size_t>(begin * slotsPerRow);
            auto last = static_cast<size_t>(end * slotsPerRow);
            local.scales.assign(given->scales.begin() + first,
                                given->scales.begin() + last);
            if (!given->zeroPoints.empty())
              local.zeroPoints.assign(given->zeroPoints.begin() + first,
                                      given->zeroPoints.begin() + last);
          } else if (weight.progressive) {
            // The first stage leaves fp8 values (scale divided out, not
            // multiplied back); the second stage's codes encode them.
            TensorQuantSpec first = weight.otherStage;
            llvm::Expected<QuantLayout> firstPart =
                QuantLayout::get(chunkShape(end - begin), first);
            if (!firstPart)
              return firstPart.takeError();
            QuantParams firstParams;
            firstParams.scales.assign(1, otherStageScale);
            static thread_local std::vector<int32_t> firstCodes;
            firstCodes.resize(values.size());
            if (llvm::Error error = quantizeTensor(first, *firstPart, values,
                                                   firstParams, firstCodes))
              return error;
            firstParams.scales.assign(1, 1.0f);
            static thread_local std::vector<float> stageValues;
            stageValues.resize(values.size());
            if (llvm::Error error = dequantizeTensor(
                    first, *firstPart, firstCodes, firstParams, stageValues))
              return error;
            values = stageValues;
            llvm::Expected<QuantParams> computed =
                computeDynamicParams(spec, *part, values);
            if (!computed)
              return computed.takeError();
            local = std::move(*computed);
          } else if (weight.twoStage) {
            llvm::Expected<std::vector<float>> scales = scaleQuantBlockScales(
                spec, weight.otherStage, *part, values, otherStageScale);
            if (!scales)
              return scales.takeError();
            local.scales = std::move(*scales);
          } else {
            llvm::Expected<QuantParams> computed =
                computeDynamicParams(spec, *part, values);
            if (!computed)
              return computed.takeError();
            local = std::move(*computed);
          }
          // Scratch codes, reused by this thread across chunks and tensors.
          static thread_local std::vector<int32_t> scratch;
          if (scratch.size() < values.size())
            scratch.resize(values.size());
          llvm::MutableArrayRef<int32_t> codes(scratch.data(), values.size());
          if (llvm::Error error =
                  quantizeTensor(spec, *part, values, local, codes))
            return error;
          llvm::MutableArrayRef<uint8_t> stored(
              bytes.data() + (begin - first) * storedRowBytes,
              static_cast<size_t>((end - begin) * storedRowBytes));
          if (weight.packed)
            packCodesToStorage(weight.codeElement, chunkShape(end - begin),
                               codes,
                               weight.storage == TensorDType::I32
                                   ? std::optional(kInt4PackMethod)
                                   : std::nullopt,
                               stored);
          else
            encodeCodes(codes, weight.storage, stored);
          if (!shared) {
            // A chunk's slots are its rows' slots (or, unchunked, all of them).
            size_t offset = static_cast<size_t>(begin * slotsPerRow);
            std::copy(local.scales.begin(), local.scales.end(),
                      params.scales.begin() + offset);
            // Symmetric quantizers have no zero points.
            if (!local.zeroPoints.empty())
              std::copy(local.zeroPoints.begin(), local.zeroPoints.end(),
                        params.zeroPoints.begin() + offset);
          }
          return llvm::Error::success();
        });
    if (llvm::Error error = takeFailure())
      return error;
    if (llvm::Error error = writer.append(std::move(bytes)))
      return error;
  }
  store.release(name, file);
  return llvm::Error::success();
}

struct QuantizeWeightsPass
    : mlir::quark::impl::QuarkQuantizeWeightsBase<QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (outputFile.empty()) {
      module.emitError() << "quark-quantize-weights needs output-file";
      return signalPassFailure();
    }
    auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
    if (!modelDir) {
      module.emitError() << "the module has no '" << kModelDirAttr << "'";
      return signalPassFailure();
    }
    llvm::SmallString<256> path(outputFile);
    llvm::sys::fs::make_absolute(path);

    std::vector<StoredWeight> weights;
    if (failed(collect(module, weights)))
      return signalPassFailure();
    if (weights.empty())
      return;

    // Declare everything first: the writer streams tensors in this order.
    std::vector<SafetensorsWriter::Declaration> declarations;
    llvm::StringSet<> declared;
    for (StoredWeight &weight : weights) {
      std::string name = weight.param.getName().str();
      if (!declared.insert(name).second) {
        weight.quantizer->emitError()
            << "weight '" << name << "' is quantized twice";
        return signalPassFailure();
      }
      // Stage 0's parameters carry no suffix, stage 1's `_2`, as in
      // Quark's checkpoints; the stored codes belong to stage 1 of a
      // progressive spec.
      llvm::SmallVector<int64_t, 4> codeParams(weight.paramType.getShape());
      std::string codeSuffix = weight.progressive ? "_2" : "";
      declarations.push_back({name, weight.storage, weight.storedShape});
      // A scale-quantizing spec (NVFP4) stores its block scales as the
      // second stage's codes (fp8 e4m3), as Quark's checkpoints hold them.
      declarations.push_back(
          {name + "_scale" + codeSuffix,
           weight.quantizesScales() ? weight.scaleStorage : TensorDType::F32,
           codeParams});
      if (weight.hasZeroPoint)
        declarations.push_back(
            {name + "_zero_point" + codeSuffix, TensorDType::I32, codeParams});
      if (weight.twoStage)
        declarations.push_back(
            {name + (weight.progressive ? "_scale" : "_scale_2"),
             TensorDType::F32,
             {}});
    }
    llvm::Expected<std::unique_ptr<SafetensorsWriter>> writer =
        SafetensorsWriter::create(path, declarations,
                                  {{"format", "quark-mlir"}});
    if (!writer) {
      module.emitError() << llvm::toString(writer.takeError());
      return signalPassFailure();
    }

    WeightStore store(modelDir.str());
    store.setCaching(false);
    for (StoredWeight &weight : weights)
      if (failed(store_(weight, store, **writer, path)))
        return signalPassFailure();
    if (llvm::Error error = (*writer)->finish()) {
      module.emitError() << llvm::toString(std::move(error));
      return signalPassFailure();
    }
  }

  LogicalResult collect(ModuleOp module, std::vector<StoredWeight> &weights) {
    WalkResult result = module.walk([&](Operation *op) {
      TensorSpecAttr spec;
      TwoStageSpecAttr twoStage;
      Value input;
      if (auto fakeQuant = dyn_cast<FakeQuantOp>(op)) {
        spec = fakeQuant.getSpec();
        input = fakeQuant.getInput();
      } else if (auto twoStageOp = dyn_cast<TwoStageFakeQuantOp>(op)) {
        twoStage = twoStageOp.getSpec();
        input = twoStageOp.getInput();
        // Scale quantization stores the first stage's codes; a progressive
        // spec stores the second's, which encode the first's values.
        spec = twoStage.getStoredStage();
      } else {
        return WalkResult::advance();
      }
      auto param = input.getDefiningOp<ParamOp>();
      if (!param)
        return WalkResult::advance(); // an activation
      if (spec.isBlockFloat() || spec.isCast()) {
        ++numSimulated;
        return WalkResult::advance();
      }
      auto emitError = [&] { return op->emitError(); };
      Type element = param.getType().getElementType();
      FailureOr<TensorQuantSpec> numerics =
          getTensorQuantSpec(spec, element, emitError);
      if (failed(numerics))
        return WalkResult::interrupt();
      StoredWeight weight;
      weight.quantizer = op;
      weight.param = param;
      weight.spec = spec;
      weight.twoStage = twoStage;
      weight.numerics = *numerics;
      if (auto fakeQuant = dyn_cast<FakeQuantOp>(op)) {
        if (fakeQuant.getScale())
          weight.givenScale = fakeQuant.getScale().getDefiningOp<ParamOp>();
        if (weight.givenScale && fakeQuant.getZeroPoint())
          weight.givenZeroPoint =
              fakeQuant.getZeroPoint().getDefiningOp<ParamOp>();
        DenseElementsAttr scale, zeroPoint;
        if (fakeQuant.getScale() &&
            matchPattern(fakeQuant.getScale(), m_Constant(&scale)) &&
            (!fakeQuant.getZeroPoint() ||
             matchPattern(fakeQuant.getZeroPoint(), m_Constant(&zeroPoint)))) {
          weight.fixedParams.emplace();
          weight.fixedParams->scales = readFloats(scale);
          if (zeroPoint)
            weight.fixedParams->zeroPoints = readInts(zeroPoint);
        }
      }
      if (twoStage) {
        weight.progressive = !twoStage.quantizesScales();
        DenseElementsAttr secondScale;
        auto twoStageOp = cast<TwoStageFakeQuantOp>(op);
        if (!weight.progressive && twoStageOp.getSecondScale() &&
            matchPattern(twoStageOp.getSecondScale(), m_Constant(&secondScale)))
          weight.fixedOtherStageScale = readFloats(secondScale).front();
        FailureOr<TensorQuantSpec> other =
            getTensorQuantSpec(twoStage.getOtherStage(), element, emitError);
        if (failed(other))
          return WalkResult::interrupt();
        weight.otherStage = *other;
        if (weight.quantizesScales()) {
          std::optional<TensorDType> scaleStorage = storageDType(*other);
          if (!scaleStorage) {
            op->emitError()
                << "no storage dtype for the scale codes of " << twoStage;
            return WalkResult::interrupt();
          }
          weight.scaleStorage = *scaleStorage;
        }
      }
      std::optional<TensorDType> storage = storageDType(*numerics);
      if (!storage) {
        op->emitError() << "no storage dtype for "
                        << stringifyDtype(spec.getDtype()) << " codes";
        return WalkResult::interrupt();
      }
      weight.storage = *storage;
      weight.codeElement =
          getCodeElementType(spec, Float32Type::get(&getContext()));
      weight.storedShape.assign(param.getType().getShape().begin(),
                                param.getType().getShape().end());
      if (auto packing =
              packedStorage(weight.codeElement, param.getType().getShape())) {
        weight.packed = true;
        weight.storage = packing->first;
        weight.storedShape = packing->second;
      }
      FailureOr<SmallVector<int64_t>> shape =
          getParamShape(spec, param.getType().getShape(), emitError);
      if (failed(shape))
        return WalkResult::interrupt();
      weight.paramType =
          RankedTensorType::get(*shape, Float32Type::get(&getContext()));
      weight.hasZeroPoint = numerics->hasZeroPoint();
      weights.push_back(weight);
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }

  /// Quantizes one weight, writes it, and rewrites its IR.
  LogicalResult store_(StoredWeight &weight, WeightStore &store,
                       SafetensorsWriter &writer, llvm::StringRef path) {
    Operation *op = weight.quantizer;
    std::string name = weight.param.getName().str();
    QuantParams params;
    float otherStageScale = 0.0f;
    if (llvm::Error error =
            quantizeStreaming(weight, store, writer, params, otherStageScale))
      return op->emitError()
             << "'" << name << "': " << llvm::toString(std::move(error));
    auto write = [&](llvm::StringRef tensor,
                     llvm::ArrayRef<uint8_t> bytes) -> LogicalResult {
      if (llvm::Error error = writer.write(tensor, bytes))
        return op->emitError() << llvm::toString(std::move(error));
      return success();
    };
    // In declaration order.
    std::string codeSuffix = weight.progressive ? "_2" : "";
    if (weight.quantizesScales()) {
      // The block scales are already fake-quantized to the second stage
      // (code value times otherStageScale), so dividing the scale back out
      // recovers each code exactly; decoding multiplies the same two floats.
      std::vector<int32_t> scaleCodes(params.scales.size());
      for (size_t i = 0; i < params.scales.size(); ++i)
        scaleCodes[i] = static_cast<int32_t>(
            quantizeFloat(weight.otherStage.elementType(), params.scales[i],
                          otherStageScale));
      std::vector<uint8_t> bytes(scaleCodes.size() *
                                 tensorDTypeSize(weight.scaleStorage));
      encodeCodes(scaleCodes, weight.scaleStorage, bytes);
      if (failed(write(name + "_scale", bytes)))
        return failure();
    } else if (failed(write(name + "_scale" + codeSuffix,
                            asBytes(llvm::ArrayRef(params.scales))))) {
      return failure();
    }
    if (weight.hasZeroPoint &&
        failed(write(name + "_zero_point" + codeSuffix,
                     asBytes(llvm::ArrayRef(params.zeroPoints)))))
      return failure();
    if (weight.twoStage &&
        failed(write(name + (weight.progressive ? "_scale" : "_scale_2"),
                     asBytes(llvm::ArrayRef<float>(&otherStageScale, 1)))))
      return failure();

    // param (codes) -> storage_cast or unpack -> dequantize, replacing the
    // quantizer.
    OpBuilder builder(op);
    Location loc = op->getLoc();
    RankedTensorType weightType = weight.param.getType();
    Type codeElement = weight.codeElement;
    StringAttr file = builder.getStringAttr(path);
    auto codeType = RankedTensorType::get(weightType.getShape(), codeElement);
    Value codeValues;
    ParamOp rawCodes;
    if (weight.packed) {
      Type unit = weight.storage == TensorDType::I32
                      ? Type(builder.getI32Type())
                      : Type(builder.getIntegerType(8, /*isSigned=*/false));
      rawCodes = ParamOp::create(
          builder, loc, RankedTensorType::get(weight.storedShape, unit),
          builder.getStringAttr(name), file,
          /*layout=*/StringAttr());
      codeValues = UnpackOp::create(
          builder, loc, codeType, rawCodes,
          weight.storage == TensorDType::I32
              ? PackMethodAttr::get(&getContext(), kInt4PackMethod)
              : PackMethodAttr());
    } else {
      Type storageElement = StorageCastOp::getStorageElementType(codeElement);
      rawCodes = ParamOp::create(
          builder, loc,
          RankedTensorType::get(weightType.getShape(), storageElement),
          builder.getStringAttr(name), file,
          /*layout=*/StringAttr());
      codeValues = StorageCastOp::create(builder, loc, codeType, rawCodes);
    }
    // Where the codes were quantized from, for exporters that quantize the
    // float weight again at another scale (the vllm-adopt format's shared
    // q/k/v scale): from the float weight, as Quark does, rather than twice.
    NamedAttrList source;
    source.append("name", weight.param.getNameAttr());
    if (std::optional<StringRef> from = weight.param.getFile())
      source.append("file", builder.getStringAttr(*from));
    rawCodes->setAttr(kQuantizedFromAttr, source.getDictionary(&getContext()));
    Value scale;
    if (weight.quantizesScales()) {
      // fp8 codes -> storage_cast -> dequantize by the per-tensor scale:
      // the float32 block scales the fake quantizer used.
      Type scaleElement =
          getCodeElementType(weight.twoStage.getSecond(), builder.getF32Type());
      auto scaleCodeType =
          RankedTensorType::get(weight.paramType.getShape(), scaleElement);
      Value rawScales = ParamOp::create(
          builder, loc,
          RankedTensorType::get(
              weight.paramType.getShape(),
              StorageCastOp::getStorageElementType(scaleElement)),
          builder.getStringAttr(name + "_scale"), file,
          /*layout=*/StringAttr());
      Value scaleCodes =
          StorageCastOp::create(builder, loc, scaleCodeType, rawScales);
      Value scaleOfScales = ParamOp::create(
          builder, loc, RankedTensorType::get({}, builder.getF32Type()),
          builder.getStringAttr(name + "_scale_2"), file,
          /*layout=*/StringAttr());
      scale = DequantizeOp::create(builder, loc, weight.paramType, scaleCodes,
                                   weight.twoStage.getSecond(), scaleOfScales,
                                   Value());
    } else {
      scale = ParamOp::create(
          builder, loc, weight.paramType,
          builder.getStringAttr(name + "_scale" + codeSuffix), file,
          /*layout=*/StringAttr());
    }
    Value zeroPoint;
    if (weight.hasZeroPoint)
      zeroPoint = ParamOp::create(
          builder, loc,
          RankedTensorType::get(weight.paramType.getShape(),
                                builder.getI32Type()),
          builder.getStringAttr(name + "_zero_point" + codeSuffix), file,
          /*layout=*/StringAttr());
    Value dequantized;
    if (weight.progressive) {
      // Codes -> the first stage's values (float32, unrounded) -> times
      // the first stage's scale, in that order, as the fake quantizer.
      auto values = DequantizeOp::create(
          builder, loc,
          RankedTensorType::get(weightType.getShape(), builder.getF32Type()),
          codeValues, weight.spec, scale, zeroPoint);
      Value firstScale = ParamOp::create(
          builder, loc, RankedTensorType::get({}, builder.getF32Type()),
          builder.getStringAttr(name + "_scale"), file,
          /*layout=*/StringAttr());
      dequantized =
          DequantizeOp::create(builder, loc, weightType, values,
                               weight.twoStage.getFirst(), firstScale, Value());
    } else {
      dequantized = DequantizeOp::create(builder, loc, weightType, codeValues,
                                         weight.spec, scale, zeroPoint);
    }
    op->getResult(0).replaceAllUsesWith(dequantized);
    // The freeze-time parameter computation goes with its quantizer. One
    // compute_qparams op yields both the scale and the zero point: a set,
    // so it is erased once.
    llvm::SmallSetVector<Operation *, 2> producers;
    for (Value operand : op->getOperands().drop_front())
      if (Operation *producer = operand.getDefiningOp())
        if (isa<ComputeQParamsOp, ParamOp, arith::ConstantOp>(producer))
          producers.insert(producer);
    op->erase();
    for (Operation *producer : producers)
      if (producer->use_empty())
        producer->erase();
    if (weight.param->use_empty())
      weight.param->erase();
    ++numStored;
    return success();
  }
};
} // namespace
