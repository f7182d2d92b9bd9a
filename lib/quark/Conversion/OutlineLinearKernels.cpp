//===- OutlineLinearKernels.cpp - quark-outline-linear-kernels ------------===//
//
// A model's quantized linear layers as kernel functions: the activation (and
// its quantization, for W8A8), the weight's decoding from stored codes, and
// the GEMM. Layers of one shape and spec share a kernel.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "quark/Dialect/Quark/IR/QuarkOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/Support/raw_ostream.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKOUTLINELINEARKERNELS
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// The ops of one quantized linear, producers first, and the activation
/// value the kernel takes as its first argument.
struct LinearChain {
  Value activation;
  SmallVector<Operation *> ops;
  /// The ops whose results have the activation's rows.
  SmallVector<Operation *> rowOps;
};

std::optional<LinearChain> matchChain(LinearOp linear) {
  auto weight = linear.getWeight().getDefiningOp<DequantizeOp>();
  if (!weight)
    return std::nullopt;
  LinearChain chain;
  // A progressive weight: codes -> their stage's values -> times the first
  // stage's scale; the kernel decodes both.
  DequantizeOp codes = weight;
  if (weight.hasDecodedInput()) {
    codes = weight.getInput().getDefiningOp<DequantizeOp>();
    if (!codes)
      return std::nullopt;
  }
  // Scales stored as codes themselves (NVFP4's e4m3 block scales under a
  // per-tensor scale): the kernel reads the stored bytes and decodes them.
  if (Value scale = codes.getScale())
    if (auto scaleCodes = scale.getDefiningOp<DequantizeOp>()) {
      if (auto cast = scaleCodes.getInput().getDefiningOp<StorageCastOp>())
        chain.ops.push_back(cast);
      chain.ops.push_back(scaleCodes);
    }
  if (auto unpack = codes.getInput().getDefiningOp<UnpackOp>())
    chain.ops.push_back(unpack);
  if (codes != weight)
    chain.ops.push_back(codes);
  chain.ops.push_back(weight);
  chain.activation = linear.getInput();
  if (auto dequant = linear.getInput().getDefiningOp<DequantizeOp>()) {
    if (auto quant = dequant.getInput().getDefiningOp<QuantizeOp>()) {
      chain.ops.push_back(quant);
      chain.ops.push_back(dequant);
      chain.rowOps = {quant, dequant};
      chain.activation = quant.getInput();
    }
  } else if (auto fakeQuant = linear.getInput().getDefiningOp<FakeQuantOp>()) {
    // A simulated activation quantizer (dynamic ones stay fake_quant in a
    // real-quantized model): the kernel quantizes for real.
    if (!fakeQuant.getSpec().isBlockFloat()) {
      chain.ops.push_back(fakeQuant);
      chain.rowOps = {fakeQuant};
      chain.activation = fakeQuant.getInput();
    }
  } else if (auto twoStage =
                 linear.getInput().getDefiningOp<TwoStageFakeQuantOp>()) {
    // NVFP4 activations: block scales per call, quantized under the
    // calibrated per-tensor scale.
    if (twoStage.getSpec().quantizesScales()) {
      chain.ops.push_back(twoStage);
      chain.rowOps = {twoStage};
      chain.activation = twoStage.getInput();
    }
  }
  chain.ops.push_back(linear);
  chain.rowOps.push_back(linear);
  return chain;
}

/// `spec` for the kernel's [tokens, features] activation when the model's
/// activation had rank `rank`: a channel axis among the leading dimensions
/// becomes the rows (per token, which is what the model computes for one
/// sequence and what vLLM's per-token quantizers do for a batch), the last
/// dimension becomes dimension 1.
TensorSpecAttr specForRows(TensorSpecAttr spec, int64_t rank) {
  QSchemeType qscheme = spec.getQSchemeOrDefault();
  if (qscheme != QSchemeType::per_channel && qscheme != QSchemeType::per_group)
    return spec;
  int64_t axis = spec.getChAxis().value_or(0);
  if (axis < 0)
    axis += rank;
  int64_t rowsAxis = axis == rank - 1 ? 1 : 0;
  if (spec.getChAxis() == rowsAxis)
    return spec;
  return TensorSpecAttr::get(
      spec.getContext(), spec.getDtype(), spec.getQscheme(), rowsAxis,
      spec.getGroupSize(), spec.getBlockSize(), spec.getSymmetric(),
      spec.getIsDynamic(), spec.getRoundMethod(), spec.getScaleType(),
      spec.getScaleFormat(), spec.getScaleCalculationMode(),
      spec.getMxElementDtype(), spec.getObserverCls(), spec.getIsScaleQuant());
}

/// `type` with its leading dimensions replaced by `tokens` rows.
RankedTensorType withRows(Type type, int64_t tokens) {
  auto ranked = cast<RankedTensorType>(type);
  return RankedTensorType::get({tokens, ranked.getShape().back()},
                               ranked.getElementType());
}

