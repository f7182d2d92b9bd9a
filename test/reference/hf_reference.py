#!/usr/bin/python3
"""An independent PyTorch implementation of the Hugging Face decoders.

Written for this project from the published model definitions (no
`transformers` package exists in Debian): llama, mistral, qwen2, qwen3,
mixtral and opt, in float32, no KV cache. The executor's logits are compared
with these.

    hf_reference.py MODEL_DIR --ids 1,2,3;4,5,6 --out logits.npy
"""

import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import hfmodel  # noqa: E402

def activation(name):
    if name in ("silu", "swish"):
        return torch.nn.functional.silu
    if name == "relu":
        return torch.relu
    if name == "gelu":
        return torch.nn.functional.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: torch.nn.functional.gelu(x, approximate="tanh")
    raise ValueError(f"activation {name}")


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return x * torch.rsqrt(variance + eps) * weight


def inverse_frequencies(config, head_dim):
    theta = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        original = scaling["original_max_position_embeddings"]
        wavelength = 2 * math.pi / inv_freq
        scaled = torch.where(wavelength > original / low, inv_freq / factor, inv_freq)
        smooth = (original / wavelength - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelength >= original / high) & (wavelength <= original / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    return inv_freq.to(torch.float32)


def apply_rope(x, inv_freq):
    """x: [batch, heads, seq, head_dim], rotate-half convention."""
    seq = x.shape[2]
    angles = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)
    cos = torch.cat([angles, angles], dim=-1).cos()
    sin = torch.cat([angles, angles], dim=-1).sin()
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def attention(q, k, v, num_heads, num_kv_heads, scale, window=None):
    """q: [b, s, h*d], k/v: [b, s, kv*d] -> [b, s, h*d]."""
    b, s, _ = q.shape
    d = q.shape[-1] // num_heads
    q = q.view(b, s, num_heads, d).transpose(1, 2)
    k = k.view(b, s, num_kv_heads, d).transpose(1, 2)
    v = v.view(b, s, num_kv_heads, d).transpose(1, 2)
    repeat = num_heads // num_kv_heads
    k = k.repeat_interleave(repeat, dim=1)
    v = v.repeat_interleave(repeat, dim=1)
    scores = (q @ k.transpose(-1, -2)) * scale
    i = torch.arange(s).view(-1, 1)
    j = torch.arange(s).view(1, -1)
    allowed = j <= i
    if window is not None:
        allowed = allowed & (i - j < window)
    scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return (probs @ v).transpose(1, 2).reshape(b, s, num_heads * d)


class Weights:
    def __init__(self, model_dir):
        self.tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32))
                        for k, v in hfmodel.read_checkpoint(model_dir).items()}

    def __getitem__(self, name):
        return self.tensors[name]

    def linear(self, x, prefix, bias=False):
        y = x @ self[prefix + ".weight"].T
        if bias:
            y = y + self[prefix + ".bias"]
        return y


