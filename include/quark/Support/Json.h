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

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mlir::quark {

/// The deepest nesting parseJson accepts.
constexpr unsigned kMaxJsonDepth = 256;

llvm::Expected<llvm::json::Value> parseJson(llvm::StringRef text);

// llvm::json::Object is a hash map: it forgets key order and keeps only the
// last of duplicate keys. Where either matters (duplicate tensor names in a
// safetensors header; the order of fnmatch patterns in a Quark config, which
// Python resolves in insertion order) these scan the text that parseJson
// accepted.

/// The first key that occurs twice in the top-level object, if any.
std::optional<std::string> findDuplicateKey(llvm::StringRef text);

/// The keys of the object reached from the top-level object through the
/// keys of `path`, in the order they appear; empty when there is no object
/// there.
std::vector<std::string> orderedKeys(llvm::StringRef text,
                                     llvm::ArrayRef<llvm::StringRef> path);

/// Python's repr of a float (the shortest text that reads back to the same
/// double; "10000.0", "1e-05", "0.1"), which json.dump writes.
std::string pythonFloatRepr(double value);

/// Writes `value` as Python's json.dumps(value, indent=indent,
/// sort_keys=True) does, which is how Hugging Face (and so Quark's export)
/// writes config.json and the shard index: floats as Python prints them,
/// non-ASCII characters as \uXXXX escapes. llvm::json would print 10000.0
/// as 10000 and 1e-05 as 1.0000000000000001e-05.
void printPythonJson(llvm::raw_ostream &os, const llvm::json::Value &value,
                     unsigned indent = 2);

/// A JSON document whose objects keep their keys in insertion order, for
/// files Python writes with json.dump and no sort_keys (Quark's legacy
/// vllm-adopt `<model>.json`), where llvm::json::Object would sort them.
/// Scalars are llvm::json values: an integer prints as one, a double as
/// Python prints a float ("1.0", "1e-06").
class OrderedJson {
public:
  OrderedJson() = default;
  /// A scalar: anything llvm::json::Value holds (null, bool, number,
  /// string).
  template <typename T, typename = std::enable_if_t<
                            std::is_constructible_v<llvm::json::Value, T &&> &&
                            !std::is_same_v<std::decay_t<T>, OrderedJson>>>
  OrderedJson(T &&value) : scalar(std::forward<T>(value)) {}
  static OrderedJson object() { return OrderedJson(Kind::Object); }
  static OrderedJson array() { return OrderedJson(Kind::Array); }

  /// Appends a member (objects only).
  OrderedJson &add(llvm::StringRef key, OrderedJson value);
  /// Appends an element (arrays only).
  OrderedJson &push(OrderedJson value);

  /// Writes the document as json.dump(value, indent=indent) does.
  void print(llvm::raw_ostream &os, unsigned indent, unsigned depth = 0) const;

private:
  enum class Kind { Scalar, Object, Array };
  explicit OrderedJson(Kind kind) : kind(kind) {}

  Kind kind = Kind::Scalar;
  llvm::json::Value scalar = nullptr;
  std::vector<std::string> keys; // objects: member names, in order
  std::vector<OrderedJson> children;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_JSON_H
