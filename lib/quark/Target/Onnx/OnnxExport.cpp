//===- OnnxExport.cpp - ONNX QDQ export -----------------------------------===//
//
// A translation, op by op, of the IR's forward function into an ONNX graph.
// Compute ops translate as they are met; leaves (float params, constants,
// stored quantized weights) become initializers when first used, so a
// weight's codes, storage cast and dequantize become one DequantizeLinear.
// Numerics follow the executor: activations in float32, a dequantized
// weight rounded to the model's float type (bf16 / f16) as the executor
// rounds it, and static activation quantizers as QuantizeLinear ->
// DequantizeLinear with the calibrated scale.
//
//===----------------------------------------------------------------------===//

#include "quark/Target/Onnx.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Import/ModelConfig.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/AtomicFile.h"
#include "quark/Support/QuantLayout.h"
#include "quark/Target/StoredWeights.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include "onnx/onnx_pb.h"

#include <cmath>

using namespace mlir;
using namespace mlir::quark;

namespace {

// TensorProto.DataType numbers (onnx 1.12's enum predates the last four).
enum OnnxType : int32_t {
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kFloat16 = 10,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E5M2 = 19,
  kUInt4 = 21,
  kInt4 = 22,
};

constexpr uint64_t kExternalThreshold = 1024;
constexpr uint64_t kExternalAlignment = 64;
constexpr llvm::StringLiteral kDataFile = "model.onnx.data";

class OnnxTranslator {
public:
  OnnxTranslator(ModuleOp module, WeightStore &store, const ModelConfig &config)
      : module(module), store(store), reader(store), config(config) {
    graph = model.mutable_graph();
  }

  LogicalResult translate() {
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward)
      return module.emitError() << "ONNX export: no func.func @forward";
    model.set_ir_version(10);
    model.set_producer_name("quark-mlir");
    graph->set_name("forward");
    auto *input = graph->add_input();
    input->set_name("input_ids");
    auto *inputType = input->mutable_type()->mutable_tensor_type();
    inputType->set_elem_type(kInt64);
    inputType->mutable_shape()->add_dim()->set_dim_param("batch");
    inputType->mutable_shape()->add_dim()->set_dim_param("sequence");
    names[forward.getArgument(0)] = "input_ids";
    if (failed(translateBlock(forward.getBody().front())))
      return failure();
    auto *opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(opsetVersion);
    return success();
  }

  onnx::ModelProto model;
  std::string externalData;
  int64_t opsetVersion = 19;

private:
  //===--------------------------------------------------------------------===//
  // Graph building
  //===--------------------------------------------------------------------===//

  std::string fresh(llvm::StringRef hint) {
    return llvm::formatv("{0}_{1}", hint, counter++).str();
  }

  onnx::NodeProto *node(llvm::StringRef type,
                        llvm::ArrayRef<std::string> inputs,
                        const std::string &output) {
    onnx::NodeProto *n = graph->add_node();
    n->set_op_type(type.str());
    n->set_name(output);
    for (const std::string &in : inputs)
      n->add_input(in);
    n->add_output(output);
    return n;
  }
  std::string emit(llvm::StringRef type, llvm::ArrayRef<std::string> inputs,
                   llvm::StringRef hint = "") {
    std::string out = fresh(hint.empty() ? type : hint);
    node(type, inputs, out);
    return out;
  }
  static void attr(onnx::NodeProto *n, llvm::StringRef name, int64_t value) {
    auto *a = n->add_attribute();
    a->set_name(name.str());
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void attrs(onnx::NodeProto *n, llvm::StringRef name,
                    llvm::ArrayRef<int64_t> values) {
    auto *a = n->add_attribute();
    a->set_name(name.str());
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values)
      a->add_ints(v);
  }

