//===- TextDataset.cpp - Plain-text evaluation/calibration data -----------===//

#include "quark/Support/TextDataset.h"

#include "quark/Support/ReadFile.h"
#include "quark/Support/Tokenizer.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir::quark;

static llvm::Error appendFile(llvm::StringRef path, std::string &text) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  llvm::StringRef bytes = (*buffer)->getBuffer();
  if (llvm::Error error = validateUtf8(bytes, path))
    return error;
  text.reserve(text.size() + bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\r') {
      text += bytes[i];
      continue;
    }
    text += '\n';
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n')
      ++i;
  }
  return llvm::Error::success();
}

llvm::Expected<TextDataset>
mlir::quark::readTextDataset(llvm::StringRef fileOrDir) {
  TextDataset dataset;
  if (!llvm::sys::fs::exists(fileOrDir))
    return llvm::createStringError(
        std::make_error_code(std::errc::no_such_file_or_directory),
        fileOrDir + ": no such file or folder");
  if (!llvm::sys::fs::is_directory(fileOrDir)) {
    dataset.files.push_back(fileOrDir.str());
  } else {
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(fileOrDir, ec), end;
         it != end && !ec; it.increment(ec))
      if (llvm::sys::path::extension(it->path()) == ".txt" &&
          !llvm::sys::fs::is_directory(it->path()))
        dataset.files.push_back(it->path());
    if (ec)
      return llvm::createStringError(ec, fileOrDir +
                                             ": cannot list: " + ec.message());
    llvm::sort(dataset.files);
    if (dataset.files.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     fileOrDir + ": no .txt files");
  }
  for (size_t i = 0; i < dataset.files.size(); ++i) {
    if (i > 0)
      dataset.text += "\n\n";
    if (llvm::Error error = appendFile(dataset.files[i], dataset.text))
      return std::move(error);
  }
  return dataset;
}
