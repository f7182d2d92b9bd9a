//===- TextDataset.h - Plain-text evaluation/calibration data ---*- C++ -*-===//
//
// A dataset is a UTF-8 text file, a JSON Lines file (*.jsonl: one object per
// line whose "text" field is a record, as pile-val and most Hugging Face
// text datasets ship), or a folder of them (*.txt and *.jsonl, in name
// order). Records and files are joined by a blank line, "\n\n", as the
// GPTQ/Quark scripts join wikitext's records. Text is read as Python's
// open(path, encoding="utf-8") reads it: universal newlines ("\r\n" and
// "\r" become "\n"), strict UTF-8; a JSON record's own "\r" escapes are
// its content and are kept.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_TEXTDATASET_H
#define QUARK_SUPPORT_TEXTDATASET_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::quark {

struct TextDataset {
  std::string text;
  /// The files read, in order.
  std::vector<std::string> files;
};

llvm::Expected<TextDataset> readTextDataset(llvm::StringRef fileOrDir);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_TEXTDATASET_H
