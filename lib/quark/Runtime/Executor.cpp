//===- Executor.cpp - Run quark IR on the CPU -----------------------------===//

#include "quark/Runtime/Executor.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Runtime/Kernels.h"
#include "quark/Support/Parallel.h"
#include "quark/Support/ScalarQuant.h"
#include "quark/Support/StoredLayout.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <atomic>
#include <cstring>

using namespace mlir;
using namespace mlir::quark;

namespace {
llvm::Error opError(Operation *op, const Twine &message) {
  std::string location;
  llvm::raw_string_ostream os(location);
  op->getLoc().print(os);
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      os.str() + ": '" + op->getName().getStringRef() + "': " + message);
}

/// Rows of a tensor seen as [rows, last].
int64_t leadingRows(const Tensor &tensor) {
  return tensor.rank() == 0 ? 1 : tensor.numElements() / tensor.dim(-1);
}

/// Rounds a float32 tensor's values to bf16 or f16 when `element` is one
/// (round to nearest even, as torch's casts do); other types keep them.
void roundToElementType(Tensor &tensor, Type element) {
  ScalePrecision precision = floatTypePrecision(element);
  if (tensor.kind() != ElementKind::F32 || precision == ScalePrecision::Float32)
    return;
  llvm::MutableArrayRef<float> values = tensor.floats();
  parallelChunks(static_cast<int64_t>(values.size()), 1 << 16,
                 [&](int64_t begin, int64_t end) {
                   for (int64_t i = begin; i < end; ++i)
                     values[i] = roundScale(values[i], precision);
                 });
}

/// A quantizer op's numerics and the layout of its tensor.
struct SpecLayout {
  TensorQuantSpec spec;
  QuantLayout layout;
};

llvm::Expected<SpecLayout> specAndLayout(Operation *op, TensorSpecAttr spec,
                                         Type modelFloat,
                                         llvm::ArrayRef<int64_t> shape) {
  FailureOr<TensorQuantSpec> numerics =
      getTensorQuantSpec(spec, modelFloat, [&]() { return op->emitError(); });
  if (failed(numerics))
    return opError(op, "unsupported quantization spec");
  llvm::Expected<QuantLayout> layout = QuantLayout::get(shape, *numerics);
  if (!layout)
    return opError(op, llvm::toString(layout.takeError()));
  return SpecLayout{*numerics, std::move(*layout)};
}

kernels::Activation toKernel(ActivationKind kind) {
  switch (kind) {
  case ActivationKind::silu:
    return kernels::Activation::SiLU;
  case ActivationKind::relu:
    return kernels::Activation::ReLU;
  case ActivationKind::gelu:
    return kernels::Activation::GELU;
  case ActivationKind::gelu_tanh:
    return kernels::Activation::GELUTanh;
  }
  return kernels::Activation::SiLU;
}
} // namespace

Tensor mlir::quark::tensorFromAttr(DenseElementsAttr attr) {
  auto type = attr.getType();
  if (isa<FloatType>(type.getElementType()))
    return Tensor::fromFloats(type.getShape(), readFloats(attr));
  return Tensor::fromInts(type.getShape(), readInts(attr));
}

/// The values of one running block, chained to the enclosing block's scope
/// (expert regions of quark.moe read values of their parent block).
struct Executor::Scope {
  llvm::DenseMap<Value, Tensor> values;
  Scope *parent = nullptr;
  Executor *executor = nullptr;

  const Tensor *lookup(Value value) const {
    for (const Scope *scope = this; scope; scope = scope->parent) {
      auto it = scope->values.find(value);
      if (it != scope->values.end())
        return &it->second;
    }
    auto it = executor->constants.find(value);
    return it == executor->constants.end() ? nullptr : &it->second;
  }
};

bool Executor::isConstant(Value value) {
  auto cached = constness.find(value);
  if (cached != constness.end())
    return cached->second;
  bool result = false;
  if (Operation *op = value.getDefiningOp()) {
    if (isa<ParamOp, arith::ConstantOp>(op))
      result = true;
    else if (!isa<ObserveOp>(op) && op->getNumRegions() == 0 &&
             op->getNumOperands() > 0)
      result = llvm::all_of(op->getOperands(),
                            [&](Value operand) { return isConstant(operand); });
  }
  constness[value] = result;
  return result;
}

