//===- quark-inspect.cpp - Open, validate and summarize model files -------===//
//
// Opens what the importer opens, with the same readers, and prints what it
// found or the error that stops it:
//
//   quark-inspect DIR             config.json, checkpoint and tokenizer
//   quark-inspect FILE            a .safetensors file or index, a config.json,
//                                 a tokenizer.json / tokenizer.model, a .gguf
//   --tensors                     also list every tensor
//   --open-stats                  time and memory of opening (benchmarks)
//
// Exit status 0 when everything opened, 1 otherwise.
//
//===----------------------------------------------------------------------===//

#include "quark/Import/ModelConfig.h"
#include "quark/Support/Gguf.h"
#include "quark/Support/ReadFile.h"
#include "quark/Support/Safetensors.h"
#include "quark/Support/Tokenizer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <fstream>

using namespace mlir::quark;
namespace cl = llvm::cl;

static cl::OptionCategory category("quark-inspect options");
static cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                                      cl::desc("<model folder or file>"),
                                      cl::cat(category));
static cl::opt<bool> listTensors("tensors", cl::desc("list every tensor"),
                                 cl::cat(category));
static cl::opt<bool>
    printStats("open-stats",
               cl::desc("print open time and peak resident memory"),
               cl::cat(category));

static cl::opt<std::string> tokenizeFile(
    "tokenize",
    cl::desc("print the token ids (comma-separated) of this UTF-8 text file "
             "under the input's tokenizer (a model folder, tokenizer file or "
             "GGUF file), and nothing else"),
    cl::value_desc("text file"), cl::cat(category));
static cl::opt<bool> addSpecialTokens(
    "add-special-tokens",
    cl::desc("--tokenize: add BOS/EOS as the tokenizer's post-processor "
             "says"),
    cl::cat(category));

namespace {
/// The tokenizer of a model folder, tokenizer file or GGUF file.
llvm::Expected<std::unique_ptr<Tokenizer>> tokenizerOf(llvm::StringRef path) {
  if (llvm::sys::fs::is_directory(path))
    return Tokenizer::loadFromDirectory(path);
  if (path.ends_with(".model"))
    return Tokenizer::fromSentencePieceFile(path);
  if (path.ends_with(".gguf")) {
    llvm::Expected<std::unique_ptr<GgufFile>> file = GgufFile::open(path);
    if (!file)
      return file.takeError();
    return Tokenizer::fromGguf(**file, path);
  }
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  return Tokenizer::fromHuggingFaceJson((*buffer)->getBuffer(), path);
}

/// --tokenize: the ids of a text file, on one line.
int printTokenIds(llvm::StringRef path, llvm::StringRef textPath) {
  auto fail = [](llvm::Error error) {
    llvm::WithColor::error(llvm::errs(), "quark-inspect")
        << llvm::toString(std::move(error)) << "\n";
    return 1;
  };
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer = tokenizerOf(path);
  if (!tokenizer)
    return fail(tokenizer.takeError());
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> text = readFile(textPath);
  if (!text)
    return fail(text.takeError());
  llvm::Expected<std::vector<int32_t>> ids =
      (*tokenizer)->encode((*text)->getBuffer(), addSpecialTokens);
  if (!ids)
    return fail(ids.takeError());
  llvm::interleave(*ids, llvm::outs(), ",");
  llvm::outs() << "\n";
  return 0;
}

class Inspector {
public:
  bool failed = false;

  void error(llvm::Error err) {
    failed = true;
    llvm::WithColor::error(llvm::errs(), "quark-inspect")
        << llvm::toString(std::move(err)) << "\n";
  }

  void config(llvm::StringRef path) {
    llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
    if (!buffer)
      return error(buffer.takeError());
    llvm::Expected<ModelConfig> parsed =
        parseModelConfig((*buffer)->getBuffer(), path);
    if (!parsed)
      return error(parsed.takeError());
    llvm::outs() << "config: " << parsed->modelType << " ("
                 << parsed->architecture << "), " << parsed->numLayers
                 << " layers, hidden " << parsed->hiddenSize << ", heads "
                 << parsed->numHeads << "/" << parsed->numKVHeads
                 << ", head_dim " << parsed->headDim << ", vocab "
                 << parsed->vocabSize;
    if (parsed->isMoE())
      llvm::outs() << ", " << parsed->numExperts << " experts (top "
                   << parsed->expertsPerToken << ")";
    llvm::outs() << "\n";
  }

  void checkpoint(llvm::StringRef path) {
    auto start = std::chrono::steady_clock::now();
    llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>> opened =
        SafetensorsCheckpoint::open(path);
    openSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!opened)
      return error(opened.takeError());
    const SafetensorsCheckpoint &ckpt = **opened;
    std::vector<std::string> names = ckpt.names();
    llvm::StringMap<uint64_t> perDType;
    int64_t parameters = 0;
    for (const std::string &name : names) {
      const TensorInfo &info = *ckpt.find(name)->info;
      perDType[tensorDTypeName(info.dtype)] += 1;
      parameters += info.numElements();
    }
    llvm::outs() << "checkpoint: " << names.size() << " tensors in "
                 << ckpt.files().size() << " file(s), " << ckpt.totalBytes()
                 << " bytes, " << parameters << " parameters (";
    std::vector<std::string> dtypes;
    for (const auto &entry : perDType)
      dtypes.push_back(
          (entry.getKey() + " x" + llvm::Twine(entry.getValue())).str());
    llvm::sort(dtypes);
    llvm::outs() << llvm::join(dtypes, ", ") << ")\n";
    checkpointBytes = ckpt.totalBytes();
    if (listTensors)
      for (const std::string &name : names) {
        const TensorInfo &info = *ckpt.find(name)->info;
        llvm::outs() << "  " << name << " " << tensorDTypeName(info.dtype)
                     << " [";
        llvm::interleaveComma(info.shape, llvm::outs());
        llvm::outs() << "]\n";
      }
  }

