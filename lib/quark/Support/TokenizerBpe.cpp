//===- TokenizerBpe.cpp - The BPE tokenizer pipeline ----------------------===//
//
// The merge loop is the heap-based one: O(n log n) per piece, so a
// SentencePiece-style tokenizer (no pre-tokenizer: the whole text is one
// piece) stays fast on a book. Unicode normalization is utf8proc.
//
//===----------------------------------------------------------------------===//

#include "TokenizerBpe.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <utf8proc.h>

#include <queue>

using namespace mlir::quark;
using namespace mlir::quark::detail;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Vocabulary
//===----------------------------------------------------------------------===//

void BpeVocabulary::indexByteTokens() {
  for (int byte = 0; byte < 256; ++byte)
    if (std::optional<int32_t> id =
            lookup(llvm::formatv("<0x{0:X-2}>", byte).str()))
      byteTokens[byte] = *id;
}

bool BpeVocabulary::addMerge(llvm::StringRef left, llvm::StringRef right) {
  std::optional<int32_t> l = lookup(left), r = lookup(right),
                         merged = lookup((left + right).str());
  if (!l || !r || !merged)
    return false;
  uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(*l)) << 32) |
                 static_cast<uint32_t>(*r);
  // The first occurrence of a pair holds its rank, as in `tokenizers`.
  merges.try_emplace(key, static_cast<int32_t>(merges.size()), *merged);
  return true;
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

namespace {
struct Piece {
  std::string text;
  /// Starts at the very beginning of the input (Metaspace "first").
  bool atInputStart;
};

class BpeTokenizer final : public Tokenizer {
public:
  explicit BpeTokenizer(BpeTokenizerConfig config)
      : config(std::move(config)), added(this->config.addedTokens) {
    bos = this->config.bos;
    eos = this->config.eos;
    byteLevel =
        llvm::any_of(this->config.preTokenizers, [](const PreTokenizer &p) {
          return p.kind == PreTokenizer::ByteLevel;
        });
  }

  llvm::Expected<std::vector<int32_t>>
  encode(llvm::StringRef text, bool addSpecialTokens) const override;
  std::string decode(llvm::ArrayRef<int32_t> ids) const override;
  size_t vocabSize() const override { return config.vocab.tokens.size(); }
  std::string describe() const override { return config.description; }

private:
  using Cache = llvm::StringMap<std::vector<int32_t>>;

  llvm::Error encodeSegment(llvm::StringRef text, bool atInputStart,
                            Cache &cache, std::vector<int32_t> &out) const;
  llvm::Error normalize(std::string &text) const;
  llvm::Error preTokenize(std::vector<Piece> &pieces) const;
  llvm::Error encodePiece(llvm::StringRef piece,
                          std::vector<int32_t> &out) const;

  BpeTokenizerConfig config;
  AddedTokenSplitter added;
  bool byteLevel = false;
};
} // namespace

static bool isWordByte(char c) { return llvm::isAlnum(c) || c == '_'; }

AddedTokenSplitter::AddedTokenSplitter(const std::vector<AddedToken> &tokens)
    : byFirstByte(256) {
  for (const AddedToken &token : tokens)
    if (!token.content.empty())
      byFirstByte[static_cast<unsigned char>(token.content[0])].push_back(
          token);
  for (auto &bucket : byFirstByte)
    llvm::sort(bucket, [](const AddedToken &a, const AddedToken &b) {
      if (a.content.size() != b.content.size())
        return a.content.size() > b.content.size();
      return a.id < b.id;
    });
}

const AddedToken *AddedTokenSplitter::match(llvm::StringRef text,
                                            size_t pos) const {
  for (const AddedToken &token :
       byFirstByte[static_cast<unsigned char>(text[pos])]) {
    if (!text.substr(pos).starts_with(token.content))
      continue;
    if (token.singleWord) {
      size_t end = pos + token.content.size();
      if ((pos > 0 && isWordByte(text[pos - 1])) ||
          (end < text.size() && isWordByte(text[end])))
        continue;
    }
    return &token;
  }
  return nullptr;
}