const std::vector<std::vector<Value>> &Executor::deathsOf(Block &block) {
  auto it = deaths.find(&block);
  if (it != deaths.end())
    return it->second;
  llvm::DenseMap<Operation *, size_t> position;
  size_t index = 0;
  for (Operation &op : block)
    position[&op] = index++;
  std::vector<std::vector<Value>> result(index);
  auto record = [&](Value value, size_t definedAt) {
    size_t last = definedAt;
    for (Operation *user : value.getUsers()) {
      Operation *ancestor = block.findAncestorOpInBlock(*user);
      if (ancestor)
        last = std::max(last, position[ancestor]);
    }
    result[last].push_back(value);
  };
  for (BlockArgument argument : block.getArguments())
    record(argument, 0);
  for (Operation &op : block)
    for (Value value : op.getResults())
      record(value, position[&op]);
  return deaths[&block] = std::move(result);
}

llvm::Expected<std::vector<Tensor>>
Executor::run(func::FuncOp function, llvm::ArrayRef<Tensor> arguments) {
  if (function.isExternal())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "function '" + function.getName() +
                                       "' has no body");
  if (arguments.size() != function.getNumArguments())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("function '{0}' takes {1} arguments, got {2}",
                      function.getName(), function.getNumArguments(),
                      arguments.size()));
  return runBlock(function.front(), arguments, nullptr);
}

llvm::Error Executor::runLayerwise(func::FuncOp function,
                                   llvm::ArrayRef<std::vector<Tensor>> batches,
                                   Operation *last) {
  llvm::Expected<std::vector<std::vector<Tensor>>> done =
      runTopLevel(function, batches, last, nullptr);
  return done ? llvm::Error::success() : done.takeError();
}

llvm::Expected<std::vector<std::vector<Tensor>>>
Executor::runUntil(func::FuncOp function,
                   llvm::ArrayRef<std::vector<Tensor>> batches,
                   Operation *stop) {
  return runTopLevel(function, batches, nullptr, stop);
}

llvm::Expected<std::vector<std::vector<Tensor>>>
Executor::runTopLevel(func::FuncOp function,
                      llvm::ArrayRef<std::vector<Tensor>> batches,
                      Operation *last, Operation *stop) {
  if (function.isExternal())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "function '" + function.getName() +
                                       "' has no body");
  Block &body = function.front();
  std::vector<Scope> scopes(batches.size());
  for (auto [scope, arguments] : llvm::zip(scopes, batches)) {
    if (arguments.size() != body.getNumArguments())
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("function '{0}' takes {1} arguments, got {2}",
                        function.getName(), body.getNumArguments(),
                        arguments.size()));
    scope.executor = this;
    for (auto [argument, value] : llvm::zip(body.getArguments(), arguments))
      scope.values[argument] = value;
  }
  const std::vector<std::vector<Value>> &dying = deathsOf(body);
  size_t index = 0;
  std::vector<std::vector<Tensor>> stopOperands;
  for (Operation &op : body) {
    if (&op == stop) {
      for (Scope &scope : scopes) {
        std::vector<Tensor> operands;
        for (Value operand : op.getOperands()) {
          const Tensor *value = scope.lookup(operand);
          if (!value)
            return llvm::createStringError(
                llvm::inconvertibleErrorCode(),
                "an operand of the stop op is not a computed value");
          operands.push_back(*value);
        }
        stopOperands.push_back(std::move(operands));
      }
      return stopOperands;
    }
    if (op.hasTrait<OpTrait::IsTerminator>())
      break;
    for (Scope &scope : scopes) {
      bool cached = constantCaching && op.getNumResults() > 0 &&
                    llvm::all_of(op.getResults(), [&](Value result) {
                      return isConstant(result) && constants.count(result);
                    });
      if (!cached)
        if (llvm::Error error = evaluate(&op, scope))
          return error;
      for (Value value : dying[index])
        scope.values.erase(value);
    }
    ++index;
    // A finished layer's weights and weight-only values are not needed
    // again.
    if (isa<BlockOp>(op)) {
      SmallVector<Value> inside;
      for (auto &entry : constants)
        if (op.isAncestor(entry.first.getParentRegion()->getParentOp()))
          inside.push_back(entry.first);
      for (Value value : inside)
        constants.erase(value);
    }
    if (&op == last)
      break;
  }
  if (stop)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the stop op is not a top-level op of '" +
                                       function.getName() + "'");
  return stopOperands;
}

