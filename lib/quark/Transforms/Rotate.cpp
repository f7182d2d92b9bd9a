//===- Rotate.cpp - QuaRot's R1 rotation of the residual stream ----------===//
//
// The hidden state h of every token becomes h M, M = HadamardRotation of
// the hidden size. Every RMSNorm weight is first folded into the linears
// that read the norm (W diag(g)) and set to 1, since a norm is only
// rotation-invariant without its per-channel weight. Then:
//   embedding rows          E  <- E M
//   linears reading a norm  W  <- W M        (q/k/v, gate/up, lm_head)
//   linears writing into    W  <- M^T W, b <- b M   (o_proj, down_proj)
//   the residual stream
// and, with r4 (QuaRot's R4), down_proj's input is rotated online by a
// quark.hadamard of its own size, its weight W <- W M4,
// so every linear output is unchanged: the float model is the same
// function, but activations and weights have their outliers spread over
// all channels. The rewritten params of each decoder layer (and of the
// embedding, final norm and lm_head, as "model") go to
// <checkpoint-dir>/rotation/<unit>.safetensors in the model's precision.
//
//===----------------------------------------------------------------------===//

#include "Layerwise.h"
#include "QuantizationUtils.h"

#include "quark/Analysis/ScalingGroups.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Support/Hadamard.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <map>

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKROTATE
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// What R1 does to each param, found by following the residual stream.
struct RotationPlan {
  ParamOp embedding;
  /// Linears reading a norm of the residual stream, with the norm's
  /// weight to fold into their columns.
  llvm::MapVector<Operation *, ParamOp> inputSide;
  /// Linears whose output is added to the residual stream.
  llvm::SmallVector<LinearOp> outputSide;
  /// Norm weights that become 1.
  llvm::SmallVector<ParamOp> norms;
  /// lm_head when it reads the embedding table (tied embeddings): the
  /// rotation unties it, since E M and (E diag(g)) M differ.
  LinearOp tiedHead;
  int64_t hidden = 0;
};

struct RotatePass : mlir::quark::impl::QuarkRotateBase<RotatePass> {
  using Base::Base;