llvm::Error AddedTokenSplitter::split(
    llvm::StringRef text,
    llvm::function_ref<llvm::Error(llvm::StringRef, bool)> onText,
    llvm::function_ref<void(int32_t)> onToken) const {
  size_t segmentBegin = 0, pos = 0;
  while (pos < text.size()) {
    const AddedToken *token = match(text, pos);
    if (!token) {
      ++pos;
      continue;
    }
    size_t segmentEnd = pos;
    if (token->lstrip)
      while (segmentEnd > segmentBegin && llvm::isSpace(text[segmentEnd - 1]))
        --segmentEnd;
    if (segmentEnd > segmentBegin)
      if (llvm::Error error =
              onText(text.slice(segmentBegin, segmentEnd), segmentBegin == 0))
        return error;
    onToken(token->id);
    pos += token->content.size();
    if (token->rstrip)
      while (pos < text.size() && llvm::isSpace(text[pos]))
        ++pos;
    segmentBegin = pos;
  }
  if (segmentBegin < text.size())
    return onText(text.substr(segmentBegin), segmentBegin == 0);
  return llvm::Error::success();
}

llvm::Expected<std::vector<int32_t>>
BpeTokenizer::encode(llvm::StringRef text, bool addSpecialTokens) const {
  if (llvm::Error error = validateUtf8(text, "text"))
    return std::move(error);
  std::vector<int32_t> ids;
  if (addSpecialTokens)
    ids.insert(ids.end(), config.prefix.begin(), config.prefix.end());
  Cache cache;
  if (llvm::Error error = added.split(
          text,
          [&](llvm::StringRef segment, bool atInputStart) {
            return encodeSegment(segment, atInputStart, cache, ids);
          },
          [&](int32_t id) { ids.push_back(id); }))
    return std::move(error);
  if (addSpecialTokens)
    ids.insert(ids.end(), config.suffix.begin(), config.suffix.end());
  return ids;
}

llvm::Error BpeTokenizer::encodeSegment(llvm::StringRef text, bool atInputStart,
                                        Cache &cache,
                                        std::vector<int32_t> &out) const {
  if (text.empty())
    return llvm::Error::success();
  std::string normalized = text.str();
  if (llvm::Error error = normalize(normalized))
    return error;
  std::vector<Piece> pieces;
  pieces.push_back({std::move(normalized), atInputStart});
  if (llvm::Error error = preTokenize(pieces))
    return error;
  const ByteLevelTable &table = byteLevelTable();
  std::string mapped;
  for (Piece &piece : pieces) {
    llvm::StringRef word = piece.text;
    if (byteLevel) {
      mapped.clear();
      for (char c : piece.text)
        mapped += table.encoded[static_cast<unsigned char>(c)];
      word = mapped;
    }
    // Words repeat: remember short ones for this call.
    if (word.size() <= 64) {
      auto [it, inserted] = cache.try_emplace(word);
      if (inserted)
        if (llvm::Error error = encodePiece(word, it->second))
          return error;
      out.insert(out.end(), it->second.begin(), it->second.end());
      continue;
    }
    if (llvm::Error error = encodePiece(word, out))
      return error;
  }
  return llvm::Error::success();
}

llvm::Error BpeTokenizer::normalize(std::string &text) const {
  for (const Normalizer &step : config.normalizers) {
    switch (step.kind) {
    case Normalizer::NFC:
    case Normalizer::NFKC:
    case Normalizer::NFD:
    case Normalizer::NFKD: {
      if (text.empty())
        break;
      int options = UTF8PROC_STABLE;
      options |= (step.kind == Normalizer::NFC || step.kind == Normalizer::NFKC)
                     ? UTF8PROC_COMPOSE
                     : UTF8PROC_DECOMPOSE;
      if (step.kind == Normalizer::NFKC || step.kind == Normalizer::NFKD)
        options |= UTF8PROC_COMPAT;
      utf8proc_uint8_t *result = nullptr;
      utf8proc_ssize_t n = utf8proc_map(
          reinterpret_cast<const utf8proc_uint8_t *>(text.data()), text.size(),
          &result, static_cast<utf8proc_option_t>(options));
      if (n < 0)
        return makeError(llvm::Twine("Unicode normalization failed: ") +
                         utf8proc_errmsg(n));
      text.assign(reinterpret_cast<char *>(result), n);
      free(result);
      break;
    }
    case Normalizer::Lowercase: {
      std::string lowered;
      forEachCodepoint(text, [&](size_t, size_t, int32_t codepoint) {
        appendUtf8(lowered, utf8proc_tolower(codepoint));
      });
      text = std::move(lowered);
      break;
    }
    case Normalizer::Prepend:
      if (!text.empty())
        text = step.text + text;
      break;
    case Normalizer::Replace:
      if (!step.pattern) {
        text = replaceLiteral(text, step.literal, step.text);
        break;
      }
      {
        std::string replaced;
        size_t last = 0;
        if (llvm::Error error =
                step.pattern->forEachMatch(text, [&](size_t begin, size_t end) {
                  replaced.append(text, last, begin - last);
                  replaced += step.text;
                  last = end;
                }))
          return error;
        replaced.append(text, last, std::string::npos);
        text = std::move(replaced);
      }
      break;
    case Normalizer::Strip: {
      size_t begin = 0, end = text.size();
      std::vector<std::pair<size_t, size_t>> spans;
      forEachCodepoint(text, [&](size_t at, size_t n, int32_t codepoint) {
        spans.push_back({at, isUnicodeWhitespace(codepoint) ? n : 0});
      });
      if (step.stripLeft)
        for (auto &[at, white] : spans) {
          if (!white)
            break;
          begin = at + white;
        }
      if (step.stripRight)
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
          if (!it->second || it->first < begin)
            break;
          end = it->first;
        }
      text = text.substr(begin, end - begin);
      break;
    }
    }
  }
  return llvm::Error::success();
}

