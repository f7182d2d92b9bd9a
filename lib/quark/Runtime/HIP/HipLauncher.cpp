//===- HipLauncher.cpp - Run quark GPU kernels on an AMD GPU --------------===//

#include "quark/Runtime/HIP/HipLauncher.h"

#include "quark/Support/Json.h"
#include "quark/Support/ReadFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <algorithm>

#if QUARK_HAVE_HIP
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#endif

using namespace mlir::quark;
using namespace mlir::quark::hip;
using llvm::Error;
using llvm::Expected;

static Error manifestError(llvm::StringRef path, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + what);
}

Expected<KernelManifest> KernelManifest::load(llvm::StringRef directory) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, "kernels.json");
  Expected<std::unique_ptr<llvm::MemoryBuffer>> text = readFile(path);
  if (!text)
    return text.takeError();
  Expected<llvm::json::Value> json = parseJson((*text)->getBuffer());
  if (!json)
    return manifestError(path, llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root || root->getString("format") != "quark-kernels/1")
    return manifestError(path, "not a quark kernel manifest "
                               "(format quark-kernels/1)");
  KernelManifest manifest;
  manifest.directory = directory.str();
  if (const llvm::json::Object *binaries = root->getObject("binaries"))
    for (const auto &[module, file] : *binaries)
      if (std::optional<llvm::StringRef> name = file.getAsString())
        manifest.binaries[module.str()] = name->str();
  const llvm::json::Array *functions = root->getArray("functions");
  if (!functions)
    return manifestError(path, "has no 'functions'");
  auto ints = [](const llvm::json::Array *array) {
    std::vector<int64_t> values;
    if (array)
      for (const llvm::json::Value &v : *array)
        values.push_back(v.getAsInteger().value_or(-1));
    return values;
  };
  for (const llvm::json::Value &value : *functions) {
    const llvm::json::Object *object = value.getAsObject();
    if (!object)
      return manifestError(path, "has a function that is not an object");
    FunctionInfo function;
    function.name = object->getString("name").value_or("").str();
    if (const llvm::json::Array *buffers = object->getArray("buffers"))
      for (const llvm::json::Value &b : *buffers) {
        const llvm::json::Object *buffer = b.getAsObject();
        if (!buffer)
          return manifestError(path,
                               "has a malformed buffer in " + function.name);
        BufferInfo info;
        info.shape = ints(buffer->getArray("shape"));
        info.element = buffer->getString("element").value_or("").str();
        info.bytes = buffer->getInteger("bytes").value_or(-1);
        info.argument = buffer->getInteger("argument").value_or(-1);
        if (info.bytes < 0)
          return manifestError(path, "has a buffer without a size in " +
                                         function.name);
        function.buffers.push_back(std::move(info));
      }
    if (const llvm::json::Array *launches = object->getArray("launches"))
      for (const llvm::json::Value &l : *launches) {
        const llvm::json::Object *launch = l.getAsObject();
        if (!launch)
          return manifestError(path,
                               "has a malformed launch in " + function.name);
        LaunchInfo info;
        info.module = launch->getString("module").value_or("").str();
        info.kernel = launch->getString("kernel").value_or("").str();
        std::vector<int64_t> grid = ints(launch->getArray("grid"));
        std::vector<int64_t> block = ints(launch->getArray("block"));
        if (grid.size() != 3 || block.size() != 3)
          return manifestError(path, "has a launch of " + info.kernel +
                                         " without a 3-d grid and block");
        for (int i = 0; i < 3; ++i) {
          info.grid[i] = static_cast<unsigned>(grid[i]);
          info.block[i] = static_cast<unsigned>(block[i]);
        }
        if (const llvm::json::Array *args = launch->getArray("args"))
          for (const llvm::json::Value &a : *args) {
            const llvm::json::Object *arg = a.getAsObject();
            int64_t index = arg ? arg->getInteger("buffer").value_or(-1) : -1;
            if (index < 0 ||
                index >= static_cast<int64_t>(function.buffers.size()))
              return manifestError(path, "has a launch of " + info.kernel +
                                             " with a bad buffer index");
            info.buffers.push_back(index);
          }
        function.launches.push_back(std::move(info));
      }
    function.results = ints(object->getArray("results"));
    for (int64_t result : function.results)
      if (result < 0 || result >= static_cast<int64_t>(function.buffers.size()))
        return manifestError(path,
                             "has a bad result index in " + function.name);
    manifest.functions.push_back(std::move(function));
  }
  return manifest;
}

