//===- Tensor.cpp - Dense host tensors of the CPU executor ----------------===//

#include "quark/Runtime/Tensor.h"

#include "llvm/Support/ErrorHandling.h"

#include <cassert>
#include <cstdlib>
#include <cstring>

using namespace mlir::quark;

static std::shared_ptr<void> allocate(size_t elements) {
  // 64-byte alignment suits AVX-512 loads and BLAS packing.
  size_t bytes = ((elements * 4 + 63) / 64) * 64;
  void *memory = std::aligned_alloc(64, bytes ? bytes : 64);
  if (!memory)
    llvm::report_bad_alloc_error("out of memory allocating a tensor");
  return std::shared_ptr<void>(memory, std::free);
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