struct OutlineLinearKernelsPass
    : mlir::quark::impl::QuarkOutlineLinearKernelsBase<
          OutlineLinearKernelsPass> {
  using QuarkOutlineLinearKernelsBase::QuarkOutlineLinearKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (tokens <= 0) {
      module.emitError("quark-outline-linear-kernels: tokens must be >= 1");
      return signalPassFailure();
    }
    SmallVector<LinearOp> linears;
    module.walk([&](LinearOp op) { linears.push_back(op); });

    OpBuilder builder(module.getContext());
    Block *kernelBlock = new Block();
    builder.setInsertionPointToEnd(kernelBlock);
    llvm::StringMap<func::FuncOp> bySignature;
    SmallVector<func::FuncOp> kernels;
    for (LinearOp linear : linears) {
      std::optional<LinearChain> chain = matchChain(linear);
      if (!chain)
        continue;
      // Arguments: the activation, then every value the chain reads from
      // outside (codes, scales, zero points, bias) in first-use order.
      SmallVector<Value> outside{chain->activation};
      SmallVector<Type> argTypes{withRows(chain->activation.getType(), tokens)};
      llvm::SmallPtrSet<Operation *, 8> inChain(chain->ops.begin(),
                                                chain->ops.end());
      for (Operation *op : chain->ops)
        for (Value operand : op->getOperands())
          if (!inChain.contains(operand.getDefiningOp()) &&
              !llvm::is_contained(outside, operand)) {
            outside.push_back(operand);
            argTypes.push_back(operand.getType());
          }
      Type resultType = withRows(linear.getType(), tokens);
      auto kernel =
          func::FuncOp::create(builder, linear.getLoc(), "kernel",
                               builder.getFunctionType(argTypes, {resultType}));
      Block *body = kernel.addEntryBlock();
      OpBuilder bodyBuilder = OpBuilder::atBlockEnd(body);
      IRMapping mapping;
      for (auto [value, arg] : llvm::zip(outside, body->getArguments()))
        mapping.map(value, arg);
      for (Operation *op : chain->ops) {
        Operation *clone = bodyBuilder.clone(*op, mapping);
        if (llvm::is_contained(chain->rowOps, op))
          clone->getResult(0).setType(
              withRows(op->getResult(0).getType(), tokens));
      }
      LinearOp cloned = cast<LinearOp>(&body->back());
      // The kernel's copy of an activation fake_quant quantizes for real,
      // so that convert-quark-to-linalg sees the codes and can run the GEMM
      // on them.
      int64_t modelRank =
          cast<RankedTensorType>(chain->activation.getType()).getRank();
      IRRewriter rewriter(bodyBuilder);
      LogicalResult expanded = success();
      Operation *quantizer = cloned.getInput().getDefiningOp();
      if (auto fakeQuant = dyn_cast_or_null<FakeQuantOp>(quantizer))
        expanded = expandFakeQuant(rewriter, fakeQuant,
                                   specForRows(fakeQuant.getSpec(), modelRank));
      else if (auto twoStage = dyn_cast_or_null<TwoStageFakeQuantOp>(quantizer))
        expanded = expandTwoStageFakeQuant(
            rewriter, twoStage,
            specForRows(twoStage.getSpec().getFirst(), modelRank));
      if (failed(expanded))
        return signalPassFailure();
      cloned->removeAttr("quant");
      func::ReturnOp::create(bodyBuilder, linear.getLoc(), cloned.getResult());

      // Name by content: the printed function without its layer name.
      cloned->setAttr("name", bodyBuilder.getStringAttr("kernel"));
      std::string signature;
      llvm::raw_string_ostream os(signature);
      kernel.print(os, OpPrintingFlags().elideLargeElementsAttrs());
      StringAttr layer = linear.getNameAttr();
      auto [it, inserted] = bySignature.try_emplace(signature, kernel);
      if (!inserted) {
        kernel.erase();
        func::FuncOp existing = it->second;
        SmallVector<Attribute> layers(
            existing->getAttrOfType<ArrayAttr>("quark.layers").getValue());
        layers.push_back(layer);
        existing->setAttr("quark.layers", builder.getArrayAttr(layers));
        continue;
      }
      cloned->setAttr("name", layer);
      kernel->setAttr("quark.layers", builder.getArrayAttr({layer}));
      kernels.push_back(kernel);
    }
    if (kernels.empty()) {
      delete kernelBlock;
      module.emitError("quark-outline-linear-kernels: no quantized linear "
                       "layer (a quark.linear whose weight is a "
                       "quark.dequantize of stored codes); run "
                       "quark-quantize-weights first");
      return signalPassFailure();
    }
    // Name kernels after their first layer and the row count, then replace
    // the module's contents with them.
    for (func::FuncOp kernel : kernels) {
      std::string name =
          cast<StringAttr>(kernel->getAttrOfType<ArrayAttr>("quark.layers")[0])
              .str();
      for (char &c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          c = '_';
      kernel.setSymName(name + "_t" + std::to_string(tokens));
    }
    module.getBody()->clear();
    module.getBody()->getOperations().splice(module.getBody()->end(),
                                             kernelBlock->getOperations());
    delete kernelBlock;
  }
};

} // namespace