  /// Follows the residual stream from the embedding through every decoder
  /// layer to lm_head, checking that each op on it commutes with a
  /// rotation.
  FailureOr<RotationPlan> plan(func::FuncOp forward) {
    RotationPlan plan;
    auto refuse = [&](Operation *op, const llvm::Twine &why) {
      op->emitError() << "rotation: " << why;
      return failure();
    };
    // Every norm must be an RMSNorm: a LayerNorm anywhere on the stream
    // breaks it, and a model has one kind.
    LayerNormOp layerNorm;
    forward.walk([&](LayerNormOp op) {
      layerNorm = op;
      return WalkResult::interrupt();
    });
    if (layerNorm)
      return refuse(layerNorm,
                    "LayerNorm subtracts the mean, which does not commute "
                    "with a rotation (RMSNorm models only)");
    MoEOp moe;
    forward.walk([&](MoEOp op) {
      moe = op;
      return WalkResult::interrupt();
    });
    if (moe)
      return refuse(moe, "a mixture of experts is not supported by the "
                         "rotation (its experts' outputs would need the "
                         "output-side rotation inside the routing)");
    EmbeddingOp embedding;
    for (Operation &op : forward.front())
      if (auto found = dyn_cast<EmbeddingOp>(op)) {
        if (embedding)
          return refuse(found, "the model has more than one embedding");
        embedding = found;
      }
    if (!embedding)
      return refuse(forward, "@forward has no quark.embedding");
    plan.embedding = embedding.getTable().getDefiningOp<ParamOp>();
    if (!plan.embedding)
      return refuse(embedding, "the embedding table is not a param");
    plan.hidden = cast<ShapedType>(plan.embedding.getType()).getShape()[1];

    // A norm on the stream: its weight folds into the linears reading it.
    auto addNorm = [&](RMSNormOp norm,
                       llvm::ArrayRef<LinearOp> readers) -> LogicalResult {
      if (norm.getGroupSize())
        return refuse(norm, "a grouped RMSNorm on the residual stream");
      auto weight = norm.getWeight().getDefiningOp<ParamOp>();
      if (!weight)
        return refuse(norm, "the norm's weight is not a param");
      if (readers.empty())
        return refuse(norm, "the norm's output is not read by linears only");
      plan.norms.push_back(weight);
      for (LinearOp linear : readers)
        plan.inputSide.insert({linear, weight});
      return success();
    };

    // Values on the stream still to visit, and each block's groups.
    llvm::SmallVector<Value> work{embedding.getResult()};
    llvm::DenseSet<Value> seen;
    while (!work.empty()) {
      Value value = work.pop_back_val();
      if (!seen.insert(value).second)
        continue;
      for (OpOperand &use : value.getUses()) {
        Operation *user = use.getOwner();
        if (auto block = dyn_cast<BlockOp>(user)) {
          work.push_back(block.getBody().getArgument(use.getOperandNumber()));
          continue;
        }
        if (auto yield = dyn_cast<YieldOp>(user)) {
          auto block = cast<BlockOp>(yield->getParentOp()); // no MoE here
          work.push_back(block.getResult(use.getOperandNumber()));
          continue;
        }
        if (auto norm = dyn_cast<RMSNormOp>(user)) {
          llvm::SmallVector<LinearOp> readers;
          if (auto block = dyn_cast<BlockOp>(norm->getParentOp())) {
            for (ScalingGroup &group : findScalingGroups(block))
              if (group.producer == norm.getOperation())
                readers.assign(group.consumers.begin(), group.consumers.end());
          } else {
            for (Operation *reader : norm->getUsers())
              if (auto linear = dyn_cast<LinearOp>(reader);
                  linear && linear.getInput() == norm.getResult())
                readers.push_back(linear);
            if (readers.size() !=
                static_cast<size_t>(llvm::range_size(norm->getUsers())))
              readers.clear();
          }
          if (failed(addNorm(norm, readers)))
            return failure();
          continue;
        }
        if (auto add = dyn_cast<arith::AddFOp>(user)) {
          Value other = add.getOperand(1 - use.getOperandNumber());
          if (!seen.contains(other)) {
            auto linear = other.getDefiningOp<LinearOp>();
            if (!linear)
              return refuse(add, "a value that is not a linear's output is "
                                 "added to the residual stream");
            if (!linear.getWeight().getDefiningOp<ParamOp>())
              return refuse(linear, "'" + linear.getName() +
                                        "' has no plain weight param");
            plan.outputSide.push_back(linear);
          }
          work.push_back(add.getResult());
          continue;
        }
        return refuse(user, "this op reads the residual stream and does not "
                            "commute with a rotation");
      }
    }
    for (auto &[op, norm] : plan.inputSide) {
      auto linear = cast<LinearOp>(op);
      if (!linear.getWeight().getDefiningOp<ParamOp>())
        return refuse(linear,
                      "'" + linear.getName() + "' has no plain weight param");
      if (linear.getWeight().getDefiningOp<ParamOp>().getName() ==
          plan.embedding.getName()) {
        if (linear->getParentOfType<BlockOp>() || plan.tiedHead)
          return refuse(linear, "'" + linear.getName() +
                                    "' reads the embedding table inside the "
                                    "model; only a tied lm_head is untied");
        plan.tiedHead = linear;
      }
    }
    if (plan.inputSide.empty() || plan.outputSide.empty())
      return refuse(forward, "no linears read or write the residual stream");
    return plan;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const llvm::Twine &message) {
      module.emitError() << "rotation: " << message;
      signalPassFailure();
    };
    FailureOr<AlgorithmModule> target = getAlgorithmModule(
        module, "rotation", checkpointDir, "rotated weights");
    if (failed(target))
      return signalPassFailure();
    StringAttr modelDir = target->modelDir;
    FailureOr<RotationPlan> found = plan(target->forward);
    if (failed(found))
      return signalPassFailure();
    RotationPlan &rotation = *found;
    llvm::Expected<HadamardRotation> hadamard =
        HadamardRotation::get(rotation.hidden);
    if (!hadamard)
      return fail(llvm::formatv("hidden size {0}: {1}", rotation.hidden,
                                llvm::toString(hadamard.takeError())));

    llvm::SmallString<256> folder(checkpointDir);
    llvm::sys::fs::make_absolute(folder);
    llvm::sys::path::append(folder, "rotation");
    if (std::error_code ec = llvm::sys::fs::create_directories(folder))
      return fail(folder + ": cannot create: " + ec.message());

    // Each param's unit: its decoder layer, or "model".
    auto unitOf = [](Operation *op) -> std::string {
      if (auto block = op->getParentOfType<BlockOp>())
        return block.getName().str();
      return "model";
    };
    llvm::MapVector<std::string, llvm::SmallVector<ParamOp>,
                    std::map<std::string, unsigned>>
        units;
    auto addParam = [&](ParamOp param) {
      units[unitOf(param)].push_back(param);
    };
    addParam(rotation.embedding);
    for (ParamOp norm : rotation.norms)
      addParam(norm);
    // A tied head gets its own param, lm_head.weight, starting from the
    // embedding table; the export then says tie_word_embeddings = false.
    llvm::DenseMap<Operation *, ParamOp> initialValueOf;
    if (LinearOp head = rotation.tiedHead) {
      auto shared = head.getWeight().getDefiningOp<ParamOp>();
      OpBuilder builder(shared);
      auto own = ParamOp::create(builder, shared.getLoc(), shared.getType(),
                                 builder.getStringAttr("lm_head.weight"),
                                 StringAttr(), StringAttr());
      head.getWeightMutable().assign(own);
      initialValueOf[own] = shared;
      ++numUntied;
    }
    llvm::DenseMap<Operation *, LinearOp> linearOfWeight;
    for (auto &[op, norm] : rotation.inputSide) {
      auto linear = cast<LinearOp>(op);
      linearOfWeight[linear.getWeight().getDefiningOp()] = linear;
      addParam(linear.getWeight().getDefiningOp<ParamOp>());
    }
    llvm::DenseSet<Operation *> outputWeights, outputBiases, onlineRotated;
    if (r4)
      for (LinearOp linear : rotation.outputSide) {
        Operation *producer = linear.getInput().getDefiningOp();
        if (!isa_and_nonnull<GatedActivationOp, ActivationOp>(producer))
          continue;
        onlineRotated.insert(linear.getWeight().getDefiningOp());
        OpBuilder builder(linear);
        Value rotated = HadamardOp::create(
            builder, linear.getLoc(), linear.getInput().getType(),
            linear.getInput(),
            builder.getStringAttr(linear.getName() + ".online_rotation"));
        linear.getInputMutable().assign(rotated);
        ++numOnline;
      }
    for (LinearOp linear : rotation.outputSide) {
      outputWeights.insert(linear.getWeight().getDefiningOp());
      addParam(linear.getWeight().getDefiningOp<ParamOp>());
      if (Value bias = linear.getBias()) {
        auto param = bias.getDefiningOp<ParamOp>();
        if (!param) {
          linear.emitError() << "rotation: '" << linear.getName()
                             << "' has a bias that is not a param";
          return signalPassFailure();
        }
        outputBiases.insert(param);
        addParam(param);
      }
    }