const FunctionInfo *KernelManifest::find(llvm::StringRef name) const {
  for (const FunctionInfo &function : functions)
    if (function.name == name)
      return &function;
  return nullptr;
}

#if QUARK_HAVE_HIP

bool mlir::quark::hip::isHipAvailable() { return true; }

static Error hipError(const char *call, hipError_t status) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 llvm::formatv("{0} failed: {1} ({2})", call,
                                               hipGetErrorName(status),
                                               hipGetErrorString(status)));
}

#define QUARK_HIP_TRY(call)                                                    \
  do {                                                                         \
    hipError_t status_ = (call);                                               \
    if (status_ != hipSuccess)                                                 \
      return hipError(#call, status_);                                         \
  } while (false)

struct Program::Impl {
  const FunctionInfo *function = nullptr;
  std::vector<hipModule_t> modules;
  std::vector<hipFunction_t> kernels; // one per launch
  std::vector<void *> buffers;        // device memory, one per buffer

  ~Impl() {
    for (void *buffer : buffers)
      if (buffer)
        (void)hipFree(buffer);
    for (hipModule_t module : modules)
      (void)hipModuleUnload(module);
  }

  Error launchAll() {
    for (auto [launch, kernel] : llvm::zip(function->launches, kernels)) {
      std::vector<void *> pointers;
      for (int64_t index : launch.buffers)
        pointers.push_back(buffers[index]);
      std::vector<void *> params;
      for (void *&pointer : pointers)
        params.push_back(&pointer);
      QUARK_HIP_TRY(hipModuleLaunchKernel(
          kernel, launch.grid[0], launch.grid[1], launch.grid[2],
          launch.block[0], launch.block[1], launch.block[2], 0, nullptr,
          params.data(), nullptr));
    }
    return Error::success();
  }
};

Expected<Device> Device::open(int ordinal) {
  int count = 0;
  hipError_t status = hipGetDeviceCount(&count);
  if (status == hipErrorNoDevice || (status == hipSuccess && count == 0))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "no AMD GPU: the HIP runtime found no device (hipGetDeviceCount: %s)",
        hipGetErrorName(status));
  if (status != hipSuccess)
    return hipError("hipGetDeviceCount", status);
  if (ordinal < 0 || ordinal >= count)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no AMD GPU %d (%d found)", ordinal, count);
  QUARK_HIP_TRY(hipSetDevice(ordinal));
  hipDeviceProp_t properties;
  QUARK_HIP_TRY(hipGetDeviceProperties(&properties, ordinal));
  Device device;
  device.ordinal_ = ordinal;
  // gcnArchName reads like "gfx942:sramecc+:xnack-": the chip comes first.
  device.arch_ = llvm::StringRef(properties.gcnArchName).split(':').first.str();
  return device;
}

