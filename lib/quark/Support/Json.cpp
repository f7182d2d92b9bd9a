//===- Json.cpp - JSON parsing that is safe on untrusted input ------------===//

#include "quark/Support/Json.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <functional>

using namespace mlir::quark;

llvm::Expected<llvm::json::Value> mlir::quark::parseJson(llvm::StringRef text) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            llvm::formatv("JSON nested deeper than {0} levels (at byte {1})",
                          kMaxJsonDepth, i));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return llvm::json::parse(text);
}

namespace {
/// A cursor over JSON text that parseJson accepted: it only needs to find
/// token boundaries, never to validate.
class KeyScanner {
public:
  explicit KeyScanner(llvm::StringRef text) : text(text) {}

  /// Calls `onKey(key)` for each key of the object at the cursor, leaving
  /// the cursor on the key's value; `onKey` must consume the value (or not:
  /// then it is skipped). False when the cursor is not on an object.
  template <typename Fn> bool forEachKey(Fn onKey) {
    skipSpace();
    if (!consume('{'))
      return false;
    while (true) {
      skipSpace();
      if (peek() != '"')
        return true; // '}' of an empty object
      std::string key = readString();
      skipSpace();
      consume(':');
      skipSpace();
      size_t valueStart = pos;
      onKey(key);
      if (pos == valueStart)
        skipValue();
      skipSpace();
      if (!consume(','))
        return true;
    }
  }

  void skipValue() {
    int depth = 0;
    do {
      char c = peek();
      if (c == '"') {
        readString();
        continue;
      }
      if (c == '{' || c == '[')
        ++depth;
      else if (c == '}' || c == ']')
        --depth;
      else if (depth == 0 && (c == ',' || c == '\0'))
        return;
      ++pos;
    } while (depth > 0 || (peek() != ',' && peek() != '}' && peek() != '\0'));
  }

private:
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' ||
                                 text[pos] == '\r' || text[pos] == '\t'))
      ++pos;
  }
  /// Decodes a string token, escapes included, so "\u0061" equals "a".
  std::string readString() {
    size_t start = pos;
    ++pos; // opening quote
    while (pos < text.size() && text[pos] != '"')
      pos += text[pos] == '\\' ? 2 : 1;
    ++pos; // closing quote
    llvm::Expected<llvm::json::Value> decoded =
        llvm::json::parse(text.slice(start, pos));
    if (!decoded || !decoded->getAsString()) {
      llvm::consumeError(decoded.takeError());
      return text.slice(start, pos).str();
    }
    return decoded->getAsString()->str();
  }

  llvm::StringRef text;
  size_t pos = 0;
};
} // namespace

std::optional<std::string> mlir::quark::findDuplicateKey(llvm::StringRef text) {
  KeyScanner scanner(text);
  llvm::StringSet<> seen;
  std::optional<std::string> duplicate;
  scanner.forEachKey([&](const std::string &key) {
    if (!duplicate && !seen.insert(key).second)
      duplicate = key;
  });
  return duplicate;
}

std::vector<std::string>
mlir::quark::orderedKeys(llvm::StringRef text,
                         llvm::ArrayRef<llvm::StringRef> path) {
  std::vector<std::string> keys;
  KeyScanner scanner(text);
  // Descend one key of `path` per level; at the end, list the keys.
  std::function<void(size_t)> visit = [&](size_t depth) {
    scanner.forEachKey([&](const std::string &key) {
      if (depth == path.size())
        keys.push_back(key);
      else if (key == path[depth])
        visit(depth + 1);
    });
  };
  visit(0);
  return keys;
}
