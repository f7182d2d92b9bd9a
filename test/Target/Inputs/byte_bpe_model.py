"""A small Llama-3-shaped test model: a byte-level BPE tokenizer.json in
Llama 3's layout (its Split regex, ByteLevel byte mapping, <|begin_of_text|>
added by the template) with merges learned here from a text, random
weights from scripts/make_random_model.py, and llama3 rope scaling; the
same model without rope scaling beside it (OUT-norope), for telling the
scaling's effect apart.

usage: byte_bpe_model.py OUT TEXT [--merges N]
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# Llama 3's pre-tokenizer regex (tokenizer.json "Split" pattern).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# Close enough to it for learning merges (Python's re has no \p{L}).
TRAIN_PATTERN = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\r\n\w]?[^\W\d_]+|\d{1,3}|"
                           r" ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+")
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def byte_chars():
    """GPT-2's printable stand-in for each byte value."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def learn_merges(text, count):
    chars = byte_chars()
    words = collections.Counter(
        "".join(chars[b] for b in piece.encode("utf-8"))
        for piece in TRAIN_PATTERN.findall(text))
    splits = {word: list(word) for word in words}
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for word, freq in words.items():
            symbols = splits[word]
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += freq
        if not pairs:
            break
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        merges.append(best)
        for word in words:
            symbols, out, i = splits[word], [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            splits[word] = out
    return [chars[b] for b in range(256)], merges


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out")
    p.add_argument("text")
    p.add_argument("--merges", type=int, default=400)
    a = p.parse_args()

    with open(a.text, encoding="utf-8") as f:
        text = f.read()[:200000]
    alphabet, merges = learn_merges(text, a.merges)
    vocab = {token: i for i, token in enumerate(alphabet)}
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    bos, eos = len(vocab), len(vocab) + 1
    vocab_size = (eos + 1 + 7) // 8 * 8 + 8  # ids past EOS stay unused

    for out, rope in ((a.out, "llama3"), (a.out + "-norope", "none")):
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_random_model.py"),
                        "--out", out, "--vocab", str(vocab_size), "--hidden", "128",
                        "--layers", "2", "--heads", "4", "--kv-heads", "2",
                        "--intermediate", "256", "--max-positions", "512",
                        "--rope-scaling", rope, "--seed", "3"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "config.json")) as f:
            config = json.load(f)
        config["bos_token_id"], config["eos_token_id"] = bos, eos
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        added = [{"id": i, "content": c, "single_word": False, "lstrip": False,
                  "rstrip": False, "normalized": False, "special": True}
                 for i, c in ((bos, BOS), (eos, EOS))]
        tokenizer = {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": added, "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN},
                 "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": False}]},
            "post_processor": {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                                          {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                                        {"Sequence": {"id": "A", "type_id": 0}},
                                        {"SpecialToken": {"id": BOS, "type_id": 1}},
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {BOS: {"id": BOS, "ids": [bos],
                                                        "tokens": [BOS]}}},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                      "vocab": vocab, "merges": [f"{l} {r}" for l, r in merges]},
        }
        with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer, f, ensure_ascii=False)
        with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": BOS, "eos_token": EOS,
                       "tokenizer_class": "PreTrainedTokenizerFast",
                       "model_max_length": 131072}, f, indent=2)
    print(f"{a.out}: {len(merges)} merges, vocab {len(vocab)} + 2 special, "
          f"vocab_size {vocab_size}")


if __name__ == "__main__":
    main()
