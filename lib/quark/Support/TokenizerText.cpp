//===- TokenizerText.cpp - Unicode, byte-level text and regexes -----------===//
//
// The text machinery under the tokenizers: UTF-8 validation and iteration
// (utf8proc), GPT-2's byte <-> code point map, and PCRE2 regexes (the
// pre-tokenizer patterns of GPT-2, Llama-3 and Qwen2 need Unicode
// properties and look-ahead, which std::regex lacks).
//
//===----------------------------------------------------------------------===//

#include "TokenizerBpe.h"

#include "llvm/Support/FormatVariadic.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

using namespace mlir::quark;
using namespace mlir::quark::detail;

const char *const mlir::quark::detail::kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)|\\s+";

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Unicode helpers
//===----------------------------------------------------------------------===//

/// Bytes in the UTF-8 sequence that starts with `lead` (valid text).
size_t mlir::quark::detail::utf8Length(unsigned char lead) {
  if (lead < 0x80)
    return 1;
  if ((lead >> 5) == 0x6)
    return 2;
  if ((lead >> 4) == 0xE)
    return 3;
  return 4;
}

void mlir::quark::detail::appendUtf8(std::string &out, int32_t codepoint) {
  uint8_t buffer[4];
  utf8proc_ssize_t n = utf8proc_encode_char(codepoint, buffer);
  out.append(reinterpret_cast<const char *>(buffer), n);
}

std::optional<uint8_t> mlir::quark::parseByteToken(llvm::StringRef token) {
  unsigned byte;
  if (token.size() != 6 || !token.starts_with("<0x") || !token.ends_with(">") ||
      token.substr(3, 2).getAsInteger(16, byte))
    return std::nullopt;
  return static_cast<uint8_t>(byte);
}

llvm::Error mlir::quark::validateUtf8(llvm::StringRef text,
                                      llvm::StringRef what) {
  const auto *bytes = reinterpret_cast<const utf8proc_uint8_t *>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    if (bytes[pos] < 0x80) {
      ++pos;
      continue;
    }
    utf8proc_int32_t codepoint;
    utf8proc_ssize_t n =
        utf8proc_iterate(bytes + pos, text.size() - pos, &codepoint);
    if (n <= 0)
      return makeError(
          llvm::formatv("{0}: invalid UTF-8 at byte {1}", what, pos));
    pos += n;
  }
  return llvm::Error::success();
}

ByteLevelTable::ByteLevelTable() {
  int next = 256;
  for (int byte = 0; byte < 256; ++byte) {
    bool printable = (byte >= 33 && byte <= 126) ||
                     (byte >= 161 && byte <= 172) ||
                     (byte >= 174 && byte <= 255);
    int32_t codepoint = printable ? byte : next++;
    appendUtf8(encoded[byte], codepoint);
    decoded[codepoint] = static_cast<uint8_t>(byte);
  }
}

const ByteLevelTable &mlir::quark::detail::byteLevelTable() {
  static const ByteLevelTable table;
  return table;
}

bool mlir::quark::detail::isUnicodeWhitespace(int32_t codepoint) {
  if ((codepoint >= 9 && codepoint <= 13) || codepoint == 0x85)
    return true;
  utf8proc_category_t category = utf8proc_category(codepoint);
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
         category == UTF8PROC_CATEGORY_ZP;
}

void mlir::quark::detail::forEachCodepoint(
    llvm::StringRef text,
    llvm::function_ref<void(size_t, size_t, int32_t)> fn) {
  const auto *bytes = reinterpret_cast<const utf8proc_uint8_t *>(text.data());
  for (size_t pos = 0; pos < text.size();) {
    utf8proc_int32_t codepoint;
    utf8proc_ssize_t n =
        utf8proc_iterate(bytes + pos, text.size() - pos, &codepoint);
    if (n <= 0)
      n = 1, codepoint = 0xFFFD;
    fn(pos, static_cast<size_t>(n), codepoint);
    pos += n;
  }
}

//===----------------------------------------------------------------------===//
// Regex
//===----------------------------------------------------------------------===//

llvm::Expected<std::shared_ptr<Regex>> Regex::compile(llvm::StringRef pattern,
                                                      llvm::StringRef what) {
  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                                   pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                   &errorCode, &errorOffset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(errorCode, message, sizeof(message));
    return makeError(llvm::formatv("{0}: invalid regex at offset {1}: {2}",
                                   what, errorOffset,
                                   reinterpret_cast<const char *>(message)));
  }
  // JIT is an optimization: without it (an unsupported CPU) matching still
  // works through the interpreter.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  std::shared_ptr<Regex> regex(new Regex());
  regex->code = code;
  return regex;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code *>(code)); }

llvm::Error
Regex::forEachMatch(llvm::StringRef text,
                    llvm::function_ref<void(size_t, size_t)> onMatch) const {
  auto *pattern = static_cast<pcre2_code *>(code);
  pcre2_match_data *match =
      pcre2_match_data_create_from_pattern(pattern, nullptr);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  llvm::Error result = llvm::Error::success();
  while (offset < text.size()) {
    int rc = pcre2_match(pattern, subject, text.size(), offset,
                         PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
      break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      result = makeError(
          llvm::formatv("regex matching failed at byte {0}: {1}", offset,
                        reinterpret_cast<const char *>(message)));
      break;
    }
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
    size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {
      offset = begin + utf8Length(text[begin]);
      continue;
    }
    onMatch(begin, end);
    offset = end;
  }
  pcre2_match_data_free(match);
  return result;
}

std::string mlir::quark::detail::replaceLiteral(llvm::StringRef text,
                                                llvm::StringRef from,
                                                llvm::StringRef to) {
  if (from.empty())
    return text.str();
  std::string result;
  size_t pos = 0;
  while (true) {
    size_t found = text.find(from, pos);
    result.append(text.data() + pos,
                  (found == llvm::StringRef::npos ? text.size() : found) - pos);
    if (found == llvm::StringRef::npos)
      return result;
    result += to;
    pos = found + from.size();
  }
}
