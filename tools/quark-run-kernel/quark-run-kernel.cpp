//===- quark-run-kernel.cpp - Run a quantized kernel and check it ---------===//
//
// Builds one quantized kernel as quark IR (a quantize op, or a W4A16 /
// W8A8 / MXFP4 / progressive int4_fp8 GEMM), fills its inputs with random data
// (and, for quantize, NaN, infinities, signed zeros and out-of-range values),
// compiles it through convert-quark-to-linalg and runs it:
//
//   --device=cpu  the CPU pipeline, JIT-compiled by MLIR's ExecutionEngine
//                 (with --emulate-matrix-cores=<chip>, W8A8 GEMMs run as that
//                 chip's matrix-core kernel, its threads and matrix
//                 instructions emulated);
//   --device=hip  quark-lower-to-rocdl-pipeline for the GPU's chip, run by
//                 the HIP launcher (and timed).
//
// The result is compared with the Support numerics (the library every other
// quark path uses). On the CPU the reference adds the products in the
// kernel's order, so every kernel must match bit for bit; on a GPU the
// codes and the int8 GEMM must too, and the float GEMMs (fp8 on matrix
// cores, W4A16, MXFP4) must lie within the f32 error bound of adding their
// terms in another order.
//
//===----------------------------------------------------------------------===//

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Conversion/Passes.h"
#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/InitAll.h"
#include "quark/Runtime/HIP/HipLauncher.h"
#include "quark/Support/DataType.h"
#include "quark/Support/ScalarQuant.h"
#include "quark/Support/TensorQuant.h"
#include "quark/Support/TwoStageQuant.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

using namespace mlir;
using namespace mlir::quark;

namespace cl = llvm::cl;

static cl::opt<std::string> kernelKind(
    "kernel",
    cl::desc("quantize | dynamic-qparams | dynamic-quantize | block-scales | "
             "w4a16 | w8a8-int8 | w8a8-fp8 | mxfp4 | nvfp4 | progressive "
             "(int4_fp8 weights)"),
    cl::init("w4a16"));
static cl::opt<std::string> dtypeOption(
    "dtype",
    cl::desc("quantize: int8, uint8, int4, uint4, fp8_e4m3, fp8_e5m2, "
             "fp6_e2m3, fp6_e3m2, fp4; w4a16: int4 (symmetric) or uint4 "
             "(with zero points)"),
    cl::init("int4"));
static cl::opt<int64_t> rows("m", cl::desc("rows (tokens)"), cl::init(16));
static cl::opt<int64_t> cols("n", cl::desc("output features"), cl::init(64));
static cl::opt<int64_t> depth("k", cl::desc("input features"), cl::init(256));
static cl::opt<int64_t> group("group", cl::desc("quantization group size"),
                              cl::init(128));
static cl::opt<unsigned> seed("seed", cl::init(1));
static cl::opt<std::string> device("device", cl::desc("cpu | hip"),
                                   cl::init("cpu"));
static cl::opt<bool>
    emitQuark("emit-quark", cl::desc("print the kernel's quark IR and stop"));
static cl::opt<std::string> emulateMatrixCores(
    "emulate-matrix-cores",
    cl::desc("cpu: run W8A8 GEMMs as this GPU's matrix-core kernel "
             "(gfx942, gfx950, gfx90a, sm_80, sm_90, ...), emulated thread by "
             "thread"),
    cl::init(""));
static cl::opt<bool> emulateSplitK(
    "emulate-split-k",
    cl::desc("cpu: run GEMMs with at most 16 rows as the GPU pipelines' "
             "split-K kernel, emulated thread by thread (float results then "
             "add in another order: compared within the f32 bound of "
             "reordering)"));
static cl::opt<std::string> qschemeOption(
    "qscheme",
    cl::desc("dynamic-qparams / dynamic-quantize: per_tensor, per_token "
             "(per_channel on the rows) or per_group (along k, --group)"),
    cl::init("per_group"));
static cl::opt<std::string> scaleFormatOption(
    "scale-format",
    cl::desc("dynamic-*: float, e8m0 (OCP MX) or e5m3 (amdfp4)"),
    cl::init("float"));
static cl::opt<std::string>
    scaleModeOption("scale-mode",
                    cl::desc("dynamic-* with e8m0: even, floor or ceil"),
                    cl::init("even"));
static cl::opt<bool> dynamicActivations(
    "dynamic-activations",
    cl::desc("w8a8-*: activation scales per token, computed in the kernel "
             "(Quark's ptpc_fp8) instead of one static scale"));
static cl::opt<bool> emulateTiledGemm(
    "emulate-tiled-gemm",
    cl::desc("cpu: run the GEMMs the matrix cores and split-K leave (W4A16 "
             "/ MXFP4 prefill) as the GPU pipelines' tiled kernel, emulated "
             "thread by thread (bit for bit: it adds in k order)"));
static cl::opt<bool> emulateRowChains(
    "emulate-row-chains",
    cl::desc("cpu: run chains of row-local ops (dynamic quantizers: "
             "statistics, scales, codes) as the GPU pipelines' one kernel per "
             "chain, a workgroup per row, emulated thread by thread (bit for "
             "bit)"));
static cl::opt<float> secondScaleOption(
    "second-scale",
    cl::desc("block-scales / nvfp4: the calibrated per-tensor scale of the "
             "block scales (NVFP4's input_scale_2); 0: derived from the input "
             "(block-scales only)"),
    cl::init(0.0f));
static cl::opt<std::string> scaleDtypeOption(
    "scale-dtype",
    cl::desc("block-scales: the second stage's dtype, fp8_e4m3 (NVFP4) or "
             "fp8_e5m3 (amdfp4_global)"),
    cl::init("fp8_e4m3"));
static cl::opt<int> iterations("iterations",
                               cl::desc("timed runs on a GPU (median)"),
                               cl::init(20));

namespace {

/// A dense host buffer of one kernel argument or result.
struct Buffer {
  std::vector<int64_t> shape;
  unsigned elementBytes = 4;
  std::vector<uint8_t> bytes;
  /// A float GEMM result's sum_k |term| per element (in the result's
  /// units): how far adding the terms in another order may move it.
  std::vector<double> magnitude;

  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  template <typename T>
  static Buffer of(std::vector<int64_t> shape, const std::vector<T> &values) {
    Buffer buffer{std::move(shape), sizeof(T), {}, {}};
    buffer.bytes.resize(values.size() * sizeof(T));
    std::memcpy(buffer.bytes.data(), values.data(), buffer.bytes.size());
    return buffer;
  }
};

/// A kernel: its IR, inputs and the expected result.
struct KernelCase {
  std::string ir;
  std::vector<Buffer> inputs;
  Buffer expected;
  /// Computes `expected` when the GEMM references are too costly to build
  /// just to print the IR (--emit-quark at 4096^3).
  std::function<Buffer()> reference;
  /// Codes compared on their low `codeBits` bits; floats compared as f32.
  unsigned codeBits = 0;
  /// The result is exact on any device (codes; integer GEMM accumulation),
  /// so a GPU must match it bit for bit too.
  bool exactOnAnyDevice = false;
};

std::string shapeText(std::vector<int64_t> shape, llvm::StringRef element) {
  std::string text = "tensor<";
  for (int64_t d : shape)
    text += std::to_string(d) + "x";
  return text + element.str() + ">";
}

std::string codeType(QuantDType dtype) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  if (info.isInteger())
    return llvm::formatv("!quant.any<{0}{1}:f32>", info.isSigned() ? "i" : "u",
                         info.bits)
        .str();
  return "!quark.qfloat<" + std::string(info.name) + ">";
}