llvm::Expected<std::vector<Tensor>>
Executor::runRegion(Region &region, llvm::ArrayRef<Tensor> arguments) {
  return runBlock(region.front(), arguments, nullptr);
}

llvm::Expected<std::vector<Tensor>>
Executor::runBlock(Block &block, llvm::ArrayRef<Tensor> arguments,
                   Scope *parent) {
  Scope scope;
  scope.parent = parent;
  scope.executor = this;
  if (arguments.size() != block.getNumArguments())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "wrong number of region arguments");
  for (auto [argument, value] : llvm::zip(block.getArguments(), arguments))
    scope.values[argument] = value;
  const std::vector<std::vector<Value>> &dying = deathsOf(block);
  size_t index = 0;
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>()) {
      std::vector<Tensor> results;
      for (Value operand : op.getOperands()) {
        const Tensor *value = scope.lookup(operand);
        if (!value)
          return opError(&op, "operand has no value");
        results.push_back(*value);
      }
      return results;
    }
    bool cached = constantCaching && op.getNumResults() > 0 &&
                  llvm::all_of(op.getResults(), [&](Value result) {
                    return isConstant(result) && constants.count(result);
                  });
    if (!cached)
      if (llvm::Error error = evaluate(&op, scope))
        return std::move(error);
    for (Value value : dying[index])
      scope.values.erase(value);
    ++index;
  }
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "block without terminator");
}

