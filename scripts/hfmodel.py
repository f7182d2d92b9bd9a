"""Hugging Face model folders in plain numpy: safetensors I/O and configs.

Debian has no `safetensors` or `transformers` Python packages, so the
project's scripts (random model generator, training, the PyTorch reference
model) share this small reader/writer. Run with Debian's /usr/bin/python3.
"""

import json
import os
import struct

import numpy as np

_NUMPY_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}


def float_to_bf16_bits(values):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype(np.uint16)


def bf16_bits_to_float(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path):
    """{name: float32 or integer numpy array} of one safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[base + begin:base + end]
        shape = entry["shape"]
        if entry["dtype"] == "BF16":
            array = bf16_bits_to_float(np.frombuffer(raw, dtype=np.uint16))
        else:
            array = np.frombuffer(raw, dtype=_NUMPY_DTYPES[entry["dtype"]])
        tensors[name] = array.reshape(shape)
    return tensors


def read_checkpoint(model_dir):
    """All tensors of a folder (single file or sharded)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    tensors = {}
    for shard in shards:
        tensors.update(read_safetensors(os.path.join(model_dir, shard)))
    return tensors


class SafetensorsWriter:
    """Writes tensors one at a time, so a large model never sits in memory.

    `declare` every tensor first (name, dtype "BF16"/"F16"/"F32", shape), then
    `write` them in the same order.
    """

    def __init__(self, path, declarations, metadata=None):
        self.path = path
        self.tmp = path + ".tmp"
        header = {}
        if metadata:
            header["__metadata__"] = metadata
        offset = 0
        self.sizes = []
        for name, dtype, shape in declarations:
            size = int(np.prod(shape, dtype=np.int64)) * {"BF16": 2, "F16": 2, "F32": 4}[dtype]
            header[name] = {"dtype": dtype, "shape": list(shape),
                            "data_offsets": [offset, offset + size]}
            offset += size
            self.sizes.append((name, dtype, size))
        text = json.dumps(header, separators=(",", ":"))
        text += " " * ((8 - len(text) % 8) % 8)
        self.file = open(self.tmp, "wb")
        self.file.write(struct.pack("<Q", len(text)))
        self.file.write(text.encode())
        self.next = 0

    def write(self, name, array):
        expected, dtype, size = self.sizes[self.next]
        assert name == expected, f"{name} written out of order (expected {expected})"
        if dtype == "BF16":
            raw = float_to_bf16_bits(array).tobytes()
        elif dtype == "F16":
            raw = np.ascontiguousarray(array, dtype=np.float16).tobytes()
        else:
            raw = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        assert len(raw) == size, f"{name}: {len(raw)} bytes, declared {size}"
        self.file.write(raw)
        self.next += 1

    def close(self):
        assert self.next == len(self.sizes), "not every declared tensor was written"
        self.file.close()
        os.replace(self.tmp, self.path)


def write_checkpoint(model_dir, tensors, dtype="BF16", max_shard_bytes=None):
    """Writes `tensors`, a list of (name, shape, make) where make() returns
    the array: shards are produced one tensor at a time, so a checkpoint
    larger than memory can be written. Sharded output gets an index."""
    element = {"BF16": 2, "F16": 2, "F32": 4}[dtype]

    def size(shape):
        return int(np.prod(shape, dtype=np.int64)) * element

    shards, current, current_bytes = [], [], 0
    for entry in tensors:
        if max_shard_bytes and current and current_bytes + size(entry[1]) > max_shard_bytes:
            shards.append(current)
            current, current_bytes = [], 0
        current.append(entry)
        current_bytes += size(entry[1])
    shards.append(current)
    weight_map = {}
    for index, shard in enumerate(shards):
        file_name = ("model.safetensors" if len(shards) == 1 else
                     f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors")
        writer = SafetensorsWriter(os.path.join(model_dir, file_name),
                                   [(name, dtype, shape) for name, shape, _ in shard],
                                   {"format": "pt"})
        for name, _, make in shard:
            writer.write(name, make())
            weight_map[name] = file_name
        writer.close()
    if len(shards) > 1:
        total = sum(size(shape) for _, shape, _ in tensors)
        with open(os.path.join(model_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
                      f, indent=2, sort_keys=True)


def read_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def write_config(model_dir, config):
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
