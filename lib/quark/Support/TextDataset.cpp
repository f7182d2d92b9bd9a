//===- TextDataset.cpp - Plain-text evaluation/calibration data -----------===//

#include "quark/Support/TextDataset.h"

#include "quark/Support/Json.h"
#include "quark/Support/ReadFile.h"
#include "quark/Support/Tokenizer.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir::quark;

static bool isJsonLines(llvm::StringRef path) {
  return llvm::sys::path::extension(path) == ".jsonl";
}

/// Appends the "text" of every record of a JSON Lines file, records
/// separated by "\n\n". Blank lines are skipped, as the json-lines readers
/// of the datasets library skip them.
static llvm::Error appendJsonLines(llvm::StringRef path, llvm::StringRef bytes,
                                   std::string &text) {
  size_t records = 0;
  int64_t lineNumber = 0;
  while (!bytes.empty()) {
    auto [line, rest] = bytes.split('\n');
    bytes = rest;
    ++lineNumber;
    if (line.trim().empty())
      continue;
    auto fail = [&](const llvm::Twine &why) {
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     path + ":" + llvm::Twine(lineNumber) +
                                         ": " + why);
    };
    llvm::Expected<llvm::json::Value> record = parseJson(line);
    if (!record)
      return fail("invalid JSON: " + llvm::toString(record.takeError()));
    const llvm::json::Object *object = record->getAsObject();
    if (!object)
      return fail("a record must be a JSON object with a \"text\" field");
    std::optional<llvm::StringRef> field = object->getString("text");
    if (!field)
      return fail("the record has no string \"text\" field");
    if (records++ > 0)
      text += "\n\n";
    text += *field;
  }
  if (records == 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": no records");
  return llvm::Error::success();
}

static llvm::Error appendFile(llvm::StringRef path, std::string &text) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  llvm::StringRef bytes = (*buffer)->getBuffer();
  if (llvm::Error error = validateUtf8(bytes, path))
    return error;
  if (isJsonLines(path))
    return appendJsonLines(path, bytes, text);
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
      if ((llvm::sys::path::extension(it->path()) == ".txt" ||
           isJsonLines(it->path())) &&
          !llvm::sys::fs::is_directory(it->path()))
        dataset.files.push_back(it->path());
    if (ec)
      return llvm::createStringError(ec, fileOrDir +
                                             ": cannot list: " + ec.message());
    llvm::sort(dataset.files);
    if (dataset.files.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     fileOrDir + ": no .txt or .jsonl files");
  }
  for (size_t i = 0; i < dataset.files.size(); ++i) {
    if (i > 0)
      dataset.text += "\n\n";
    if (llvm::Error error = appendFile(dataset.files[i], dataset.text))
      return std::move(error);
  }
  return dataset;
}
