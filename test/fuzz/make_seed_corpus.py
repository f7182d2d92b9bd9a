#!/usr/bin/python3
"""Writes the fuzzers' seed corpora into test/fuzz/corpus/<target>/.

Seeds are small valid inputs that reach deep into each parser; the fuzzer
mutates them, and the replay test runs them on every test run. Files a
fuzzing campaign finds (crashes fixed since) are added to the same folders
by hand and are not touched here.

    test/fuzz/make_seed_corpus.py
"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_random_model  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(folder, name), mode) as f:
        f.write(data)


def safetensors_seeds():
    dtypes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
              "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for i, (dtype, size) in enumerate(dtypes.items()):
        count = 3
        payload = bytes((i * 7 + j) % 256 for j in range(count * size))
        header[f"t.{dtype.lower()}"] = {"dtype": dtype, "shape": [count],
                                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    header["scalar"] = {"dtype": "F32", "shape": [], "data_offsets": [len(data), len(data) + 4]}
    data += struct.pack("<f", 1.0)
    header["empty"] = {"dtype": "F32", "shape": [0, 4], "data_offsets": [len(data), len(data)]}
    text = json.dumps(header).encode()
    write("safetensors", "all-dtypes.safetensors", struct.pack("<Q", len(text)) + text + data)


def config_seeds():
    for arch in make_random_model.ARCHITECTURES:
        args = make_random_model.parse_args(["--arch", arch, "--out", "unused"])
        write("model-config", f"{arch}.json", json.dumps(make_random_model.build_config(args), indent=1))
    args = make_random_model.parse_args(["--arch", "llama", "--rope-scaling", "llama3", "--out", "x"])
    write("model-config", "llama3-rope.json", json.dumps(make_random_model.build_config(args), indent=1))


def gguf_string(text):
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_value(value):
    """(type id, payload) for str, int, float, bool and lists of one type."""
    if isinstance(value, bool):
        return 7, struct.pack("<B", value)
    if isinstance(value, int):
        return 5, struct.pack("<i", value)
    if isinstance(value, float):
        return 6, struct.pack("<f", value)
    if isinstance(value, str):
        return 8, gguf_string(value)
    element_type = gguf_value(value[0])[0]
    payload = b"".join(gguf_value(v)[1] for v in value)
    return 9, struct.pack("<IQ", element_type, len(value)) + payload


def gguf_image(metadata):
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata))
    for key, value in metadata.items():
        kind, payload = gguf_value(value)
        out += gguf_string(key) + struct.pack("<I", kind) + payload
    return out


def gguf_seeds():
    byte_level = ["a", "b", "Ġ", "ab", "Ġa", "Ċ", "<|end|>"]
    write("gguf", "gpt2-vocab.gguf", gguf_image({
        "general.architecture": "llama",
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "llama-bpe",
        "tokenizer.ggml.tokens": byte_level,
        "tokenizer.ggml.token_type": [1, 1, 1, 1, 1, 1, 3],
        "tokenizer.ggml.merges": ["a b", "Ġ a"],
        "tokenizer.ggml.bos_token_id": 6,
    }))
    pieces = ["<unk>", "<s>", "</s>", "<0x0A>", "▁", "a", "b", "▁a", "▁ab"]
    write("gguf", "llama-vocab.gguf", gguf_image({
        "general.architecture": "llama",
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": pieces,
        "tokenizer.ggml.scores": [0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -0.5, -0.25],
        "tokenizer.ggml.token_type": [2, 3, 3, 6, 1, 1, 1, 1, 1],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.add_bos_token": True,
    }))


def tokenizer_json_seeds():
    write("tokenizer-json", "byte-level.json", json.dumps({
        "added_tokens": [{"id": 6, "content": "<|end|>", "special": True}],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}| ?\\p{L}+|\\s+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [6]}}},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "ignore_merges": True,
                  "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġa": 4, "Ċ": 5, "<|end|>": 6},
                  "merges": [["a", "b"], ["Ġ", "a"]]}}, ensure_ascii=False))
    write("tokenizer-json", "metaspace.json", json.dumps({
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁",
                          "prepend_scheme": "first", "split": True},
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
        "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
                  "vocab": {"<unk>": 0, "<0x0A>": 1, "▁": 2, "a": 3, "▁a": 4},
                  "merges": ["▁ a"]}}, ensure_ascii=False))


def tokenize_seeds():
    samples = {
        "english.txt": "It was the best of times, it was the worst of times.\n\n  Indented 1234.",
        "unicode.txt": "Äpfel нещо на Български 我想在apple工作 🦙🦙 \u200d café",
        "whitespace.txt": "\n \n\n \t\t \t\n  \n   \n    \n",
        "special.txt": "a<|x|>b <|x|> <s>",
    }
    for name, text in samples.items():
        write("tokenize", name, text)
    write("tokenize", "invalid-utf8.txt", b"ab\xff\xfe\xc3(")


def spec_json_seeds():
    mxfp4 = {"dtype": "fp4", "is_dynamic": False, "qscheme": "per_group", "ch_axis": -1,
             "group_size": 32, "round_method": "half_even", "scale_type": "float",
             "scale_format": "e8m0", "scale_calculation_mode": "even",
             "observer_cls": "PerBlockMXObserver"}
    int4 = {"dtype": "int4", "qscheme": "per_group", "ch_axis": 1, "group_size": 128,
            "symmetric": True, "is_dynamic": False, "round_method": "half_even",
            "scale_type": "float", "observer_cls": "PerGroupMinMaxObserver"}
    fp8 = {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False,
           "observer_cls": "PerTensorMinMaxObserver", "round_method": "half_even",
           "scale_type": "float"}
    write("quark-spec-json", "layers.json", json.dumps({
        "w_int4": {"weight": int4, "input_tensors": None, "output_tensors": None, "bias": None},
        "mxfp4": {"weight": mxfp4, "input_tensors": dict(mxfp4, is_dynamic=True)},
        "fp8": fp8,
        "two_stage": [fp8, int4],
    }, indent=1))


def main():
    safetensors_seeds()
    config_seeds()
    gguf_seeds()
    tokenizer_json_seeds()
    tokenize_seeds()
    spec_json_seeds()


if __name__ == "__main__":
    main()