  std::string initializer(llvm::StringRef name, int32_t type,
                          llvm::ArrayRef<int64_t> dims,
                          llvm::ArrayRef<uint8_t> bytes) {
    onnx::TensorProto *t = graph->add_initializer();
    t->set_name(name.str());
    t->set_data_type(type);
    for (int64_t d : dims)
      t->add_dims(d);
    if (bytes.size() > kExternalThreshold) {
      externalData.resize((externalData.size() + kExternalAlignment - 1) /
                          kExternalAlignment * kExternalAlignment);
      uint64_t offset = externalData.size();
      externalData.append(reinterpret_cast<const char *>(bytes.data()),
                          bytes.size());
      t->set_data_location(onnx::TensorProto::EXTERNAL);
      auto entry = [&](llvm::StringRef key, const std::string &value) {
        auto *e = t->add_external_data();
        e->set_key(key.str());
        e->set_value(value);
      };
      entry("location", kDataFile.str());
      entry("offset", std::to_string(offset));
      entry("length", std::to_string(bytes.size()));
    } else {
      t->set_raw_data(bytes.data(), bytes.size());
    }
    return name.str();
  }
  std::string floats(llvm::StringRef hint, llvm::ArrayRef<int64_t> dims,
                     llvm::ArrayRef<float> values) {
    return initializer(fresh(hint), kFloat, dims,
                       llvm::ArrayRef<uint8_t>(
                           reinterpret_cast<const uint8_t *>(values.data()),
                           values.size() * sizeof(float)));
  }
  std::string ints(llvm::ArrayRef<int64_t> values) {
    llvm::SmallVector<int64_t> dims{static_cast<int64_t>(values.size())};
    return initializer(fresh("i64"), kInt64, dims,
                       llvm::ArrayRef<uint8_t>(
                           reinterpret_cast<const uint8_t *>(values.data()),
                           values.size() * sizeof(int64_t)));
  }
  std::string scalar(float value) { return floats("f32", {}, {value}); }

  /// The sequence length (input_ids' dimension 1) as a 1-element int64
  /// tensor: every activation shares it, so it is computed once.
  std::string sequenceLength() {
    if (sequenceLengthName.empty()) {
      std::string shape = emit("Shape", {"input_ids"});
      onnx::NodeProto *n =
          node("Gather", {shape, ints({1})}, fresh("sequence_length"));
      attr(n, "axis", 0);
      sequenceLengthName = n->output(0);
    }
    return sequenceLengthName;
  }
  std::string reshape(const std::string &x, llvm::ArrayRef<int64_t> shape) {
    return emit("Reshape", {x, ints(shape)});
  }
  std::string transpose(const std::string &x, llvm::ArrayRef<int64_t> perm) {
    onnx::NodeProto *n = node("Transpose", {x}, fresh("Transpose"));
    attrs(n, "perm", perm);
    return n->output(0);
  }

  //===--------------------------------------------------------------------===//
  // Values
  //===--------------------------------------------------------------------===//

  FailureOr<std::string> valueName(Value value) {
    auto it = names.find(value);
    if (it != names.end())
      return it->second;
    Operation *def = value.getDefiningOp();
    FailureOr<std::string> name = failure();
    if (auto param = dyn_cast_or_null<ParamOp>(def))
      name = floatParam(param);
    else if (auto constant = dyn_cast_or_null<arith::ConstantOp>(def))
      name = constantTensor(constant);
    else if (auto dequantize = dyn_cast_or_null<DequantizeOp>(def))
      name = storedWeight(dequantize);
    else if (def)
      return def->emitError() << "ONNX export: no translation for this op";
    else
      return module.emitError() << "ONNX export: unexpected block argument";
    if (succeeded(name))
      names[value] = *name;
    return name;
  }