std::string groupSpec(QuantDType dtype, int64_t groupSize, bool symmetric,
                      llvm::StringRef extra = "") {
  bool integer = getDTypeInfo(dtype).isInteger();
  return llvm::formatv(
             "#quark.spec<dtype = {0}, qscheme = per_group, "
             "ch_axis = 1, group_size = {1}, symmetric = {2}, "
             "is_dynamic = false, {3}{4}observer_cls = "
             "PerGroupMinMaxObserver>",
             dtypeName(dtype), groupSize, symmetric ? "true" : "false",
             integer ? "round_method = half_even, scale_type = float, " : "",
             extra)
      .str();
}

std::vector<float> randomFloats(std::mt19937 &rng, int64_t count,
                                float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(rng);
  return values;
}

/// Quantize of an [m, k] tensor with per-group scales (and zero points).
KernelCase quantizeCase(QuantDType dtype, std::mt19937 &rng) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  int64_t m = rows, k = depth, groups = k / group;
  std::vector<float> x = randomFloats(rng, m * k, 3.0f);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            -0.0f,
                            0.0f,
                            1e-40f,
                            -1e-30f,
                            1e30f,
                            -7.25f};
  for (size_t i = 0; i < std::size(specials) && i < x.size(); ++i)
    x[i * 7 % x.size()] = specials[i];
  std::uniform_real_distribution<float> scaleDist(0.02f, 0.6f);
  std::vector<float> scales(m * groups);
  for (float &s : scales)
    s = scaleDist(rng);
  // Exact ties (x / scale = j + 1/2) in the first group, whose scale is a
  // power of two, so round-half-even is tested against its neighbours.
  scales[0] = 0.25f;
  const float ties[] = {0.125f, 0.375f, 0.625f, -0.625f, -0.125f, 1.125f};
  for (size_t i = 0; i < std::size(ties) && 2 * i + 1 < size_t(group); ++i)
    x[2 * i + 1] = ties[i];
  bool symmetric = info.isInteger() ? info.isSigned() : true;
  std::vector<int32_t> zeros(m * groups, 0);
  if (!symmetric) {
    std::uniform_int_distribution<int32_t> zeroDist(
        static_cast<int32_t>(info.qmin), static_cast<int32_t>(info.qmax));
    for (int32_t &z : zeros)
      z = zeroDist(rng);
  }
  std::vector<uint8_t> codes(m * k);
  for (int64_t i = 0; i < m * k; ++i) {
    int64_t param = (i / k) * groups + (i % k) / group;
    uint32_t code =
        info.isInteger()
            ? static_cast<uint32_t>(quantizeInt(
                  x[i], scales[param], zeros[param], info.qmin, info.qmax))
            : quantizeFloat(dtype, x[i], scales[param]);
    codes[i] = static_cast<uint8_t>(code);
  }
  std::string spec = groupSpec(dtype, group, symmetric);
  std::string xType = shapeText({m, k}, "f32");
  std::string sType = shapeText({m, groups}, "f32");
  std::string zType = shapeText({m, groups}, "i32");
  std::string cType = shapeText({m, k}, codeType(dtype));
  KernelCase kernel;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}, %s: {1}{2}) -> {3} {{\n"
      "  %q = quark.quantize %x scale(%s : {1}){4} {{spec = {5}} : {0} -> "
      "{3}\n  return %q : {3}\n}\n",
      xType, sType, symmetric ? "" : ", %z: " + zType, cType,
      symmetric ? "" : " zero_point(%z : " + zType + ")", spec);
  kernel.inputs = {Buffer::of({m, k}, x), Buffer::of({m, groups}, scales)};
  if (!symmetric)
    kernel.inputs.push_back(Buffer::of({m, groups}, zeros));
  kernel.expected = Buffer::of({m, k}, codes);
  kernel.codeBits = info.bits;
  kernel.exactOnAnyDevice = true;
  return kernel;
}

/// The spec of the dynamic-* kernels, from --dtype, --qscheme,
/// --scale-format and --scale-mode.
std::string dynamicSpec(QuantDType dtype) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  bool integer = info.isInteger();
  std::string layout;
  llvm::StringRef observer;
  if (qschemeOption == "per_tensor") {
    layout = "qscheme = per_tensor";
    observer = "PerTensorMinMaxObserver";
  } else if (qschemeOption == "per_token") {
    layout = "qscheme = per_channel, ch_axis = 0";
    observer = "PerChannelMinMaxObserver";
  } else {
    layout = llvm::formatv("qscheme = per_group, ch_axis = 1, group_size = {0}",
                           group.getValue());
    observer = scaleFormatOption == "float" ? "PerGroupMinMaxObserver"
                                            : "PerBlockMXObserver";
  }
  std::string extra;
  if (integer)
    extra = "round_method = half_even, scale_type = float, ";
  if (scaleFormatOption != "float")
    extra += "scale_format = " + scaleFormatOption + ", ";
  if (scaleFormatOption == "e8m0")
    extra += "scale_calculation_mode = " + scaleModeOption + ", ";
  bool symmetric = !integer || info.isSigned();
  return llvm::formatv("#quark.spec<dtype = {0}, {1}, symmetric = {2}, "
                       "is_dynamic = true, {3}observer_cls = {4}>",
                       dtypeName(dtype), layout, symmetric ? "true" : "false",
                       extra, observer)
      .str();
}

/// Prints a failed step's error; whether there was one.
bool failedStep(llvm::Error error) {
  if (!error)
    return false;
  llvm::errs() << "quark-run-kernel: " << llvm::toString(std::move(error))
               << "\n";
  return true;
}

/// The numerics of a spec written as IR text (for f32 tensors).
FailureOr<TensorQuantSpec> numericsOf(MLIRContext &context,
                                      llvm::StringRef specText) {
  auto spec =
      dyn_cast_or_null<TensorSpecAttr>(parseAttribute(specText, &context));
  if (!spec)
    return failure();
  return getTensorQuantSpec(spec, Float32Type::get(&context), [&]() {
    return mlir::emitError(UnknownLoc::get(&context));
  });
}

