//===- quark-bench-awq.cpp - AWQ on one Llama MLP, for bench/awq_bench.py -===//
//
// Reads the inputs [tokens, hidden] of a SwiGLU MLP and its gate/up
// [inter, hidden] and down [hidden, inter] weights (.npy), runs AWQ as
// quark-awq does (two scaling groups: the norm -> gate/up, up -> down; then
// the clip search on gate, up and down) with Quark's uint4 asymmetric
// per-group quantizer, and prints the phase times and the chosen ratios as
// JSON. Writes the scales and the final fake-quantized weights to OUT_DIR.
//
//===----------------------------------------------------------------------===//

#include "quark/Algorithms/Awq.h"
#include "quark/Algorithms/Gptq.h"
#include "quark/Algorithms/SmoothQuant.h"
#include "quark/Support/Npy.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cblas.h>

#include <chrono>
#include <cmath>

using namespace mlir::quark;
namespace cl = llvm::cl;

static cl::opt<std::string> inputPath("inputs", cl::desc("MLP inputs .npy"),
                                      cl::Required);
static cl::opt<std::string> gatePath("gate", cl::Required);
static cl::opt<std::string> upPath("up", cl::Required);
static cl::opt<std::string> downPath("down", cl::Required);
static cl::opt<std::string> outputDir("o", cl::desc("folder for the results"));
static cl::opt<int64_t> groupSize("group-size", cl::init(128));
static cl::opt<int> threads("num-threads", cl::init(0));

