#!/usr/bin/python3
"""Writes the corrupt/adversarial safetensors corpus next to this script.

Each file breaks one rule of the format; corrupt-safetensors.test checks
that quark-inspect names the problem, and the safetensors fuzzer starts from
these files. Rerun after adding a case:

    test/Support/Inputs/make_corrupt_safetensors.py
"""

import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corrupt-safetensors")


def image(header, data=b"", header_len=None, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    length = len(text) if header_len is None else header_len
    return struct.pack("<Q", length) + text + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


CASES = {
    # A well-formed file, so the corpus also exercises the success path.
    "valid.safetensors": image(
        {"__metadata__": {"format": "pt"},
         "a": tensor("F32", [2], 0, 8), "b": tensor("BF16", [2, 2], 8, 16)},
        struct.pack("<2f", 1.5, -2.0) + bytes(8)),
    "too-short.safetensors": b"\x05\x00\x00",
    "header-past-end.safetensors": image({}, header_len=1 << 40),
    "header-huge.safetensors": image({}, header_len=(1 << 64) - 1),
    "invalid-json.safetensors": image(None, raw_header=b'{"a": {"dtype": '),
    "header-not-object.safetensors": image(None, raw_header=b"[1, 2, 3]"),
    "unknown-dtype.safetensors": image({"a": tensor("F7", [1], 0, 1)}, bytes(1)),
    "size-mismatch.safetensors": image({"a": tensor("F32", [3], 0, 8)}, bytes(8)),
    "offsets-past-end.safetensors": image({"a": tensor("U8", [64], 0, 64)}, bytes(8)),
    "offsets-reversed.safetensors": image({"a": tensor("U8", [4], 8, 4)}, bytes(8)),
    "offsets-negative.safetensors": image({"a": tensor("U8", [4], -4, 0)}, bytes(4)),
    "overlap.safetensors": image(
        {"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}, bytes(12)),
    "hole.safetensors": image(
        {"a": tensor("F32", [1], 0, 4), "b": tensor("F32", [1], 8, 12)}, bytes(12)),
    "trailing-bytes.safetensors": image({"a": tensor("F32", [1], 0, 4)}, bytes(12)),
    "duplicate-name.safetensors": image(
        None,
        raw_header=b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},'
                   b' "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}',
        data=bytes(2)),
    "shape-negative.safetensors": image({"a": tensor("U8", [-1], 0, 0)}),
    "shape-not-integer.safetensors": image({"a": tensor("U8", ["x"], 0, 1)}, bytes(1)),
    "shape-overflow.safetensors": image(
        {"a": tensor("F64", [1 << 31, 1 << 31, 1 << 31], 0, 8)}, bytes(8)),
    "missing-offsets.safetensors": image({"a": {"dtype": "U8", "shape": [1]}}, bytes(1)),
    "metadata-not-strings.safetensors": image(
        {"__metadata__": {"format": 3}, "a": tensor("U8", [1], 0, 1)}, bytes(1)),
    "entry-not-object.safetensors": image({"a": 7}),
    "deep-nesting.safetensors": image(None, raw_header=b"[" * 100000 + b"]" * 100000),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in CASES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    # Sharded checkpoints: an index naming a missing shard, and one whose
    # weight map disagrees with the shard's contents.
    for name, weight_map, shards in [
        ("sharded-missing-shard", {"a": "model-00001-of-00002.safetensors",
                                   "b": "model-00002-of-00002.safetensors"},
         ["model-00001-of-00002.safetensors"]),
        ("sharded-wrong-map", {"a": "model-00001-of-00001.safetensors",
                               "zzz": "model-00001-of-00001.safetensors"},
         ["model-00001-of-00001.safetensors"]),
    ]:
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        for shard in shards:
            with open(os.path.join(folder, shard), "wb") as f:
                f.write(CASES["valid.safetensors"])
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    folder = os.path.join(OUT, "sharded-bad-index")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        f.write('{"weight_map": ["not", "an", "object"]}')


if __name__ == "__main__":
    main()