/// [m, k] data for the data-derived parameters: NaNs (skipped by min/max,
/// taken by an MX block: the first of two NaNs of opposite signs),
/// infinities (unless `finite`: they would make a per-tensor scale
/// infinite), signed zeros, subnormals, an all-zero group and, with three rows
/// or more, an all-zero last row.
std::vector<float> dataWithSpecials(std::mt19937 &rng, bool finite) {
  int64_t m = rows, k = depth;
  std::vector<float> x = randomFloats(rng, m * k, 3.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::pair<int64_t, float> specials[] = {
      {0, nan},          {5, -nan},          {9, -0.0f},
      {12, 1e-40f},      {k + 3, inf},       {k + 7, -1e-30f},
      {2 * k + 1, -inf}, {2 * k + 4, 1e30f}, {3 * k, -nan}};
  for (auto [index, value] : specials)
    if (index < m * k && !(finite && std::isinf(value)))
      x[index] = value;
  if (m >= 2)
    for (int64_t i = k + group; i < k + 2 * group && i < 2 * k; ++i)
      x[i] = i % 2 ? -0.0f : 0.0f;
  if (m >= 3)
    std::fill(x.end() - k, x.end(), 0.0f);
  return x;
}

/// A dynamic quantizer on an [m, k] tensor: compute_qparams alone
/// (dynamic-qparams: the scales) or followed by quantize (dynamic-quantize:
/// the codes), against Support's computeDynamicParams / quantizeTensor.
std::optional<KernelCase> dynamicCase(MLIRContext &context, QuantDType dtype,
                                      bool codes, std::mt19937 &rng) {
  int64_t m = rows, k = depth;
  // An infinity would make the one per-tensor scale infinite.
  std::vector<float> x =
      dataWithSpecials(rng, /*finite=*/qschemeOption == "per_tensor");

  std::string spec = dynamicSpec(dtype);
  FailureOr<TensorQuantSpec> numerics = numericsOf(context, spec);
  if (failed(numerics))
    return std::nullopt;
  llvm::Expected<QuantLayout> layout = QuantLayout::get({m, k}, *numerics);
  if (failedStep(layout.takeError()))
    return std::nullopt;
  llvm::Expected<QuantParams> params =
      computeDynamicParams(*numerics, *layout, x);
  if (failedStep(params.takeError()))
    return std::nullopt;
  std::vector<int64_t> paramShape(layout->paramShape().begin(),
                                  layout->paramShape().end());
  bool zeroPoints = numerics->hasZeroPoint();
  std::string xType = shapeText({m, k}, "f32");
  std::string sType = shapeText(paramShape, "f32");
  std::string zType = shapeText(paramShape, "i32");
  std::string cType = shapeText({m, k}, codeType(dtype));
  std::string compute = llvm::formatv(
      "  %s{0} = quark.compute_qparams %x {{spec = {1}} : {2} -> {3}{4}\n",
      zeroPoints ? ", %z" : "", spec, xType, sType,
      zeroPoints ? ", " + zType : "");
  KernelCase kernel;
  kernel.inputs = {Buffer::of({m, k}, x)};
  kernel.exactOnAnyDevice = true;
  if (!codes) {
    kernel.ir = llvm::formatv("func.func @kernel(%x: {0}) -> {1} {{\n{2}"
                              "  return %s : {1}\n}\n",
                              xType, sType, compute);
    kernel.expected = Buffer::of(paramShape, params->scales);
    return kernel;
  }
  std::vector<int32_t> expected(m * k);
  if (failedStep(quantizeTensor(*numerics, *layout, x, *params, expected)))
    return std::nullopt;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}) -> {1} {{\n{2}"
      "  %q = quark.quantize %x scale(%s : {3}){4} {{spec = {5}} : {0} -> {1}\n"
      "  return %q : {1}\n}\n",
      xType, cType, compute, sType,
      zeroPoints ? " zero_point(%z : " + zType + ")" : "", spec);
  std::vector<uint8_t> bytes(expected.begin(), expected.end());
  kernel.expected = Buffer::of({m, k}, bytes);
  kernel.codeBits = getDTypeInfo(dtype).bits;
  return kernel;
}

/// y[m, n] = sum_k x[m, k] * w(n, k), added in k order as the kernel does,
/// with the magnitudes sum_k |x w|.
Buffer referenceGemm(const std::vector<float> &x,
                     const std::function<float(int64_t, int64_t)> &weight,
                     int64_t m, int64_t n, int64_t k) {
  std::vector<float> w(n * k);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t l = 0; l < k; ++l)
      w[j * k + l] = weight(j, l);
  std::vector<float> y(m * n);
  std::vector<double> magnitude(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      double absolute = 0;
      for (int64_t l = 0; l < k; ++l) {
        float product = x[i * k + l] * w[j * k + l];
        acc = acc + product;
        absolute += std::fabs(product);
      }
      y[i * n + j] = acc;
      magnitude[i * n + j] = absolute;
    }
  Buffer result = Buffer::of({m, n}, y);
  result.magnitude = std::move(magnitude);
  return result;
}

/// W4A16 (int4 symmetric or uint4 with zero points), packed in Quark's
/// reorder layout, per-group scales.
KernelCase w4a16Case(MLIRContext &context, QuantDType dtype,
                     std::mt19937 &rng) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  bool symmetric = info.isSigned();
  int64_t m = rows, n = cols, k = depth, groups = k / group;
  std::vector<float> x = randomFloats(rng, m * k, 1.0f);
  std::vector<float> weights = randomFloats(rng, n * k, 0.05f);
  std::vector<float> scales(n * groups);
  std::vector<int32_t> zeros(n * groups, 0), codes(n * k);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t g = 0; g < groups; ++g) {
      float lo = 0, hi = 0;
      for (int64_t l = g * group; l < (g + 1) * group; ++l) {
        lo = std::min(lo, weights[j * k + l]);
        hi = std::max(hi, weights[j * k + l]);
      }
      int64_t p = j * groups + g;
      if (symmetric) {
        scales[p] = quarkSymmetricIntScale(lo, hi, info.qmin, info.qmax);
      } else {
        IntQParams params =
            quarkAsymmetricIntParams(lo, hi, info.qmin, info.qmax);
        scales[p] = params.scale;
        zeros[p] = params.zeroPoint;
      }
      for (int64_t l = g * group; l < (g + 1) * group; ++l)
        codes[j * k + l] = quantizeInt(weights[j * k + l], scales[p], zeros[p],
                                       info.qmin, info.qmax);
    }
  Type codeElement = parseType(codeType(dtype), &context);
  std::vector<int32_t> packed =
      packCodes(codeElement, {n, k}, codes, PackMethod::reorder);
  std::string spec = groupSpec(dtype, group, symmetric);
  std::string zType = shapeText({n, groups}, "i32");
  KernelCase kernel;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}, %p: {1}, %s: {2}{3}) -> {4} {{\n"
      "  %q = quark.unpack %p pack_method = reorder : {1} -> {5}\n"
      "  %w = quark.dequantize %q scale(%s : {2}){6} {{spec = {7}} : {5} -> "
      "{8}\n"
      "  %y = quark.linear %x, %w {{name = \"w4a16\"} : {0}, {8} -> {4}\n"
      "  return %y : {4}\n}\n",
      shapeText({m, k}, "f32"), shapeText({n, k / 8}, "i32"),
      shapeText({n, groups}, "f32"), symmetric ? "" : ", %z: " + zType,
      shapeText({m, n}, "f32"), shapeText({n, k}, codeType(dtype)),
      symmetric ? "" : " zero_point(%z : " + zType + ")", spec,
      shapeText({n, k}, "f32"));
  kernel.inputs = {Buffer::of({m, k}, x), Buffer::of({n, k / 8}, packed),
                   Buffer::of({n, groups}, scales)};
  if (!symmetric)
    kernel.inputs.push_back(Buffer::of({n, groups}, zeros));
  kernel.reference = [=] {
    return referenceGemm(
        x,
        [&](int64_t j, int64_t l) {
          int64_t p = j * groups + l / group;
          return dequantizeInt(codes[j * k + l], scales[p], zeros[p]);
        },
        m, n, k);
  };
  return kernel;
}

