//===- GgufExport.cpp - GGUF export for llama.cpp -------------------------===//
//
// Like the hf_format exporter, a manifest first: every tensor's GGUF name,
// dims, ggml type and a producer of its bytes is collected from the IR and
// checked before anything is written; the writer then calls the producers
// one tensor at a time.
//
// llama.cpp's Llama graph applies RoPE to interleaved pairs (x[2i],
// x[2i+1]) where Hugging Face rotates halves (x[i], x[i + d/2]), so the
// rows of q_proj and k_proj are permuted per head as llama.cpp's converter
// does. The permutation moves whole rows: quantization blocks, which run
// along a row, move with them unchanged.
//
//===----------------------------------------------------------------------===//

#include "quark/Target/Gguf.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Import/ModelConfig.h"
#include "quark/InitAll.h"
#include "quark/Runtime/Kernels.h"
#include "quark/Runtime/WeightStore.h"
#include "quark/Support/QuantLayout.h"
#include "quark/Support/ReadFile.h"
#include "quark/Support/Tokenizer.h"
#include "quark/Target/StoredWeights.h"

#include "mlir/IR/Builders.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::quark;

namespace {

using Bytes = std::vector<uint8_t>;

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// Where a Hugging Face Llama or Mixtral tensor goes in llama.cpp's tensor
/// map: its GGUF name ("" when it has none) and, for a Mixtral expert's
/// weight, the expert's index in the stacked `ffn_*_exps` tensor.
struct GgufTensorPlace {
  std::string name;
  std::optional<int64_t> expert;
};

GgufTensorPlace ggufTensorPlace(llvm::StringRef hfName) {
  static const std::pair<llvm::StringLiteral, llvm::StringLiteral> kTop[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto &[from, to] : kTop)
    if (hfName == from)
      return {to.str(), std::nullopt};
  static const std::pair<llvm::StringLiteral, llvm::StringLiteral> kLayer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"block_sparse_moe.gate.weight", "ffn_gate_inp.weight"},
  };
  // Mixtral's experts: w1 (gate), w3 (up), w2 (down), stacked by expert.
  static const std::pair<llvm::StringLiteral, llvm::StringLiteral> kExpert[] = {
      {"w1.weight", "ffn_gate_exps.weight"},
      {"w3.weight", "ffn_up_exps.weight"},
      {"w2.weight", "ffn_down_exps.weight"},
  };
  llvm::StringRef rest = hfName;
  if (!rest.consume_front("model.layers."))
    return {};
  auto [index, suffix] = rest.split('.');
  unsigned layer;
  if (index.getAsInteger(10, layer))
    return {};
  for (const auto &[from, to] : kLayer)
    if (suffix == from)
      return {llvm::formatv("blk.{0}.{1}", layer, to).str(), std::nullopt};
  if (suffix.consume_front("block_sparse_moe.experts.")) {
    auto [expertIndex, weight] = suffix.split('.');
    unsigned expert;
    if (expertIndex.getAsInteger(10, expert))
      return {};
    for (const auto &[from, to] : kExpert)
      if (weight == from)
        return {llvm::formatv("blk.{0}.{1}", layer, to).str(),
                static_cast<int64_t>(expert)};
  }
  return {};
}

std::string ggufTensorName(llvm::StringRef hfName) {
  return ggufTensorPlace(hfName).name;
}

/// Row order llama.cpp expects for a q/k projection with `heads` heads:
/// GGUF row h*d + 2j + t holds Hugging Face row h*d + t*(d/2) + j.
std::vector<int64_t> ropeRowOrder(int64_t rows, int64_t heads) {
  int64_t headDim = rows / heads, half = headDim / 2;
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < half; ++j)
      for (int64_t t = 0; t < 2; ++t)
        order[h * headDim + 2 * j + t] = h * headDim + t * half + j;
  return order;
}

template <typename T>
std::vector<T> permuteRows(const std::vector<T> &data,
                           llvm::ArrayRef<int64_t> order) {
  if (order.empty())
    return data;
  size_t rowLength = data.size() / order.size();
  std::vector<T> out(data.size());
  for (size_t row = 0; row < order.size(); ++row)
    std::copy_n(data.begin() + order[row] * rowLength, rowLength,
                out.begin() + row * rowLength);
  return out;
}

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;
  GgmlType type;
  GgufWriter::Producer produce;
};

class GgufManifest {
public:
  GgufManifest(ModuleOp module, const ModelConfig &config, WeightStore &store,
               const GgufExportOptions &options)
      : module(module), config(config), store(store), reader(store),
        options(options) {}

