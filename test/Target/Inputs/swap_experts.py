"""Copies a single-file Hugging Face MoE model folder with experts 0 and 1
of every layer exchanged (their tensor names swapped in the safetensors
header), so a runtime that stacks or indexes experts in the wrong order is
told apart from one that agrees with the model.

  swap_experts.py SRC DST
"""
import json
import os
import shutil
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
path = os.path.join(dst, "model.safetensors")
with open(path, "rb") as f:
    data = f.read()
size = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + size])


def swap(name):
    for a, b in (("experts.0.", "experts.1."), ("experts.1.", "experts.0.")):
        if a in name:
            return name.replace(a, b)
    return name


swapped = {swap(name): info for name, info in header.items()}
if not any(swap(name) != name for name in header):
    raise SystemExit(src + ": no experts.0 / experts.1 tensors to exchange")
text = json.dumps(swapped, separators=(",", ":")).encode()
if len(text) > size:
    raise SystemExit("the compact header does not fit the original's space")
text += b" " * (size - len(text))
with open(path, "wb") as f:
    f.write(data[:8] + text + data[8 + size:])