/// W8A8: activations quantized per tensor in the kernel, weights stored as
/// codes with per-channel scales; the GEMM runs on the codes.
KernelCase w8a8Case(QuantDType dtype, std::mt19937 &rng) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  bool integer = info.isInteger();
  int64_t m = rows, n = cols, k = depth;
  std::vector<float> x = randomFloats(rng, m * k, 1.0f);
  std::vector<float> weights = randomFloats(rng, n * k, 0.05f);
  // Signed zeros and values that round to -0: fp8 codes 0x80, which a
  // kernel reading OCP codes as fnuz (gfx942) must not take for NaN.
  for (int64_t i = 0; i < m * k; i += 7)
    x[i] = -0.0f;
  for (int64_t i = 3; i < n * k; i += 11)
    weights[i] = i % 2 ? -1e-12f : -0.0f;
  float maxNormal =
      integer ? 0.0f : static_cast<float>(info.format->maxFinite());
  // One static scale for the tensor, or (--dynamic-activations) one per
  // row, which the kernel computes itself.
  int64_t xSlots = dynamicActivations ? m : 1;
  std::vector<float> xScales(xSlots);
  for (int64_t slot = 0; slot < xSlots; ++slot) {
    float xMax = 0;
    for (int64_t i = slot * m * k / xSlots; i < (slot + 1) * m * k / xSlots;
         ++i)
      xMax = std::max(xMax, std::fabs(x[i]));
    xScales[slot] =
        integer ? quarkSymmetricIntScale(-xMax, xMax, info.qmin, info.qmax)
                : quarkFloatScale(-xMax, xMax, maxNormal);
  }
  std::vector<float> wScales(n);
  std::vector<uint8_t> wCodes(n * k);
  auto encode = [&](float v, float s) -> uint8_t {
    return integer ? static_cast<uint8_t>(
                         quantizeInt(v, s, 0, info.qmin, info.qmax))
                   : static_cast<uint8_t>(quantizeFloat(dtype, v, s));
  };
  auto decode = [=](uint8_t code) -> float {
    return integer ? static_cast<float>(static_cast<int8_t>(code))
                   : dequantizeFloat(dtype, code, 1.0f);
  };
  for (int64_t j = 0; j < n; ++j) {
    float amax = 0;
    for (int64_t l = 0; l < k; ++l)
      amax = std::max(amax, std::fabs(weights[j * k + l]));
    wScales[j] = integer
                     ? quarkSymmetricIntScale(-amax, amax, info.qmin, info.qmax)
                     : quarkFloatScale(-amax, amax, maxNormal);
    for (int64_t l = 0; l < k; ++l)
      wCodes[j * k + l] = encode(weights[j * k + l], wScales[j]);
  }
  std::vector<uint8_t> xCodes(m * k);
  for (int64_t i = 0; i < m * k; ++i)
    xCodes[i] = encode(x[i], xScales[i / k % xSlots]);
  auto reference = [=]() {
    std::vector<float> expected(m * n);
    std::vector<double> magnitude(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int32_t intAcc = 0;
        float floatAcc = 0.0f;
        double absolute = 0;
        for (int64_t l = 0; l < k; ++l) {
          uint8_t code = xCodes[i * k + l];
          if (integer) {
            intAcc +=
                static_cast<int32_t>(static_cast<int8_t>(code)) *
                static_cast<int32_t>(static_cast<int8_t>(wCodes[j * k + l]));
          } else {
            float product = decode(code) * decode(wCodes[j * k + l]);
            floatAcc = floatAcc + product;
            absolute += std::fabs(product);
          }
        }
        float value = integer ? static_cast<float>(intAcc) : floatAcc;
        value = value * xScales[i % xSlots];
        expected[i * n + j] = value * wScales[j];
        // Integer accumulation is exact in any order.
        magnitude[i * n + j] = integer
                                   ? 0.0
                                   : absolute * std::fabs(xScales[i % xSlots]) *
                                         std::fabs(wScales[j]);
      }
    Buffer result = Buffer::of({m, n}, expected);
    result.magnitude = std::move(magnitude);
    return result;
  };
  std::string name(info.name);
  std::string xSpec = llvm::formatv(
      "#quark.spec<dtype = {0}, {1}, symmetric = true, {2}observer_cls = "
      "{3}>",
      name,
      dynamicActivations
          ? "qscheme = per_channel, ch_axis = 0, is_dynamic = true"
          : "qscheme = per_tensor, is_dynamic = false",
      integer ? "round_method = half_even, scale_type = float, " : "",
      dynamicActivations ? "PerChannelMinMaxObserver"
                         : "PerTensorMinMaxObserver");
  std::string sxType =
      dynamicActivations ? shapeText({m}, "f32") : std::string("tensor<f32>");
  std::string wSpec = llvm::formatv(
      "#quark.spec<dtype = {0}, qscheme = per_channel, ch_axis = 0, "
      "symmetric = true, is_dynamic = false, {1}observer_cls = "
      "PerChannelMinMaxObserver>",
      name, integer ? "round_method = half_even, scale_type = float, " : "");
  std::string storage =
      integer ? "i8" : (dtype == QuantDType::FP8E4M3 ? "f8E4M3FN" : "f8E5M2");
  KernelCase kernel;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}{9}, %wc: {1}, %sw: {2}) -> {3} {{\n{10}"
      "  %qx = quark.quantize %x scale(%sx : {11}) {{spec = {4}} : {0} "
      "-> {5}\n"
      "  %dx = quark.dequantize %qx scale(%sx : {11}) {{spec = {4}} : "
      "{5} -> {0}\n"
      "  %qw = quark.storage_cast %wc : {1} -> {6}\n"
      "  %dw = quark.dequantize %qw scale(%sw : {2}) {{spec = {7}} : {6} -> "
      "{8}\n"
      "  %y = quark.linear %dx, %dw {{name = \"w8a8\"} : {0}, {8} -> {3}\n"
      "  return %y : {3}\n}\n",
      shapeText({m, k}, "f32"), shapeText({n, k}, storage),
      shapeText({n}, "f32"), shapeText({m, n}, "f32"), xSpec,
      shapeText({m, k}, codeType(dtype)), shapeText({n, k}, codeType(dtype)),
      wSpec, shapeText({n, k}, "f32"),
      dynamicActivations ? "" : ", %sx: tensor<f32>",
      dynamicActivations
          ? llvm::formatv("  %sx = quark.compute_qparams %x {{spec = {0}} : "
                          "{1} -> {2}\n",
                          xSpec, shapeText({m, k}, "f32"), sxType)
                .str()
          : std::string(),
      sxType);
  kernel.inputs = {Buffer::of({m, k}, x)};
  if (!dynamicActivations)
    kernel.inputs.push_back(Buffer::of({}, xScales));
  kernel.inputs.push_back(Buffer::of({n, k}, wCodes));
  kernel.inputs.push_back(Buffer::of({n}, wScales));
  kernel.reference = reference;
  kernel.exactOnAnyDevice = integer;
  return kernel;
}