  LogicalResult build() {
    if (failed(checkCheckpointExpressible(module, "GGUF")))
      return failure();
    WalkResult result = module.walk([&](LinearOp linear) {
      return failed(addLinear(linear)) ? WalkResult::interrupt()
                                       : WalkResult::advance();
    });
    if (result.wasInterrupted())
      return failure();
    // Activation quantizers left in the graph have no GGUF form.
    result = module.walk([&](FakeQuantOp op) {
      op.emitError() << "GGUF holds weight-only quantization; this quantizer "
                        "of an activation (or of the KV cache) has no GGUF "
                        "form";
      return WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      return failure();
    if (failed(forEachCheckpointParam(
            module, claimed, [&](ParamOp param) { return addFloat(param); })))
      return failure();
    if (failed(stackExperts()))
      return failure();
    // llama.cpp's own order: embeddings, blocks by index, then the output.
    auto rank = [](const GgufTensor &t) {
      llvm::StringRef name = t.name;
      if (name.starts_with("token_embd"))
        return std::make_pair(-1, std::string());
      if (name.consume_front("blk.")) {
        auto [index, rest] = name.split('.');
        int layer = 0;
        (void)index.getAsInteger(10, layer);
        return std::make_pair(layer, rest.str());
      }
      return std::make_pair(1 << 30, name.str());
    };
    llvm::sort(tensors.begin(), tensors.end(),
               [&](const GgufTensor &a, const GgufTensor &b) {
                 return rank(a) < rank(b);
               });
    return success();
  }

  std::vector<GgufTensor> tensors;

private:
  /// The row order of a weight in GGUF (empty: unchanged).
  std::vector<int64_t> rowOrder(llvm::StringRef ggufName, int64_t rows) {
    if (ggufName.ends_with(".attn_q.weight"))
      return ropeRowOrder(rows, config.numHeads);
    if (ggufName.ends_with(".attn_k.weight"))
      return ropeRowOrder(rows, config.numKVHeads);
    return {};
  }

  LogicalResult add(Operation *at, llvm::StringRef hfName,
                    llvm::ArrayRef<int64_t> shape, GgmlType type,
                    GgufWriter::Producer produce, std::string &ggufName) {
    GgufTensorPlace place = ggufTensorPlace(hfName);
    ggufName = place.name;
    if (ggufName.empty())
      return at->emitError() << "tensor '" << hfName
                             << "' has no GGUF name in llama.cpp's Llama "
                                "tensor map";
    std::vector<uint64_t> dims(shape.rbegin(), shape.rend());
    if (place.expert) {
      experts[ggufName].push_back({*place.expert, hfName.str(), std::move(dims),
                                   type, std::move(produce)});
      return success();
    }
    if (!names.insert(ggufName).second)
      return success(); // tied weights read twice
    tensors.push_back({ggufName, std::move(dims), type, std::move(produce)});
    return success();
  }

  /// llama.cpp holds a layer's experts' gate, up or down weights as one
  /// tensor [n_expert, out, in] (GGUF dims [in, out, n_expert]): each
  /// expert's bytes in turn, so every expert needs the same shape and type.
  LogicalResult stackExperts() {
    // build() puts the tensors in llama.cpp's order afterwards.
    for (auto &[name, members] : experts) {
      llvm::sort(members, [](const ExpertTensor &a, const ExpertTensor &b) {
        return a.expert < b.expert;
      });
      for (size_t i = 0; i < members.size(); ++i)
        if (members[i].expert != static_cast<int64_t>(i))
          return module.emitError()
                 << "GGUF '" << name << "': expert " << i
                 << " is missing (llama.cpp stacks experts 0.."
                 << config.numExperts - 1 << ")";
      if (static_cast<int64_t>(members.size()) != config.numExperts)
        return module.emitError()
               << "GGUF '" << name << "': " << members.size()
               << " experts, config.json's num_local_experts is "
               << config.numExperts;
      for (const ExpertTensor &member : members)
        if (member.dims != members.front().dims ||
            member.type != members.front().type)
          return module.emitError()
                 << "GGUF '" << name << "': '" << member.hfName << "' is "
                 << ggmlTypeName(member.type) << " of another shape or type "
                 << "than '" << members.front().hfName << "' ("
                 << ggmlTypeName(members.front().type)
                 << "); llama.cpp stacks experts of one shape and type";
      std::vector<uint64_t> dims = members.front().dims;
      dims.push_back(members.size());
      std::vector<GgufWriter::Producer> parts;
      for (ExpertTensor &member : members)
        parts.push_back(std::move(member.produce));
      tensors.push_back({name, std::move(dims), members.front().type,
                         [parts = std::move(parts)]() -> llvm::Expected<Bytes> {
                           Bytes stacked;
                           for (const GgufWriter::Producer &part : parts) {
                             llvm::Expected<Bytes> bytes = part();
                             if (!bytes)
                               return bytes.takeError();
                             stacked.insert(stacked.end(), bytes->begin(),
                                            bytes->end());
                           }
                           return stacked;
                         }});
    }
    return success();
  }

  LogicalResult addFloat(ParamOp param) {
    std::string hfName = param.getName().str();
    auto type = cast<RankedTensorType>(param.getType());
    llvm::SmallVector<int64_t, 4> shape(type.getShape());
    std::string ggufName = ggufTensorName(hfName);
    // Norms and the MoE router stay F32, as llama.cpp's converter keeps them.
    GgmlType ggml = shape.size() == 1 || llvm::StringRef(ggufName).ends_with(
                                             "ffn_gate_inp.weight")
                        ? GgmlType::F32
                        : options.floatType;
    std::vector<int64_t> order = shape.size() == 2
                                     ? rowOrder(ggufName, shape[0])
                                     : std::vector<int64_t>();
    WeightStore *weights = &store;
    std::string file = param.getFile().value_or("").str();
    return add(
        param, hfName, shape, ggml,
        [weights, hfName, file, ggml, order]() -> llvm::Expected<Bytes> {
          llvm::Expected<Tensor> value = weights->get(hfName, file);
          if (!value)
            return value.takeError();
          std::vector<float> floats(value->floats().begin(),
                                    value->floats().end());
          return encodeGgmlFloats(ggml, permuteRows(floats, order));
        },
        ggufName);
  }

  /// The ggml block type that holds `spec` exactly, with the smallest code.
  FailureOr<std::pair<GgmlType, int32_t>>
  blockTypeOf(const TensorQuantSpec &spec, int64_t rank, LinearOp linear) {
    int64_t axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
    bool rowGroups32 = spec.qscheme == QScheme::PerGroup &&
                       spec.groupSize == kGgmlBlockSize && axis == rank - 1;
    if (rowGroups32) {
      if (spec.dtype == QuantDType::Int8 && spec.symmetric)
        return std::make_pair(GgmlType::Q8_0, int32_t{-128});
      if (spec.dtype == QuantDType::Int4 && spec.symmetric)
        return std::make_pair(GgmlType::Q4_0, int32_t{-8});
      if (spec.dtype == QuantDType::Int4)
        return std::make_pair(GgmlType::Q4_1, int32_t{-8});
      if (spec.dtype == QuantDType::UInt4)
        return std::make_pair(GgmlType::Q4_1, int32_t{0});
    }
    return linear.emitError()
           << "layer '" << linear.getName()
           << "': GGUF blocks hold int8 symmetric (Q8_0), int4 symmetric "
              "(Q4_0) or 4-bit asymmetric (Q4_1) weights quantized per "
              "group of 32 along the input dimension; this weight's spec "
           << linear.getQuantAttr() << " is not one of them";
  }

  LogicalResult addLinear(LinearOp linear) {
    LayerSpecAttr layer = linear.getQuantAttr();
    if (!layer)
      return success(); // its float weight is a param, added with the rest
    std::string name = linear.getName().str();
    if (layer.getInputTensors() || layer.getOutputTensors() || layer.getBias())
      return linear.emitError()
             << "layer '" << name
             << "' quantizes its input, output or bias; GGUF holds "
                "weight-only quantization";
    std::optional<StoredWeightIR> stored =
        matchStoredWeight(linear.getWeight());
    if (!stored)
      return linear.emitError()
             << "layer '" << name
             << "': its weight is not stored as codes and scales (run "
                "quark-quantize-weights first; block formats have no "
                "stored form)";
    if (stored->firstStage)
      return linear.emitError()
             << "layer '" << name
             << "': a progressive (int4_fp8) weight has no GGUF type";
    claimed.insert(stored->rawCodes);
    auto weightType = cast<RankedTensorType>(linear.getWeight().getType());
    llvm::SmallVector<int64_t, 4> shape(weightType.getShape());
    Type modelFloat = weightType.getElementType();
    FailureOr<TensorQuantSpec> spec =
        getTensorQuantSpec(stored->dequantize.getSpec(), modelFloat,
                           [&] { return linear.emitError(); });
    if (failed(spec))
      return failure();
    FailureOr<std::pair<GgmlType, int32_t>> block =
        blockTypeOf(*spec, static_cast<int64_t>(shape.size()), linear);
    if (failed(block))
      return failure();
    auto [type, codeMin] = *block;
    std::string hfName = name + ".weight";
    std::vector<int64_t> order = rowOrder(ggufTensorName(hfName), shape[0]);
    StoredWeightIR ir = *stored;
    StoredWeightReader *codes = &reader;
    int64_t blocks = weightType.getNumElements() / kGgmlBlockSize;
    std::string ggufName;
    return add(
        linear, hfName, shape, type,
        [codes, ir, type = type, codeMin = codeMin, order, blocks,
         hfName]() -> llvm::Expected<Bytes> {
          llvm::Expected<std::vector<int32_t>> values = codes->codes(ir);
          if (!values)
            return values.takeError();
          llvm::Expected<std::vector<float>> scales = codes->scales(ir);
          if (!scales)
            return scales.takeError();
          llvm::Expected<std::vector<int32_t>> zeros =
              codes->zeroPoints(ir, blocks);
          if (!zeros)
            return zeros.takeError();
          llvm::Expected<Bytes> bytes = encodeGgmlBlocks(
              type, permuteRows(*values, order), permuteRows(*scales, order),
              permuteRows(*zeros, order), codeMin);
          if (!bytes)
            return makeError(hfName + ": " + llvm::toString(bytes.takeError()));
          return bytes;
        },
        ggufName);
  }

  ModuleOp module;
  const ModelConfig &config;
  WeightStore &store;
  StoredWeightReader reader;
  const GgufExportOptions &options;
  llvm::StringSet<> names;
  llvm::DenseSet<Operation *> claimed;
  struct ExpertTensor {
    int64_t expert;
    std::string hfName;
    std::vector<uint64_t> dims;
    GgmlType type;
    GgufWriter::Producer produce;
  };
  /// The experts of each stacked GGUF tensor, by its name.
  std::map<std::string, std::vector<ExpertTensor>> experts;
};

/// Llama 3's rope scaling as llama.cpp takes it: `rope_freqs.weight`, one
/// factor per frequency that it divides the frequency by (1 for short
/// wavelengths, the scaling factor for long ones, interpolated between),
/// which its converter computes from config.json. Here it is the ratio of
/// the executor's unscaled to scaled frequencies, so both run one
/// definition.
GgufTensor llama3RopeFactors(const ModelConfig &config) {
  const RopeScalingConfig &rope = *config.ropeScaling;
  kernels::RopeScaling scaling;
  scaling.llama3 = true;
  scaling.factor = rope.factor;
  scaling.lowFreqFactor = rope.lowFreqFactor;
  scaling.highFreqFactor = rope.highFreqFactor;
  scaling.originalMaxPositions =
      static_cast<double>(rope.originalMaxPositionEmbeddings);
  std::vector<float> plain = kernels::ropeInverseFrequencies(
      config.headDim, config.ropeTheta, std::nullopt);
  std::vector<float> scaled = kernels::ropeInverseFrequencies(
      config.headDim, config.ropeTheta, scaling);
  std::vector<uint8_t> bytes(plain.size() * sizeof(float));
  for (size_t i = 0; i < plain.size(); ++i) {
    float factor = plain[i] / scaled[i];
    std::memcpy(bytes.data() + i * sizeof(float), &factor, sizeof(float));
  }
  return {"rope_freqs.weight",
          {static_cast<uint64_t>(plain.size())},
          GgmlType::F32,
          [bytes]() -> llvm::Expected<std::vector<uint8_t>> { return bytes; }};
}

/// llama.cpp's general.file_type for the weights' dominant type.
uint32_t fileTypeOf(const std::map<std::string, int64_t> &counts,
                    GgmlType floatType) {
  if (counts.count("Q4_1"))
    return 3; // LLAMA_FTYPE_MOSTLY_Q4_1
  if (counts.count("Q4_0"))
    return 2; // LLAMA_FTYPE_MOSTLY_Q4_0
  if (counts.count("Q8_0"))
    return 7;                                // LLAMA_FTYPE_MOSTLY_Q8_0
  return floatType == GgmlType::F16 ? 1 : 0; // MOSTLY_F16 / ALL_F32
}

/// What llama.cpp reads as tokenizer.ggml.*, from either kind of
/// tokenizer.
struct GgufVocab {
  std::string model; // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string pre;   // gpt2: the pre-tokenizer's name
  std::vector<std::string> tokens;
  std::vector<float> scores;       // llama
  std::vector<int32_t> types;      // SentencePieceVocab::TokenType
  std::vector<std::string> merges; // gpt2
  std::optional<int32_t> bos, eos, unk, pad;
  bool addBos = true, addEos = false;
  /// llama: whether llama.cpp prepends U+2581 to the text (its default
  /// when unset).
  std::optional<bool> addSpacePrefix;
};

/// An embedding row no token of the tokenizer names, as llama.cpp's
/// converter names it.
std::string paddingToken(int64_t id) {
  return llvm::formatv("[PAD{0}]", id).str();
}

void setVocab(GgufWriter &writer, const GgufVocab &vocab) {
  auto strings = [](const std::vector<std::string> &values) {
    std::vector<GgufValue> array;
    for (const std::string &value : values)
      array.push_back(GgufValue::string(value));
    return GgufValue::array(GgufType::String, std::move(array));
  };
  writer.set("tokenizer.ggml.model", GgufValue::string(vocab.model));
  if (!vocab.pre.empty())
    writer.set("tokenizer.ggml.pre", GgufValue::string(vocab.pre));
  writer.set("tokenizer.ggml.tokens", strings(vocab.tokens));
  if (!vocab.scores.empty()) {
    std::vector<GgufValue> scores;
    for (float score : vocab.scores)
      scores.push_back(GgufValue::float32(score));
    writer.set("tokenizer.ggml.scores",
               GgufValue::array(GgufType::Float32, std::move(scores)));
  }
  std::vector<GgufValue> types;
  for (int32_t type : vocab.types)
    types.push_back(GgufValue::int32(type));
  writer.set("tokenizer.ggml.token_type",
             GgufValue::array(GgufType::Int32, std::move(types)));
  if (!vocab.merges.empty())
    writer.set("tokenizer.ggml.merges", strings(vocab.merges));
  for (auto [key, id] :
       {std::pair("tokenizer.ggml.bos_token_id", vocab.bos),
        std::pair("tokenizer.ggml.eos_token_id", vocab.eos),
        std::pair("tokenizer.ggml.unknown_token_id", vocab.unk),
        std::pair("tokenizer.ggml.padding_token_id", vocab.pad)})
    if (id)
      writer.set(key, GgufValue::uint32(static_cast<uint32_t>(*id)));
  writer.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(vocab.addBos));
  writer.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(vocab.addEos));
  if (vocab.addSpacePrefix)
    writer.set("tokenizer.ggml.add_space_prefix",
               GgufValue::boolean(*vocab.addSpacePrefix));
}

