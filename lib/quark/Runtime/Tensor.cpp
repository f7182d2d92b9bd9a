//===- Tensor.cpp - Dense host tensors of the CPU executor ----------------===//

#include "quark/Runtime/Tensor.h"

#include "llvm/Support/ErrorHandling.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

using namespace mlir::quark;

namespace {
/// Keeps freed large buffers for reuse. The executor allocates the same
/// activation shapes for every window; without reuse each large buffer is a
/// fresh mmap whose pages the kernel must fault in and zero (16% of a
/// forward pass was page clearing). Bounded, so memory-bounded runs stay
/// bounded.
class BufferPool {
public:
  static constexpr size_t kMinPooledBytes = 64 << 10;
  static constexpr size_t kMaxHeldBytes = 512 << 20;
  static constexpr size_t kMaxPerSize = 8;

  void *get(size_t bytes) {
    if (bytes >= kMinPooledBytes) {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = freeLists.find(bytes);
      if (it != freeLists.end() && !it->second.empty()) {
        void *memory = it->second.back();
        it->second.pop_back();
        held -= bytes;
        return memory;
      }
    }
    // 64-byte alignment suits AVX-512 loads and GEMM packing.
    void *memory = std::aligned_alloc(64, bytes);
    if (!memory)
      llvm::report_bad_alloc_error("out of memory allocating a tensor");
    return memory;
  }

  void put(void *memory, size_t bytes) {
    if (bytes >= kMinPooledBytes) {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<void *> &list = freeLists[bytes];
      if (held + bytes <= kMaxHeldBytes && list.size() < kMaxPerSize) {
        list.push_back(memory);
        held += bytes;
        return;
      }
    }
    std::free(memory);
  }

private:
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void *>> freeLists;
  size_t held = 0;
};

/// Never destroyed: tensors in static storage may outlive any destructor.
BufferPool &bufferPool() {
  static BufferPool *pool = new BufferPool();
  return *pool;
}
} // namespace

static std::shared_ptr<void> allocate(size_t elements) {
  size_t bytes = std::max<size_t>(elements * 4, 64);
  // Round so that slightly different sizes share buffers.
  size_t granule = bytes >= BufferPool::kMinPooledBytes ? 4096 : 64;
  bytes = (bytes + granule - 1) / granule * granule;
  void *memory = bufferPool().get(bytes);
  return std::shared_ptr<void>(
      memory, [bytes](void *p) { bufferPool().put(p, bytes); });
}

int64_t Tensor::numElements() const {
  int64_t count = 1;
  for (int64_t d : dims)
    count *= d;
  return count;
}

Tensor Tensor::empty(llvm::ArrayRef<int64_t> shape, ElementKind kind) {
  Tensor tensor;
  tensor.dims.assign(shape.begin(), shape.end());
  tensor.elementKind = kind;
  tensor.buffer = allocate(tensor.size());
  return tensor;
}

Tensor Tensor::zeros(llvm::ArrayRef<int64_t> shape, ElementKind kind) {
  Tensor tensor = empty(shape, kind);
  std::memset(tensor.buffer.get(), 0, tensor.byteSize());
  return tensor;
}

Tensor Tensor::fromFloats(llvm::ArrayRef<int64_t> shape,
                          llvm::ArrayRef<float> values) {
  Tensor tensor = empty(shape, ElementKind::F32);
  assert(values.size() == tensor.size() && "element count mismatch");
  std::memcpy(tensor.f32(), values.data(), values.size() * 4);
  return tensor;
}

Tensor Tensor::fromInts(llvm::ArrayRef<int64_t> shape,
                        llvm::ArrayRef<int32_t> values) {
  Tensor tensor = empty(shape, ElementKind::I32);
  assert(values.size() == tensor.size() && "element count mismatch");
  std::memcpy(tensor.i32(), values.data(), values.size() * 4);
  return tensor;
}

Tensor Tensor::reshaped(llvm::ArrayRef<int64_t> shape) const {
  Tensor tensor = *this;
  tensor.dims.assign(shape.begin(), shape.end());
  assert(tensor.numElements() == numElements() && "reshape changes size");
  return tensor;
}

Tensor Tensor::clone() const {
  Tensor tensor = empty(dims, elementKind);
  std::memcpy(tensor.buffer.get(), buffer.get(), byteSize());
  return tensor;
}