llvm::Error Executor::evaluate(Operation *op, Scope &scope) {
  // Operands, checked present.
  llvm::SmallVector<const Tensor *, 4> inputs;
  for (Value operand : op->getOperands()) {
    const Tensor *value = scope.lookup(operand);
    if (!value)
      return opError(op, "operand has no value (was it freed early?)");
    inputs.push_back(value);
  }
  llvm::SmallVector<Tensor, 2> results;
  auto needFloat = [&](size_t i) -> llvm::Error {
    if (inputs[i]->kind() != ElementKind::F32)
      return opError(op,
                     llvm::formatv("operand {0} must be a float tensor", i));
    return llvm::Error::success();
  };

  llvm::Error error =
      llvm::TypeSwitch<Operation *, llvm::Error>(op)
          .Case([&](ParamOp param) -> llvm::Error {
            // 16-bit and wider floats are values; integers and narrower
            // floats are stored codes (see quark.storage_cast).
            Type element = param.getType().getElementType();
            bool codes = !isa<FloatType>(element) ||
                         cast<FloatType>(element).getWidth() < 16;
            auto type = cast<RankedTensorType>(param.getType());
            llvm::StringRef file = param.getFile().value_or("");
            llvm::Expected<Tensor> value =
                param.getLayout() ? weights.getStored(param.getName(), file,
                                                      *param.getLayout(),
                                                      type.getShape(), codes)
                : codes           ? weights.getCodes(param.getName(), file)
                                  : weights.get(param.getName(), file);
            if (!value)
              return opError(op, llvm::toString(value.takeError()));
            if (value->shape() != type.getShape())
              return opError(op, "tensor '" + param.getName() + "' has shape " +
                                     shapeText(value->shape()) +
                                     ", the IR expects " +
                                     shapeText(type.getShape()));
            results.push_back(*value);
            return llvm::Error::success();
          })
          .Case([&](arith::ConstantOp constant) -> llvm::Error {
            auto attr = dyn_cast<DenseElementsAttr>(constant.getValue());
            if (!attr)
              return opError(op, "only dense tensor constants are supported");
            results.push_back(tensorFromAttr(attr));
            return llvm::Error::success();
          })
          .Case([&](EmbeddingOp) -> llvm::Error {
            const Tensor &ids = *inputs[0], &table = *inputs[1];
            if (ids.kind() != ElementKind::I32)
              return opError(op, "token ids must be int32");
            llvm::SmallVector<int64_t, 4> shape(ids.shape());
            shape.push_back(table.dim(1));
            Tensor out = Tensor::empty(shape, ElementKind::F32);
            int64_t bad =
                kernels::embedding(ids.i32(), ids.numElements(), table.f32(),
                                   table.dim(0), table.dim(1), out.f32());
            if (bad >= 0)
              return opError(op,
                             llvm::formatv("token id {0} at position {1} "
                                           "is outside the vocabulary of "
                                           "{2}",
                                           ids.i32()[bad], bad, table.dim(0)));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](PositionEmbeddingOp pos) -> llvm::Error {
            const Tensor &x = *inputs[0], &table = *inputs[1];
            int64_t offset = static_cast<int64_t>(pos.getOffset());
            if (offset + x.dim(1) > table.dim(0))
              return opError(
                  op, llvm::formatv("a sequence of {0} tokens needs {1} "
                                    "positions; the table has {2}",
                                    x.dim(1), offset + x.dim(1), table.dim(0)));
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            kernels::addPositions(x.f32(), table.f32(), offset, x.dim(0),
                                  x.dim(1), x.dim(2), out.f32());
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](LinearOp linear) -> llvm::Error {
            if (llvm::Error e = needFloat(0))
              return e;
            const Tensor &x = *inputs[0], &w = *inputs[1];
            if (linearHook)
              if (llvm::Error e = linearHook(linear, x))
                return e;
            if (x.dim(-1) != w.dim(1))
              return opError(
                  op, llvm::formatv("'{0}': input has {1} features, the "
                                    "weight takes {2}",
                                    linear.getName(), x.dim(-1), w.dim(1)));
            llvm::SmallVector<int64_t, 4> shape(x.shape());
            shape.back() = w.dim(0);
            Tensor out = Tensor::empty(shape, ElementKind::F32);
            kernels::linear(x.f32(), w.f32(),
                            inputs.size() > 2 ? inputs[2]->f32() : nullptr,
                            out.f32(), leadingRows(x), w.dim(1), w.dim(0));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](RMSNormOp norm) -> llvm::Error {
            const Tensor &x = *inputs[0];
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            int64_t group =
                static_cast<int64_t>(norm.getGroupSize().value_or(x.dim(-1)));
            kernels::rmsNorm(
                x.f32(), inputs[1]->f32(), out.f32(), leadingRows(x), x.dim(-1),
                group, static_cast<float>(norm.getEpsilon().convertToDouble()));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](LayerNormOp norm) -> llvm::Error {
            const Tensor &x = *inputs[0];
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            kernels::layerNorm(
                x.f32(), inputs[1]->f32(), inputs[2]->f32(), out.f32(),
                leadingRows(x), x.dim(-1),
                static_cast<float>(norm.getEpsilon().convertToDouble()));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](RopeOp rope) -> llvm::Error {
            const Tensor &x = *inputs[0];
            std::optional<kernels::RopeScaling> scaling;
            if (RopeScalingAttr attr = rope.getScalingAttr()) {
              kernels::RopeScaling s;
              s.llama3 = attr.getType() == "llama3";
              s.factor = attr.getFactor().getValueAsDouble();
              if (s.llama3) {
                s.lowFreqFactor = attr.getLowFreqFactor().getValueAsDouble();
                s.highFreqFactor = attr.getHighFreqFactor().getValueAsDouble();
                s.originalMaxPositions =
                    attr.getOriginalMaxPositionEmbeddings().getInt();
              }
              scaling = s;
            }
            int64_t headDim = static_cast<int64_t>(rope.getHeadDim());
            std::vector<float> inverse = kernels::ropeInverseFrequencies(
                headDim, rope.getTheta().convertToDouble(), scaling);
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            kernels::rope(x.f32(), out.f32(), x.dim(0), x.dim(1),
                          x.dim(2) / headDim, headDim, inverse);
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](AttentionOp attention) -> llvm::Error {
            const Tensor &q = *inputs[0], &k = *inputs[1], &v = *inputs[2];
            if (k.shape() != v.shape() || q.dim(0) != k.dim(0) ||
                q.dim(1) != k.dim(1))
              return opError(op, "q, k and v disagree on batch or sequence");
            Tensor out = Tensor::empty(q.shape(), ElementKind::F32);
            // Quark's softmax_quant_spec: probabilities fake-quantized with
            // the calibrated scale, or their maximum recorded.
            std::function<void(float *, int64_t)> probabilities;
            std::atomic<float> largest{0.0f};
            std::optional<QuantDType> probabilityType;
            float probabilityScale = 0.0f;
            if (TensorSpecAttr spec = attention.getSoftmaxSpecAttr()) {
              FailureOr<TensorQuantSpec> numerics =
                  getTensorQuantSpec(spec, Float32Type::get(op->getContext()),
                                     [&]() { return op->emitError(); });
              if (failed(numerics))
                return opError(op, "invalid softmax_spec");
              if (auto scale = attention.getSoftmaxScaleAttr()) {
                probabilityType = numerics->elementType();
                probabilityScale = scale.getValueAsDouble();
                const DTypeInfo &element = getDTypeInfo(*probabilityType);
                probabilities = [&](float *p, int64_t n) {
                  for (int64_t i = 0; i < n; ++i)
                    p[i] = element.isInteger()
                               ? fakeQuantizeInt(p[i], probabilityScale, 0,
                                                 element.qmin, element.qmax)
                               : fakeQuantizeFloat(*probabilityType, p[i],
                                                   probabilityScale);
                };
              } else if (softmaxHook) {
                probabilities = [&](float *p, int64_t n) {
                  float rowMax = 0.0f;
                  for (int64_t i = 0; i < n; ++i)
                    rowMax = rowMax < p[i] ? p[i] : rowMax;
                  float seen = largest.load();
                  while (seen < rowMax &&
                         !largest.compare_exchange_weak(seen, rowMax)) {
                  }
                };
              }
            }
            kernels::attention(
                q.f32(), k.f32(), v.f32(), out.f32(), q.dim(0), q.dim(1),
                static_cast<int64_t>(attention.getNumHeads()),
                static_cast<int64_t>(attention.getNumKvHeads()),
                static_cast<int64_t>(attention.getHeadDim()),
                static_cast<float>(attention.getScale().convertToDouble()),
                static_cast<int64_t>(attention.getSlidingWindow().value_or(0)),
                probabilities
                    ? llvm::function_ref<void(float *, int64_t)>(probabilities)
                    : llvm::function_ref<void(float *, int64_t)>());
            if (attention.getSoftmaxSpecAttr() &&
                !attention.getSoftmaxScaleAttr() && softmaxHook)
              softmaxHook(attention, largest.load());
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](ActivationOp act) -> llvm::Error {
            const Tensor &x = *inputs[0];
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            kernels::activation(toKernel(act.getKind()), x.f32(), out.f32(),
                                x.numElements());
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](GatedActivationOp act) -> llvm::Error {
            const Tensor &gate = *inputs[0], &up = *inputs[1];
            if (gate.shape() != up.shape())
              return opError(op, "gate and up differ in shape");
            Tensor out = Tensor::empty(gate.shape(), ElementKind::F32);
            kernels::gatedActivation(toKernel(act.getKind()), gate.f32(),
                                     up.f32(), out.f32(), gate.numElements());
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](HadamardOp rotate) -> llvm::Error {
            const Tensor &x = *inputs[0];
            int64_t n = x.dim(-1);
            auto cached = rotations.find(n);
            if (cached == rotations.end()) {
              llvm::Expected<HadamardRotation> rotation =
                  HadamardRotation::get(n);
              if (!rotation)
                return opError(op, llvm::toString(rotation.takeError()));
              cached = rotations.emplace(n, std::move(*rotation)).first;
            }
            Tensor out = x.clone();
            cached->second.rotateRows(out.floats(), out.numElements() / n);
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case<arith::AddFOp, arith::MulFOp>([&](Operation *) -> llvm::Error {
            const Tensor &a = *inputs[0], &b = *inputs[1];
            if (a.shape() != b.shape())
              return opError(
                  op, "operands differ in shape: " + shapeText(a.shape()) +
                          " and " + shapeText(b.shape()));
            Tensor out = Tensor::empty(a.shape(), ElementKind::F32);
            if (isa<arith::AddFOp>(op))
              kernels::add(a.f32(), b.f32(), out.f32(), a.numElements());
            else
              kernels::multiply(a.f32(), b.f32(), out.f32(), a.numElements());
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](TopKRouterOp router) -> llvm::Error {
            const Tensor &logits = *inputs[0];
            int64_t topK = static_cast<int64_t>(router.getTopK());
            llvm::SmallVector<int64_t, 4> shape(logits.shape());
            shape.back() = topK;
            Tensor w = Tensor::empty(shape, ElementKind::F32);
            Tensor idx = Tensor::empty(shape, ElementKind::I32);
            kernels::topKRouter(logits.f32(), leadingRows(logits),
                                logits.dim(-1), topK, router.getNormalize(),
                                w.f32(), idx.i32());
            results.push_back(w);
            results.push_back(idx);
            return llvm::Error::success();
          })
          .Case([&](MoEOp moe) -> llvm::Error {
            const Tensor &x = *inputs[0], &w = *inputs[1], &idx = *inputs[2];
            int64_t hidden = x.dim(-1), tokens = leadingRows(x);
            int64_t topK = w.dim(-1);
            Tensor out = Tensor::zeros(x.shape(), ElementKind::F32);
            for (auto [expert, region] : llvm::enumerate(moe.getExperts())) {
              std::vector<int64_t> rows, slots;
              for (int64_t t = 0; t < tokens; ++t)
                for (int64_t s = 0; s < topK; ++s)
                  if (idx.i32()[t * topK + s] == static_cast<int32_t>(expert)) {
                    rows.push_back(t);
                    slots.push_back(s);
                  }
              if (rows.empty())
                continue;
              int64_t n = static_cast<int64_t>(rows.size());
              Tensor gathered = Tensor::empty({n, hidden}, ElementKind::F32);
              for (int64_t i = 0; i < n; ++i)
                std::memcpy(gathered.f32() + i * hidden,
                            x.f32() + rows[i] * hidden, hidden * sizeof(float));
              llvm::Expected<std::vector<Tensor>> expertOut =
                  runBlock(region.front(), {gathered}, &scope);
              if (!expertOut)
                return expertOut.takeError();
              const Tensor &y = expertOut->front();
              for (int64_t i = 0; i < n; ++i) {
                float weight = w.f32()[rows[i] * topK + slots[i]];
                float *dst = out.f32() + rows[i] * hidden;
                const float *src = y.f32() + i * hidden;
                for (int64_t h = 0; h < hidden; ++h)
                  dst[h] += weight * src[h];
              }
            }
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](BlockOp block) -> llvm::Error {
            std::vector<Tensor> arguments;
            for (const Tensor *input : inputs)
              arguments.push_back(*input);
            llvm::Expected<std::vector<Tensor>> out =
                runBlock(block.getBody().front(), arguments, nullptr);
            if (!out)
              return out.takeError();
            results.append(out->begin(), out->end());
            if (blockHook)
              blockHook(block);
            return llvm::Error::success();
          })
          .Case([&](ObserveOp observe) -> llvm::Error {
            if (observeHook)
              if (llvm::Error e = observeHook(observe, *inputs[0]))
                return e;
            results.push_back(*inputs[0]);
            return llvm::Error::success();
          })
          .Case([&](ComputeQParamsOp compute) -> llvm::Error {
            const Tensor &x = *inputs[0];
            llvm::Expected<SpecLayout> quant = specAndLayout(
                op, compute.getSpec(),
                compute.getInput().getType().getElementType(), x.shape());
            if (!quant)
              return quant.takeError();
            llvm::Expected<QuantParams> params =
                computeDynamicParams(quant->spec, quant->layout, x.floats());
            if (!params)
              return opError(op, llvm::toString(params.takeError()));
            results.push_back(
                Tensor::fromFloats(quant->layout.paramShape(), params->scales));
            if (compute.getZeroPoint())
              results.push_back(Tensor::fromInts(quant->layout.paramShape(),
                                                 params->zeroPoints));
            return llvm::Error::success();
          })
          .Case([&](ComputeBlockScalesOp compute) -> llvm::Error {
            const Tensor &x = *inputs[0];
            Type element = compute.getInput().getType().getElementType();
            TwoStageSpecAttr spec = compute.getSpec();
            llvm::Expected<SpecLayout> first =
                specAndLayout(op, spec.getFirst(), element, x.shape());
            if (!first)
              return first.takeError();
            FailureOr<TensorQuantSpec> second = getTensorQuantSpec(
                spec.getSecond(), element, [&]() { return op->emitError(); });
            if (failed(second))
              return opError(op, "unsupported quantization spec");
            std::optional<float> secondScale;
            if (compute.getSecondScale())
              secondScale = inputs[1]->floats()[0];
            llvm::Expected<std::vector<float>> scales = scaleQuantBlockScales(
                first->spec, *second, first->layout, x.floats(), secondScale);
            if (!scales)
              return opError(op, llvm::toString(scales.takeError()));
            results.push_back(
                Tensor::fromFloats(first->layout.paramShape(), *scales));
            return llvm::Error::success();
          })
          .Case([&](UnpackOp unpack) -> llvm::Error {
            // Packed words or bytes (as int32 values) to one code each; the
            // verifier and the param's shape check fix the sizes.
            const Tensor &packed = *inputs[0];
            if (packed.kind() != ElementKind::I32 || packed.rank() == 0)
              return opError(op, "expects packed codes of rank >= 1");
            auto type = cast<RankedTensorType>(unpack.getType());
            llvm::SmallVector<int64_t, 4> shape(packed.shape());
            shape.back() = type.getShape().back();
            results.push_back(Tensor::fromInts(
                shape, unpackCodes(type.getElementType(), shape, packed.ints(),
                                   unpack.getPackMethod())));
            return llvm::Error::success();
          })
          .Case([&](StorageCastOp) -> llvm::Error {
            // Codes and their storage are the same int32 values here.
            results.push_back(*inputs[0]);
            return llvm::Error::success();
          })
          .Case([&](DequantizeOp dequantize) -> llvm::Error {
            const Tensor &codes = *inputs[0];
            bool decoded = dequantize.hasDecodedInput();
            if (codes.kind() != (decoded ? ElementKind::F32 : ElementKind::I32))
              return opError(op, decoded ? "expects decoded values"
                                         : "expects stored codes");
            llvm::Expected<SpecLayout> quant =
                specAndLayout(op, dequantize.getSpec(),
                              dequantize.getResult().getType().getElementType(),
                              codes.shape());
            if (!quant)
              return quant.takeError();
            if (decoded) {
              // A progressive spec's first stage: value * its slot's scale.
              llvm::ArrayRef<float> scales = inputs[1]->floats();
              llvm::ArrayRef<float> values = codes.floats();
              Tensor out = Tensor::empty(codes.shape(), ElementKind::F32);
              llvm::MutableArrayRef<float> result = out.floats();
              for (size_t i = 0; i < values.size(); ++i)
                result[i] =
                    values[i] *
                    scales[quant->layout.paramIndex(static_cast<int64_t>(i))];
              results.push_back(out);
              return llvm::Error::success();
            }
            QuantParams params;
            size_t next = 1;
            if (dequantize.getScale())
              params.scales.assign(inputs[next]->floats().begin(),
                                   inputs[next]->floats().end()),
                  ++next;
            if (dequantize.getZeroPoint())
              params.zeroPoints.assign(inputs[next]->ints().begin(),
                                       inputs[next]->ints().end());
            Tensor out = Tensor::empty(codes.shape(), ElementKind::F32);
            if (llvm::Error e =
                    dequantizeTensor(quant->spec, quant->layout, codes.ints(),
                                     params, out.floats()))
              return opError(op, llvm::toString(std::move(e)));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](TwoStageFakeQuantOp fakeQuant) -> llvm::Error {
            const Tensor &x = *inputs[0];
            Type element = fakeQuant.getInput().getType().getElementType();
            auto emitError = [&]() { return op->emitError(); };
            TwoStageSpecAttr spec = fakeQuant.getSpec();
            FailureOr<TensorQuantSpec> first =
                getTensorQuantSpec(spec.getFirst(), element, emitError);
            FailureOr<TensorQuantSpec> second =
                getTensorQuantSpec(spec.getSecond(), element, emitError);
            if (failed(first) || failed(second))
              return opError(op, "unsupported quantization spec");
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            llvm::Error error = llvm::Error::success();
            if (spec.quantizesScales()) {
              std::optional<float> secondScale;
              if (fakeQuant.getSecondScale())
                secondScale = inputs[1]->floats()[0];
              error =
                  fakeQuantizeScaleQuant(*first, *second, x.shape(), x.floats(),
                                         secondScale, out.floats());
            } else {
              error = fakeQuantizeProgressive(*first, *second, x.shape(),
                                              x.floats(), out.floats());
            }
            if (error)
              return opError(op, llvm::toString(std::move(error)));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Case([&](FakeQuantOp fakeQuant) -> llvm::Error {
            const Tensor &x = *inputs[0];
            llvm::Expected<SpecLayout> quant = specAndLayout(
                op, fakeQuant.getSpec(),
                fakeQuant.getInput().getType().getElementType(), x.shape());
            if (!quant)
              return quant.takeError();
            const TensorQuantSpec &spec = quant->spec;
            const QuantLayout &layout = quant->layout;
            QuantParams params;
            if (fakeQuant.getScale())
              params.scales.assign(inputs[1]->floats().begin(),
                                   inputs[1]->floats().end());
            if (fakeQuant.getZeroPoint())
              params.zeroPoints.assign(inputs[2]->ints().begin(),
                                       inputs[2]->ints().end());
            if (!fakeQuant.getScale() &&
                !quantizesWithoutStoredParams(spec, false) &&
                !spec.usesMXScales()) {
              llvm::Expected<QuantParams> dynamic =
                  computeDynamicParams(spec, layout, x.floats());
              if (!dynamic)
                return opError(op, llvm::toString(dynamic.takeError()));
              params = std::move(*dynamic);
            }
            Tensor out = Tensor::empty(x.shape(), ElementKind::F32);
            if (llvm::Error e = fakeQuantizeTensor(spec, layout, x.floats(),
                                                   params, out.floats()))
              return opError(op, llvm::toString(std::move(e)));
            results.push_back(out);
            return llvm::Error::success();
          })
          .Default([&](Operation *) -> llvm::Error {
            return opError(op, "the CPU executor does not implement this op");
          });
  if (error)
    return error;

  // Quantizers produce values of their result's element type: a bf16
  // weight fake-quantized or dequantized is a bf16 tensor in Quark (and in
  // the checkpoint a runtime reads), so the float32 values are rounded to
  // it. Everything else already holds exactly what its type says.
  if (isa<DequantizeOp, FakeQuantOp, TwoStageFakeQuantOp>(op))
    for (auto [value, tensor] : llvm::zip(op->getResults(), results))
      roundToElementType(tensor,
                         cast<ShapedType>(value.getType()).getElementType());

  for (auto [value, tensor] : llvm::zip(op->getResults(), results)) {
    if (constantCaching && isConstant(value))
      constants[value] = tensor;
    else
      scope.values[value] = tensor;
  }
  return llvm::Error::success();
}
