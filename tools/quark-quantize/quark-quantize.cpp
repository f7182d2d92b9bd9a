//===- quark-quantize.cpp - The user driver -------------------------------===//
//
// Mirrors AMD Quark's quantize_quark.py: a Hugging Face model folder in; the
// quantized model (as quark IR) and evaluation results out. Flags keep
// Quark's names and defaults.
//
//   quark-quantize --model_dir models/tiny-llama --output_dir out \
//       --quant_scheme fp8 --kv_cache_dtype fp8 \
//       --tasks perplexity --eval_dataset data/sherlock-holmes.txt
//
// stdout carries the results ("perplexity (float): X", "perplexity
// (quantized): Y"; "perplexity: X" with --skip_quantization); progress and
// diagnostics go to stderr.
//
//===----------------------------------------------------------------------===//

#include "quark/Config/QuantConfig.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Import/ModelConfig.h"
#include "quark/InitAll.h"
#include "quark/Runtime/Executor.h"
#include "quark/Runtime/Kernels.h"
#include "quark/Runtime/Perplexity.h"
#include "quark/Support/AtomicFile.h"
#include "quark/Support/Progress.h"
#include "quark/Support/TextDataset.h"
#include "quark/Support/Tokenizer.h"
#include "quark/Target/Gguf.h"
#include "quark/Target/HfFormat.h"
#include "quark/Target/VllmAdopted.h"
#include "quark/Transforms/Calibration.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/WithColor.h"

#include <chrono>
#include <fstream>

using namespace mlir;
using namespace mlir::quark;

namespace cl = llvm::cl;

static cl::OptionCategory category("quark-quantize options");
// Model and output.
static cl::opt<std::string> modelDir("model_dir",
                                     cl::desc("Hugging Face model folder"),
                                     cl::cat(category));
static cl::opt<std::string>
    outputDir("output_dir", cl::desc("where the quantized model is written"),
              cl::cat(category));
// Quantization.
static cl::opt<bool> skipQuantization("skip_quantization",
                                      cl::desc("evaluate the model as it is"),
                                      cl::cat(category));
static cl::opt<std::string>
    quantScheme("quant_scheme",
                cl::desc("fp8, int4_wo_128, mxfp4, ... (see --help-list)"),
                cl::cat(category));
static cl::opt<std::string>
    configFile("config",
               cl::desc("Quark JSON quantization_config instead of a scheme"),
               cl::cat(category));
static cl::opt<int64_t>
    groupSize("group_size", cl::desc("group size of integer per-group schemes"),
              cl::init(0), cl::cat(category));
static cl::list<std::string>
    layerQuantScheme("layer_quant_scheme",
                     cl::desc("PATTERN SCHEME (repeatable)"), cl::multi_val(2),
                     cl::cat(category));
