//===- ReadFile.h - Opening input files with one kind of error --*- C++ -*-===//

#ifndef QUARK_SUPPORT_READFILE_H
#define QUARK_SUPPORT_READFILE_H

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>

namespace mlir::quark {

/// The contents of `path`, memory-mapped when large (no null terminator is
/// required, so maps stay zero-copy). The error reads
/// "<path>: cannot open: <reason>".
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readFile(llvm::StringRef path);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_READFILE_H