namespace {
using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// c[m, n] = a[m, k] b[n, k]^T.
std::vector<float> timesTransposed(const std::vector<float> &a,
                                   const std::vector<float> &b, int64_t m,
                                   int64_t n, int64_t k) {
  std::vector<float> c(static_cast<size_t>(m * n));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), 1.0f, a.data(),
              static_cast<int>(k), b.data(), static_cast<int>(k), 0.0f,
              c.data(), static_cast<int>(n));
  return c;
}
} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "AWQ on one Llama MLP\n");
  auto fail = [](const llvm::Twine &message) {
    llvm::WithColor::error(llvm::errs(), "quark-bench-awq") << message << "\n";
    return 1;
  };
  if (threads > 0)
    llvm::parallel::strategy = llvm::hardware_concurrency(threads);
  setBlasThreads(
      static_cast<int>(llvm::parallel::strategy.compute_thread_count()));
  llvm::Expected<NpyArray> x = readNpy(inputPath);
  llvm::Expected<NpyArray> gate = readNpy(gatePath);
  llvm::Expected<NpyArray> up = readNpy(upPath);
  llvm::Expected<NpyArray> down = readNpy(downPath);
  for (llvm::Expected<NpyArray> *array : {&x, &gate, &up, &down})
    if (!*array)
      return fail(llvm::toString(array->takeError()));
  if (x->shape.size() != 2 || gate->shape.size() != 2)
    return fail("expected inputs [tokens, hidden] and 2-D weights");
  int64_t tokens = x->shape[0], hidden = x->shape[1];
  int64_t inter = gate->shape[0];
  auto is = [](const NpyArray &array, std::initializer_list<int64_t> shape) {
    return llvm::ArrayRef<int64_t>(array.shape) == llvm::ArrayRef(shape);
  };
  if (!is(*gate, {inter, hidden}) || !is(*up, {inter, hidden}) ||
      !is(*down, {hidden, inter}))
    return fail("expected gate/up [inter, hidden] and down [hidden, inter]");

  TensorQuantSpec spec;
  spec.dtype = QuantDType::UInt4;
  spec.symmetric = false;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = -1;
  spec.groupSize = groupSize;

  // Statistics: the MLP's input and down_proj's input (the forward pass).
  auto start = Clock::now();
  GptqHessian momentIn(hidden), momentMid(inter);
  ChannelAbsMean meanIn, meanMid;
  momentIn.add(x->values, tokens, tokens);
  meanIn.add(x->values, hidden);
  std::vector<float> g =
      timesTransposed(x->values, gate->values, tokens, inter, hidden);
  std::vector<float> u =
      timesTransposed(x->values, up->values, tokens, inter, hidden);
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  momentMid.add(g, tokens, tokens);
  meanMid.add(g, inter);
  std::vector<float> hIn = momentIn.matrix(), hMid = momentMid.matrix();
  double statsSeconds = secondsSince(start);

  // Scale search and folding.
  auto scaleStart = Clock::now();
  std::vector<float> &wg = gate->values, &wu = up->values, &wd = down->values;
  llvm::Expected<AwqScaleSearch> first = awqSearchScales(
      meanIn.mean(), {AwqLinear{&spec, inter, hidden, wg, hIn, tokens},
                      AwqLinear{&spec, inter, hidden, wu, hIn, tokens}});
  if (!first)
    return fail(llvm::toString(first.takeError()));
  scaleColumns(wg, inter, hidden, first->scales);
  scaleColumns(wu, inter, hidden, first->scales);
  llvm::Expected<AwqScaleSearch> second = awqSearchScales(
      meanMid.mean(), {AwqLinear{&spec, hidden, inter, wd, hMid, tokens}});
  if (!second)
    return fail(llvm::toString(second.takeError()));
  divideRows(wu, inter, hidden, second->scales);
  scaleColumns(wd, hidden, inter, second->scales);
  double scaleSeconds = secondsSince(scaleStart);

  // Clip search on the scaled weights with the scaled inputs.
  auto clipStart = Clock::now();
  divideHessian(hIn, first->scales);
  divideHessian(hMid, second->scales);
  for (auto [weight, rows, cols, moment] :
       {std::tuple(&wg, inter, hidden, &hIn),
        std::tuple(&wu, inter, hidden, &hIn),
        std::tuple(&wd, hidden, inter, &hMid)})
    if (llvm::Expected<std::vector<float>> maxima =
            awqClip(spec, rows, cols, *weight, *moment);
        !maxima)
      return fail(llvm::toString(maxima.takeError()));
  double clipSeconds = secondsSince(clipStart);
  double total = secondsSince(start);

  if (!outputDir.empty()) {
    auto save = [&](llvm::StringRef name, std::vector<int64_t> shape,
                    const std::vector<float> &values) -> llvm::Error {
      llvm::SmallString<256> path(outputDir);
      llvm::sys::path::append(path, name);
      return writeNpy(path.str(), shape, values);
    };
    for (auto [name, weight, rows, cols] :
         {std::tuple("gate_q.npy", &wg, inter, hidden),
          std::tuple("up_q.npy", &wu, inter, hidden),
          std::tuple("down_q.npy", &wd, hidden, inter)}) {
      llvm::Expected<std::vector<float>> q =
          rtnQuantize(spec, rows, cols, *weight);
      if (!q)
        return fail(llvm::toString(q.takeError()));
      if (llvm::Error error = save(name, {rows, cols}, *q))
        return fail(llvm::toString(std::move(error)));
    }
    if (llvm::Error error = save("s1.npy", {hidden}, first->scales))
      return fail(llvm::toString(std::move(error)));
    if (llvm::Error error = save("s2.npy", {inter}, second->scales))
      return fail(llvm::toString(std::move(error)));
  }
  llvm::outs() << llvm::formatv(
      "{{\"total_s\": {0:f6}, \"statistics_s\": {1:f6}, \"scale_search_s\": "
      "{2:f6}, \"clip_s\": {3:f6}, \"ratio_norm\": {4}, \"ratio_up\": {5}, "
      "\"threads\": {6}}\n",
      total, statsSeconds, scaleSeconds, clipSeconds, first->bestRatio,
      second->bestRatio, llvm::parallel::strategy.compute_thread_count());
  return 0;
}