    WeightStore store(modelDir.str());
    store.setCaching(false);
    auto read = [&](ParamOp param) {
      if (ParamOp initial = initialValueOf.lookup(param))
        param = initial;
      return store.get(param.getName(), param.getFile().value_or(""));
    };
    int64_t n = rotation.hidden;
    for (auto &[unit, params] : units) {
      std::vector<ParamFileEntry> entries;
      for (ParamOp param : params) {
        llvm::Expected<Tensor> value = read(param);
        if (!value)
          return fail("'" + param.getName() +
                      "': " + llvm::toString(value.takeError()));
        Tensor rotated = value->clone();
        llvm::MutableArrayRef<float> data = rotated.floats();
        int64_t rows = rotated.shape().empty() ? 1 : rotated.dim(0);
        int64_t cols = rotated.numElements() / std::max<int64_t>(rows, 1);
        auto checkShape = [&](bool ok) {
          if (!ok)
            param.emitError() << "rotation: '" << param.getName()
                              << "' does not have the hidden size " << n
                              << " where the rotation applies";
          return ok;
        };
        if (param == rotation.embedding ||
            linearOfWeight.count(param.getOperation())) {
          if (!checkShape(cols == n))
            return signalPassFailure();
          auto linear = linearOfWeight.find(param.getOperation());
          if (linear != linearOfWeight.end()) {
            // Fold the norm's weight: W diag(g).
            llvm::Expected<Tensor> gamma =
                read(rotation.inputSide.lookup(linear->second));
            if (!gamma)
              return fail(llvm::toString(gamma.takeError()));
            if (!checkShape(gamma->numElements() == n))
              return signalPassFailure();
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t c = 0; c < n; ++c)
                data[r * n + c] *= gamma->floats()[c];
          }
          hadamard->rotateRows(data, rows);
        } else if (outputWeights.contains(param)) {
          if (!checkShape(rows == n))
            return signalPassFailure();
          hadamard->rotateColumns(data, cols);
          // R4: the input side of the MLP's down projection, W M4, with
          // the online rotation in front of it.
          if (onlineRotated.contains(param)) {
            llvm::Expected<HadamardRotation> inner =
                HadamardRotation::get(cols);
            if (!inner)
              return fail(llvm::formatv("'{0}' ({1} inputs): {2}",
                                        param.getName(), cols,
                                        llvm::toString(inner.takeError())));
            inner->rotateRows(data, rows);
          }
        } else if (outputBiases.contains(param)) {
          if (!checkShape(rotated.numElements() == n))
            return signalPassFailure();
          hadamard->rotateRows(data, 1);
        } else { // a norm's weight, now folded
          std::fill(data.begin(), data.end(), 1.0f);
        }
        entries.push_back(rewrittenParamEntry(param, rotated));
      }
      llvm::SmallString<256> path(folder);
      llvm::sys::path::append(path, unit + ".safetensors");
      if (llvm::Error error = writeParamFile(path, std::move(entries)))
        return fail(llvm::toString(std::move(error)));
      StringAttr file = StringAttr::get(module.getContext(), path);
      for (ParamOp param : params)
        param.setFileAttr(file);
      ++numUnits;
    }

    for (auto &[own, shared] : initialValueOf)
      if (shared->use_empty())
        shared->erase();

    llvm::json::Object entry{{"name", "rotation"},
                             {"r1", true},
                             {"r2", false},
                             {"r3", false},
                             {"r4", r4.getValue()},
                             {"rotation_size", nullptr},
                             {"random_r1", false},
                             {"random_r2", false},
                             {"online_r1_rotation", false},
                             {"trainable", false}};
    if (failed(recordAlgoConfig(module, std::move(entry))))
      return signalPassFailure();
  }
};
} // namespace