/// llama.cpp's 'llama' vocabulary: SentencePiece pieces, scores, types.
llvm::Expected<GgufVocab> sentencePieceVocab(const ModelConfig &config,
                                             llvm::StringRef spm) {
  llvm::Expected<SentencePieceVocab> pieces = readSentencePieceVocab(spm);
  if (!pieces)
    return pieces.takeError();
  if (static_cast<int64_t>(pieces->pieces.size()) > config.vocabSize)
    return makeError(
        llvm::formatv("{0}: {1} pieces, more than the model's vocab_size {2}",
                      spm, pieces->pieces.size(), config.vocabSize));
  GgufVocab vocab;
  vocab.model = "llama";
  vocab.tokens = pieces->pieces;
  vocab.scores = pieces->scores;
  vocab.types = pieces->types;
  // Embedding rows past the tokenizer's pieces (padding): user-defined
  // tokens, as llama.cpp's converter writes them.
  for (int64_t i = static_cast<int64_t>(pieces->pieces.size());
       i < config.vocabSize; ++i) {
    vocab.tokens.push_back(paddingToken(i));
    vocab.scores.push_back(-1000.0f);
    vocab.types.push_back(SentencePieceVocab::UserDefined);
  }
  auto id = [](int32_t id) {
    return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
  };
  vocab.bos = id(pieces->bosId);
  vocab.eos = id(pieces->eosId);
  vocab.unk = id(pieces->unkId);
  vocab.pad = id(pieces->padId);
  return vocab;
}

