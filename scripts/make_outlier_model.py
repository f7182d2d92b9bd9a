#!/usr/bin/python3
"""Gives a Llama checkpoint the activation outliers of large LLMs, without
changing what it computes.

Large trained LLMs have a few hidden channels whose activations are tens of
times larger than the rest (outlier features, Dettmers et al. 2022; massive
activations, Sun et al. 2024); the quantization algorithms exist because of
them. A small model trained for an hour on two cores has none, so on the
bundled model 4-bit round-to-nearest barely moves perplexity and the
algorithms have little to fix. This script moves a power-of-two factor
across each scaling pair of every decoder layer, on a fixed set of
channels:

  input_layernorm.weight[c] * A  and  q/k/v_proj.weight[:, c] / A
  post_attention_layernorm.weight[c] * A  and  gate/up_proj.weight[:, c] / A
  up_proj.weight[c, :] * B  and  down_proj.weight[:, c] / B

Powers of two are exact in bf16, so the float model is bit-for-bit the same
function (same logits, same perplexity); only where the magnitudes sit
changes: the scaled activations become outliers and the matching weight
columns become small, which is what per-tensor activation scales and
per-group weight scales handle badly.

Usage: make_outlier_model.py SRC_DIR OUT_DIR [--norm-factor 32]
       [--norm-channels 4] [--mlp-factor 16] [--mlp-channels 8]
"""

import argparse
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hfmodel  # noqa: E402


def power_of_two(value):
    exponent = np.log2(value)
    if value <= 0 or exponent != int(exponent):
        raise SystemExit(f"factor {value} is not a power of two: the rescale "
                         "would not be exact in bf16")
    return float(value)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--norm-factor", type=float, default=32.0)
    p.add_argument("--norm-channels", type=int, default=4)
    p.add_argument("--mlp-factor", type=float, default=16.0)
    p.add_argument("--mlp-channels", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    norm_factor = power_of_two(a.norm_factor)
    mlp_factor = power_of_two(a.mlp_factor)

    config = hfmodel.read_config(a.src)
    if config.get("model_type") not in ("llama", "mistral", "qwen2"):
        raise SystemExit(f"{a.src}: model_type {config.get('model_type')!r} "
                         "is not a Llama-style model")
    tensors = hfmodel.read_checkpoint(a.src)
    rng = np.random.default_rng(a.seed)
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    # The same channels in every layer, as the residual stream carries them.
    norm_channels = np.sort(rng.choice(hidden, a.norm_channels, replace=False))
    mlp_channels = np.sort(rng.choice(inter, a.mlp_channels, replace=False))

    out = {name: np.array(t, dtype=np.float32) for name, t in tensors.items()}
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}."
        for norm, linears in (
                ("input_layernorm", ["self_attn.q_proj", "self_attn.k_proj",
                                     "self_attn.v_proj"]),
                ("post_attention_layernorm", ["mlp.gate_proj", "mlp.up_proj"])):
            out[prefix + norm + ".weight"][norm_channels] *= norm_factor
            for linear in linears:
                out[prefix + linear + ".weight"][:, norm_channels] /= norm_factor
        out[prefix + "mlp.up_proj.weight"][mlp_channels, :] *= mlp_factor
        out[prefix + "mlp.down_proj.weight"][:, mlp_channels] /= mlp_factor

    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    for name in os.listdir(a.src):
        if not name.endswith(".safetensors") and name not in (
                "model.safetensors.index.json", "README.md"):
            path = os.path.join(a.src, name)
            if os.path.isfile(path):
                shutil.copy(path, a.out)
    names = list(tensors)
    hfmodel.write_checkpoint(
        a.out, [(n, out[n].shape, (lambda n=n: out[n])) for n in names])
    with open(os.path.join(a.out, "outliers.json"), "w") as f:
        import json
        json.dump({"source": os.path.abspath(a.src),
                   "norm_factor": norm_factor,
                   "norm_channels": norm_channels.tolist(),
                   "mlp_factor": mlp_factor,
                   "mlp_channels": mlp_channels.tolist()}, f, indent=2)
        f.write("\n")
    print(f"{a.out}: outlier channels {norm_channels.tolist()} (x{norm_factor:g}) "
          f"and intermediate {mlp_channels.tolist()} (x{mlp_factor:g})")


if __name__ == "__main__":
    main()
