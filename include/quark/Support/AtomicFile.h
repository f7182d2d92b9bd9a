//===- AtomicFile.h - Write a file so it appears whole or not at all -*- C++
//-*-//
//
// Every writer in the project goes through this: the bytes go to a uniquely
// named temporary file in the destination folder, which is renamed over the
// destination only by commit(). A writer that fails, or is destroyed before
// commit(), leaves nothing behind.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_ATOMICFILE_H
#define QUARK_SUPPORT_ATOMICFILE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace mlir::quark {

class AtomicFile {
public:
  /// Opens a temporary file next to `path`.
  static llvm::Expected<std::unique_ptr<AtomicFile>>
  create(llvm::StringRef path);
  ~AtomicFile();

  llvm::raw_fd_ostream &os() { return *stream; }
  /// The temporary file's descriptor, for writers that bypass os() (they
  /// must not mix it with os()).
  int fd() const { return descriptor; }
  llvm::StringRef path() const { return finalPath; }
  /// Flushes, checks for write errors, and renames into place.
  llvm::Error commit();

private:
  AtomicFile(std::string finalPath, std::string tempPath, int descriptor,
             std::unique_ptr<llvm::raw_fd_ostream> stream)
      : finalPath(std::move(finalPath)), tempPath(std::move(tempPath)),
        descriptor(descriptor), stream(std::move(stream)) {}

  std::string finalPath;
  std::string tempPath;
  int descriptor;
  std::unique_ptr<llvm::raw_fd_ostream> stream;
  bool committed = false;
};

/// Writes `contents` to `path` atomically.
llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef contents);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_ATOMICFILE_H