/// A progressive (Quark int4_fp8, "W4A8" MoE experts) weight: fp8 e4m3
/// per tensor, then int4 symmetric per channel on the fp8 values, stored as
/// the int4 codes packed in Quark's reorder layout with both stages'
/// scales. The kernel decodes the int4 codes by their channel's scale and
/// multiplies the result by the fp8 stage's scale, in float32, before the
/// GEMM; activations stay float (the weight-only variant).
KernelCase progressiveCase(MLIRContext &context, std::mt19937 &rng) {
  int64_t m = rows, n = cols, k = depth;
  std::vector<float> x = randomFloats(rng, m * k, 1.0f);
  std::vector<float> weights = randomFloats(rng, n * k, 0.05f);
  const DTypeInfo &fp8 = getDTypeInfo(QuantDType::FP8E4M3);
  const DTypeInfo &int4 = getDTypeInfo(QuantDType::Int4);
  float amax = 0;
  for (float w : weights)
    amax = std::max(amax, std::fabs(w));
  float fp8Scale =
      quarkFloatScale(-amax, amax, static_cast<float>(fp8.format->maxFinite()));
  // Stage 1: the weights' fp8 values (in units of fp8Scale); stage 2: int4
  // per output channel of those values.
  std::vector<float> fp8Values(n * k);
  for (int64_t i = 0; i < n * k; ++i)
    fp8Values[i] = dequantizeFloat(
        QuantDType::FP8E4M3,
        quantizeFloat(QuantDType::FP8E4M3, weights[i], fp8Scale), 1.0f);
  std::vector<float> channelScales(n);
  std::vector<int32_t> codes(n * k);
  for (int64_t j = 0; j < n; ++j) {
    float lo = 0, hi = 0;
    for (int64_t l = 0; l < k; ++l) {
      lo = std::min(lo, fp8Values[j * k + l]);
      hi = std::max(hi, fp8Values[j * k + l]);
    }
    channelScales[j] = quarkSymmetricIntScale(lo, hi, int4.qmin, int4.qmax);
    for (int64_t l = 0; l < k; ++l)
      codes[j * k + l] = quantizeInt(fp8Values[j * k + l], channelScales[j], 0,
                                     int4.qmin, int4.qmax);
  }
  Type codeElement = parseType(codeType(QuantDType::Int4), &context);
  std::vector<int32_t> packed =
      packCodes(codeElement, {n, k}, codes, PackMethod::reorder);
  std::string int4Spec =
      "#quark.spec<dtype = int4, qscheme = per_channel, ch_axis = 0, "
      "symmetric = true, is_dynamic = false, round_method = half_even, "
      "scale_type = float, observer_cls = PerChannelMinMaxObserver>";
  std::string fp8Spec =
      "#quark.spec<dtype = fp8_e4m3, qscheme = per_tensor, symmetric = true, "
      "is_dynamic = false, round_method = half_even, scale_type = float, "
      "observer_cls = PerTensorMinMaxObserver>";
  KernelCase kernel;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}, %p: {1}, %s2: {2}, %s1: tensor<f32>) -> {3} "
      "{{\n"
      "  %q = quark.unpack %p pack_method = reorder : {1} -> {4}\n"
      "  %u = quark.dequantize %q scale(%s2 : {2}) {{spec = {5}} : {4} -> "
      "{6}\n"
      "  %w = quark.dequantize %u scale(%s1 : tensor<f32>) {{spec = {7}} : "
      "{6} -> {6}\n"
      "  %y = quark.linear %x, %w {{name = \"progressive\"} : {0}, {6} -> "
      "{3}\n"
      "  return %y : {3}\n}\n",
      shapeText({m, k}, "f32"), shapeText({n, k / 8}, "i32"),
      shapeText({n}, "f32"), shapeText({m, n}, "f32"),
      shapeText({n, k}, codeType(QuantDType::Int4)), int4Spec,
      shapeText({n, k}, "f32"), fp8Spec);
  kernel.inputs = {Buffer::of({m, k}, x), Buffer::of({n, k / 8}, packed),
                   Buffer::of({n}, channelScales),
                   Buffer::of({}, std::vector{fp8Scale})};
  kernel.reference = [=] {
    return referenceGemm(
        x,
        [&](int64_t j, int64_t l) {
          float value = dequantizeInt(codes[j * k + l], channelScales[j], 0);
          return value * fp8Scale;
        },
        m, n, k);
  };
  return kernel;
}

