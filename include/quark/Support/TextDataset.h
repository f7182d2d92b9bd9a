//===- TextDataset.h - Plain-text evaluation/calibration data ---*- C++ -*-===//
//
// A dataset is a UTF-8 text file, or a folder of them (*.txt, in name order,
// joined by a blank line, "\n\n", as the GPTQ/Quark scripts join
// wikitext's records). Text is read as Python's open(path, encoding="utf-8")
// reads it: universal newlines ("\r\n" and "\r" become "\n"), strict UTF-8.
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
