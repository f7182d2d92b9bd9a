//===- Tensor.h - Dense host tensors of the CPU executor --------*- C++ -*-===//
//
// A shape and a shared, 64-byte aligned buffer of float32 or int32 elements.
// Copies share the buffer (weights are loaded once and referenced by every
// op that reads them); kernels write into freshly allocated tensors.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_RUNTIME_TENSOR_H
#define QUARK_RUNTIME_TENSOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <memory>

namespace mlir::quark {

enum class ElementKind : uint8_t { F32, I32 };

class Tensor {
public:
  Tensor() = default;
  /// An uninitialized tensor.
  static Tensor empty(llvm::ArrayRef<int64_t> shape, ElementKind kind);
  static Tensor zeros(llvm::ArrayRef<int64_t> shape, ElementKind kind);
  static Tensor fromFloats(llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<float> values);
  static Tensor fromInts(llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<int32_t> values);

  bool valid() const { return static_cast<bool>(buffer); }
  ElementKind kind() const { return elementKind; }
  llvm::ArrayRef<int64_t> shape() const { return dims; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  int64_t dim(int64_t i) const { return dims[i < 0 ? i + rank() : i]; }
  int64_t numElements() const;

  float *f32() { return static_cast<float *>(buffer.get()); }
  const float *f32() const { return static_cast<const float *>(buffer.get()); }
  int32_t *i32() { return static_cast<int32_t *>(buffer.get()); }
  const int32_t *i32() const {
    return static_cast<const int32_t *>(buffer.get());
  }
  llvm::ArrayRef<float> floats() const { return {f32(), size()}; }
  llvm::MutableArrayRef<float> floats() { return {f32(), size()}; }
  llvm::ArrayRef<int32_t> ints() const { return {i32(), size()}; }

  /// The same buffer seen with another shape of as many elements.
  Tensor reshaped(llvm::ArrayRef<int64_t> shape) const;
  /// A deep copy.
  Tensor clone() const;
  /// Bytes held by the buffer.
  size_t byteSize() const { return size() * 4; }

private:
  size_t size() const { return static_cast<size_t>(numElements()); }
  llvm::SmallVector<int64_t, 4> dims;
  ElementKind elementKind = ElementKind::F32;
  std::shared_ptr<void> buffer;
};

} // namespace mlir::quark

#endif // QUARK_RUNTIME_TENSOR_H