def llama_family(config, w, ids):
    family = config["model_type"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim", 128 if family == "qwen3" else hidden // heads)
    eps = config.get("rms_norm_eps", 1e-6)
    qkv_bias = family == "qwen2" or (family in ("llama", "qwen3") and config.get("attention_bias", False))
    o_bias = family in ("llama", "qwen3") and config.get("attention_bias", False)
    mlp_bias = family == "llama" and config.get("mlp_bias", False)
    window = config.get("sliding_window") if family in ("mistral", "mixtral") else None
    act = activation(config.get("hidden_act", "silu"))
    inv_freq = inverse_frequencies(config, head_dim)

    h = w["model.embed_tokens.weight"][ids]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        x = rms_norm(h, w[f"{p}.input_layernorm.weight"], eps)
        q = w.linear(x, f"{p}.self_attn.q_proj", qkv_bias)
        k = w.linear(x, f"{p}.self_attn.k_proj", qkv_bias)
        v = w.linear(x, f"{p}.self_attn.v_proj", qkv_bias)
        b, s, _ = q.shape
        q = q.view(b, s, heads, head_dim)
        k = k.view(b, s, kv_heads, head_dim)
        if family == "qwen3":
            q = rms_norm(q, w[f"{p}.self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[f"{p}.self_attn.k_norm.weight"], eps)
        q = apply_rope(q.transpose(1, 2), inv_freq).transpose(1, 2).reshape(b, s, -1)
        k = apply_rope(k.transpose(1, 2), inv_freq).transpose(1, 2).reshape(b, s, -1)
        context = attention(q, k, v, heads, kv_heads, 1.0 / math.sqrt(head_dim), window)
        h = h + w.linear(context, f"{p}.self_attn.o_proj", o_bias)
        x = rms_norm(h, w[f"{p}.post_attention_layernorm.weight"], eps)
        if family == "mixtral":
            h = h + mixtral_moe(config, w, x, f"{p}.block_sparse_moe", act)
        else:
            gate = w.linear(x, f"{p}.mlp.gate_proj", mlp_bias)
            up = w.linear(x, f"{p}.mlp.up_proj", mlp_bias)
            h = h + w.linear(act(gate) * up, f"{p}.mlp.down_proj", mlp_bias)
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = "lm_head.weight" if "lm_head.weight" in w.tensors else "model.embed_tokens.weight"
    return h @ w[head].T


def mixtral_moe(config, w, x, prefix, act):
    b, s, hidden = x.shape
    tokens = x.reshape(-1, hidden)
    logits = tokens @ w[f"{prefix}.gate.weight"].T
    probs = torch.softmax(logits, dim=-1)
    weights, experts = torch.topk(probs, config["num_experts_per_tok"], dim=-1)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    out = torch.zeros_like(tokens)
    for e in range(config["num_local_experts"]):
        rows, slots = torch.nonzero(experts == e, as_tuple=True)
        if rows.numel() == 0:
            continue
        t = tokens[rows]
        pe = f"{prefix}.experts.{e}"
        y = (act(t @ w[f"{pe}.w1.weight"].T) * (t @ w[f"{pe}.w3.weight"].T)) @ w[f"{pe}.w2.weight"].T
        out.index_add_(0, rows, y * weights[rows, slots].unsqueeze(-1))
    return out.view(b, s, hidden)


def opt(config, w, ids):
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    head_dim = hidden // heads
    act = activation(config.get("activation_function", "relu"))
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (hidden,), w[p + ".weight"], w[p + ".bias"], 1e-5)
    base = "model.decoder"
    b, s = ids.shape
    h = w[f"{base}.embed_tokens.weight"][ids] + w[f"{base}.embed_positions.weight"][torch.arange(s) + 2]
    for layer in range(config["num_hidden_layers"]):
        p = f"{base}.layers.{layer}"
        x = ln(h, f"{p}.self_attn_layer_norm")
        q = w.linear(x, f"{p}.self_attn.q_proj", True)
        k = w.linear(x, f"{p}.self_attn.k_proj", True)
        v = w.linear(x, f"{p}.self_attn.v_proj", True)
        context = attention(q, k, v, heads, heads, 1.0 / math.sqrt(head_dim))
        h = h + w.linear(context, f"{p}.self_attn.out_proj", True)
        x = ln(h, f"{p}.final_layer_norm")
        h = h + w.linear(act(w.linear(x, f"{p}.fc1", True)), f"{p}.fc2", True)
    h = ln(h, f"{base}.final_layer_norm")
    head = "lm_head.weight" if "lm_head.weight" in w.tensors else f"{base}.embed_tokens.weight"
    return h @ w[head].T


@torch.no_grad()
def forward(model_dir, ids):
    config = hfmodel.read_config(model_dir)
    w = Weights(model_dir)
    ids = torch.as_tensor(ids, dtype=torch.long)
    if config["model_type"] == "opt":
        return opt(config, w, ids).numpy()
    return llama_family(config, w, ids).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--ids", help="token ids: comma-separated, sequences separated by ';'")
    parser.add_argument("--ids-file", help="file holding the --ids text")
    parser.add_argument("--out", required=True)
    a = parser.parse_args()
    text = open(a.ids_file).read().strip() if a.ids_file else a.ids
    ids = [[int(t) for t in seq.split(",")] for seq in text.split(";")]
    np.save(a.out, forward(a.model_dir, ids))


if __name__ == "__main__":
    main()