  FailureOr<std::string> floatParam(ParamOp param) {
    // A float param with a file is a weight an algorithm rewrote.
    if (param.getLayout() ||
        (param.getFile() && !isa<FloatType>(param.getType().getElementType())))
      return param.emitError()
             << "ONNX export: a stored parameter outside a dequantize";
    std::string name = param.getName().str();
    if (auto it = paramNames.find(name); it != paramNames.end())
      return it->second;
    llvm::Expected<Tensor> value =
        store.get(name, param.getFile().value_or(""));
    if (!value)
      return param.emitError() << llvm::toString(value.takeError());
    auto type = cast<RankedTensorType>(param.getType());
    std::string out = initializer(
        name, kFloat, type.getShape(),
        llvm::ArrayRef<uint8_t>(
            reinterpret_cast<const uint8_t *>(value->floats().data()),
            value->floats().size() * sizeof(float)));
    paramNames[name] = out;
    return out;
  }

  FailureOr<std::string> constantTensor(arith::ConstantOp constant) {
    auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
    auto type = dyn_cast<RankedTensorType>(constant.getType());
    if (!dense || !type || !type.getElementType().isF32())
      return constant.emitError()
             << "ONNX export: only float32 tensor constants are translated";
    std::vector<float> values(dense.getValues<float>().begin(),
                              dense.getValues<float>().end());
    return floats("const", type.getShape(), values);
  }

  /// The ONNX element type of stored codes, or failure.
  FailureOr<int32_t> codeType(const TensorQuantSpec &spec, Operation *at) {
    switch (spec.elementType()) {
    case QuantDType::Int8:
      return int32_t{kInt8};
    case QuantDType::UInt8:
      return int32_t{kUInt8};
    case QuantDType::Int4:
      opsetVersion = std::max<int64_t>(opsetVersion, 21);
      return int32_t{kInt4};
    case QuantDType::UInt4:
      opsetVersion = std::max<int64_t>(opsetVersion, 21);
      return int32_t{kUInt4};
    case QuantDType::FP8E4M3:
      return int32_t{kFloat8E4M3FN};
    case QuantDType::FP8E5M2:
      return int32_t{kFloat8E5M2};
    default:
      return at->emitError()
             << "ONNX export: " << std::string(dtypeName(spec.elementType()))
             << " has no ONNX QuantizeLinear/DequantizeLinear type (fp4, "
                "fp6, MX and block formats cannot be expressed in standard "
                "ONNX QDQ)";
    }
  }

  /// Codes (int32, or fp8 bit patterns) as the bytes of `type`.
  static std::vector<uint8_t> codeBytes(int32_t type,
                                        llvm::ArrayRef<int32_t> codes) {
    std::vector<uint8_t> bytes;
    if (type == kInt4 || type == kUInt4) {
      // Two per byte, the first element in the low nibble.
      bytes.assign((codes.size() + 1) / 2, 0);
      for (size_t i = 0; i < codes.size(); ++i)
        bytes[i / 2] |= static_cast<uint8_t>((codes[i] & 0xF) << (4 * (i % 2)));
      return bytes;
    }
    bytes.reserve(codes.size());
    for (int32_t c : codes)
      bytes.push_back(static_cast<uint8_t>(c & 0xFF));
    return bytes;
  }

  /// Scale and zero point shapes and the axis / block_size attributes of a
  /// spec on a tensor of `shape`.
  struct QdqLayout {
    llvm::SmallVector<int64_t, 2> paramShape;
    std::optional<int64_t> axis, blockSize;
  };
  FailureOr<QdqLayout> qdqLayout(const TensorQuantSpec &spec,
                                 llvm::ArrayRef<int64_t> shape, Operation *at) {
    QdqLayout layout;
    int64_t rank = static_cast<int64_t>(shape.size());
    int64_t axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
    switch (spec.qscheme) {
    case QScheme::PerTensor:
      return layout;
    case QScheme::PerChannel:
      layout.axis = axis;
      layout.paramShape.push_back(shape[axis]);
      return layout;
    case QScheme::PerGroup: {
      if (rank != 2)
        break;
      int64_t group = spec.groupSize;
      if (group <= 0 || shape[axis] % group != 0)
        break;
      // Groups run along `axis`; the scale has one entry per group there.
      layout.axis = axis;
      layout.blockSize = group;
      layout.paramShape.assign(shape.begin(), shape.end());
      layout.paramShape[axis] /= group;
      opsetVersion = std::max<int64_t>(opsetVersion, 21);
      return layout;
    }
    default:
      break;
    }
    return at->emitError() << "ONNX export: this quantization granularity "
                              "has no ONNX QDQ form";
  }