/// The vocabulary of a tokenizer.json-only model, as llama.cpp reads it:
///  * byte-level BPE (Llama 3, GPT-2 and the like): llama.cpp's 'gpt2'
///    vocabulary, as its converter writes it: the tokens by id (byte-level
///    strings as the file holds them), the merges as "a b", and the
///    pre-tokenizer by the name llama.cpp gives its regex;
///  * SentencePiece-style BPE (Llama 2's tokenizer.json: byte fallback,
///    spaces as U+2581 by a Metaspace pre-tokenizer or Prepend/Replace
///    normalizers): llama.cpp's 'llama' vocabulary. llama.cpp merges by
///    piece score, so each piece scores minus the rank of the first merge
///    that makes it, which reproduces the merge order (llama.cpp's own
///    converter writes -1000 for every piece, which does not); pieces no
///    merge makes score below every merge, <0xXX> pieces are byte tokens.
/// In both, added special tokens are control tokens, other added ones
/// user-defined, and ids without a token unused `[PADn]`.
llvm::Expected<GgufVocab> tokenizerJsonVocab(const ModelConfig &config,
                                             llvm::StringRef modelDir,
                                             llvm::StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> text = readFile(path);
  if (!text)
    return text.takeError();
  llvm::Expected<llvm::json::Value> document =
      llvm::json::parse((*text)->getBuffer());
  if (!document)
    return makeError(path + ": " + llvm::toString(document.takeError()));
  const llvm::json::Object *root = document->getAsObject();
  const llvm::json::Object *model = root ? root->getObject("model") : nullptr;
  if (!model || model->getString("type") != "BPE")
    return makeError(path + ": GGUF export writes BPE tokenizers; this "
                            "tokenizer.json's model is not BPE");

  // The pre-tokenizer and normalizers: GPT-2's ByteLevel regex, or a
  // Split regex followed by a ByteLevel step that only maps bytes (Llama
  // 3); or U+2581 for spaces, by Metaspace or by Replace (Llama 2).
  const char *metaspace = "\u2581";
  std::string pattern;
  bool byteLevel = false, gpt2Regex = false, spaceToMetaspace = false;
  std::optional<bool> spacePrefix;
  auto visit = [&](const llvm::json::Object &step) {
    llvm::StringRef type = step.getString("type").value_or("");
    if (type == "ByteLevel") {
      byteLevel = true;
      gpt2Regex = step.getBoolean("use_regex").value_or(true);
    } else if (type == "Split") {
      if (const llvm::json::Object *regex = step.getObject("pattern"))
        if (std::optional<llvm::StringRef> text = regex->getString("Regex"))
          pattern = text->str();
    } else if (type == "Metaspace") {
      spaceToMetaspace = step.getString("replacement").value_or("") ==
                         llvm::StringRef(metaspace);
      // prepend_scheme (newer) or add_prefix_space (older releases).
      if (std::optional<llvm::StringRef> scheme =
              step.getString("prepend_scheme"))
        spacePrefix = *scheme != "never";
      else
        spacePrefix = step.getBoolean("add_prefix_space").value_or(true);
    } else if (type == "Prepend") {
      if (step.getString("prepend").value_or("") == llvm::StringRef(metaspace))
        spacePrefix = true;
    } else if (type == "Replace") {
      const llvm::json::Object *from = step.getObject("pattern");
      if (from && from->getString("String").value_or("") == " " &&
          step.getString("content").value_or("") == llvm::StringRef(metaspace))
        spaceToMetaspace = true;
    }
  };
  for (const char *key : {"normalizer", "pre_tokenizer"}) {
    const llvm::json::Object *stage = root->getObject(key);
    if (!stage)
      continue;
    const llvm::json::Array *steps = stage->getArray("pretokenizers");
    if (!steps)
      steps = stage->getArray("normalizers");
    if (!steps) {
      visit(*stage);
      continue;
    }
    for (const llvm::json::Value &step : *steps)
      if (const llvm::json::Object *object = step.getAsObject())
        visit(*object);
  }
  bool sentencePiece = !byteLevel && spaceToMetaspace &&
                       model->getBoolean("byte_fallback").value_or(false);
  if (!byteLevel && !sentencePiece)
    return makeError(path + ": GGUF export writes byte-level BPE or "
                            "SentencePiece-style BPE (byte fallback, spaces "
                            "as U+2581) tokenizers from tokenizer.json; this "
                            "one is neither");

  GgufVocab vocab;
  if (byteLevel) {
    if (gpt2Regex && !pattern.empty())
      return makeError(path + ": a Split pre-tokenizer and ByteLevel's own "
                              "regex together have no llama.cpp form");
    llvm::StringRef preName = gpt2Regex
                                  ? llvm::StringRef("gpt-2")
                                  : Tokenizer::ggufPreTokenizerName(pattern);
    if (preName.empty())
      return makeError(path +
                       ": llama.cpp has no pre-tokenizer for the "
                       "split pattern '" +
                       pattern + "'");
    vocab.model = "gpt2";
    vocab.pre = preName.str();
  } else {
    vocab.model = "llama";
    vocab.addSpacePrefix = spacePrefix.value_or(false);
  }

  // Tokens by id: the vocabulary, then the added tokens.
  vocab.tokens.resize(static_cast<size_t>(config.vocabSize));
  vocab.types.assign(vocab.tokens.size(), SentencePieceVocab::Unused);
  auto place = [&](llvm::StringRef token, int64_t id,
                   int32_t type) -> llvm::Error {
    if (id < 0 || id >= config.vocabSize)
      return makeError(llvm::formatv("{0}: token '{1}' has id {2}, outside "
                                     "the model's vocab_size {3}",
                                     path, token, id, config.vocabSize));
    vocab.tokens[id] = token.str();
    vocab.types[id] = type;
    return llvm::Error::success();
  };
  const llvm::json::Object *tokens = model->getObject("vocab");
  if (!tokens)
    return makeError(path + ": the BPE model has no vocab");
  for (const auto &[token, id] : *tokens)
    if (llvm::Error error = place(token, id.getAsInteger().value_or(-1),
                                  sentencePiece && parseByteToken(token)
                                      ? SentencePieceVocab::Byte
                                      : SentencePieceVocab::Normal))
      return std::move(error);
  if (const llvm::json::Array *added = root->getArray("added_tokens"))
    for (const llvm::json::Value &entry : *added) {
      const llvm::json::Object *token = entry.getAsObject();
      if (!token)
        continue;
      bool special = token->getBoolean("special").value_or(false);
      if (llvm::Error error = place(token->getString("content").value_or(""),
                                    token->getInteger("id").value_or(-1),
                                    special ? SentencePieceVocab::Control
                                            : SentencePieceVocab::UserDefined))
        return std::move(error);
    }
  for (size_t id = 0; id < vocab.tokens.size(); ++id)
    if (vocab.types[id] == SentencePieceVocab::Unused)
      vocab.tokens[id] = paddingToken(id);

  std::vector<std::pair<std::string, std::string>> merges;
  if (const llvm::json::Array *list = model->getArray("merges"))
    for (const llvm::json::Value &merge : *list) {
      if (std::optional<llvm::StringRef> pair = merge.getAsString()) {
        auto [left, right] = pair->split(' ');
        merges.emplace_back(left.str(), right.str());
      } else if (const llvm::json::Array *parts = merge.getAsArray();
                 parts && parts->size() == 2 && (*parts)[0].getAsString() &&
                 (*parts)[1].getAsString()) {
        merges.emplace_back((*(*parts)[0].getAsString()).str(),
                            (*(*parts)[1].getAsString()).str());
      } else {
        return makeError(path + ": a merge is neither \"a b\" nor [a, b]");
      }
    }
  if (byteLevel) {
    for (const auto &[left, right] : merges)
      vocab.merges.push_back(left + " " + right);
  } else {
    llvm::StringMap<int64_t> ids;
    for (size_t id = 0; id < vocab.tokens.size(); ++id)
      ids.try_emplace(vocab.tokens[id], static_cast<int64_t>(id));
    // Byte, control, unknown and unused pieces score 0 as in SentencePiece
    // models; llama.cpp never merges into them.
    float unmerged = -static_cast<float>(merges.size()) - 1.0f;
    vocab.scores.assign(vocab.tokens.size(), 0.0f);
    std::vector<bool> made(vocab.tokens.size(), false);
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      auto it = ids.find(merges[rank].first + merges[rank].second);
      if (it == ids.end())
        return makeError(llvm::formatv(
            "{0}: merge {1} ('{2} {3}') makes a piece not in the vocab", path,
            rank, merges[rank].first, merges[rank].second));
      if (!made[it->second])
        vocab.scores[it->second] = -static_cast<float>(rank);
      made[it->second] = true;
    }
    // Multi-character pieces no merge makes: llama.cpp would merge into
    // them where tokenizer.json cannot, so only after every real merge.
    for (size_t id = 0; id < vocab.tokens.size(); ++id) {
      const std::string &token = vocab.tokens[id];
      if (!made[id] && vocab.types[id] == SentencePieceVocab::Normal &&
          !token.empty() &&
          static_cast<size_t>(llvm::getNumBytesForUTF8(token[0])) <
              token.size())
        vocab.scores[id] = unmerged;
    }
    if (std::optional<llvm::StringRef> unk = model->getString("unk_token"))
      if (auto it = ids.find(*unk); it != ids.end()) {
        vocab.unk = static_cast<int32_t>(it->second);
        vocab.types[it->second] = SentencePieceVocab::Unknown;
      }
  }

  // BOS/EOS and whether they are added, as the model folder's tokenizer
  // (tokenizer_config.json included) encodes.
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::loadFromDirectory(modelDir);
  if (!tokenizer)
    return tokenizer.takeError();
  llvm::Expected<std::vector<int32_t>> plain =
      (*tokenizer)->encode("a", /*addSpecialTokens=*/false);
  llvm::Expected<std::vector<int32_t>> special =
      (*tokenizer)->encode("a", /*addSpecialTokens=*/true);
  if (!plain)
    return plain.takeError();
  if (!special)
    return special.takeError();
  vocab.bos = (*tokenizer)->bosId();
  vocab.eos = (*tokenizer)->eosId();
  vocab.addBos = vocab.bos && !special->empty() &&
                 special->front() == *vocab.bos &&
                 (plain->empty() || plain->front() != *vocab.bos);
  vocab.addEos = vocab.eos && !special->empty() &&
                 special->back() == *vocab.eos &&
                 (plain->empty() || plain->back() != *vocab.eos);
  return vocab;
}