/// MXFP4 weights: fp4 codes two per byte, power-of-two scales per 32.
KernelCase mxfp4Case(MLIRContext &context, std::mt19937 &rng) {
  int64_t m = rows, n = cols, k = depth, blocks = k / 32;
  std::vector<float> x = randomFloats(rng, m * k, 1.0f);
  std::uniform_int_distribution<int32_t> codeDist(0, 15), expDist(-8, 2);
  std::vector<int32_t> codes(n * k);
  for (int32_t &c : codes)
    c = codeDist(rng);
  std::vector<float> scales(n * blocks);
  for (float &s : scales)
    s = std::ldexp(1.0f, expDist(rng));
  Type codeElement = parseType("!quark.qfloat<fp4>", &context);
  std::vector<int32_t> packedInts =
      packCodes(codeElement, {n, k}, codes, std::nullopt);
  std::vector<uint8_t> packed(packedInts.begin(), packedInts.end());
  std::string spec =
      "#quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1, "
      "group_size = 32, is_dynamic = false, scale_format = e8m0, "
      "scale_calculation_mode = even, observer_cls = PerBlockMXObserver>";
  KernelCase kernel;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}, %p: {1}, %s: {2}) -> {3} {{\n"
      "  %q = quark.unpack %p : {1} -> {4}\n"
      "  %w = quark.dequantize %q scale(%s : {2}) {{spec = {5}} : {4} -> {6}\n"
      "  %y = quark.linear %x, %w {{name = \"mxfp4\"} : {0}, {6} -> {3}\n"
      "  return %y : {3}\n}\n",
      shapeText({m, k}, "f32"), shapeText({n, k / 2}, "ui8"),
      shapeText({n, blocks}, "f32"), shapeText({m, n}, "f32"),
      shapeText({n, k}, "!quark.qfloat<fp4>"), spec, shapeText({n, k}, "f32"));
  kernel.inputs = {Buffer::of({m, k}, x), Buffer::of({n, k / 2}, packed),
                   Buffer::of({n, blocks}, scales)};
  kernel.reference = [=] {
    return referenceGemm(
        x,
        [&](int64_t j, int64_t l) {
          return dequantizeFloat(QuantDType::FP4, codes[j * k + l],
                                 scales[j * blocks + l / 32]);
        },
        m, n, k);
  };
  return kernel;
}

/// The NVFP4-style two-stage spec: fp4 per group of --group along k
/// (dynamic: the activations' form), its block scales quantized per tensor
/// by `scaleDtype`.
std::pair<std::string, std::string> scaleQuantSpecs(llvm::StringRef scaleDtype,
                                                    bool dynamic) {
  std::string first = llvm::formatv(
      "#quark.spec<dtype = fp4, qscheme = per_group, ch_axis = 1, "
      "group_size = {0}, is_dynamic = {1}, round_method = half_even, "
      "scale_type = float32, scale_format = float32, observer_cls = "
      "PerBlockMXObserver>",
      group.getValue(), dynamic ? "true" : "false");
  std::string second = llvm::formatv(
      "#quark.spec<dtype = {0}, qscheme = per_tensor, symmetric = true, "
      "is_dynamic = false, round_method = half_even, scale_type = float32, "
      "observer_cls = PerTensorMinMaxObserver, is_scale_quant = true>",
      scaleDtype);
  return {first, second};
}

/// quark.compute_block_scales of an [m, k] tensor (NVFP4 / amdfp4_global
/// activations), with --second-scale or the one derived from the data,
/// against Support's scaleQuantBlockScales.
std::optional<KernelCase> blockScalesCase(MLIRContext &context,
                                          std::mt19937 &rng) {
  int64_t m = rows, k = depth;
  bool derived = secondScaleOption == 0.0f;
  std::vector<float> x = dataWithSpecials(rng, /*finite=*/derived);
  auto [firstText, secondText] = scaleQuantSpecs(scaleDtypeOption, true);
  FailureOr<TensorQuantSpec> first = numericsOf(context, firstText);
  FailureOr<TensorQuantSpec> second = numericsOf(context, secondText);
  if (failed(first) || failed(second))
    return std::nullopt;
  llvm::Expected<QuantLayout> layout = QuantLayout::get({m, k}, *first);
  if (failedStep(layout.takeError()))
    return std::nullopt;
  std::optional<float> secondScale;
  if (!derived)
    secondScale = secondScaleOption;
  llvm::Expected<std::vector<float>> scales =
      scaleQuantBlockScales(*first, *second, *layout, x, secondScale);
  if (failedStep(scales.takeError()))
    return std::nullopt;
  std::string xType = shapeText({m, k}, "f32");
  std::string sType = shapeText({m, k / group}, "f32");
  KernelCase kernel;
  kernel.ir = llvm::formatv("func.func @kernel(%x: {0}{1}) -> {2} {{\n"
                            "  %s = quark.compute_block_scales %x{3} {{spec = "
                            "#quark.two_stage<{4}, {5}>} : {0} -> {2}\n"
                            "  return %s : {2}\n}\n",
                            xType, derived ? "" : ", %g: tensor<f32>", sType,
                            derived ? "" : " second_scale(%g : tensor<f32>)",
                            firstText, secondText);
  kernel.inputs = {Buffer::of({m, k}, x)};
  if (!derived)
    kernel.inputs.push_back(
        Buffer::of({}, std::vector{secondScaleOption.getValue()}));
  kernel.expected = Buffer::of({m, k / group}, *scales);
  kernel.exactOnAnyDevice = true;
  return kernel;
}