  onnx::NodeProto *qdqNode(llvm::StringRef type,
                           llvm::ArrayRef<std::string> inputs,
                           const QdqLayout &layout) {
    onnx::NodeProto *n = node(type, inputs, fresh(type));
    if (layout.axis)
      attr(n, "axis", *layout.axis);
    if (layout.blockSize)
      attr(n, "block_size", *layout.blockSize);
    return n;
  }

  FailureOr<std::string> storedWeight(DequantizeOp dequantize) {
    std::optional<StoredWeightIR> stored =
        matchStoredWeight(dequantize.getResult());
    if (!stored)
      return dequantize.emitError()
             << "ONNX export: a dequantize that does not read stored codes";
    if (stored->firstStage)
      return dequantize.emitError()
             << "ONNX export: a progressive (int4_fp8) weight has no "
                "QuantizeLinear form";
    auto type = cast<RankedTensorType>(dequantize.getType());
    FailureOr<TensorQuantSpec> spec =
        getTensorQuantSpec(stored->dequantize.getSpec(), type.getElementType(),
                           [&] { return dequantize.emitError(); });
    if (failed(spec))
      return failure();
    FailureOr<int32_t> onnxType = codeType(*spec, dequantize);
    if (failed(onnxType))
      return failure();
    FailureOr<QdqLayout> layout = qdqLayout(*spec, type.getShape(), dequantize);
    if (failed(layout))
      return failure();
    llvm::Expected<std::vector<int32_t>> codes = reader.codes(*stored);
    if (!codes)
      return dequantize.emitError() << llvm::toString(codes.takeError());
    llvm::Expected<std::vector<float>> scales = reader.scales(*stored);
    if (!scales)
      return dequantize.emitError() << llvm::toString(scales.takeError());
    std::string base = stored->rawCodes.getName().str();
    std::string codeName = initializer(base, *onnxType, type.getShape(),
                                       codeBytes(*onnxType, *codes));
    std::string scaleName =
        floats(base + "_scale", layout->paramShape, *scales);
    llvm::SmallVector<std::string, 3> inputs{codeName, scaleName};
    if (stored->zeroPoint) {
      llvm::Expected<std::vector<int32_t>> zeros =
          reader.ints(stored->zeroPoint);
      if (!zeros)
        return dequantize.emitError() << llvm::toString(zeros.takeError());
      inputs.push_back(initializer(fresh(base + "_zero_point"), *onnxType,
                                   layout->paramShape,
                                   codeBytes(*onnxType, *zeros)));
    }
    std::string weight =
        qdqNode("DequantizeLinear", inputs, *layout)->output(0);
    return roundedToFloatType(weight, type.getElementType());
  }

  /// `value` (float32) rounded to `element` when that is bf16 or f16, as a
  /// Cast there and back: a dequantized bf16 weight is a bf16 tensor in
  /// Quark and in the executor. Without this the weights differ from the
  /// executor's by up to half a bf16 ulp, which activation quantizers turn
  /// into whole-code flips downstream (mean KL to the executor 1e-3
  /// instead of 1e-4 on the bundled model, docs/export.md).
  std::string roundedToFloatType(const std::string &value, Type element) {
    int32_t narrow;
    if (element.isBF16())
      narrow = kBFloat16;
    else if (element.isF16())
      narrow = kFloat16;
    else
      return value;
    onnx::NodeProto *down = node("Cast", {value}, fresh("cast"));
    attr(down, "to", narrow);
    onnx::NodeProto *up = node("Cast", {down->output(0)}, fresh("cast"));
    attr(up, "to", kFloat);
    return up->output(0);
  }