/// Splits `piece` at the matches of `pattern` as `behavior` says.
static llvm::Error splitPiece(const Piece &piece, const Regex &pattern,
                              SplitBehavior behavior, bool invert,
                              std::vector<Piece> &out) {
  struct Span {
    size_t begin, end;
    bool delimiter;
  };
  std::vector<Span> spans;
  size_t last = 0;
  if (llvm::Error error =
          pattern.forEachMatch(piece.text, [&](size_t begin, size_t end) {
            if (begin > last)
              spans.push_back({last, begin, invert});
            spans.push_back({begin, end, !invert});
            last = end;
          }))
    return error;
  if (last < piece.text.size())
    spans.push_back({last, piece.text.size(), invert});

  // Group spans into [begin, end) pieces.
  std::vector<std::pair<size_t, size_t>> groups;
  switch (behavior) {
  case SplitBehavior::Isolated:
    for (const Span &s : spans)
      groups.push_back({s.begin, s.end});
    break;
  case SplitBehavior::Removed:
    for (const Span &s : spans)
      if (!s.delimiter)
        groups.push_back({s.begin, s.end});
    break;
  case SplitBehavior::MergedWithPrevious: {
    bool previousIsText = false;
    for (const Span &s : spans) {
      if (s.delimiter && previousIsText)
        groups.back().second = s.end;
      else
        groups.push_back({s.begin, s.end});
      previousIsText = !s.delimiter;
    }
    break;
  }
  case SplitBehavior::MergedWithNext: {
    bool pendingDelimiter = false;
    for (const Span &s : spans) {
      if (!s.delimiter && pendingDelimiter)
        groups.back().second = s.end;
      else
        groups.push_back({s.begin, s.end});
      pendingDelimiter = s.delimiter;
    }
    break;
  }
  case SplitBehavior::Contiguous: {
    bool previousIsDelimiter = false;
    for (const Span &s : spans) {
      if (s.delimiter && previousIsDelimiter)
        groups.back().second = s.end;
      else
        groups.push_back({s.begin, s.end});
      previousIsDelimiter = s.delimiter;
    }
    break;
  }
  }
  for (auto [begin, end] : groups)
    if (end > begin)
      out.push_back({piece.text.substr(begin, end - begin),
                     piece.atInputStart && begin == 0});
  return llvm::Error::success();
}

llvm::Error BpeTokenizer::preTokenize(std::vector<Piece> &pieces) const {
  for (const PreTokenizer &step : config.preTokenizers) {
    std::vector<Piece> next;
    for (Piece &piece : pieces) {
      switch (step.kind) {
      case PreTokenizer::Split:
        if (llvm::Error error = splitPiece(piece, *step.pattern, step.behavior,
                                           step.invert, next))
          return error;
        break;
      case PreTokenizer::ByteLevel:
        if (step.addPrefixSpace &&
            !llvm::StringRef(piece.text).starts_with(" "))
          piece.text.insert(0, " ");
        if (!step.pattern) {
          next.push_back(std::move(piece));
          break;
        }
        if (llvm::Error error = splitPiece(
                piece, *step.pattern, SplitBehavior::Isolated, false, next))
          return error;
        break;
      case PreTokenizer::Metaspace: {
        piece.text = replaceLiteral(piece.text, " ", step.replacement);
        bool prepend = step.prependScheme == PreTokenizer::Prepend::Always ||
                       (step.prependScheme == PreTokenizer::Prepend::First &&
                        piece.atInputStart);
        if (prepend &&
            !llvm::StringRef(piece.text).starts_with(step.replacement))
          piece.text.insert(0, step.replacement);
        if (!step.splitOnReplacement) {
          next.push_back(std::move(piece));
          break;
        }
        // Each word starts at a replacement character.
        llvm::StringRef text = piece.text;
        size_t begin = 0;
        while (begin < text.size()) {
          size_t end = text.find(
              step.replacement,
              begin + (text.substr(begin).starts_with(step.replacement)
                           ? step.replacement.size()
                           : 0));
          if (end == llvm::StringRef::npos)
            end = text.size();
          next.push_back(
              {text.slice(begin, end).str(), piece.atInputStart && begin == 0});
          begin = end;
        }
        break;
      }
      }
    }
    pieces = std::move(next);
  }
  return llvm::Error::success();
}

