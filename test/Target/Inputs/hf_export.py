"""Reads a Quark hf_format folder without any project code.

  describe DIR [--layer N]   config summary and the tensors of decoder layer N
                             and outside the layers: name dtype shape
  decode REAL FAKE          decodes every quantized weight of REAL by Quark's
                             layout rules (pack.py: transposed int per-group,
                             int4 nibble order, fp4 low nibble first, E8M0
                             MX scales, e5m3 amdfp4 scales, NVFP4 /
                             amdfp4_global e4m3 / e5m3 block scale codes;
                             AutoAWQ for quant_method awq; progressive
                             fp8 -> int4 with `_2` second-stage parameters)
                             and checks it equals FAKE's fake_quantized weight
  shards MODEL EXPORT       checks EXPORT has MODEL's shard files and holds
                             each tensor in the shard of its source (its own
                             name, or its layer's weight)
"""
import fnmatch
import json
import struct
import sys

import numpy as np


def read_header(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(size)), 8 + size


def tensors(folder):
    import os
    index = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) \
        if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for name in files:
        path = os.path.join(folder, name)
        header, base = read_header(path)
        for key, info in header.items():
            if key != "__metadata__":
                out[key] = (path, base, info)
    return out


DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I8": np.int8,
          "U8": np.uint8, "F8_E4M3": np.uint8, "BF16": np.uint16}


def load(entry):
    path, base, info = entry
    begin, end = info["data_offsets"]
    with open(path, "rb") as f:
        f.seek(base + begin)
        data = np.frombuffer(f.read(end - begin), dtype=DTYPES[info["dtype"]])
    if info["dtype"] == "BF16":
        data = (data.astype(np.uint32) << 16).view(np.float32)
    data = data.reshape(info["shape"])
    if info["dtype"] == "F8_E4M3":
        return data  # codes
    return data


def describe(folder, layer):
    config = json.load(open(folder + "/config.json"))["quantization_config"]
    print("quant_method", config["quant_method"])
    for key in ("export", "exclude", "bits", "group_size", "zero_point",
                "version", "modules_to_not_convert"):
        if key in config:
            print(key, json.dumps(config[key], sort_keys=True))
    for key in ("global_quant_config",):
        if key in config:
            g = config[key]
            for field in ("weight", "input_tensors", "output_tensors"):
                specs = g.get(field)
                # A two-stage field is a list of its stages.
                for stage, spec in enumerate(
                        specs if isinstance(specs, list) else [specs]):
                    if not spec:
                        continue
                    print(key, field + ("[%d]" % stage if isinstance(specs, list) else ""),
                          spec["dtype"], spec["qscheme"],
                          "group", spec["group_size"], "sym", spec["symmetric"],
                          "dynamic", spec["is_dynamic"], "scale_type",
                          spec["scale_type"], "scale_format", spec["scale_format"])
    if "layer_quant_config" in config:
        print("layer_quant_config", sorted(config["layer_quant_config"]))
    prefix = "model.layers.%d." % layer
    for name, (_, _, info) in sorted(tensors(folder).items()):
        if name.startswith(prefix) or ".layers." not in name:
            print(name, info["dtype"], info["shape"])


def unpack_int4(words, signed, reorder):
    order = [0, 2, 4, 6, 1, 3, 5, 7] if reorder else list(range(8))
    words = words.astype(np.uint32)
    rows, cols = words.shape
    out = np.zeros((rows, cols * 8), dtype=np.int32)
    for slot in range(8):
        nib = ((words >> (4 * slot)) & 0xF).astype(np.int32)
        if signed:
            nib = np.where(nib >= 8, nib - 16, nib)
        out[:, order[slot]::8] = nib
    return out


FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)


