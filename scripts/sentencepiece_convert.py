"""SentencePiece BPE tokenizer.model -> Hugging Face tokenizer files.

Writes tokenizer.json the way Hugging Face converts a Llama (legacy)
SentencePiece model into a fast tokenizer: the normalizer prepends and
escapes spaces as U+2581, there is no pre-tokenizer, and the BPE model has
byte fallback and merges ordered by the SentencePiece id (= score rank) of the
merged piece, then by the ids of its two halves. tokenizer_config.json and
special_tokens_map.json describe a LlamaTokenizer that adds BOS, not EOS.
"""

import json
import os

SPACE = "\u2581"


def load(model_path):
    import sentencepiece as spm
    return spm.SentencePieceProcessor(model_file=model_path)


def piece_table(sp):
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def merges_for(sp, pieces):
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = []
    for merged_id, merged in enumerate(pieces):
        if sp.is_control(merged_id) or sp.is_unknown(merged_id) or sp.is_byte(merged_id):
            continue
        local = []
        for cut in range(1, len(merged)):
            left, right = merged[:cut], merged[cut:]
            if left in vocab and right in vocab:
                local.append((vocab[left], vocab[right], left, right))
        local.sort()
        merges.extend((merged_id, l, r) for _, _, l, r in local)
    merges.sort(key=lambda m: m[0])
    return [f"{l} {r}" for _, l, r in merges]


def tokenizer_json(sp):
    pieces = piece_table(sp)
    special = [i for i in range(len(pieces)) if sp.is_control(i) or sp.is_unknown(i)]
    unk = pieces[sp.unk_id()]
    bos = pieces[sp.bos_id()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": pieces[i], "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": True} for i in special
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [sp.bos_id()], "tokens": [bos]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": unk,
            "continuing_subword_prefix": None, "end_of_word_suffix": None,
            "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": {p: i for i, p in enumerate(pieces)},
            "merges": merges_for(sp, pieces),
        },
    }


def write_hf_tokenizer_files(model_path, out_dir):
    sp = load(model_path)
    pieces = piece_table(sp)
    bos, eos, unk = pieces[sp.bos_id()], pieces[sp.eos_id()], pieces[sp.unk_id()]
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(sp), f, ensure_ascii=False, indent=1)
        f.write("\n")
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": unk,
        "pad_token": None,
        "legacy": True,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1024,
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": bos, "eos_token": eos, "unk_token": unk}, f, indent=2)
        f.write("\n")