llvm::Error BpeTokenizer::encodePiece(llvm::StringRef piece,
                                      std::vector<int32_t> &out) const {
  const BpeVocabulary &vocab = config.vocab;
  if (vocab.ignoreMerges)
    if (std::optional<int32_t> id = vocab.lookup(piece)) {
      out.push_back(*id);
      return llvm::Error::success();
    }

  struct Symbol {
    int32_t id; // -1: not a token (merge-by-score mode only)
    uint32_t begin, length;
    int32_t prev, next;
    bool mergeable;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  auto push = [&](int32_t id, size_t begin, size_t length, bool mergeable) {
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, static_cast<uint32_t>(begin),
                       static_cast<uint32_t>(length), index - 1, -1,
                       mergeable});
    if (index > 0)
      symbols[index - 1].next = index;
  };
  // Ids for text that is not a token: its bytes (byte fallback) or the
  // unknown token; false when the vocabulary has neither.
  auto fallback = [&](size_t begin, size_t length,
                      llvm::SmallVectorImpl<int32_t> &ids) -> bool {
    bool allBytes = vocab.byteFallback;
    for (size_t i = 0; i < length && allBytes; ++i)
      allBytes =
          vocab.byteTokens[static_cast<unsigned char>(piece[begin + i])] >= 0;
    if (allBytes) {
      for (size_t i = 0; i < length; ++i)
        ids.push_back(
            vocab.byteTokens[static_cast<unsigned char>(piece[begin + i])]);
      return true;
    }
    if (!vocab.unknown)
      return false;
    ids.push_back(*vocab.unknown);
    return true;
  };
  auto noToken = [&](size_t begin, size_t length) {
    return makeError(llvm::formatv(
        "no token for '{0}' and the vocabulary has no unknown token",
        piece.substr(begin, length)));
  };

  llvm::SmallVector<int32_t, 4> fallbackIds;
  for (size_t pos = 0; pos < piece.size();) {
    size_t n = std::min(utf8Length(piece[pos]), piece.size() - pos);
    std::optional<int32_t> id = vocab.lookup(piece.substr(pos, n));
    if (id || vocab.mergeByScore) {
      // By score, text merges decide: an unknown character may still be
      // part of a token, and falls back to bytes only if it stays alone.
      push(id ? *id : -1, pos, n, true);
      pos += n;
      continue;
    }
    fallbackIds.clear();
    if (!fallback(pos, n, fallbackIds))
      return noToken(pos, n);
    bool unknown = vocab.unknown && fallbackIds.size() == 1 &&
                   fallbackIds[0] == *vocab.unknown;
    if (unknown && vocab.fuseUnknown && !symbols.empty() &&
        symbols.back().id == *vocab.unknown && !symbols.back().mergeable)
      symbols.back().length += n;
    else
      for (int32_t fallbackId : fallbackIds)
        push(fallbackId, pos, unknown ? n : 1, false);
    pos += n;
  }

  struct Candidate {
    double priority;
    uint32_t position;
    int32_t left, right;
    uint32_t leftLength, rightLength;
    int32_t merged;
    bool operator<(const Candidate &other) const {
      if (priority != other.priority)
        return priority < other.priority;
      return position > other.position; // leftmost first
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t left) {
    if (left < 0)
      return;
    int32_t right = symbols[left].next;
    if (right < 0 || !symbols[left].mergeable || !symbols[right].mergeable)
      return;
    const Symbol &l = symbols[left], &r = symbols[right];
    double priority;
    int32_t merged;
    if (vocab.mergeByScore) {
      std::optional<int32_t> id =
          vocab.lookup(piece.substr(l.begin, l.length + r.length));
      if (!id)
        return;
      priority = static_cast<size_t>(*id) < vocab.scores.size()
                     ? vocab.scores[*id]
                     : 0.0;
      merged = *id;
    } else {
      if (l.id < 0 || r.id < 0)
        return;
      uint64_t key =
          (static_cast<uint64_t>(static_cast<uint32_t>(l.id)) << 32) |
          static_cast<uint32_t>(r.id);
      auto it = vocab.merges.find(key);
      if (it == vocab.merges.end())
        return;
      priority = -static_cast<double>(it->second.first);
      merged = it->second.second;
    }
    queue.push({priority, l.begin, left, right, l.length, r.length, merged});
  };
  for (int32_t i = 0, e = static_cast<int32_t>(symbols.size()); i < e; ++i)
    consider(i);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol &l = symbols[c.left], &r = symbols[c.right];
    // Stale: one side has merged since (lengths only grow; a merged-away
    // symbol has length 0).
    if (l.next != c.right || l.length != c.leftLength ||
        r.length != c.rightLength)
      continue;
    l.length += r.length;
    l.id = c.merged;
    l.next = r.next;
    if (r.next >= 0)
      symbols[r.next].prev = c.left;
    r.length = 0;
    consider(l.prev);
    consider(c.left);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const Symbol &s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    fallbackIds.clear();
    if (!fallback(s.begin, s.length, fallbackIds))
      return noToken(s.begin, s.length);
    out.insert(out.end(), fallbackIds.begin(), fallbackIds.end());
  }
  return llvm::Error::success();
}