  void tokenizer(llvm::StringRef dirOrFile) {
    llvm::Expected<std::unique_ptr<Tokenizer>> loaded = tokenizerOf(dirOrFile);
    if (!loaded)
      return error(loaded.takeError());
    llvm::outs() << "tokenizer: " << (*loaded)->describe();
    if ((*loaded)->bosId())
      llvm::outs() << ", bos " << *(*loaded)->bosId();
    if ((*loaded)->eosId())
      llvm::outs() << ", eos " << *(*loaded)->eosId();
    llvm::outs() << "\n";
  }

  void gguf(llvm::StringRef path) {
    llvm::Expected<std::unique_ptr<GgufFile>> file = GgufFile::open(path);
    if (!file)
      return error(file.takeError());
    llvm::outs() << "gguf: version " << (*file)->version() << ", "
                 << (*file)->keys().size() << " metadata keys, "
                 << (*file)->tensors().size() << " tensors\n";
    if (const GgufValue *arch = (*file)->get("general.architecture"))
      if (const std::string *name = arch->asString())
        llvm::outs() << "architecture: " << *name << "\n";
    if ((*file)->get("tokenizer.ggml.model")) {
      llvm::Expected<std::unique_ptr<Tokenizer>> vocab =
          Tokenizer::fromGguf(**file, path);
      if (!vocab)
        return error(vocab.takeError());
      llvm::outs() << "tokenizer: " << (*vocab)->describe() << "\n";
    }
    for (const GgufTensorInfo &tensor : (*file)->tensors()) {
      llvm::outs() << "  " << tensor.name << " ";
      if (isKnownGgmlType(tensor.ggmlType))
        llvm::outs() << ggmlTypeName(static_cast<GgmlType>(tensor.ggmlType));
      else
        llvm::outs() << "ggml type " << tensor.ggmlType;
      llvm::outs() << " [";
      llvm::interleaveComma(tensor.dims, llvm::outs());
      llvm::outs() << "]\n";
    }
  }

  void stats() {
    // Peak resident set from the kernel: what opening cost in memory.
    std::ifstream status("/proc/self/status");
    std::string line;
    uint64_t peakKiB = 0;
    while (std::getline(status, line))
      if (llvm::StringRef(line).starts_with("VmHWM:"))
        llvm::StringRef(line)
            .drop_front(6)
            .trim()
            .split(' ')
            .first.getAsInteger(10, peakKiB);
    llvm::outs() << llvm::format(
        "stats: open_s %.6f peak_rss_bytes %llu "
        "checkpoint_bytes %llu\n",
        openSeconds, static_cast<unsigned long long>(peakKiB * 1024),
        static_cast<unsigned long long>(checkpointBytes));
  }

private:
  double openSeconds = 0;
  uint64_t checkpointBytes = 0;
};
} // namespace

static std::string join(llvm::StringRef dir, llvm::StringRef file) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, file);
  return path.str().str();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --help lists this tool's options, not every LLVM library's.
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "quark-inspect: open and validate model files\n");
  if (!tokenizeFile.empty())
    return printTokenIds(inputPath, tokenizeFile);
  Inspector inspect;
  llvm::StringRef path = inputPath;
  llvm::StringRef name = llvm::sys::path::filename(path);
  if (llvm::sys::fs::is_directory(path)) {
    if (llvm::sys::fs::exists(join(path, "config.json")))
      inspect.config(join(path, "config.json"));
    inspect.checkpoint(path);
    if (llvm::sys::fs::exists(join(path, "tokenizer.json")) ||
        llvm::sys::fs::exists(join(path, "tokenizer.model")))
      inspect.tokenizer(path);
  } else if (!llvm::sys::fs::exists(path)) {
    inspect.error(llvm::createStringError(
        std::make_error_code(std::errc::no_such_file_or_directory),
        path + ": no such file or folder"));
  } else if (name.ends_with(".safetensors") ||
             name.ends_with(".safetensors.index.json")) {
    inspect.checkpoint(path);
  } else if (name.ends_with(".gguf")) {
    inspect.gguf(path);
  } else if (name.starts_with("tokenizer")) {
    inspect.tokenizer(path);
  } else if (name.ends_with(".json")) {
    inspect.config(path);
  } else {
    inspect.error(llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": not a model folder, .safetensors, index, config.json, "
               "tokenizer or .gguf file"));
  }
  if (printStats)
    inspect.stats();
  return inspect.failed ? 1 : 0;
}
