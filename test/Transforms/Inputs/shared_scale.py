"""Checks a shared weight scale: every named F32 scalar in SHARED is the
same value, the largest of the same tensors in OWN (the scales the layers
got on their own). Prints `shared <value>` or what differs.

usage: shared_scale.py OWN.safetensors SHARED.safetensors NAME...
"""

import json
import struct
import sys

import numpy as np


def scalars(path, names):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    values = []
    for name in names:
        entry = header[name]
        assert entry["dtype"] == "F32" and entry["shape"] == [], (name, entry)
        begin, end = entry["data_offsets"]
        values.append(float(np.frombuffer(data[begin:end], dtype="<f4")[0]))
    return values


def main():
    own_path, shared_path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    own, shared = scalars(own_path, names), scalars(shared_path, names)
    if len(set(shared)) != 1:
        print("differ:", dict(zip(names, shared)))
        return 1
    if shared[0] != max(own):
        print(f"shared {shared[0]!r} is not the largest own scale {max(own)!r} of {own}")
        return 1
    print(f"shared {shared[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