def fp8_e4m3(codes, fnuz=False):
    """e4m3fn (bias 7), or with fnuz e4m3fnuz (bias 8, 0x80 is NaN: no
    negative zero)."""
    bias = 8 if fnuz else 7
    codes = codes.astype(np.int32)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp = (codes >> 3) & 0xF
    man = codes & 0x7
    value = np.where(exp == 0, man / 8.0 * 2.0 ** (1 - bias),
                     (1 + man / 8.0) * 2.0 ** (exp - bias))
    value = (sign * value).astype(np.float32)
    return np.where(codes == 0x80, np.float32(np.nan), value) if fnuz else value


def fp8_e5m3(codes):
    """Quark's unsigned e5m3 (bias 15, 0xFF is NaN), stored as U8 bytes."""
    codes = codes.astype(np.int32)
    exp, man = codes >> 3, codes & 0x7
    value = np.where(exp == 0, man / 8.0 * 2.0 ** -14,
                     (1 + man / 8.0) * 2.0 ** (exp - 15)).astype(np.float32)
    return np.where(codes == 0xFF, np.float32(np.nan), value)


def bf16(x):
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return (bits.astype(np.uint32) << 16).view(np.float32)


def decode_weight(t, config, layer):
    awq = config["quant_method"] == "awq"
    if awq:
        if layer + ".qweight" not in t:
            return None
        q = unpack_int4(load(t[layer + ".qweight"]), False, True).T
        z = unpack_int4(load(t[layer + ".qzeros"]), False, True).T
        s = load(t[layer + ".scales"]).astype(np.float32).T
        g = config["group_size"]
        return (q - np.repeat(z, g, axis=1)) * np.repeat(s, g, axis=1)
    # vLLM's lookup: a layer_quant_config pattern, else the global spec.
    spec = config["global_quant_config"]["weight"]
    for pattern, entry in config.get("layer_quant_config", {}).items():
        if fnmatch.fnmatch(layer, pattern) if "*" in pattern else layer in pattern:
            spec = entry["weight"]
            break
    reorder = config["export"]["pack_method"] == "reorder"
    w = t.get(layer + ".weight")
    if w is None or w[2]["dtype"] in ("BF16", "F16", "F32"):
        return None
    raw = load(w)
    if isinstance(spec, list) and spec[1].get("is_scale_quant"):
        # NVFP4 / amdfp4_global: fp4 codes, block scales as fp8 e4m3 (or
        # unsigned e5m3) codes times a per-tensor scale (float32, the block
        # scale first, as the executor).
        first, second = spec
        assert first["dtype"] == "fp4"
        scale_codes = {"fp8_e4m3": fp8_e4m3, "fp8_e5m3": fp8_e5m3}[second["dtype"]]
        lo, hi = raw & 0xF, raw >> 4
        codes = np.stack([lo, hi], axis=-1).reshape(raw.shape[0], -1)
        vals = (FP4[codes & 7] * np.where(codes & 8, -1.0, 1.0)).astype(np.float32)
        s2 = np.float32(load(t[layer + ".weight_scale_2"]))
        block = (scale_codes(load(t[layer + ".weight_scale"])).astype(np.float32)
                 * s2).astype(np.float32)
        return vals * np.repeat(block, first["group_size"], axis=1)
    if isinstance(spec, list):  # progressive: fp8 per tensor, then int4
        first, second = spec
        assert first["dtype"] == "fp8_e4m3" and first["qscheme"] == "per_tensor"
        assert second["dtype"] == "int4" and second["qscheme"] == "per_channel"
        q = unpack_int4(raw, True, reorder)
        z = unpack_int4(np.atleast_2d(load(t[layer + ".weight_zero_point_2"])),
                        True, reorder).reshape(-1, 1)[: q.shape[0]]
        s2 = load(t[layer + ".weight_scale_2"]).astype(np.float32).reshape(-1, 1)
        s1 = np.float32(load(t[layer + ".weight_scale"]))
        # float32 throughout, stage 2 dequantized first, as the executor.
        return ((q - z).astype(np.float32) * s2).astype(np.float32) * s1
    scale = load(t[layer + ".weight_scale"]).astype(np.float32)
    dtype, scheme = spec["dtype"], spec["qscheme"]
    if dtype in ("int4", "uint4"):
        q = unpack_int4(raw, dtype == "int4", reorder)
        z = unpack_int4(np.atleast_2d(load(t[layer + ".weight_zero_point"])),
                        dtype == "int4", reorder)
        if scheme == "per_group":
            g = spec["group_size"]
            q, z, scale = q.T, z.T, scale.T
            return (q - np.repeat(z, g, axis=1)) * np.repeat(scale, g, axis=1)
        return (q - z.reshape(-1, 1)[: q.shape[0]]) * scale.reshape(-1, 1)
    if dtype in ("int8", "uint8"):
        z = load(t[layer + ".weight_zero_point"]).astype(np.int32)
        if scheme == "per_group":  # transposed, as int4 per-group
            g = spec["group_size"]
            q, z, scale = raw.T.astype(np.int32), z.T, scale.T
            return (q - np.repeat(z, g, axis=1)) * np.repeat(scale, g, axis=1)
        return (raw.astype(np.int32) - z.reshape(-1, 1)) * scale.reshape(-1, 1)
    if dtype == "fp8_e4m3":
        return fp8_e4m3(raw) * scale.reshape(-1, 1) if scale.ndim else \
            fp8_e4m3(raw) * scale
    if dtype == "fp4":
        lo, hi = raw & 0xF, raw >> 4
        codes = np.stack([lo, hi], axis=-1).reshape(raw.shape[0], -1)
        vals = FP4[codes & 7] * np.where(codes & 8, -1.0, 1.0)
        # MX: E8M0 exponent bytes; AmdFP4Spec: unsigned e5m3 bytes.
        codes = scale.astype(np.int32)
        s = fp8_e5m3(codes) if spec.get("scale_format") == "e5m3" \
            else 2.0 ** (codes - 127)
        return vals * np.repeat(s, spec["group_size"], axis=1)
    raise SystemExit("no decoder for " + dtype)


