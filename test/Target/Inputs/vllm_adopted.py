"""Reads Quark's legacy vllm-adopt export (<model>.json + <model>.safetensors
+ fp8fnuz_config.json) without any project code.

  describe DIR               whether <model>.json is what Python's json.dump
                             (indent 4, no sorting) writes, and the tensors
                             of decoder layer 0 and outside the layers
  check DIR MODEL            DIR also holds a fake_quantized hf_format export
                             of the same run (model.safetensors) and MODEL is
                             the float checkpoint quantized. Decodes every
                             weight of the legacy file as ROCm vLLM's Fp8Fnuz
                             loader reads it (bytes as e4m3fnuz, scales
                             doubled) or AmmoConverter packed it (int4x2),
                             and checks it against the hf_format weights,
                             scales and the float weights
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_export  # noqa: E402


def legacy_files(folder):
    names = [n for n in os.listdir(folder) if n.endswith(".json")
             and n not in ("config.json", "fp8fnuz_config.json",
                           "generation_config.json", "tokenizer.json",
                           "tokenizer_config.json", "special_tokens_map.json",
                           "model.safetensors.index.json")]
    assert len(names) == 1, names
    stem = names[0][:-5]
    path = os.path.join(folder, stem + ".safetensors")
    header, base = hf_export.read_header(path)
    entries = {k: (path, base, v) for k, v in header.items()
               if k != "__metadata__"}
    return os.path.join(folder, names[0]), entries


def describe(folder):
    json_path, entries = legacy_files(folder)
    for path in (json_path, os.path.join(folder, "fp8fnuz_config.json")):
        if os.path.exists(path):
            text = open(path).read()
            print(os.path.basename(path), "json.dump(indent=4):",
                  text == json.dumps(json.loads(text), indent=4))
    for name, (_, _, info) in sorted(entries.items()):
        if ".layers.0." in name or ".layers." not in name:
            print(name, info["dtype"], info["shape"])


# The non-negative finite e4m3fn values, by code (0x7F is NaN).
E4M3 = hf_export.fp8_e4m3(np.arange(0x7F))


def to_e4m3fn(x):
    """Round-to-nearest-even to e4m3fn codes with saturation at 448 (the
    magnitude codes; the sign is bit 7)."""
    x = np.asarray(x, dtype=np.float32)
    mag = np.minimum(np.abs(x), 448.0)
    hi = np.clip(np.searchsorted(E4M3, mag), 0, len(E4M3) - 1)
    lo = np.maximum(hi - 1, 0)
    dlo, dhi = mag - E4M3[lo], E4M3[hi] - mag
    code = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi,
                                            np.where(lo % 2 == 0, lo, hi)))
    return np.where(x < 0, code | 0x80, code).astype(np.int32)


def check(folder, model):
    json_path, legacy = legacy_files(folder)
    structure = json.load(open(json_path))
    fake = hf_export.tensors(folder)
    source = hf_export.tensors(model)
    quant = structure["quantization"]

    def get(name):
        return hf_export.load(legacy[name])

    def scale(name):
        return np.asarray(get(name), dtype=np.float32)

    referenced = set()

    def refs(node):
        if isinstance(node, dict):
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)
        elif isinstance(node, str) and node in legacy:
            referenced.add(node)
    refs(structure)
    unreferenced = sorted(set(legacy) - referenced)
    # Quark's file kept its quantizers' zero points, which the JSON never
    # names.
    print("tensors", len(legacy), "unreferenced", len(unreferenced),
          sorted({n.rsplit(".", 1)[1] for n in unreferenced}))

    fp8_bytes = []
    stats = {"weights": 0, "requantized": 0, "codes": 0, "differ": 0,
             "plain_match_float": True}

    def fp8_weight(parts, wname, sname):
        """parts: hf_format layer names concatenated into `wname`."""
        codes = get(wname).view(np.uint8).astype(np.int32)
        fp8_bytes.append(codes)
        s_file = scale(sname).reshape(-1)[0]
        row = 0
        for part in parts:
            hf = hf_export.load(fake[part + ".weight"])
            s_own = np.float32(hf_export.load(fake[part + ".weight_scale"])
                               .reshape(-1)[0])
            rows = hf.shape[0]
            got = codes[row:row + rows]
            row += rows
            stats["weights"] += 1
            own = to_e4m3fn(hf / s_own)  # the stored codes behind hf's values
            assert np.array_equal(hf_export.bf16(hf_export.fp8_e4m3(own)
                                                 * s_own), hf), part
            w = hf_export.load(source[part + ".weight"])
            # Quark quantizes the float weight at the file's scale (its own,
            # or the merge group's largest).
            want = to_e4m3fn(w / s_file)
            if s_own == s_file:
                stats["plain_match_float"] &= bool(np.array_equal(
                    np.where(own == 0x80, 0, own),
                    np.where(want == 0x80, 0, want)))
            else:
                stats["requantized"] += 1
                # What re-quantizing the stored values instead would give.
                dq = (hf_export.fp8_e4m3(own) * s_own).astype(np.float32)
                twice = to_e4m3fn(dq / s_file)
                stats["codes"] += got.size
                stats["differ"] += int(np.count_nonzero(
                    np.where(twice == 0x80, 0, twice)
                    != np.where(want == 0x80, 0, want)))
            want = np.where(want == 0x80, 0, want)
            assert np.array_equal(got, want), (wname, part)
            # As ROCm vLLM reads it: e4m3fnuz bytes, scale doubled.
            fnuz = hf_export.fp8_e4m3(got, fnuz=True) * (2 * s_file)
            assert np.array_equal(fnuz, hf_export.fp8_e4m3(got) * s_file), part

    def int4_weight(parts, wname, sname, group):
        packed = get(wname).view(np.uint8).astype(np.int32)
        low = np.where(packed & 0xF >= 8, (packed & 0xF) - 16, packed & 0xF)
        high = packed >> 4
        high = np.where(high >= 8, high - 16, high)
        codes = np.empty((packed.shape[0] * 2, packed.shape[1]), np.int32)
        codes[0::2], codes[1::2] = low, high
        scales = scale(sname)
        values = codes * np.repeat(scales, group, axis=1)
        row = 0
        for part in parts:
            hf = hf_export.load(fake[part + ".weight"])
            rows = hf.shape[0]
            stats["weights"] += 1
            assert np.array_equal(hf_export.bf16(values[row:row + rows]), hf), \
                part
            row += rows

    def weight(parts, info, scale_key):
        if quant == "fp8":
            fp8_weight(parts, info["weight"], info[scale_key])
        else:
            int4_weight(parts, info["weight"], info[scale_key],
                        info["awq_block_size"])

    def same(name, values):
        got = scale(name)
        assert np.array_equal(got, np.asarray(values, np.float32)), name

    def hf(name):
        return np.asarray(hf_export.load(fake[name]), np.float32)

    for i, layer in enumerate(structure["layers"]):
        p = "model.layers.%d." % i
        attn = layer["attention"]
        qkv = [p + "self_attn." + n for n in ("q_proj", "k_proj", "v_proj")]
        weight(qkv, attn["qkv"], "weights_scaling_factor")
        if quant == "fp8":
            same(attn["qkv"]["weights_scaling_factor"],
                 np.max([hf(n + ".weight_scale") for n in qkv], axis=0))
        else:
            same(attn["qkv"]["weights_scaling_factor"],
                 np.concatenate([hf(n + ".weight_scale").T for n in qkv]))
        if attn["qkv"]["activation_scaling_factor"]:
            same(attn["qkv"]["activation_scaling_factor"],
                 np.max([hf(n + ".input_scale") for n in qkv], axis=0))
        outputs = [n for n in qkv if n + ".output_scale" in fake]
        if attn["kv_cache_scaling_factor"]:
            same(attn["kv_cache_scaling_factor"],
                 np.max([hf(n + ".output_scale") for n in outputs], axis=0))
        if attn["qkv"]["output_scaling_factor"]:
            same(attn["qkv"]["output_scaling_factor"],
                 np.max([hf(n + ".output_scale") for n in qkv], axis=0))
        mlp = layer["mlp"]
        for key, info, name in (("dense", attn["dense"], "self_attn.o_proj"),
                                ("fc", mlp["fc"], "mlp.gate_proj"),
                                ("gate", mlp["gate"], "mlp.up_proj"),
                                ("proj", mlp["proj"], "mlp.down_proj")):
            weight([p + name], info, "weight_scaling_factor")
            if info["activation_scaling_factor"]:
                same(info["activation_scaling_factor"],
                     hf(p + name + ".input_scale"))
        merged = mlp["fc"]["weight_scaling_factor"] == \
            mlp["gate"]["weight_scaling_factor"]
        pair = [p + "mlp.gate_proj", p + "mlp.up_proj"]
        if quant == "fp8":
            same(mlp["gate"]["weight_scaling_factor"],
                 np.max([hf(n + ".weight_scale") for n in pair], axis=0)
                 if merged else hf(pair[1] + ".weight_scale"))
    print("quantization", quant, "weights", stats["weights"])
    if quant == "fp8":
        all_bytes = np.concatenate([b.reshape(-1) for b in fp8_bytes])
        print("fp8 bytes 0x80 (NaN as fnuz):", int(np.sum(all_bytes == 0x80)),
              "NaN codes:", int(np.sum((all_bytes & 0x7F) == 0x7F)))
        print("own-scale codes equal quantizing the float weight:",
              stats["plain_match_float"])
        print("quantized at a shared scale:", stats["requantized"],
              "(re-quantizing their stored values instead would change "
              "%d of %d codes)" % (stats["differ"], stats["codes"]))


if __name__ == "__main__":
    if sys.argv[1] == "describe":
        describe(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
