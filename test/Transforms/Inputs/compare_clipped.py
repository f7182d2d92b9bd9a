"""Compares two per-layer AWQ results tensor by tensor: `same` when equal,
`clipped` when the second is the first clamped to a smaller range (every
value equal or moved toward zero, at least one moved), `only second` for a
tensor only the second run changed, else `different`."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                "scripts"))
import hfmodel  # noqa: E402

plain = hfmodel.read_safetensors(sys.argv[1])
clipped = hfmodel.read_safetensors(sys.argv[2])
for name in sorted(set(plain) | set(clipped)):
    short = name.split(".", 3)[3]
    if name not in plain:
        print(short, "only second")
        continue
    a, b = plain[name], clipped[name]
    if np.array_equal(a, b):
        verdict = "same"
    elif np.all((b == a) | ((np.abs(b) < np.abs(a)) & (np.sign(b) == np.sign(a)))):
        verdict = "clipped"
    else:
        verdict = "different"
    print(short, verdict)
