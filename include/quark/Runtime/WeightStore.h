//===- WeightStore.h - Model weights for the executor -----------*- C++ -*-===//
//
// Resolves quark.param references to float32 tensors: the checkpoint in the
// model folder, or a safetensors file named by the param, relative to that
// folder. Tensors are converted once and kept, unless caching is off: then
// each read converts afresh and hands the tensor's mapped pages back to the
// OS, so streaming a checkpoint larger than memory stays in bounded memory.
// Values set in memory take precedence over files.
//
// Threads may call locate, shapeOf, readRows and release at once (a weight
// streamed in parallel chunks opens its file on the first of them); get,
// set, unset and the cache belong to one thread.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_RUNTIME_WEIGHTSTORE_H
#define QUARK_RUNTIME_WEIGHTSTORE_H

#include "quark/Runtime/Tensor.h"
#include "quark/Support/Safetensors.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <mutex>
#include <string>

namespace mlir::quark {

class WeightStore {
public:
  explicit WeightStore(std::string modelDir) : modelDir(std::move(modelDir)) {}

  /// The float32 value of tensor `name`, from `file` (absolute, or relative
  /// to the model folder) when non-empty, else from the model checkpoint.
  llvm::Expected<Tensor> get(llvm::StringRef name, llvm::StringRef file = {});
  /// The stored codes of tensor `name` as int32 (integer values, fp8 bit
  /// patterns), uncached: what a real-quantized weight holds.
  llvm::Expected<Tensor> getCodes(llvm::StringRef name,
                                  llvm::StringRef file = {});
  /// Tensor `name` held in stored layout `layout` (StoredLayout's text
  /// form), decoded to a tensor of `shape`: int32 codes when `codes`, else
  /// float32 values. Uncached.
  llvm::Expected<Tensor> getStored(llvm::StringRef name, llvm::StringRef file,
                                   llvm::StringRef layout,
                                   llvm::ArrayRef<int64_t> shape, bool codes);
  /// Where tensor `name` lives in its file (from `file` when non-empty):
  /// its bytes as stored, for a reader that copies them unconverted.
  llvm::Expected<TensorRef> locate(llvm::StringRef name,
                                   llvm::StringRef file = {});
  /// The shape of tensor `name`, without reading it.
  llvm::Expected<llvm::SmallVector<int64_t, 4>>
  shapeOf(llvm::StringRef name, llvm::StringRef file = {});
  /// Converts rows [begin, end) (slices along the first dimension) of tensor
  /// `name` to float32 into `out`: a large weight streams through a small
  /// buffer this way. Uncached.
  llvm::Error readRows(llvm::StringRef name, llvm::StringRef file,
                       int64_t begin, int64_t end,
                       llvm::MutableArrayRef<float> out);
  /// Hands tensor `name`'s mapped pages back to the OS once it is read.
  void release(llvm::StringRef name, llvm::StringRef file = {});
  /// Makes `name` (from `file`, by default the model checkpoint) read as
  /// `value`.
  void set(llvm::StringRef name, Tensor value, llvm::StringRef file = {});
  /// Drops what set() made `name` read as.
  void unset(llvm::StringRef name, llvm::StringRef file = {});

  void setCaching(bool enabled) { caching = enabled; }
  /// Drops converted tensors (not values set in memory).
  void clearCache() { cache.clear(); }
  /// Bytes of converted tensors currently held.
  size_t cachedBytes() const;
  llvm::StringRef directory() const { return modelDir; }
  /// The model checkpoint (opened on first use).
  llvm::Expected<SafetensorsCheckpoint *> checkpoint();

private:
  llvm::Expected<SafetensorsCheckpoint *> open(llvm::StringRef file);

  std::string modelDir;
  bool caching = true;
  /// Opened checkpoints; a checkpoint never moves once opened, so the
  /// lock guards the map only, not reads of its tensors.
  std::mutex filesMutex;
  llvm::StringMap<std::unique_ptr<SafetensorsCheckpoint>> files;
  llvm::StringMap<Tensor> cache;
  llvm::StringMap<Tensor> overrides;
};

} // namespace mlir::quark

#endif // QUARK_RUNTIME_WEIGHTSTORE_H
