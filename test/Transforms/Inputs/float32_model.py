"""Copies a Hugging Face model folder with every floating-point tensor of
model.safetensors converted to float32 (and torch_dtype float32 in
config.json): a model whose weights hold any float32 value exactly, for
tests that check a transformation leaves the float function unchanged.

  float32_model.py SRC_DIR DST_DIR"""
import json
import os
import shutil
import struct
import sys

import numpy as np


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name not in ("model.safetensors", "config.json"):
            path = os.path.join(src, name)
            if os.path.isfile(path):
                shutil.copy(path, os.path.join(dst, name))
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    config["torch_dtype"] = "float32"
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors, offset = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            values = bits.view(np.float32)
        elif info["dtype"] in ("F16", "F32"):
            values = np.frombuffer(
                raw, dtype=np.float16 if info["dtype"] == "F16" else np.float32
            ).astype(np.float32)
        else:
            sys.exit(f"{name}: unexpected dtype {info['dtype']}")
        tensors[name] = (info["shape"], values.tobytes())
    out_header, blobs = {}, []
    for name in sorted(tensors):
        shape, blob = tensors[name]
        out_header[name] = {"dtype": "F32", "shape": shape,
                            "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(out_header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


if __name__ == "__main__":
    main()