/// NVFP4 W4A4: the activations quantized in the kernel (block scales per
/// call under the calibrated --second-scale, as compute_block_scales
/// derives them), the weights stored as vLLM reads them (fp4 codes two per
/// byte, e4m3 block-scale codes, their per-tensor weight_scale_2); the GEMM
/// adds the dequantized products in k order.
std::optional<KernelCase> nvfp4Case(MLIRContext &context, std::mt19937 &rng) {
  int64_t m = rows, n = cols, k = depth, blocks = k / group;
  float inputScale2 =
      secondScaleOption == 0.0f ? 1.0f / 448.0f : secondScaleOption.getValue();
  std::vector<float> x = randomFloats(rng, m * k, 1.0f);
  auto [firstText, secondText] = scaleQuantSpecs("fp8_e4m3", true);
  std::string weightText = scaleQuantSpecs("fp8_e4m3", false).first;
  FailureOr<TensorQuantSpec> first = numericsOf(context, firstText);
  FailureOr<TensorQuantSpec> second = numericsOf(context, secondText);
  if (failed(first) || failed(second))
    return std::nullopt;
  std::vector<float> xQuantized(m * k);
  if (failedStep(fakeQuantizeScaleQuant(*first, *second, {m, k}, x, inputScale2,
                                        xQuantized)))
    return std::nullopt;
  // Weights: any fp4 code, block-scale codes of e4m3 values 2^-6 .. 448.
  std::uniform_int_distribution<int32_t> codeDist(0, 15), scaleDist(0x08, 0x7e);
  std::vector<int32_t> codes(n * k);
  for (int32_t &c : codes)
    c = codeDist(rng);
  std::vector<uint8_t> scaleCodes(n * blocks);
  for (uint8_t &c : scaleCodes)
    c = static_cast<uint8_t>(scaleDist(rng));
  float weightScale2 = 3.0f / 4096.0f;
  std::vector<int32_t> packedInts = packCodes(
      parseType("!quark.qfloat<fp4>", &context), {n, k}, codes, std::nullopt);
  std::vector<uint8_t> packed(packedInts.begin(), packedInts.end());
  std::string xType = shapeText({m, k}, "f32");
  std::string sxType = shapeText({m, blocks}, "f32");
  std::string fp4Type = shapeText({m, k}, "!quark.qfloat<fp4>");
  std::string wFp4Type = shapeText({n, k}, "!quark.qfloat<fp4>");
  std::string wsType = shapeText({n, blocks}, "f8E4M3FN");
  std::string wsCodeType = shapeText({n, blocks}, "!quark.qfloat<fp8_e4m3>");
  std::string wsFloatType = shapeText({n, blocks}, "f32");
  KernelCase kernel;
  kernel.ir = llvm::formatv(
      "func.func @kernel(%x: {0}, %g: tensor<f32>, %p: {1}, %wsc: {2}, "
      "%ws2: tensor<f32>) -> {3} {{\n"
      "  %sx = quark.compute_block_scales %x second_scale(%g : tensor<f32>) "
      "{{spec = #quark.two_stage<{4}, {5}>} : {0} -> {6}\n"
      "  %qx = quark.quantize %x scale(%sx : {6}) {{spec = {4}} : {0} -> {7}\n"
      "  %dx = quark.dequantize %qx scale(%sx : {6}) {{spec = {4}} : {7} -> "
      "{0}\n"
      "  %wq = quark.unpack %p : {1} -> {8}\n"
      "  %wsq = quark.storage_cast %wsc : {2} -> {9}\n"
      "  %ws = quark.dequantize %wsq scale(%ws2 : tensor<f32>) {{spec = {5}} : "
      "{9} -> {10}\n"
      "  %w = quark.dequantize %wq scale(%ws : {10}) {{spec = {11}} : {8} -> "
      "{12}\n"
      "  %y = quark.linear %dx, %w {{name = \"nvfp4\"} : {0}, {12} -> {3}\n"
      "  return %y : {3}\n}\n",
      xType, shapeText({n, k / 2}, "ui8"), wsType, shapeText({m, n}, "f32"),
      firstText, secondText, sxType, fp4Type, wFp4Type, wsCodeType, wsFloatType,
      weightText, shapeText({n, k}, "f32"));
  kernel.inputs = {
      Buffer::of({m, k}, x), Buffer::of({}, std::vector{inputScale2}),
      Buffer::of({n, k / 2}, packed), Buffer::of({n, blocks}, scaleCodes),
      Buffer::of({}, std::vector{weightScale2})};
  kernel.reference = [=] {
    return referenceGemm(
        xQuantized,
        [&](int64_t j, int64_t l) {
          float blockScale =
              dequantizeFloat(QuantDType::FP8E4M3,
                              scaleCodes[j * blocks + l / group], weightScale2);
          return dequantizeFloat(QuantDType::FP4, codes[j * k + l], blockScale);
        },
        m, n, k);
  };
  return kernel;
}

/// Compares `actual` with the expected result; prints a summary line.
/// Codes, and floats unless `reordered`, must match bit for bit. A
/// `reordered` float GEMM (a kernel that adds the terms in another order:
/// split-K partials, a GPU's matrix cores or contracted multiply-adds) must
/// lie within what reordering can cost in f32: each of the two sums is
/// within (K - 1) 2^-24 sum_k |term| of the exact one, and the epilogue's
/// two roundings add 2^-23 |result|.
bool compare(const KernelCase &kernel, const std::vector<uint8_t> &actual,
             bool reordered) {
  const Buffer &expected = kernel.expected;
  int64_t count = expected.count(), mismatches = 0, firstBad = -1;
  bool bounded = reordered && !kernel.codeBits && !expected.magnitude.empty();
  double worst = 0; // the largest error as a fraction of its bound
  for (int64_t i = 0; i < count; ++i) {
    bool equal;
    if (kernel.codeBits) {
      uint32_t mask = (1u << kernel.codeBits) - 1;
      equal = (actual[i] & mask) == (expected.bytes[i] & mask);
    } else {
      float a, e;
      std::memcpy(&a, &actual[i * 4], 4);
      std::memcpy(&e, &expected.bytes[i * 4], 4);
      if (!bounded) {
        equal = std::memcmp(&a, &e, 4) == 0;
      } else {
        double error = std::fabs(double(a) - e);
        double bound = std::ldexp(2.0 * double(depth) * expected.magnitude[i] +
                                      4.0 * std::fabs(double(e)),
                                  -24);
        equal = error <= bound;
        if (bound > 0)
          worst = std::max(worst, error / bound);
        else if (error > 0)
          worst = std::numeric_limits<double>::infinity();
      }
    }
    if (!equal && mismatches++ == 0)
      firstBad = i;
  }
  llvm::outs() << llvm::formatv(
      "{0} {1}x{2}x{3}: {4} of {5} elements {6}", kernelKind, rows, cols, depth,
      count - mismatches, count,
      bounded ? llvm::formatv("within the f32 reordering bound (worst {0:e1} "
                              "of it)",
                              worst)
                    .str()
              : std::string("match bit for bit"));
  if (mismatches)
    llvm::outs() << llvm::formatv("; first mismatch at element {0}", firstBad);
  llvm::outs() << "\n";
  return mismatches == 0;
}

/// The result element size of the kernel's single result.
std::vector<uint8_t> runOnCpu(ModuleOp module, const KernelCase &kernel) {
  module.lookupSymbol<func::FuncOp>("kernel")->setAttr(
      "llvm.emit_c_interface", UnitAttr::get(module.getContext()));
  PassManager pm(module.getContext());
  CpuPipelineOptions pipelineOptions;
  pipelineOptions.emulateMatrixCores = emulateMatrixCores;
  pipelineOptions.emulateSplitK = emulateSplitK;
  pipelineOptions.emulateTiledGemm = emulateTiledGemm;
  pipelineOptions.emulateRowChains = emulateRowChains;
  buildQuarkToCpuPipeline(pm, pipelineOptions);
  if (failed(pm.run(module)))
    return {};
  ExecutionEngineOptions options;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Default;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine) {
    llvm::errs() << "quark-run-kernel: JIT failed: "
                 << llvm::toString(engine.takeError()) << "\n";
    return {};
  }
  // Memref descriptors: {allocated, aligned, offset, sizes..., strides...}.
  auto descriptor = [](void *data, const std::vector<int64_t> &shape) {
    std::vector<int64_t> d{reinterpret_cast<int64_t>(data),
                           reinterpret_cast<int64_t>(data), 0};
    d.insert(d.end(), shape.begin(), shape.end());
    int64_t stride = 1;
    std::vector<int64_t> strides(shape.size());
    for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
      strides[i] = stride;
      stride *= shape[i];
    }
    d.insert(d.end(), strides.begin(), strides.end());
    return d;
  };
  std::vector<Buffer> inputs = kernel.inputs;
  std::vector<std::vector<int64_t>> descriptors;
  for (Buffer &input : inputs)
    descriptors.push_back(descriptor(input.bytes.data(), input.shape));
  std::vector<int64_t> result(3 + 2 * kernel.expected.shape.size(), 0);
  std::vector<void *> pointers{result.data()};
  for (auto &d : descriptors)
    pointers.push_back(d.data());
  std::vector<void *> packed;
  for (void *&p : pointers)
    packed.push_back(&p);
  if (llvm::Error error =
          (*engine)->invokePacked("_mlir_ciface_kernel", packed)) {
    llvm::errs() << "quark-run-kernel: " << llvm::toString(std::move(error))
                 << "\n";
    return {};
  }
  // The result is a fresh contiguous buffer (one byte per sub-byte code).
  const uint8_t *data = reinterpret_cast<const uint8_t *>(result[1]);
  size_t bytes = kernel.expected.bytes.size();
  std::vector<uint8_t> out(data, data + bytes);
  free(reinterpret_cast<void *>(result[0]));
  return out;
}

