//===- Json.cpp - JSON parsing that is safe on untrusted input ------------===//

#include "quark/Support/Json.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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

std::string mlir::quark::pythonFloatRepr(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "Infinity" : "-Infinity";
  if (value == 0)
    return std::signbit(value) ? "-0.0" : "0.0";
  // The fewest significant digits that read back to the same double.
  char buffer[40];
  int digits = 1;
  for (; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  // buffer: [-]d[.ddd]e[+-]XX
  llvm::StringRef text(buffer);
  bool negative = text.consume_front("-");
  auto [mantissa, exponentText] = text.split('e');
  int exponent = 0;
  exponentText.consume_front("+");
  (void)exponentText.getAsInteger(10, exponent);
  std::string significand = mantissa.str();
  significand.erase(std::remove(significand.begin(), significand.end(), '.'),
                    significand.end());
  while (significand.size() > 1 && significand.back() == '0')
    significand.pop_back();
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += significand.substr(0, 1);
    if (significand.size() > 1)
      out += "." + significand.substr(1);
    char exp[8];
    std::snprintf(exp, sizeof(exp), "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    return out + exp;
  }
  if (exponent < 0)
    return out + "0." + std::string(-exponent - 1, '0') + significand;
  size_t integerDigits = static_cast<size_t>(exponent) + 1;
  if (significand.size() <= integerDigits)
    return out + significand +
           std::string(integerDigits - significand.size(), '0') + ".0";
  return out + significand.substr(0, integerDigits) + "." +
         significand.substr(integerDigits);
}

namespace {
void printPythonString(llvm::raw_ostream &os, llvm::StringRef text) {
  os << '"';
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
      case '"':
        os << "\\\"";
        break;
      case '\\':
        os << "\\\\";
        break;
      case '\n':
        os << "\\n";
        break;
      case '\r':
        os << "\\r";
        break;
      case '\t':
        os << "\\t";
        break;
      case '\b':
        os << "\\b";
        break;
      case '\f':
        os << "\\f";
        break;
      default:
        if (c < 0x20)
          os << llvm::format("\\u%04x", c);
        else
          os << static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // UTF-8 (llvm::json holds valid UTF-8) to code points, escaped as
    // ensure_ascii does, with surrogate pairs above U+FFFF.
    unsigned length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    uint32_t code = c & (0x7F >> length);
    for (unsigned k = 1; k < length && i + k < text.size(); ++k)
      code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    i += length;
    if (code >= 0x10000) {
      code -= 0x10000;
      os << llvm::format("\\u%04x\\u%04x", 0xD800 + (code >> 10),
                         0xDC00 + (code & 0x3FF));
    } else {
      os << llvm::format("\\u%04x", code);
    }
  }
  os << '"';
}

void printPythonValue(llvm::raw_ostream &os, const llvm::json::Value &value,
                      unsigned indent, unsigned depth) {
  auto newline = [&](unsigned level) {
    os << "\n" << std::string(indent * level, ' ');
  };
  switch (value.kind()) {
  case llvm::json::Value::Null:
    os << "null";
    return;
  case llvm::json::Value::Boolean:
    os << (*value.getAsBoolean() ? "true" : "false");
    return;
  case llvm::json::Value::Number:
    // llvm::json keeps whether a number was an integer, but says so only
    // through getAsUINT64 (integers >= 0); an integral double reports
    // getAsInteger too. A negative integral double therefore prints as an
    // integer, the one case this cannot tell apart.
    if (std::optional<uint64_t> u = value.getAsUINT64())
      os << *u;
    else if (std::optional<int64_t> i = value.getAsInteger(); i && *i < 0)
      os << *i;
    else
      os << pythonFloatRepr(*value.getAsNumber());
    return;
  case llvm::json::Value::String:
    printPythonString(os, *value.getAsString());
    return;
  case llvm::json::Value::Array: {
    const llvm::json::Array &items = *value.getAsArray();
    if (items.empty()) {
      os << "[]";
      return;
    }
    os << "[";
    for (size_t k = 0; k < items.size(); ++k) {
      if (k)
        os << ",";
      newline(depth + 1);
      printPythonValue(os, items[k], indent, depth + 1);
    }
    newline(depth);
    os << "]";
    return;
  }
  case llvm::json::Value::Object: {
    const llvm::json::Object &object = *value.getAsObject();
    if (object.empty()) {
      os << "{}";
      return;
    }
    std::vector<llvm::StringRef> keys;
    for (const auto &entry : object)
      keys.push_back(entry.first);
    llvm::sort(keys);
    os << "{";
    for (size_t k = 0; k < keys.size(); ++k) {
      if (k)
        os << ",";
      newline(depth + 1);
      printPythonString(os, keys[k]);
      os << ": ";
      printPythonValue(os, *object.get(keys[k]), indent, depth + 1);
    }
    newline(depth);
    os << "}";
    return;
  }
  }
}
} // namespace

void mlir::quark::printPythonJson(llvm::raw_ostream &os,
                                  const llvm::json::Value &value,
                                  unsigned indent) {
  printPythonValue(os, value, indent, 0);
}

OrderedJson &OrderedJson::add(llvm::StringRef key, OrderedJson value) {
  assert(kind == Kind::Object && "add() on a JSON value that is no object");
  keys.push_back(key.str());
  children.push_back(std::move(value));
  return *this;
}

OrderedJson &OrderedJson::push(OrderedJson value) {
  assert(kind == Kind::Array && "push() on a JSON value that is no array");
  children.push_back(std::move(value));
  return *this;
}

void OrderedJson::print(llvm::raw_ostream &os, unsigned indent,
                        unsigned depth) const {
  if (kind == Kind::Scalar) {
    printPythonValue(os, scalar, indent, depth);
    return;
  }
  bool isObject = kind == Kind::Object;
  if (children.empty()) {
    os << (isObject ? "{}" : "[]");
    return;
  }
  os << (isObject ? "{" : "[");
  for (size_t k = 0; k < children.size(); ++k) {
    os << (k ? ",\n" : "\n") << std::string(indent * (depth + 1), ' ');
    if (isObject) {
      printPythonString(os, keys[k]);
      os << ": ";
    }
    children[k].print(os, indent, depth + 1);
  }
  os << "\n" << std::string(indent * depth, ' ') << (isObject ? "}" : "]");
}