def decode(real, fake):
    config = json.load(open(real + "/config.json"))["quantization_config"]
    t, f = tensors(real), tensors(fake)
    checked = 0
    for name in sorted(f):
        if not name.endswith(".weight") or len(f[name][2]["shape"]) != 2:
            continue
        layer = name[: -len(".weight")]
        decoded = decode_weight(t, config, layer)
        if decoded is None:
            continue
        expected = load(f[name])
        got = bf16(decoded.astype(np.float32))
        if got.shape != expected.shape or not np.array_equal(got, expected):
            bad = np.argwhere(got != expected)[:3] if got.shape == expected.shape else "shape"
            raise SystemExit("%s: decoded weight differs from the fake_quantized "
                             "export at %s" % (layer, bad))
        checked += 1
    print("decoded %d quantized weights; all equal the fake_quantized export" % checked)


def shards(model, exported):
    import os
    source, out = tensors(model), tensors(exported)
    files = lambda t: sorted({os.path.basename(e[0]) for e in t.values()})
    if files(source) != files(out):
        raise SystemExit("export shards %s, model shards %s"
                         % (files(out), files(source)))
    for name, entry in sorted(out.items()):
        home = source.get(name) or source.get(name.rsplit(".", 1)[0] + ".weight")
        if home and os.path.basename(home[0]) != os.path.basename(entry[0]):
            raise SystemExit("%s is in %s, its source in %s"
                             % (name, entry[0], home[0]))
    print("%d tensors in %d shards, each beside its source"
          % (len(out), len(files(out))))


if __name__ == "__main__":
    if sys.argv[1] == "describe":
        layer = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        describe(sys.argv[2], layer)
    elif sys.argv[1] == "shards":
        shards(sys.argv[2], sys.argv[3])
    else:
        decode(sys.argv[2], sys.argv[3])