std::string BpeTokenizer::decode(llvm::ArrayRef<int32_t> ids) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids)
    if (id >= 0 && static_cast<size_t>(id) < config.vocab.tokens.size())
      tokens.push_back(config.vocab.tokens[id]);
  const ByteLevelTable &table = byteLevelTable();
  for (const DecoderStep &step : config.decoder) {
    switch (step.kind) {
    case DecoderStep::ByteLevel:
      for (std::string &token : tokens) {
        std::string bytes;
        forEachCodepoint(token, [&](size_t at, size_t n, int32_t codepoint) {
          auto it = table.decoded.find(codepoint);
          if (it != table.decoded.end())
            bytes += static_cast<char>(it->second);
          else
            bytes.append(token, at, n);
        });
        token = std::move(bytes);
      }
      break;
    case DecoderStep::Replace:
      for (std::string &token : tokens)
        token = replaceLiteral(token, step.pattern, step.content);
      break;
    case DecoderStep::ByteFallback: {
      std::vector<std::string> merged;
      std::string pending;
      auto flush = [&] {
        if (pending.empty())
          return;
        if (llvm::Error error = validateUtf8(pending, "")) {
          llvm::consumeError(std::move(error));
          for (size_t i = 0; i < pending.size(); ++i)
            merged.push_back("\xEF\xBF\xBD");
        } else {
          merged.push_back(pending);
        }
        pending.clear();
      };
      for (std::string &token : tokens) {
        if (std::optional<uint8_t> byte = parseByteToken(token)) {
          pending += static_cast<char>(*byte);
          continue;
        }
        flush();
        merged.push_back(std::move(token));
      }
      flush();
      tokens = std::move(merged);
      break;
    }
    case DecoderStep::Fuse: {
      std::string joined;
      for (const std::string &token : tokens)
        joined += token;
      tokens.assign(1, joined);
      break;
    }
    case DecoderStep::Strip:
      for (std::string &token : tokens) {
        llvm::StringRef t = token;
        for (unsigned i = 0; i < step.start && t.starts_with(step.content); ++i)
          t = t.drop_front(step.content.size());
        for (unsigned i = 0; i < step.stop && t.ends_with(step.content); ++i)
          t = t.drop_back(step.content.size());
        token = t.str();
      }
      break;
    case DecoderStep::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replaceLiteral(tokens[i], step.content, " ");
        if (i == 0 && step.stripFirstSpace &&
            llvm::StringRef(tokens[i]).starts_with(" "))
          tokens[i].erase(0, 1);
      }
      break;
    }
  }
  std::string text;
  for (const std::string &token : tokens)
    text += token;
  return text;
}

llvm::Expected<std::unique_ptr<Tokenizer>>
mlir::quark::detail::makeBpeTokenizer(BpeTokenizerConfig config,
                                      llvm::StringRef name) {
  for (size_t i = 0; i + 1 < config.preTokenizers.size(); ++i)
    if (config.preTokenizers[i].kind == PreTokenizer::ByteLevel)
      return makeError(name + ": a pre-tokenizer after ByteLevel is not "
                              "supported (ByteLevel must come last)");
  for (const AddedToken &token : config.addedTokens)
    if (token.id < 0 ||
        static_cast<size_t>(token.id) >= config.vocab.tokens.size())
      return makeError(llvm::formatv("{0}: added token '{1}' has id {2}, "
                                     "outside the vocabulary of {3}",
                                     name, token.content, token.id,
                                     config.vocab.tokens.size()));
  return std::make_unique<BpeTokenizer>(std::move(config));
}

Tokenizer::~Tokenizer() = default;