llvm::Error addMetadata(GgufWriter &writer, const ModelConfig &config,
                        llvm::StringRef modelDir, uint32_t fileType) {
  auto u32 = [](int64_t v) {
    return GgufValue::uint32(static_cast<uint32_t>(v));
  };
  writer.set("general.architecture", GgufValue::string("llama"));
  writer.set("general.name",
             GgufValue::string(llvm::sys::path::filename(modelDir).str()));
  writer.set("general.file_type", GgufValue::uint32(fileType));
  writer.set("general.quantization_version", GgufValue::uint32(2));
  writer.set("llama.vocab_size", u32(config.vocabSize));
  writer.set("llama.context_length", u32(config.maxPositionEmbeddings));
  writer.set("llama.embedding_length", u32(config.hiddenSize));
  writer.set("llama.block_count", u32(config.numLayers));
  writer.set("llama.feed_forward_length", u32(config.intermediateSize));
  writer.set("llama.rope.dimension_count", u32(config.headDim));
  writer.set("llama.attention.head_count", u32(config.numHeads));
  writer.set("llama.attention.head_count_kv", u32(config.numKVHeads));
  writer.set("llama.attention.key_length", u32(config.headDim));
  writer.set("llama.attention.value_length", u32(config.headDim));
  writer.set("llama.attention.layer_norm_rms_epsilon",
             GgufValue::float32(static_cast<float>(config.normEpsilon)));
  writer.set("llama.rope.freq_base",
             GgufValue::float32(static_cast<float>(config.ropeTheta)));
  if (config.isMoE()) {
    writer.set("llama.expert_count", u32(config.numExperts));
    writer.set("llama.expert_used_count", u32(config.expertsPerToken));
  }
  // Llama 3's scaling is the rope_freqs tensor instead.
  if (config.ropeScaling && config.ropeScaling->type == "linear") {
    writer.set("llama.rope.scaling.type", GgufValue::string("linear"));
    writer.set(
        "llama.rope.scaling.factor",
        GgufValue::float32(static_cast<float>(config.ropeScaling->factor)));
  }

  llvm::SmallString<256> spm(modelDir), hfJson(modelDir);
  llvm::sys::path::append(spm, "tokenizer.model");
  llvm::sys::path::append(hfJson, "tokenizer.json");
  llvm::Expected<GgufVocab> vocab =
      llvm::sys::fs::exists(spm) ? sentencePieceVocab(config, spm)
      : llvm::sys::fs::exists(hfJson)
          ? tokenizerJsonVocab(config, modelDir, hfJson)
          : llvm::Expected<GgufVocab>(makeError(
                modelDir + ": GGUF export needs the model's tokenizer: "
                           "tokenizer.model (SentencePiece) or tokenizer.json "
                           "(byte-level or SentencePiece-style BPE)"));
  if (!vocab)
    return vocab.takeError();
  setVocab(writer, *vocab);
  return llvm::Error::success();
}

} // namespace

