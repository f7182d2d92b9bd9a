//===- ReadFile.cpp - Opening input files with one kind of error ----------===//

#include "quark/Support/ReadFile.h"

using namespace mlir::quark;

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
mlir::quark::readFile(llvm::StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false,
                                  /*IsVolatile=*/false);
  if (!buffer)
    return llvm::createStringError(
        buffer.getError(),
        path + ": cannot open: " + buffer.getError().message());
  return std::move(*buffer);
}
