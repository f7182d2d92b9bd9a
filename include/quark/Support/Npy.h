//===- Npy.h - NumPy .npy files ----------------------------------*- C++ -*-===//
//
// Version 1.0 .npy files of little-endian float32 or int32, C order: how the
// tools hand tensors to the Python reference scripts and back.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_NPY_H
#define QUARK_SUPPORT_NPY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace mlir::quark {

/// Writes a float32 array (atomically).
llvm::Error writeNpy(llvm::StringRef path, llvm::ArrayRef<int64_t> shape,
                     llvm::ArrayRef<float> values);

struct NpyArray {
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<float> values; // float32 or int32 data widened to float
};
/// Reads a float32 or int32 array.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_NPY_H
