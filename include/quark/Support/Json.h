//===- Json.h - JSON parsing that is safe on untrusted input ----*- C++ -*-===//
//
// llvm::json::parse recurses once per nesting level, so "[[[[..." a few
// hundred thousand levels deep overflows the stack. Every JSON document the
// project reads from a file (safetensors headers, config.json,
// tokenizer.json, indices, Quark configs) goes through parseJson, which
// rejects nesting deeper than any real file needs before parsing.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_JSON_H
#define QUARK_SUPPORT_JSON_H

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

namespace mlir::quark {

/// The deepest nesting parseJson accepts.
constexpr unsigned kMaxJsonDepth = 256;

llvm::Expected<llvm::json::Value> parseJson(llvm::StringRef text);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_JSON_H