Expected<Program> Device::load(const KernelManifest &manifest,
                               llvm::StringRef name) {
  const FunctionInfo *function = manifest.find(name);
  if (!function)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "%s/kernels.json has no function '%s'",
        manifest.directory.c_str(), name.str().c_str());
  QUARK_HIP_TRY(hipSetDevice(ordinal_));
  auto impl = std::make_unique<Program::Impl>();
  impl->function = function;
  std::map<std::string, hipModule_t> loaded;
  for (const LaunchInfo &launch : function->launches) {
    hipModule_t &module = loaded[launch.module];
    if (!module) {
      auto file = manifest.binaries.find(launch.module);
      if (file == manifest.binaries.end())
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "kernels.json names no file for '%s'",
                                       launch.module.c_str());
      llvm::SmallString<256> path(manifest.directory);
      llvm::sys::path::append(path, file->second);
      Expected<std::unique_ptr<llvm::MemoryBuffer>> image = readFile(path);
      if (!image)
        return image.takeError();
      QUARK_HIP_TRY(hipModuleLoadData(&module, (*image)->getBufferStart()));
      impl->modules.push_back(module);
    }
    hipFunction_t kernel;
    QUARK_HIP_TRY(hipModuleGetFunction(&kernel, module, launch.kernel.c_str()));
    impl->kernels.push_back(kernel);
  }
  for (const BufferInfo &buffer : function->buffers) {
    void *memory = nullptr;
    QUARK_HIP_TRY(hipMalloc(&memory, std::max<int64_t>(buffer.bytes, 1)));
    impl->buffers.push_back(memory);
  }
  return Program(std::move(impl));
}

Error Program::run(llvm::ArrayRef<llvm::ArrayRef<uint8_t>> inputs,
                   std::vector<std::vector<uint8_t>> &outputs) {
  const FunctionInfo &function = *impl_->function;
  for (auto [index, buffer] : llvm::enumerate(function.buffers)) {
    if (buffer.argument < 0)
      continue;
    if (buffer.argument >= static_cast<int64_t>(inputs.size()) ||
        static_cast<int64_t>(inputs[buffer.argument].size()) != buffer.bytes)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(), "%s: argument %lld needs %lld bytes",
          function.name.c_str(), static_cast<long long>(buffer.argument),
          static_cast<long long>(buffer.bytes));
    QUARK_HIP_TRY(hipMemcpy(impl_->buffers[index],
                            inputs[buffer.argument].data(), buffer.bytes,
                            hipMemcpyHostToDevice));
  }
  if (Error error = impl_->launchAll())
    return error;
  QUARK_HIP_TRY(hipDeviceSynchronize());
  outputs.clear();
  for (int64_t result : function.results) {
    std::vector<uint8_t> bytes(function.buffers[result].bytes);
    QUARK_HIP_TRY(hipMemcpy(bytes.data(), impl_->buffers[result], bytes.size(),
                            hipMemcpyDeviceToHost));
    outputs.push_back(std::move(bytes));
  }
  return Error::success();
}

Expected<double> Program::timeMilliseconds(int iterations) {
  hipEvent_t start, stop;
  QUARK_HIP_TRY(hipEventCreate(&start));
  QUARK_HIP_TRY(hipEventCreate(&stop));
  std::vector<double> times;
  for (int i = 0; i < std::max(iterations, 1); ++i) {
    QUARK_HIP_TRY(hipEventRecord(start, nullptr));
    if (Error error = impl_->launchAll())
      return std::move(error);
    QUARK_HIP_TRY(hipEventRecord(stop, nullptr));
    QUARK_HIP_TRY(hipEventSynchronize(stop));
    float ms = 0;
    QUARK_HIP_TRY(hipEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  (void)hipEventDestroy(start);
  (void)hipEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

#else // !QUARK_HAVE_HIP

bool mlir::quark::hip::isHipAvailable() { return false; }

struct Program::Impl {};

Expected<Device> Device::open(int) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "no AMD GPU: this build has no HIP runtime (libamdhip64-dev was not "
      "found when it was configured)");
}

Expected<Program> Device::load(const KernelManifest &, llvm::StringRef) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "no HIP runtime in this build");
}

Error Program::run(llvm::ArrayRef<llvm::ArrayRef<uint8_t>>,
                   std::vector<std::vector<uint8_t>> &) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "no HIP runtime in this build");
}

Expected<double> Program::timeMilliseconds(int) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "no HIP runtime in this build");
}

#endif // QUARK_HAVE_HIP

Program::Program(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Program::Program(Program &&) noexcept = default;
Program::~Program() = default;