static cl::list<std::string> excludeLayers(
    "exclude_layers",
    cl::desc("exclusion patterns replacing the template's (comma-separated "
             "or repeated; --exclude_layers= excludes nothing)"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> kvCacheDtype("kv_cache_dtype",
                                         cl::desc("fp8: quantize the KV cache"),
                                         cl::cat(category));
static cl::opt<double> minKvScale("min_kv_scale",
                                  cl::desc("lower bound of the KV scale"),
                                  cl::init(0.0), cl::cat(category));
static cl::opt<std::string>
    attentionDtype("attention_dtype",
                   cl::desc("fp8: quantize q and the attention softmax"),
                   cl::cat(category));
static cl::opt<std::string> moeSecondStep(
    "moe_experts_second_step_config",
    cl::desc("second weight stage of MoE expert layers (a scheme)"),
    cl::cat(category));
static cl::opt<std::string> sharedScaleGroups(
    "shared_scale_groups",
    cl::desc("layers whose weights share one per-tensor scale within a "
             "module, ';' between groups (e.g. "
             "\"q_proj,k_proj,v_proj;gate_proj,up_proj\", the default for "
             "NVFP4 weights); none: every weight keeps its own"),
    cl::init("auto"), cl::cat(category));
// Export.
static cl::list<std::string> modelExport(
    "model_export",
    cl::desc("write the quantized model in this format: hf_format, "
             "gguf, onnx or vllm_adopted_safetensors (repeatable; output "
             "goes to --output_dir: model.gguf, model.onnx + "
             "model.onnx.data, <model_type>.json + <model_type>.safetensors "
             "+ fp8fnuz_config.json)"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> exportWeightFormat(
    "export_weight_format",
    cl::desc("real_quantized (codes and scales) or fake_quantized "
             "(dequantized weights)"),
    cl::init("real_quantized"), cl::cat(category));
static cl::opt<std::string>
    packMethod("pack_method",
               cl::desc("int4 nibble order of the export: reorder or order"),
               cl::init("reorder"), cl::cat(category));
static cl::opt<std::string>
    customMode("custom_mode",
               cl::desc("quark, or awq (AutoAWQ qweight/qzeros/scales)"),
               cl::init("quark"), cl::cat(category));
static cl::opt<std::string>
    maxShardSize("max_shard_size",
                 cl::desc("largest safetensors shard of the export"),
                 cl::init("5GB"), cl::cat(category));
static cl::opt<bool> keepInputShards(
    "keep_input_shards",
    cl::desc("write the export in the input checkpoint's shards (same file "
             "names, each tensor beside its source) instead of shards of at "
             "most --max_shard_size"),
    cl::cat(category));
static cl::opt<bool> noWeightMatrixMerge(
    "no_weight_matrix_merge",
    cl::desc("vllm_adopted_safetensors: keep gate_proj's and up_proj's own "
             "weight scales instead of sharing the larger"),
    cl::cat(category));
static cl::opt<bool> overwrite("overwrite",
                               cl::desc("replace a non-empty --output_dir"),
                               cl::cat(category));
// Reload.
static cl::opt<bool>
    modelReload("model_reload",
                cl::desc("evaluate an exported quantized checkpoint "
                         "(--import_model_dir) instead of quantizing"),
                cl::cat(category));
static cl::opt<std::string>
    importModelDir("import_model_dir",
                   cl::desc("the hf_format folder --model_reload reads"),
                   cl::cat(category));
// Calibration.
static cl::opt<std::string>
    calibDataset("dataset",
                 cl::desc("calibration text: a UTF-8 .txt file, a .jsonl file "
                          "of {\"text\": ...} records, or a folder of them "
                          "(default: the bundled data/tom-sawyer.txt)"),
                 cl::cat(category));
static cl::opt<int64_t> numCalibData("num_calib_data",
                                     cl::desc("calibration windows"),
                                     cl::init(512), cl::cat(category));
static cl::opt<int64_t> seqLen("seq_len", cl::desc("window length in tokens"),
                               cl::init(512), cl::cat(category));
static cl::opt<int64_t> batchSize("batch_size",
                                  cl::desc("calibration windows per pass"),
                                  cl::init(1), cl::cat(category));
// Algorithms.
static cl::list<std::string> quantAlgo(
    "quant_algo",
    cl::desc("algorithms applied before calibration, in the order "
             "given, comma-separated: rotation, smoothquant, autosmoothquant, "
             "awq, gptq"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<double> smoothAlpha("smooth_alpha",
                                   cl::desc("SmoothQuant's alpha"),
                                   cl::init(0.5), cl::cat(category));
static cl::opt<bool> rotationR4(
    "rotation_r4",
    cl::desc("rotation: also rotate down_proj's input online (QuaRot's R4; "
             "the result cannot be exported to hf_format or GGUF)"),
    cl::cat(category));
static cl::opt<std::string> algoCheckpointDir(
    "algo_checkpoint_dir",
    cl::desc("per-layer results of --quant_algo (default: OUTPUT_DIR.algo); "
             "removed after a successful export"),
    cl::cat(category));
static cl::opt<bool>
    resumeAlgo("resume",
               cl::desc("continue an interrupted --quant_algo run from its "
                        "checkpoint folder"),
               cl::cat(category));
// Evaluation.
static cl::list<std::string>
    tasks("tasks", cl::desc("evaluation tasks, comma-separated: perplexity"),
          cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string>
    evalDataset("eval_dataset",
                cl::desc("perplexity text: a UTF-8 .txt file, a .jsonl file of "
                         "{\"text\": ...} records, or a folder of them"),
                cl::cat(category));
static cl::opt<bool> skipEvaluation("skip_evaluation",
                                    cl::desc("do not evaluate"),
                                    cl::cat(category));
static cl::opt<int64_t>
    numEvalData("num_eval_data",
                cl::desc("evaluate only the first N windows (0: all)"),
                cl::init(0), cl::cat(category));
static cl::opt<int64_t> evalBatchSize("eval_batch_size",
                                      cl::desc("windows per forward pass"),
                                      cl::init(1), cl::cat(category));
// Reporting and resources.
static cl::opt<std::string>
    reportJson("report-json",
               cl::desc("write the results as JSON to this file"),
               cl::cat(category));
static cl::opt<int> numThreads("num-threads",
                               cl::desc("CPU threads (0: all cores)"),
                               cl::init(0), cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "quark-quantize") << message << "\n";
  return 1;
}

namespace {
using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Peak resident memory of this process, from the kernel.
uint64_t peakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  uint64_t kib = 0;
  while (std::getline(status, line))
    if (llvm::StringRef(line).starts_with("VmHWM:"))
      (void)llvm::StringRef(line)
          .drop_front(6)
          .trim()
          .split(' ')
          .first.getAsInteger(10, kib);
  return kib * 1024;
}

/// The tokens a task evaluates, shared by the float and quantized runs.
struct EvalText {
  std::vector<std::string> files;
  std::vector<int32_t> ids;
  std::string tokenizer;
  size_t bytes = 0;
};

llvm::Expected<EvalText> tokenizeEvalText(const std::string &sourceDir) {
  EvalText text;
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::loadFromDirectory(sourceDir);
  if (!tokenizer)
    return tokenizer.takeError();
  llvm::Expected<TextDataset> dataset = readTextDataset(evalDataset);
  if (!dataset)
    return dataset.takeError();
  llvm::Expected<std::vector<int32_t>> ids =
      (*tokenizer)->encode(dataset->text, /*addSpecialTokens=*/true);
  if (!ids)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   evalDataset + ": " +
                                       llvm::toString(ids.takeError()));
  text.files = dataset->files;
  text.ids = std::move(*ids);
  text.tokenizer = (*tokenizer)->describe();
  text.bytes = dataset->text.size();
  return text;
}

llvm::Expected<PerplexityResult> evaluate(ModuleOp module, const EvalText &text,
                                          llvm::StringRef label) {
  auto forward = module.lookupSymbol<func::FuncOp>(kForwardFunction);
  WeightStore weights(
      module->getAttrOfType<StringAttr>(kModelDirAttr).getValue().str());
  Executor executor(weights);
  PerplexityOptions options;
  options.seqLen = seqLen;
  if (numEvalData > 0)
    options.maxWindows = numEvalData;
  options.batchSize = evalBatchSize;
  int64_t windows = static_cast<int64_t>(text.ids.size()) / seqLen;
  if (options.maxWindows)
    windows = std::min(windows, *options.maxWindows);
  ProgressBar progress(label, windows, "windows");
  options.progress = [&](int64_t done, int64_t) { progress.update(done); };
  llvm::Expected<PerplexityResult> result =
      evaluatePerplexity(executor, forward, text.ids, options);
  progress.finish();
  return result;
}

/// Removes a working folder when main returns, however it returns.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    if (!path.empty())
      (void)llvm::sys::fs::remove_directories(path);
  }
};

/// The calibration text: --dataset, or the bundled one next to the sources
/// of this build.
std::string calibrationText() {
  return calibDataset.empty()
             ? std::string(QUARK_SOURCE_DIR) + "/data/tom-sawyer.txt"
             : calibDataset.getValue();
}

/// The calibration settings every --quant_algo pass shares.
template <typename Options>
void setAlgorithmOptions(Options &options, const std::string &checkpoint) {
  options.dataset = calibrationText();
  options.seqLen = seqLen;
  options.numCalibData = numCalibData;
  options.batchSize = batchSize;
  options.checkpointDir = checkpoint;
  options.resume = resumeAlgo;
  options.overwrite = overwrite;
}

/// --quant_algo's names, and the pass each adds.
constexpr llvm::StringLiteral kAlgorithms[] = {
    "rotation", "smoothquant", "autosmoothquant", "awq", "gptq"};

void addAlgorithmPass(PassManager &pm, llvm::StringRef name,
                      const std::string &checkpoint) {
  if (name == "rotation") {
    QuarkRotateOptions options;
    options.r4 = rotationR4;
    options.checkpointDir = checkpoint;
    pm.addPass(createQuarkRotate(options));
  } else if (name == "smoothquant") {
    QuarkSmoothQuantOptions options;
    options.alpha = smoothAlpha;
    setAlgorithmOptions(options, checkpoint);
    pm.addPass(createQuarkSmoothQuant(options));
  } else if (name == "autosmoothquant") {
    QuarkAutoSmoothQuantOptions options;
    setAlgorithmOptions(options, checkpoint);
    pm.addPass(createQuarkAutoSmoothQuant(options));
  } else if (name == "awq") {
    QuarkAwqOptions options;
    setAlgorithmOptions(options, checkpoint);
    pm.addPass(createQuarkAwq(options));
  } else if (name == "gptq") {
    QuarkGptqOptions options;
    setAlgorithmOptions(options, checkpoint);
    pm.addPass(createQuarkGptq(options));
  }
}

/// What each quantized layer got: for the report.
llvm::json::Array layerSummary(ModuleOp module) {
  llvm::json::Array layers;
  auto describe = [](Attribute field) -> llvm::json::Value {
    if (!field)
      return nullptr;
    auto text = [](TensorSpecAttr spec) {
      std::string out = stringifyDtype(spec.getDtype()).str();
      if (spec.getQscheme())
        out += " " + stringifyQSchemeType(*spec.getQscheme()).str();
      if (spec.getGroupSize() && spec.getQscheme() == QSchemeType::per_group)
        out += " g" + std::to_string(*spec.getGroupSize());
      if (spec.getIsDynamic())
        out += *spec.getIsDynamic() ? " dynamic" : " static";
      return out;
    };
    if (auto spec = dyn_cast<TensorSpecAttr>(field))
      return text(spec);
    auto twoStage = cast<TwoStageSpecAttr>(field);
    return text(twoStage.getFirst()) + " -> " + text(twoStage.getSecond());
  };
  // Calibrated activation scales are constants in front of the layer.
  auto activationScale = [](Value value) -> llvm::json::Value {
    auto fakeQuant = value.getDefiningOp<FakeQuantOp>();
    DenseElementsAttr scale;
    if (fakeQuant && fakeQuant.getScale() &&
        matchPattern(fakeQuant.getScale(), m_Constant(&scale)) &&
        scale.getNumElements() == 1)
      return static_cast<double>(*scale.getValues<float>().begin());
    return nullptr;
  };
  module.walk([&](LinearOp linear) {
    LayerSpecAttr layer = linear.getQuantAttr();
    if (!layer)
      return;
    Value output = linear.getResult();
    if (output.hasOneUse())
      if (auto user = dyn_cast<FakeQuantOp>(*output.getUsers().begin()))
        output = user.getResult();
    layers.push_back(llvm::json::Object{
        {"name", linear.getName()},
        {"weight", describe(layer.getWeight())},
        {"input", describe(layer.getInputTensors())},
        {"output", describe(layer.getOutputTensors())},
        {"input_scale", activationScale(linear.getInput())},
        {"output_scale", activationScale(output)},
    });
  });
  return layers;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "quark-quantize: quantize and evaluate a Hugging Face model\n");
  auto totalStart = Clock::now();
  RemoveOnExit workDirGuard;

  // Flags first: nothing runs on a command line that cannot succeed.
  bool quantize = !skipQuantization && !modelReload;
  if (modelReload && importModelDir.empty())
    return fail("--model_reload needs --import_model_dir DIR (an exported "
                "hf_format folder)");
  if (!modelReload && modelDir.empty())
    return fail("--model_dir is required");
  if (modelReload && (!quantScheme.empty() || !configFile.empty()))
    return fail("--model_reload evaluates a quantized checkpoint as it is; "
                "drop --quant_scheme / --config");
  HfExportOptions exportOptions;
  bool exportHf = false, exportGgufFile = false, exportOnnxFiles = false,
       exportVllmAdoptedFiles = false;
  for (const std::string &format : modelExport) {
    if (format == "hf_format")
      exportHf = true;
    else if (format == "vllm_adopted_safetensors")
      exportVllmAdoptedFiles = true;
    else if (format == "gguf")
      exportGgufFile = true;
#ifdef QUARK_HAVE_ONNX_EXPORT
    else if (format == "onnx")
      exportOnnxFiles = true;
#else
    else if (format == "onnx")
      return fail("--model_export onnx: this build has no ONNX support "
                  "(configured with QUARK_ENABLE_ONNX=OFF)");
#endif
    else
      return fail("unknown --model_export '" + format +
                  "' (hf_format, onnx, gguf, vllm_adopted_safetensors)");
  }
  if (noWeightMatrixMerge && !exportVllmAdoptedFiles)
    return fail("--no_weight_matrix_merge applies to --model_export "
                "vllm_adopted_safetensors");
  if (!modelExport.empty() && !quantize)
    return fail("--model_export needs a quantized model (a --quant_scheme "
                "or --config)");
  for (const std::string &name : quantAlgo)
    if (!llvm::is_contained(kAlgorithms, name))
      return fail(
          "--quant_algo '" + name + "': supported algorithms are " +
          llvm::join(llvm::ArrayRef<llvm::StringLiteral>(kAlgorithms), ", "));
  if (!quantAlgo.empty() && !quantize)
    return fail("--quant_algo needs a quantized model (a --quant_scheme or "
                "--config)");
  std::string algoCheckpoint = algoCheckpointDir.empty()
                                   ? outputDir + ".algo"
                                   : algoCheckpointDir.getValue();
  // The GGUF and ONNX files go into the output folder (beside an hf_format
  // export, which replaces the folder whole). Checked before quantizing.
  llvm::SmallString<256> ggufPath(outputDir.getValue());
  llvm::sys::path::append(ggufPath, "model.gguf");
  llvm::SmallString<256> onnxPath(outputDir.getValue());
  llvm::sys::path::append(onnxPath, "model.onnx");
  if (!exportHf && !overwrite)
    for (auto [wanted, path] : {std::make_pair(exportGgufFile, &ggufPath),
                                std::make_pair(exportOnnxFiles, &onnxPath)})
      if (wanted && llvm::sys::fs::exists(*path))
        return fail(*path + " exists; pass --overwrite to replace it");
  if (exportVllmAdoptedFiles && !exportHf && !overwrite) {
    llvm::Expected<ModelConfig> config = readModelConfig(modelDir);
    if (!config)
      return fail(llvm::toString(config.takeError()));
    for (const std::string &file :
         vllmAdoptedFileNames(config->modelType, /*fp8=*/true)) {
      llvm::SmallString<256> path(outputDir.getValue());
      llvm::sys::path::append(path, file);
      if (llvm::sys::fs::exists(path))
        return fail(path + " exists; pass --overwrite to replace it");
    }
  }
  if (exportHf) {
    if (exportWeightFormat != "real_quantized" &&
        exportWeightFormat != "fake_quantized")
      return fail("--export_weight_format must be real_quantized or "
                  "fake_quantized");
    exportOptions.fakeQuantized = exportWeightFormat == "fake_quantized";
    std::optional<Int4PackOrder> order = parseInt4PackOrder(packMethod);
    if (!order)
      return fail("--pack_method must be reorder or order");
    exportOptions.packOrder = *order;
    if (customMode == "awq")
      exportOptions.customMode = HfCustomMode::Awq;
    else if (customMode == "fp8")
      return fail("--custom_mode fp8 is deprecated in Quark (to be removed "
                  "in 1.0) and not supported; quark mode writes the same "
                  "FP8 checkpoints");
    else if (customMode != "quark")
      return fail("--custom_mode must be quark or awq");
    std::optional<uint64_t> shardBytes = parseShardSize(maxShardSize);
    if (!shardBytes)
      return fail("--max_shard_size '" + maxShardSize +
                  "': expected a size such as 5GB, 500MB or 2GiB");
    exportOptions.maxShardBytes = *shardBytes;
    exportOptions.keepInputShards = keepInputShards;
    if (keepInputShards && maxShardSize.getNumOccurrences())
      return fail("give --keep_input_shards or --max_shard_size, not both");
    exportOptions.overwrite = overwrite;
    exportOptions.outputDir = outputDir;
    if (!outputDir.empty())
      if (llvm::Error error = checkHfExportTarget(modelDir, exportOptions))
        return fail(llvm::toString(std::move(error)));
  }
  if (quantize && !quantScheme.empty() && !configFile.empty())
    return fail("give --quant_scheme or --config, not both (a --config file "
                "is a whole quantization_config)");
  if (quantize && quantScheme.empty() && configFile.empty())
    return fail("give --quant_scheme SCHEME or --config FILE (or "
                "--skip_quantization to evaluate the model as it is)");
  if (quantize && outputDir.empty())
    return fail("--output_dir is required when quantizing");
  bool perplexity = false;
  for (const std::string &task : tasks) {
    if (task != "perplexity")
      return fail("unknown task '" + task + "' (supported: perplexity)");
    perplexity = true;
  }
  if (skipEvaluation)
    perplexity = false;
  if (!quantize && !perplexity)
    return fail("nothing to do: give --tasks perplexity");
  // The model the evaluated tokens come from.
  std::string sourceDir = modelReload ? importModelDir : modelDir;
  if (perplexity && evalDataset.empty())
    return fail("--tasks perplexity needs --eval_dataset FILE_OR_DIR");
  if (seqLen < 2 || numCalibData < 1 || batchSize < 1 || numEvalData < 0 ||
      evalBatchSize < 1)
    return fail("--seq_len must be >= 2; --num_calib_data, --batch_size and "
                "--eval_batch_size >= 1; --num_eval_data >= 0");
  kernels::setNumThreads(numThreads);

  DialectRegistry registry;
  registerAllQuarkDialects(registry);
  MLIRContext context(registry);
  // Warnings too (MLIR's default handler prints only errors): calibration
  // warns about observers no data reached.
  ScopedDiagnosticHandler diagnostics(&context, [](Diagnostic &diag) {
    llvm::raw_ostream &os = llvm::errs();
    os << diag.getLocation() << ": ";
    switch (diag.getSeverity()) {
    case DiagnosticSeverity::Error:
      os << "error: ";
      break;
    case DiagnosticSeverity::Warning:
      os << "warning: ";
      break;
    case DiagnosticSeverity::Note:
      os << "note: ";
      break;
    case DiagnosticSeverity::Remark:
      os << "remark: ";
      break;
    }
    os << diag << "\n";
    // The pass manager's "see current operation" note would print the
    // whole model.
    for (const Diagnostic &note : diag.getNotes())
      if (!llvm::StringRef(note.str()).starts_with("see current operation"))
        os << note.getLocation() << ": note: " << note << "\n";
    return success();
  });
  llvm::json::Object timings;
  auto importStart = Clock::now();
  auto importModel = [&]() {
    if (modelReload)
      return importQuantizedHfModel(
          &context, importModelDir,
          FileLineColLoc::get(&context, importModelDir, 0, 0));
    return importHuggingFaceModel(
        &context, modelDir, FileLineColLoc::get(&context, modelDir, 0, 0));
  };
  FailureOr<OwningOpRef<ModuleOp>> floatModule = importModel();
  if (failed(floatModule))
    return 1;
  timings["import_s"] = secondsSince(importStart);

  std::optional<EvalText> evalText;
  if (perplexity) {
    auto start = Clock::now();
    llvm::Expected<EvalText> text = tokenizeEvalText(sourceDir);
    if (!text)
      return fail(llvm::toString(text.takeError()));
    evalText = std::move(*text);
    timings["tokenize_s"] = secondsSince(start);
    llvm::errs() << "quark-quantize: " << sourceDir << ": "
                 << evalText->tokenizer << "; " << evalDataset << ": "
                 << evalText->bytes << " bytes, " << evalText->ids.size()
                 << " tokens\n";
  }

  llvm::json::Object report{{"model", sourceDir}};
  report["model_type"] =
      (**floatModule)->getAttrOfType<StringAttr>(kModelTypeAttr).getValue();

  // Quantize a second copy: the float model is evaluated as imported.
  OwningOpRef<ModuleOp> quantized;
  if (quantize) {
    FailureOr<OwningOpRef<ModuleOp>> copy = importModel();
    if (failed(copy))
      return 1;
    quantized = std::move(*copy);
    PassManager configure(&context);
    QuarkAttachConfigOptions attach;
    attach.quantScheme = quantScheme;
    attach.configFile = configFile;
    attach.groupSize = groupSize;
    for (size_t i = 0; i + 1 < layerQuantScheme.size(); i += 2)
      attach.layerQuantScheme.push_back(layerQuantScheme[i] + "=" +
                                        layerQuantScheme[i + 1]);
    if (excludeLayers.getNumOccurrences()) {
      attach.overrideExclusions = true;
      for (const std::string &pattern : excludeLayers)
        if (!pattern.empty())
          attach.excludeLayers.push_back(pattern);
    }
    attach.kvCacheDtype = kvCacheDtype;
    attach.minKvScale = minKvScale;
    attach.attentionDtype = attentionDtype;
    attach.moeExpertsSecondStep = moeSecondStep;
    configure.addPass(createQuarkAttachConfig(attach));
    configure.addPass(createQuarkApplyConfig());
    auto start = Clock::now();
    if (failed(configure.run(*quantized)))
      return 1;
    timings["configure_s"] = secondsSince(start);

    // Algorithms rewrite the float weights before activations are
    // calibrated, as Quark applies them.
    if (!quantAlgo.empty()) {
      PassManager algorithms(&context);
      for (const std::string &name : quantAlgo)
        addAlgorithmPass(algorithms, name, algoCheckpoint);
      start = Clock::now();
      if (failed(algorithms.run(*quantized)))
        return 1;
      timings["algorithms_s"] = secondsSince(start);
      llvm::errs() << "quark-quantize: applied " << quantAlgo.size()
                   << " algorithm(s); per-layer results in " << algoCheckpoint
                   << "\n";
    }
    PassManager observe(&context);
    observe.addPass(createQuarkInsertObservers());
    if (failed(observe.run(*quantized)))
      return 1;

    CalibrationOptions calibration;
    calibration.dataset = calibrationText();
    calibration.seqLen = seqLen;
    calibration.numCalibData = numCalibData;
    calibration.batchSize = batchSize;
    start = Clock::now();
    FailureOr<CalibrationReport> calibrated =
        calibrateModule(*quantized, calibration);
    if (failed(calibrated))
      return 1;
    if (calibrated->observers > 0) {
      timings["calibrate_s"] = secondsSince(start);
      report["calibration"] = llvm::json::Object{
          {"dataset", calibration.dataset},
          {"observers", calibrated->observers},
          {"windows", calibrated->windows},
          {"seq_len", calibration.seqLen},
          {"tokens", calibrated->tokens},
          {"tokenize_s", calibrated->tokenizeSeconds},
          {"forward_s", calibrated->forwardSeconds},
          {"observe_s", calibrated->observeSeconds},
      };
      llvm::errs() << "quark-quantize: calibrated " << calibrated->observers
                   << " observers on " << calibrated->windows << " windows of "
                   << calibration.seqLen << " tokens\n";
    }

    PassManager freeze(&context);
    freeze.addPass(createQuarkFreeze());
    start = Clock::now();
    if (failed(freeze.run(*quantized)))
      return 1;
    timings["freeze_s"] = secondsSince(start);

    // Quark's shared_scale_groups: by default q/k/v and gate/up share the
    // global scale of NVFP4 weights (vLLM fuses them and loads one).
    std::string shareGroups = sharedScaleGroups;
    if (shareGroups == "auto") {
      bool scaleQuantizedWeights = false;
      (*quantized)->walk([&](TwoStageFakeQuantOp op) {
        if (op.getSpec().quantizesScales() &&
            op.getInput().getDefiningOp<ParamOp>())
          scaleQuantizedWeights = true;
      });
      shareGroups = scaleQuantizedWeights
                        ? "q_proj,k_proj,v_proj;gate_proj,up_proj"
                        : "none";
    }
    if (shareGroups != "none" && !shareGroups.empty()) {
      PassManager share(&context);
      QuarkShareWeightScalesOptions shareOptions;
      shareOptions.groups = shareGroups;
      share.addPass(createQuarkShareWeightScales(shareOptions));
      start = Clock::now();
      if (failed(share.run(*quantized)))
        return 1;
      timings["share_scales_s"] = secondsSince(start);
      report["shared_scale_groups"] = shareGroups;
    }

    // Real quantization: weights become codes and scales in the output
    // folder, streamed one tensor at a time. An export gets the output
    // folder to itself: the working files go to a folder beside it, removed
    // at exit.
    std::string artifactsDir = outputDir;
    if (exportHf || exportGgufFile || exportOnnxFiles ||
        exportVllmAdoptedFiles) {
      // Absolute: createUniqueDirectory puts a relative prefix under the
      // system's temporary folder.
      llvm::SmallString<256> target(outputDir);
      llvm::sys::fs::make_absolute(target);
      llvm::SmallString<256> work;
      llvm::SmallString<256> parent = llvm::sys::path::parent_path(target);
      if (!parent.empty())
        if (std::error_code ec = llvm::sys::fs::create_directories(parent))
          return fail(parent + ": cannot create: " + ec.message());
      if (std::error_code ec =
              llvm::sys::fs::createUniqueDirectory(target + ".work", work))
        return fail(outputDir +
                    ": cannot create a working folder: " + ec.message());
      artifactsDir = work.str().str();
      workDirGuard.path = artifactsDir;
    } else if (std::error_code ec =
                   llvm::sys::fs::create_directories(outputDir)) {
      return fail(outputDir + ": cannot create: " + ec.message());
    }
    llvm::SmallString<256> weightsPath(artifactsDir);
    llvm::sys::path::append(weightsPath, "quantized-weights.safetensors");
    PassManager store(&context);
    QuarkQuantizeWeightsOptions storeOptions;
    storeOptions.outputFile = weightsPath.str().str();
    store.addPass(createQuarkQuantizeWeights(storeOptions));
    start = Clock::now();
    if (failed(store.run(*quantized)))
      return 1;
    timings["quantize_weights_s"] = secondsSince(start);

    // The quantized model: its IR (float weights stay referenced in the
    // model folder) and Quark's JSON configuration. An export's working
    // folder is removed at exit, so they are written only without one (the
    // export holds the configuration in config.json). The ONNX exporter,
    // a process of its own, reads the IR.
    llvm::SmallString<256> irPath(artifactsDir);
    llvm::sys::path::append(irPath, "model.mlir");
    if (exportOnnxFiles ||
        (!exportHf && !exportGgufFile && !exportVllmAdoptedFiles)) {
      std::string ir;
      llvm::raw_string_ostream irStream(ir);
      (*quantized)->print(irStream);
      if (llvm::Error error = writeFileAtomically(irPath, ir))
        return fail(llvm::toString(std::move(error)));
    }
    auto configAttr =
        (*quantized)->getAttrOfType<DictionaryAttr>(kQuantConfigAttr);
    FailureOr<QuantConfig> config = QuantConfig::fromAttr(
        configAttr, [&] { return (*quantized).emitError(); });
    if (failed(config))
      return 1;
    FailureOr<llvm::json::Value> configJson =
        config->toJson([&] { return (*quantized).emitError(); });
    if (failed(configJson))
      return 1;
    if (!exportHf && !exportGgufFile && !exportOnnxFiles &&
        !exportVllmAdoptedFiles) {
      llvm::SmallString<256> configPath(artifactsDir);
      llvm::sys::path::append(configPath, "quantization_config.json");
      std::string configText;
      llvm::raw_string_ostream configStream(configText);
      configStream << llvm::formatv("{0:2}", *configJson) << "\n";
      if (llvm::Error error = writeFileAtomically(configPath, configText))
        return fail(llvm::toString(std::move(error)));
    }
    if (exportHf) {
      start = Clock::now();
      FailureOr<HfExportResult> exported =
          exportHfFormat(*quantized, exportOptions);
      if (failed(exported))
        return 1;
      timings["export_s"] = secondsSince(start);
      llvm::errs() << "quark-quantize: exported hf_format to " << outputDir
                   << ": " << exported->tensors << " tensors, "
                   << exported->shards.size() << " shard(s), "
                   << exported->tensorBytes << " bytes\n";
      llvm::json::Array findings;
      for (const HfCheckFinding &finding : checkHfFormat(outputDir)) {
        llvm::errs() << "quark-quantize: check-export: " << finding.severity
                     << ": " << finding.message << "\n";
        findings.push_back(llvm::json::Object{{"severity", finding.severity},
                                              {"message", finding.message}});
      }
      llvm::json::Array shards;
      for (const std::string &shard : exported->shards)
        shards.push_back(shard);
      report["export"] = llvm::json::Object{
          {"format", "hf_format"},
          {"dir", outputDir.getValue()},
          {"shards", std::move(shards)},
          {"tensors", exported->tensors},
          {"tensor_bytes", static_cast<int64_t>(exported->tensorBytes)},
          {"check", std::move(findings)},
      };
    }
    if (exportGgufFile) {
      start = Clock::now();
      if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
        return fail(outputDir + ": cannot create: " + ec.message());
      GgufExportOptions ggufOptions;
      // An hf_format export just replaced the folder (with --overwrite
      // where needed).
      ggufOptions.overwrite = overwrite || exportHf;
      FailureOr<GgufExportResult> exported =
          exportGguf(*quantized, ggufPath, ggufOptions);
      if (failed(exported))
        return 1;
      timings["export_gguf_s"] = secondsSince(start);
      llvm::json::Object types;
      std::string typeText;
      for (const auto &[type, count] : exported->typeCounts) {
        types[type] = count;
        typeText += (typeText.empty() ? "" : ", ") + type + " x" +
                    std::to_string(count);
      }
      llvm::errs() << "quark-quantize: exported gguf to " << ggufPath << ": "
                   << exported->tensors << " tensors (matrices: " << typeText
                   << ")\n";
      report["export_gguf"] = llvm::json::Object{
          {"file", ggufPath.str()},
          {"tensors", exported->tensors},
          {"matrix_types", std::move(types)},
          {"file_type", static_cast<int64_t>(exported->fileType)},
      };
    }
    if (exportVllmAdoptedFiles) {
      start = Clock::now();
      VllmAdoptedExportOptions legacyOptions;
      legacyOptions.outputDir = outputDir;
      legacyOptions.mergeGateUp = !noWeightMatrixMerge;
      // An hf_format export just replaced the folder (with --overwrite
      // where needed).
      legacyOptions.overwrite = overwrite || exportHf;
      FailureOr<VllmAdoptedExportResult> exported =
          exportVllmAdopted(*quantized, legacyOptions);
      if (failed(exported))
        return 1;
      timings["export_vllm_adopted_s"] = secondsSince(start);
      llvm::errs() << "quark-quantize: exported vllm_adopted_safetensors ("
                   << (exported->quantization.empty() ? "float"
                                                      : exported->quantization)
                   << ") to " << outputDir << ": " << exported->tensors
                   << " tensors, " << exported->requantizedWeights
                   << " weight(s) quantized at a shared scale ("
                   << exported->requantizedFromCodes
                   << " from their stored codes)\n";
      llvm::json::Array files;
      for (const std::string &file : exported->files)
        files.push_back(file);
      report["export_vllm_adopted"] = llvm::json::Object{
          {"quantization", exported->quantization},
          {"files", std::move(files)},
          {"tensors", exported->tensors},
          {"requantized_weights", exported->requantizedWeights},
          {"requantized_from_codes", exported->requantizedFromCodes},
      };
    }
    if (exportOnnxFiles) {
      // In its own process: protobuf cannot share one with libsentencepiece
      // (tools/quark-export-onnx/CMakeLists.txt). It reads the IR.
      start = Clock::now();
      std::string self = llvm::sys::fs::getMainExecutable(
          argv[0], reinterpret_cast<void *>(&fail));
      llvm::SmallString<256> tool(llvm::sys::path::parent_path(self));
      llvm::sys::path::append(tool, "quark-export-onnx");
      llvm::SmallVector<llvm::StringRef, 6> args{tool, irPath, "-o", outputDir};
      if (overwrite || exportHf)
        args.push_back("--overwrite");
      std::string message;
      int status = llvm::sys::ExecuteAndWait(tool, args, std::nullopt, {}, 0, 0,
                                             &message);
      if (status != 0)
        return fail("--model_export onnx failed" +
                    (message.empty() ? std::string() : ": " + message));
      timings["export_onnx_s"] = secondsSince(start);
      report["export_onnx"] = llvm::json::Object{{"file", onnxPath.str()}};
    }
    report["output_dir"] = outputDir.getValue();
    llvm::json::Array algorithms;
    for (const std::string &name : quantAlgo)
      algorithms.push_back(name);
    report["quant_algo"] = std::move(algorithms);
    report["quant_scheme"] = quantScheme.empty()
                                 ? llvm::json::Value(nullptr)
                                 : llvm::json::Value(quantScheme.getValue());
    report["quantization_config"] = std::move(*configJson);
    report["layers"] = layerSummary(*quantized);
  }

  if (perplexity) {
    auto start = Clock::now();
    llvm::Expected<PerplexityResult> floatResult =
        evaluate(**floatModule, *evalText, "perplexity (float)");
    if (!floatResult)
      return fail(sourceDir + ": " + llvm::toString(floatResult.takeError()));
    timings["evaluate_float_s"] = secondsSince(start);
    report["dataset"] = evalDataset.getValue();
    llvm::json::Array files;
    for (const std::string &file : evalText->files)
      files.push_back(file);
    report["dataset_files"] = std::move(files);
    report["tokenizer"] = evalText->tokenizer;
    report["tokens"] = floatResult->tokens;
    report["seq_len"] = floatResult->seqLen;
    report["windows"] = floatResult->windows;
    double evalTokens = static_cast<double>(floatResult->windows) * seqLen;
    timings["eval_tokens_per_s"] = evalTokens / floatResult->seconds;
    if (!quantize) {
      llvm::outs() << "perplexity: "
                   << llvm::format("%.4f", floatResult->perplexity) << "\n";
      report["task"] = "perplexity";
      report["mean_nll"] = floatResult->meanNll;
      report["perplexity"] = floatResult->perplexity;
      timings["evaluate_s"] = floatResult->seconds;
    } else {
      start = Clock::now();
      llvm::Expected<PerplexityResult> quantResult =
          evaluate(*quantized, *evalText, "perplexity (quantized)");
      if (!quantResult)
        return fail(outputDir + ": " + llvm::toString(quantResult.takeError()));
      timings["evaluate_quantized_s"] = secondsSince(start);
      llvm::outs() << "perplexity (float): "
                   << llvm::format("%.4f", floatResult->perplexity) << "\n"
                   << "perplexity (quantized): "
                   << llvm::format("%.4f", quantResult->perplexity) << "\n";
      report["task"] = "perplexity";
      report["perplexity_float"] = floatResult->perplexity;
      report["perplexity_quantized"] = quantResult->perplexity;
      report["mean_nll_float"] = floatResult->meanNll;
      report["mean_nll_quantized"] = quantResult->meanNll;
    }
    llvm::errs() << "quark-quantize: " << floatResult->windows << " windows of "
                 << seqLen << " tokens, "
                 << llvm::format("%.0f tokens/s",
                                 evalTokens / floatResult->seconds)
                 << " (" << kernels::getNumThreads() << " threads)\n";
  }

  if (!reportJson.empty()) {
    timings["total_s"] = secondsSince(totalStart);
    report["timings"] = std::move(timings);
    report["num_threads"] = kernels::getNumThreads();
    report["peak_rss_bytes"] = static_cast<int64_t>(peakRssBytes());
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
    if (llvm::Error error = writeFileAtomically(reportJson, text))
      return fail(llvm::toString(std::move(error)));
  }
  // An export holds everything the algorithms produced; their per-layer
  // checkpoint is only kept for resuming a failed run, or as the weights
  // a model.mlir without export refers to.
  if (!quantAlgo.empty() && !modelExport.empty())
    if (std::error_code ec = llvm::sys::fs::remove_directories(algoCheckpoint))
      llvm::errs() << "quark-quantize: warning: cannot remove "
                   << algoCheckpoint << ": " << ec.message() << "\n";
  return 0;
}
