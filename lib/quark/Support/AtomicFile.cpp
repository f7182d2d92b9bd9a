//===- AtomicFile.cpp - Write a file so it appears whole or not at all ----===//

#include "quark/Support/AtomicFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir::quark;

llvm::Expected<std::unique_ptr<AtomicFile>>
AtomicFile::create(llvm::StringRef path) {
  llvm::SmallString<256> model = llvm::sys::path::parent_path(path);
  if (model.empty())
    model = ".";
  llvm::sys::path::append(model, "." + llvm::sys::path::filename(path) +
                                     ".tmp-%%%%%%%%");
  int fd = -1;
  llvm::SmallString<256> tempPath;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, tempPath))
    return llvm::createStringError(ec, "cannot create a temporary file for '" +
                                           path + "': " + ec.message());
  auto stream =
      std::make_unique<llvm::raw_fd_ostream>(fd, /*shouldClose=*/true);
  return std::unique_ptr<AtomicFile>(
      new AtomicFile(path.str(), tempPath.str().str(), fd, std::move(stream)));
}

AtomicFile::~AtomicFile() {
  if (committed)
    return;
  stream->close();
  stream->clear_error();
  llvm::sys::fs::remove(tempPath);
}

llvm::Error AtomicFile::commit() {
  stream->close();
  if (std::error_code ec = stream->error()) {
    stream->clear_error();
    return llvm::createStringError(ec, "cannot write '" + finalPath +
                                           "': " + ec.message());
  }
  if (std::error_code ec = llvm::sys::fs::rename(tempPath, finalPath))
    return llvm::createStringError(ec, "cannot move '" + tempPath + "' to '" +
                                           finalPath + "': " + ec.message());
  committed = true;
  return llvm::Error::success();
}

llvm::Error mlir::quark::writeFileAtomically(llvm::StringRef path,
                                             llvm::StringRef contents) {
  llvm::Expected<std::unique_ptr<AtomicFile>> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();
  (*file)->os() << contents;
  return (*file)->commit();
}
