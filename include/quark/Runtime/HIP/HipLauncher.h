//===- HipLauncher.h - Run quark GPU kernels on an AMD GPU ------*- C++ -*-===//
//
// What a serving integration calls to run kernels quark-opt compiled: open
// a device, load a kernel folder (the HSACO files and kernels.json that
// quark-lower-to-rocdl-pipeline{dir=...} writes), then run one of its
// functions on host buffers, or time it. Every failure is an llvm::Error
// naming the HIP call, the file or the function; with no AMD GPU, open()
// says so instead of crashing. The kernels assume what this launcher
// provides: every buffer is its own hipMalloc allocation (distinct and
// 16-byte aligned; quark-annotate-kernel-arguments).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_RUNTIME_HIP_HIPLAUNCHER_H
#define QUARK_RUNTIME_HIP_HIPLAUNCHER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlir::quark::hip {

/// One buffer of a kernel function (an argument or one it allocates).
struct BufferInfo {
  std::vector<int64_t> shape;
  std::string element;
  int64_t bytes = 0;
  /// The function argument it is, or -1 for a buffer the function allocates.
  int64_t argument = -1;
};

struct LaunchInfo {
  std::string module;
  std::string kernel;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  std::vector<int64_t> buffers; // kernel arguments, as buffer indices
};

struct FunctionInfo {
  std::string name;
  std::vector<BufferInfo> buffers;
  std::vector<LaunchInfo> launches;
  std::vector<int64_t> results; // buffer indices the function returns
};

/// kernels.json and the folder it lies in.
struct KernelManifest {
  std::string directory;
  std::map<std::string, std::string> binaries; // module -> file name
  std::vector<FunctionInfo> functions;

  static llvm::Expected<KernelManifest> load(llvm::StringRef directory);
  const FunctionInfo *find(llvm::StringRef name) const;
};

/// Whether this build has the HIP runtime (libamdhip64) linked in.
bool isHipAvailable();

class Device;

/// A loaded kernel function, ready to run on one device.
class Program {
public:
  ~Program();
  Program(Program &&) noexcept;
  /// Copies `inputs` (one per function argument, in order) to the device,
  /// runs the launches in order and copies the results back into `outputs`
  /// (one per function result).
  llvm::Error run(llvm::ArrayRef<llvm::ArrayRef<uint8_t>> inputs,
                  std::vector<std::vector<uint8_t>> &outputs);
  /// Median time in milliseconds of `iterations` runs of the launches on
  /// the inputs of the last run (device time, HIP events).
  llvm::Expected<double> timeMilliseconds(int iterations);

private:
  friend class Device;
  struct Impl;
  explicit Program(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Device {
public:
  /// Opens GPU `ordinal`. Fails with "no AMD GPU" when HIP sees none.
  static llvm::Expected<Device> open(int ordinal = 0);
  /// The chip name (gfx942, ...), what the pipelines' chip= takes.
  const std::string &arch() const { return arch_; }
  /// Loads the code objects of `function` from `manifest`.
  llvm::Expected<Program> load(const KernelManifest &manifest,
                               llvm::StringRef function);

private:
  int ordinal_ = 0;
  std::string arch_;
};

} // namespace mlir::quark::hip

#endif // QUARK_RUNTIME_HIP_HIPLAUNCHER_H