  //===--------------------------------------------------------------------===//
  // Ops
  //===--------------------------------------------------------------------===//

  LogicalResult translateBlock(Block &block) {
    for (Operation &op : block) {
      if (isa<ParamOp, arith::ConstantOp, DequantizeOp, StorageCastOp,
              UnpackOp>(op))
        continue; // leaves: translated where used
      if (failed(translateOp(&op)))
        return failure();
    }
    return success();
  }

  LogicalResult translateOp(Operation *op) {
    auto in = [&](Value v) { return valueName(v); };
    auto set = [&](Value v, std::string name) {
      names[v] = std::move(name);
      return success();
    };
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      FailureOr<std::string> result = in(ret.getOperand(0));
      if (failed(result))
        return failure();
      node("Identity", {*result}, "logits");
      auto *output = graph->add_output();
      output->set_name("logits");
      auto *type = output->mutable_type()->mutable_tensor_type();
      type->set_elem_type(kFloat);
      type->mutable_shape()->add_dim()->set_dim_param("batch");
      type->mutable_shape()->add_dim()->set_dim_param("sequence");
      type->mutable_shape()->add_dim()->set_dim_value(
          cast<ShapedType>(ret.getOperand(0).getType()).getShape().back());
      return success();
    }
    if (auto blockOp = dyn_cast<BlockOp>(op)) {
      Block &body = blockOp.getBody().front();
      for (auto [arg, input] :
           llvm::zip(body.getArguments(), blockOp.getInputs())) {
        FailureOr<std::string> name = in(input);
        if (failed(name))
          return failure();
        names[arg] = *name;
      }
      if (failed(translateBlock(body)))
        return failure();
      auto yield = cast<YieldOp>(body.getTerminator());
      for (auto [result, value] :
           llvm::zip(blockOp.getResults(), yield.getOperands())) {
        FailureOr<std::string> name = in(value);
        if (failed(name))
          return failure();
        names[result] = *name;
      }
      return success();
    }
    if (isa<YieldOp>(op))
      return success();
    if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
      FailureOr<std::string> ids = in(embedding.getIds());
      FailureOr<std::string> table = in(embedding.getTable());
      if (failed(ids) || failed(table))
        return failure();
      onnx::NodeProto *n = node("Gather", {*table, *ids}, fresh("embed"));
      attr(n, "axis", 0);
      return set(embedding.getResult(), n->output(0));
    }
    if (auto norm = dyn_cast<RMSNormOp>(op)) {
      if (norm.getGroupSize())
        return norm.emitError() << "ONNX export: grouped RMSNorm is not "
                                   "translated";
      FailureOr<std::string> x = in(norm.getInput());
      FailureOr<std::string> w = in(norm.getWeight());
      if (failed(x) || failed(w))
        return failure();
      std::string square = emit("Mul", {*x, *x});
      onnx::NodeProto *mean =
          node("ReduceMean", {square, ints({-1})}, fresh("mean"));
      attr(mean, "keepdims", 1);
      std::string rms = emit(
          "Sqrt", {emit("Add", {mean->output(0),
                                scalar(static_cast<float>(
                                    norm.getEpsilon().convertToDouble()))})});
      return set(norm.getResult(), emit("Mul", {emit("Div", {*x, rms}), *w}));
    }
    if (auto linear = dyn_cast<LinearOp>(op)) {
      FailureOr<std::string> x = in(linear.getInput());
      FailureOr<std::string> w = in(linear.getWeight());
      if (failed(x) || failed(w))
        return failure();
      std::string y =
          emit("MatMul", {*x, transpose(*w, {1, 0})}, linear.getName());
      if (linear.getBias()) {
        FailureOr<std::string> b = in(linear.getBias());
        if (failed(b))
          return failure();
        y = emit("Add", {y, *b});
      }
      return set(linear.getResult(), y);
    }
    if (auto fake = dyn_cast<FakeQuantOp>(op))
      return translateFakeQuant(fake);
    if (auto rope = dyn_cast<RopeOp>(op))
      return translateRope(rope);
    if (auto attention = dyn_cast<AttentionOp>(op))
      return translateAttention(attention);
    if (auto gated = dyn_cast<GatedActivationOp>(op)) {
      if (gated.getKind() != ActivationKind::silu)
        return gated.emitError()
               << "ONNX export: only silu gated activations are translated";
      FailureOr<std::string> gate = in(gated.getGate());
      FailureOr<std::string> up = in(gated.getUp());
      if (failed(gate) || failed(up))
        return failure();
      std::string silu = emit("Mul", {*gate, emit("Sigmoid", {*gate})});
      return set(gated.getResult(), emit("Mul", {silu, *up}));
    }
    if (isa<arith::AddFOp, arith::MulFOp>(op)) {
      FailureOr<std::string> a = in(op->getOperand(0));
      FailureOr<std::string> b = in(op->getOperand(1));
      if (failed(a) || failed(b))
        return failure();
      return set(op->getResult(0),
                 emit(isa<arith::AddFOp>(op) ? "Add" : "Mul", {*a, *b}));
    }
    return op->emitError() << "ONNX export: no translation for this op";
  }

  LogicalResult translateFakeQuant(FakeQuantOp fake) {
    auto type = cast<RankedTensorType>(fake.getType());
    FailureOr<TensorQuantSpec> spec =
        getTensorQuantSpec(fake.getSpec(), type.getElementType(),
                           [&] { return fake.emitError(); });
    if (failed(spec))
      return failure();
    FailureOr<int32_t> onnxType = codeType(*spec, fake);
    if (failed(onnxType))
      return failure();
    if (!fake.getScale())
      return fake.emitError()
             << "ONNX export: dynamic quantization (scales computed from "
                "each input) has no ONNX QuantizeLinear/DequantizeLinear "
                "form; use a static scheme";
    if (spec->qscheme != QScheme::PerTensor)
      return fake.emitError() << "ONNX export: only per-tensor activation "
                                 "quantizers are translated";
    FailureOr<std::string> x = valueName(fake.getInput());
    FailureOr<std::string> scale = valueName(fake.getScale());
    if (failed(x) || failed(scale))
      return failure();
    // The zero point's type is QuantizeLinear's output type.
    int32_t zero = 0;
    if (Value zp = fake.getZeroPoint()) {
      auto constant = zp.getDefiningOp<arith::ConstantOp>();
      auto dense = constant ? dyn_cast<DenseElementsAttr>(constant.getValue())
                            : DenseElementsAttr();
      if (!dense)
        return fake.emitError() << "ONNX export: zero point not a constant";
      zero = static_cast<int32_t>(
          (*dense.getValues<APInt>().begin()).getSExtValue());
    }
    std::string zeroPoint = initializer(fresh("zero_point"), *onnxType, {},
                                        codeBytes(*onnxType, {zero}));
    QdqLayout layout;
    std::string q =
        qdqNode("QuantizeLinear", {*x, *scale, zeroPoint}, layout)->output(0);
    std::string dq =
        qdqNode("DequantizeLinear", {q, *scale, zeroPoint}, layout)->output(0);
    names[fake.getResult()] = roundedToFloatType(dq, type.getElementType());
    return success();
  }

  /// Rows 0..S-1 of the cos / sin tables for one (head_dim, theta), as
  /// [S, 1, head_dim] against [B, S, heads, head_dim]; built once and shared
  /// by every rope op with those parameters.
  std::pair<std::string, std::string> ropeRows(int64_t headDim, double theta) {
    std::string key = llvm::formatv("{0}/{1}", headDim, theta).str();
    if (auto it = ropeRowNames.find(key); it != ropeRowNames.end())
      return it->second;
    int64_t positions = std::max<int64_t>(config.maxPositionEmbeddings, 1);
    int64_t half = headDim / 2;
    std::vector<float> cosines(positions * headDim), sines(positions * headDim);
    for (int64_t i = 0; i < half; ++i) {
      // As Hugging Face: inv_freq in float32, angle = position * inv_freq.
      float invFreq = static_cast<float>(
          1.0 / std::pow(theta, static_cast<double>(2 * i) /
                                    static_cast<double>(headDim)));
      for (int64_t s = 0; s < positions; ++s) {
        float angle = static_cast<float>(s) * invFreq;
        for (int64_t copy : {i, i + half}) {
          cosines[s * headDim + copy] = std::cos(angle);
          sines[s * headDim + copy] = std::sin(angle);
        }
      }
    }
    auto rows = [&](const std::string &table) {
      std::string sliced =
          emit("Slice", {table, ints({0}), sequenceLength(), ints({0})});
      return emit("Unsqueeze", {sliced, ints({1})});
    };
    auto result =
        std::make_pair(rows(floats("rope_cos", {positions, headDim}, cosines)),
                       rows(floats("rope_sin", {positions, headDim}, sines)));
    ropeRowNames[key] = result;
    return result;
  }

  /// [S, S]: 0 on and below the diagonal, -1e30 above; built once.
  std::string causalMask() {
    if (!causalMaskName.empty())
      return causalMaskName;
    std::string length = sequenceLength();
    onnx::NodeProto *square =
        node("Concat", {length, length}, fresh("mask_shape"));
    attr(square, "axis", 0);
    onnx::NodeProto *ones =
        node("ConstantOfShape", {square->output(0)}, fresh("ones"));
    auto *value = ones->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    auto *t = value->mutable_t();
    t->set_data_type(kFloat);
    t->add_dims(1);
    float one = 1.0f;
    t->set_raw_data(&one, sizeof(one));
    onnx::NodeProto *lower = node("Trilu", {ones->output(0)}, fresh("lower"));
    attr(lower, "upper", 0);
    causalMaskName = emit(
        "Mul", {emit("Sub", {lower->output(0), scalar(1.0f)}), scalar(1e30f)});
    return causalMaskName;
  }

  LogicalResult translateRope(RopeOp rope) {
    if (rope.getScaling())
      return rope.emitError() << "ONNX export: rope scaling is not translated";
    FailureOr<std::string> x = valueName(rope.getInput());
    if (failed(x))
      return failure();
    int64_t headDim = rope.getHeadDim();
    auto [cosRows, sinRows] =
        ropeRows(headDim, rope.getTheta().convertToDouble());
    std::string heads = reshape(*x, {0, 0, -1, headDim});
    onnx::NodeProto *split =
        node("Split", {heads, ints({headDim / 2, headDim / 2})}, fresh("x1"));
    split->add_output(fresh("x2"));
    attr(split, "axis", -1);
    onnx::NodeProto *rotated =
        node("Concat", {emit("Neg", {split->output(1)}), split->output(0)},
             fresh("rotated"));
    attr(rotated, "axis", -1);
    std::string out = emit("Add", {emit("Mul", {heads, cosRows}),
                                   emit("Mul", {rotated->output(0), sinRows})});
    names[rope.getResult()] = reshape(out, {0, 0, -1});
    return success();
  }

  LogicalResult translateAttention(AttentionOp attention) {
    if (attention.getSlidingWindow() || attention.getSoftmaxSpec())
      return attention.emitError()
             << "ONNX export: sliding-window attention and softmax "
                "quantization are not translated";
    FailureOr<std::string> q = valueName(attention.getQ());
    FailureOr<std::string> k = valueName(attention.getK());
    FailureOr<std::string> v = valueName(attention.getV());
    if (failed(q) || failed(k) || failed(v))
      return failure();
    int64_t heads = attention.getNumHeads(),
            kvHeads = attention.getNumKvHeads(),
            headDim = attention.getHeadDim();
    auto split = [&](const std::string &x) {
      return transpose(reshape(x, {0, 0, -1, headDim}), {0, 2, 1, 3});
    };
    // [B, kvH, S, d] -> [B, H, S, d]: each kv head serves `group` q heads.
    auto repeat = [&](const std::string &x) {
      int64_t group = heads / kvHeads;
      if (group == 1)
        return x;
      std::string expanded = emit("Unsqueeze", {x, ints({2})});
      onnx::NodeProto *copies = node(
          "Concat", std::vector<std::string>(group, expanded), fresh("repeat"));
      attr(copies, "axis", 2);
      return reshape(copies->output(0), {0, heads, -1, headDim});
    };
    std::string qh = split(*q), kh = repeat(split(*k)), vh = repeat(split(*v));
    std::string scores = emit(
        "Mul",
        {emit("MatMul", {qh, transpose(kh, {0, 1, 3, 2})}),
         scalar(static_cast<float>(attention.getScale().convertToDouble()))});
    onnx::NodeProto *softmax =
        node("Softmax", {emit("Add", {scores, causalMask()})},
             fresh("probabilities"));
    attr(softmax, "axis", -1);
    std::string context = emit("MatMul", {softmax->output(0), vh});
    names[attention.getResult()] =
        reshape(transpose(context, {0, 2, 1, 3}), {0, 0, -1});
    return success();
  }

  ModuleOp module;
  WeightStore &store;
  StoredWeightReader reader;
  const ModelConfig &config;
  onnx::GraphProto *graph;
  int64_t counter = 0;
  llvm::DenseMap<Value, std::string> names;
  llvm::StringMap<std::string> paramNames;
  std::map<std::string, std::pair<std::string, std::string>> ropeRowNames;
  std::string sequenceLengthName, causalMaskName;
};

} // namespace