int runOnHip(ModuleOp module, const KernelCase &kernel) {
  llvm::Expected<hip::Device> gpu = hip::Device::open();
  if (!gpu) {
    llvm::errs() << "quark-run-kernel: " << llvm::toString(gpu.takeError())
                 << "\n";
    return 2;
  }
  llvm::SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("quark-kernels", dir)) {
    llvm::errs() << "quark-run-kernel: " << ec.message() << "\n";
    return 1;
  }
  RocdlPipelineOptions options;
  options.chip = gpu->arch();
  options.outputDir = std::string(dir);
  PassManager pm(module.getContext());
  buildQuarkToRocdlPipeline(pm, options);
  if (failed(pm.run(module)))
    return 1;
  llvm::Expected<hip::KernelManifest> manifest = hip::KernelManifest::load(dir);
  if (!manifest) {
    llvm::errs() << llvm::toString(manifest.takeError()) << "\n";
    return 1;
  }
  llvm::Expected<hip::Program> program = gpu->load(*manifest, "kernel");
  if (!program) {
    llvm::errs() << llvm::toString(program.takeError()) << "\n";
    return 1;
  }
  std::vector<llvm::ArrayRef<uint8_t>> inputs;
  for (const Buffer &input : kernel.inputs)
    inputs.push_back(input.bytes);
  std::vector<std::vector<uint8_t>> outputs;
  if (llvm::Error error = program->run(inputs, outputs)) {
    llvm::errs() << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  // Codes and the int8 GEMM (integer accumulation, on the matrix cores
  // too) must match bit for bit; float GEMMs may add in another order (MFMA)
  // or contract multiply-adds.
  bool ok = compare(kernel, outputs.front(),
                    /*reordered=*/!kernel.exactOnAnyDevice);
  llvm::Expected<double> ms = program->timeMilliseconds(iterations);
  if (ms)
    llvm::outs() << llvm::formatv("{0} on {1}: {2:f4} ms (median of {3})\n",
                                  kernelKind, gpu->arch(), *ms, iterations);
  else
    llvm::errs() << llvm::toString(ms.takeError()) << "\n";
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "Run one quantized kernel and check it\n");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerAllQuarkPasses();
  DialectRegistry registry;
  registerAllQuarkDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  std::optional<QuantDType> dtype = parseQuantDType(dtypeOption);
  if (!dtype) {
    llvm::errs() << "quark-run-kernel: unknown --dtype " << dtypeOption << "\n";
    return 1;
  }
  if (rows <= 0 || cols <= 0 || depth <= 0 || group <= 0 ||
      depth % group != 0 || depth % 32 != 0) {
    llvm::errs() << "quark-run-kernel: sizes must be positive, with k a "
                    "multiple of --group and of 32\n";
    return 1;
  }
  std::mt19937 rng(seed);
  KernelCase kernel;
  if (kernelKind == "dynamic-qparams" || kernelKind == "dynamic-quantize") {
    std::optional<KernelCase> dynamic =
        dynamicCase(context, *dtype, kernelKind == "dynamic-quantize", rng);
    if (!dynamic)
      return 1;
    kernel = std::move(*dynamic);
  } else if (kernelKind == "quantize") {
    const DTypeInfo &info = getDTypeInfo(*dtype);
    if (!info.isInteger() && info.kind != DTypeKind::Float) {
      llvm::errs() << "quark-run-kernel: --dtype " << dtypeOption
                   << " has no element codes to quantize to\n";
      return 1;
    }
    kernel = quantizeCase(*dtype, rng);
  } else if (kernelKind == "w4a16") {
    if (*dtype != QuantDType::Int4 && *dtype != QuantDType::UInt4) {
      llvm::errs() << "quark-run-kernel: w4a16 takes --dtype int4 or uint4\n";
      return 1;
    }
    kernel = w4a16Case(context, *dtype, rng);
  } else if (kernelKind == "w8a8-int8") {
    kernel = w8a8Case(QuantDType::Int8, rng);
  } else if (kernelKind == "w8a8-fp8") {
    kernel = w8a8Case(QuantDType::FP8E4M3, rng);
  } else if (kernelKind == "mxfp4") {
    kernel = mxfp4Case(context, rng);
  } else if (kernelKind == "block-scales" || kernelKind == "nvfp4") {
    if (kernelKind == "nvfp4" && secondScaleOption < 0.0f) {
      llvm::errs() << "quark-run-kernel: --second-scale must be positive\n";
      return 1;
    }
    std::optional<KernelCase> scaleQuant = kernelKind == "nvfp4"
                                               ? nvfp4Case(context, rng)
                                               : blockScalesCase(context, rng);
    if (!scaleQuant)
      return 1;
    kernel = std::move(*scaleQuant);
  } else if (kernelKind == "progressive") {
    kernel = progressiveCase(context, rng);
  } else {
    llvm::errs() << "quark-run-kernel: unknown --kernel " << kernelKind << "\n";
    return 1;
  }
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kernel.ir, &context);
  if (!module)
    return 1;
  if (emitQuark) {
    module->print(llvm::outs());
    return 0;
  }
  if (kernel.reference)
    kernel.expected = kernel.reference();
  if (device == "hip")
    return runOnHip(*module, kernel);
  if (device != "cpu") {
    llvm::errs() << "quark-run-kernel: --device is cpu or hip\n";
    return 1;
  }
  registerBuiltinDialectTranslation(context);
  registerLLVMDialectTranslation(context);
  std::vector<uint8_t> actual = runOnCpu(*module, kernel);
  if (actual.empty())
    return 1;
  // The split-K kernel adds float partial sums in another order than the
  // reference's K loop.
  return compare(kernel, actual,
                 /*reordered=*/emulateSplitK && !kernel.exactOnAnyDevice)
             ? 0
             : 1;
}