namespace {
/// Collects and checks everything, then hands the writer to `write`.
FailureOr<GgufExportResult>
exportGgufWith(ModuleOp module, const GgufExportOptions &options,
               llvm::function_ref<llvm::Error(const GgufWriter &)> write) {
  auto modelDir = module->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return module.emitError() << "the module has no '" << kModelDirAttr << "'";
  if (options.floatType != GgmlType::F16 && options.floatType != GgmlType::F32)
    return module.emitError() << "GGUF float tensors are F16 or F32";
  llvm::Expected<ModelConfig> config = readModelConfig(modelDir.getValue());
  if (!config)
    return module.emitError() << llvm::toString(config.takeError());
  if (config->family != ModelFamily::Llama &&
      config->family != ModelFamily::Mistral &&
      config->family != ModelFamily::Mixtral)
    return module.emitError()
           << "GGUF export writes llama.cpp's 'llama' architecture "
              "(Llama, Mistral, Mixtral); this model is "
           << config->familyName();
  if (config->slidingWindow || config->qkvBias || config->oProjBias ||
      config->mlpBias)
    return module.emitError()
           << "GGUF export: sliding-window attention and linear biases are "
              "not part of llama.cpp's Llama graph";

  WeightStore store(modelDir.getValue().str());
  store.setCaching(false);
  GgufManifest manifest(module, *config, store, options);
  if (failed(manifest.build()))
    return failure();

  if (config->ropeScaling && config->ropeScaling->type == "llama3")
    manifest.tensors.insert(manifest.tensors.begin(),
                            llama3RopeFactors(*config));

  GgufExportResult result;
  for (const GgufTensor &tensor : manifest.tensors)
    if (tensor.dims.size() >= 2)
      ++result.typeCounts[ggmlTypeName(tensor.type).str()];
  result.fileType = fileTypeOf(result.typeCounts, options.floatType);
  result.tensors = static_cast<int64_t>(manifest.tensors.size());

  GgufWriter writer;
  if (llvm::Error error =
          addMetadata(writer, *config, modelDir.getValue(), result.fileType))
    return module.emitError() << llvm::toString(std::move(error));
  for (GgufTensor &tensor : manifest.tensors)
    writer.addTensor(tensor.name, tensor.dims, tensor.type,
                     std::move(tensor.produce));
  if (llvm::Error error = write(writer))
    return module.emitError()
           << "GGUF export failed: " << llvm::toString(std::move(error));
  return result;
}
} // namespace

FailureOr<GgufExportResult>
mlir::quark::exportGguf(ModuleOp module, llvm::StringRef path,
                        const GgufExportOptions &options) {
  if (!options.overwrite && llvm::sys::fs::exists(path))
    return module.emitError()
           << path << " exists; pass --overwrite to replace it";
  return exportGgufWith(module, options, [&](const GgufWriter &writer) {
    return writer.write(path);
  });
}

void mlir::quark::registerGgufExportTranslation() {
  static TranslateFromMLIRRegistration exportGgufTranslation(
      "export-gguf",
      "Write the model as a llama.cpp GGUF file: F16 floats, Q8_0 / Q4_0 / "
      "Q4_1 for weights quantized per group of 32",
      [](Operation *op, llvm::raw_ostream &os) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError() << "expected a module";
        return exportGgufWith(
            module, GgufExportOptions(),
            [&](const GgufWriter &writer) { return writer.write(os); });
      },
      [](DialectRegistry &registry) { registerAllQuarkDialects(registry); });
}