FailureOr<OnnxExportResult>
mlir::quark::exportOnnx(ModuleOp module, llvm::StringRef dir,
                        const OnnxExportOptions &options) {
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return module.emitError() << "the module has no '" << kModelDirAttr << "'";
  llvm::SmallString<256> modelPath(dir), dataPath(dir);
  llvm::sys::path::append(modelPath, "model.onnx");
  llvm::sys::path::append(dataPath, kDataFile);
  if (!options.overwrite &&
      (llvm::sys::fs::exists(modelPath) || llvm::sys::fs::exists(dataPath)))
    return module.emitError()
           << modelPath << " exists; pass --overwrite to replace it";
  llvm::Expected<ModelConfig> config = readModelConfig(modelDir.getValue());
  if (!config)
    return module.emitError() << llvm::toString(config.takeError());
  WeightStore store(modelDir.getValue().str());
  store.setCaching(false);
  OnnxTranslator translator(module, store, *config);
  if (failed(translator.translate()))
    return failure();

  std::string modelBytes;
  if (!translator.model.SerializeToString(&modelBytes))
    return module.emitError() << "ONNX export: the model does not serialize "
                                 "(protobuf's 2 GiB limit on the graph)";
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return module.emitError() << dir << ": " << ec.message();
  // Data first: a model file never names data that is not there.
  if (llvm::Error error =
          writeFileAtomically(dataPath, translator.externalData))
    return module.emitError() << llvm::toString(std::move(error));
  if (llvm::Error error = writeFileAtomically(modelPath, modelBytes))
    return module.emitError() << llvm::toString(std::move(error));
  OnnxExportResult result;
  result.opset = translator.opsetVersion;
  result.nodes = translator.model.graph().node_size();
  result.initializers = translator.model.graph().initializer_size();
  result.externalBytes = translator.externalData.size();
  result.modelFile = modelPath.str().str();
  result.dataFile = dataPath.str().str();
  return result;
}
