"""Reads a GGUF file without any project code and checks its weights
against a Quark hf_format export of the same quantization.

  gguf_decode.py compare MODEL.gguf HF_DIR

Every quantized linear of HF_DIR (decoded by hf_export.py from Quark's
layout rules) is looked up in the GGUF file under llama.cpp's name, its
blocks decoded as ggml's dequantize_row_q8_0 / q4_0 / q4_1 do, and the
q/k rows put back in Hugging Face order. Q8_0 and Q4_0 must be equal;
Q4_1 may differ by the fp16 rounding of m = -scale * zero_point."""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import hf_export  # noqa: E402

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
           7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
BLOCK = {2: 18, 3: 20, 8: 34}  # bytes per block of 32
NAMES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 8}


class Reader:
    def __init__(self, path):
        self.data = open(path, "rb").read()
        self.pos = 0
        assert self.take(4) == b"GGUF"
        version, tensors, keys = self.unpack("<I"), self.unpack("<Q"), self.unpack("<Q")
        assert version == 3
        self.meta = {}
        for _ in range(keys):
            key = self.string()
            self.meta[key] = self.value(self.unpack("<I"))
        self.tensors = {}
        for _ in range(tensors):
            name = self.string()
            dims = [self.unpack("<Q") for _ in range(self.unpack("<I"))]
            self.tensors[name] = (dims, self.unpack("<I"), self.unpack("<Q"))
        align = self.meta.get("general.alignment", 32)
        self.base = (self.pos + align - 1) // align * align

    def take(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.unpack("<Q")).decode("utf-8")

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            inner, count = self.unpack("<I"), self.unpack("<Q")
            return [self.value(inner) for _ in range(count)]
        return self.unpack(SCALARS[kind])

    def tensor(self, name):
        dims, kind, offset = self.tensors[name]
        count = int(np.prod(dims))
        start = self.base + offset
        if kind in (0, 1):
            dtype = np.float32 if kind == 0 else np.float16
            raw = np.frombuffer(self.data, dtype, count, start)
            return raw.astype(np.float32).reshape(dims[::-1]), kind
        blocks = count // 32
        raw = np.frombuffer(self.data, np.uint8, blocks * BLOCK[kind], start)
        raw = raw.reshape(blocks, BLOCK[kind])
        d = raw[:, 0:2].copy().view(np.float16).astype(np.float32)
        if kind == 8:
            q = raw[:, 2:].view(np.int8).astype(np.float32)
            values = q * d
        else:
            nib = raw[:, 2:] if kind == 2 else raw[:, 4:]
            q = np.concatenate([nib & 0xF, nib >> 4], axis=1).astype(np.float32)
            if kind == 2:
                values = (q - 8) * d
            else:
                m = raw[:, 2:4].copy().view(np.float16).astype(np.float32)
                values = q * d + m
        return values.reshape(dims[::-1]), kind


def gguf_name(layer):
    table = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    parts = layer.split(".")
    return "blk.%s.%s.weight" % (parts[2], table[".".join(parts[3:])])


def unpermute(w, heads):
    # llama.cpp row h*d + 2j + t holds Hugging Face row h*d + t*(d/2) + j.
    rows = w.shape[0]
    d = rows // heads
    return w.reshape(heads, d // 2, 2, -1).swapaxes(1, 2).reshape(rows, -1)


def compare(gguf_path, hf_dir):
    reader = Reader(gguf_path)
    config = __import__("json").load(open(hf_dir + "/config.json"))
    qconfig = config["quantization_config"]
    t = hf_export.tensors(hf_dir)
    checked = {}
    for name in sorted(t):
        if not name.endswith(".weight_scale"):
            continue
        layer = name[: -len(".weight_scale")]
        expected = hf_export.decode_weight(t, qconfig, layer)
        got, kind = reader.tensor(gguf_name(layer))
        if layer.endswith("q_proj"):
            got = unpermute(got, reader.meta["llama.attention.head_count"])
        if layer.endswith("k_proj"):
            got = unpermute(got, reader.meta["llama.attention.head_count_kv"])
        diff = np.abs(got - expected)
        if kind == 3:
            scale = hf_export.load(t[name]).astype(np.float32).T
            bound = np.repeat(scale * 8.0 * 2.0 ** -10, 32, axis=1) + 1e-12
            ok = np.all(diff <= bound)
        else:
            ok = np.array_equal(got, expected)
        if not ok:
            raise SystemExit("%s: GGUF %s differs from the hf_format weight by "
                             "up to %g" % (layer, kind, diff.max()))
        kind_name = [k for k, v in NAMES.items() if v == kind][0]
        checked[kind_name] = checked.get(kind_name, 0) + 1
    print("checked", ", ".join("%s x%d" % kv for kv in sorted(checked.items())),
          "against the hf_format export")


if __name__ == "__main__":
    compare(sys.argv[2], sys.argv[3])
