#!/usr/bin/python3
"""Random-weight Hugging Face checkpoints of every supported architecture.

    scripts/make_random_model.py --arch llama --out /tmp/tiny-llama
    scripts/make_random_model.py --arch mixtral --hidden 64 --layers 2 \\
        --experts 4 --max-shard-mb 1 --out /tmp/moe
    scripts/make_random_model.py --preset llama-7b --out /data/llama-7b-random

Weights are written tensor by tensor (numpy only), so 7B-shaped checkpoints
need no more memory than their largest tensor. The same --seed gives the
same weights. Linear and embedding weights are N(0, 0.02) as Hugging Face
initializes them; norm weights are 1 + N(0, 0.1) and biases N(0, 0.02), so a
mistake in how a norm or bias is applied shows in the logits.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfmodel  # noqa: E402

PRESETS = {
    # Llama-2-7B shapes.
    "llama-7b": dict(arch="llama", hidden=4096, layers=32, heads=32, kv_heads=32,
                     intermediate=11008, vocab=32000, max_positions=4096),
    # The benchmark model of the executor: hidden 1024, 8 layers.
    "llama-1024x8": dict(arch="llama", hidden=1024, layers=8, heads=16, kv_heads=4,
                         intermediate=2816, vocab=32000, max_positions=2048),
}

ARCHITECTURES = {
    "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
    "mixtral": "MixtralForCausalLM", "opt": "OPTForCausalLM",
}


def build_config(a):
    if a.arch == "opt":
        return {
            "architectures": [ARCHITECTURES[a.arch]], "model_type": "opt",
            "vocab_size": a.vocab, "hidden_size": a.hidden, "ffn_dim": a.intermediate,
            "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
            "max_position_embeddings": a.max_positions, "do_layer_norm_before": True,
            "word_embed_proj_dim": a.hidden, "activation_function": "relu",
            "enable_bias": True, "layer_norm_elementwise_affine": True,
            "tie_word_embeddings": a.tie, "torch_dtype": a.torch_dtype,
            "bos_token_id": 2, "eos_token_id": 2, "pad_token_id": 1,
        }
    config = {
        "architectures": [ARCHITECTURES[a.arch]], "model_type": a.arch,
        "vocab_size": a.vocab, "hidden_size": a.hidden,
        "intermediate_size": a.intermediate, "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads,
        "max_position_embeddings": a.max_positions, "rms_norm_eps": 1e-6,
        "rope_theta": a.rope_theta, "hidden_act": "silu",
        "tie_word_embeddings": a.tie, "torch_dtype": a.torch_dtype,
        "bos_token_id": 1, "eos_token_id": 2,
    }
    if a.head_dim:
        config["head_dim"] = a.head_dim
    if a.rope_scaling == "llama3":
        config["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0,
                                  "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 64}
    elif a.rope_scaling == "linear":
        config["rope_scaling"] = {"type": "linear", "factor": 2.0}
    if a.arch in ("mistral", "mixtral"):
        config["sliding_window"] = a.sliding_window
    if a.arch == "mixtral":
        config["num_local_experts"] = a.experts
        config["num_experts_per_tok"] = a.top_k
    if a.arch in ("qwen2", "qwen3"):
        config["use_sliding_window"] = False
    if a.arch == "llama":
        config["attention_bias"] = a.attention_bias
        config["mlp_bias"] = False
    return config


def tensor_shapes(a, config):
    """(name, shape, kind) for every tensor, kind in {weight, norm, bias}."""
    h, v = a.hidden, a.vocab
    if a.arch == "opt":
        p = "model.decoder"
        shapes = [(f"{p}.embed_tokens.weight", (v, h), "weight"),
                  (f"{p}.embed_positions.weight", (a.max_positions + 2, h), "weight")]
        for i in range(a.layers):
            l = f"{p}.layers.{i}"
            for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                shapes += [(f"{l}.self_attn.{proj}.weight", (h, h), "weight"),
                           (f"{l}.self_attn.{proj}.bias", (h,), "bias")]
            for norm in ("self_attn_layer_norm", "final_layer_norm"):
                shapes += [(f"{l}.{norm}.weight", (h,), "norm"),
                           (f"{l}.{norm}.bias", (h,), "bias")]
            shapes += [(f"{l}.fc1.weight", (a.intermediate, h), "weight"),
                       (f"{l}.fc1.bias", (a.intermediate,), "bias"),
                       (f"{l}.fc2.weight", (h, a.intermediate), "weight"),
                       (f"{l}.fc2.bias", (h,), "bias")]
        shapes += [(f"{p}.final_layer_norm.weight", (h,), "norm"),
                   (f"{p}.final_layer_norm.bias", (h,), "bias")]
    else:
        head_dim = a.head_dim or h // a.heads
        q, kv = a.heads * head_dim, a.kv_heads * head_dim
        qkv_bias = a.arch == "qwen2" or (a.arch == "llama" and a.attention_bias)
        shapes = [("model.embed_tokens.weight", (v, h), "weight")]
        for i in range(a.layers):
            l = f"model.layers.{i}"
            shapes += [(f"{l}.input_layernorm.weight", (h,), "norm"),
                       (f"{l}.self_attn.q_proj.weight", (q, h), "weight"),
                       (f"{l}.self_attn.k_proj.weight", (kv, h), "weight"),
                       (f"{l}.self_attn.v_proj.weight", (kv, h), "weight"),
                       (f"{l}.self_attn.o_proj.weight", (h, q), "weight")]
            if qkv_bias:
                shapes += [(f"{l}.self_attn.q_proj.bias", (q,), "bias"),
                           (f"{l}.self_attn.k_proj.bias", (kv,), "bias"),
                           (f"{l}.self_attn.v_proj.bias", (kv,), "bias")]
            if a.arch == "llama" and a.attention_bias:
                shapes.append((f"{l}.self_attn.o_proj.bias", (h,), "bias"))
            if a.arch == "qwen3":
                shapes += [(f"{l}.self_attn.q_norm.weight", (head_dim,), "norm"),
                           (f"{l}.self_attn.k_norm.weight", (head_dim,), "norm")]
            shapes.append((f"{l}.post_attention_layernorm.weight", (h,), "norm"))
            if a.arch == "mixtral":
                moe = f"{l}.block_sparse_moe"
                shapes.append((f"{moe}.gate.weight", (a.experts, h), "weight"))
                for e in range(a.experts):
                    x = f"{moe}.experts.{e}"
                    shapes += [(f"{x}.w1.weight", (a.intermediate, h), "weight"),
                               (f"{x}.w2.weight", (h, a.intermediate), "weight"),
                               (f"{x}.w3.weight", (a.intermediate, h), "weight")]
            else:
                shapes += [(f"{l}.mlp.gate_proj.weight", (a.intermediate, h), "weight"),
                           (f"{l}.mlp.up_proj.weight", (a.intermediate, h), "weight"),
                           (f"{l}.mlp.down_proj.weight", (h, a.intermediate), "weight")]
        shapes.append(("model.norm.weight", (h,), "norm"))
    if not a.tie:
        shapes.append(("lm_head.weight", (v, h), "weight"))
    return shapes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="llama")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=0)
    parser.add_argument("--intermediate", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--max-positions", type=int, default=256)
    parser.add_argument("--rope-theta", type=float, default=10000.0)
    parser.add_argument("--rope-scaling", choices=["none", "llama3", "linear"], default="none")
    parser.add_argument("--sliding-window", type=int, default=None)
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--attention-bias", action="store_true")
    parser.add_argument("--tie", action="store_true")
    parser.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16")
    parser.add_argument("--max-shard-mb", type=float, default=0)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args(argv)
    if a.preset:
        for key, value in PRESETS[a.preset].items():
            setattr(a, key, value)
    if a.arch == "opt":
        a.kv_heads = a.heads
    a.torch_dtype = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[a.dtype]
    return a


def main():
    a = parse_args()
    os.makedirs(a.out, exist_ok=True)
    config = build_config(a)
    hfmodel.write_config(a.out, config)

    def maker(index, shape, kind):
        def make():
            rng = np.random.default_rng([a.seed, index])
            values = rng.standard_normal(shape, dtype=np.float32)
            return 1.0 + 0.1 * values if kind == "norm" else 0.02 * values
        return make

    shapes = tensor_shapes(a, config)
    hfmodel.write_checkpoint(
        a.out, [(name, shape, maker(i, shape, kind)) for i, (name, shape, kind) in enumerate(shapes)],
        dtype={"bf16": "BF16", "f16": "F16", "f32": "F32"}[a.dtype],
        max_shard_bytes=int(a.max_shard_mb * 2**20) or None)
    count = sum(int(np.prod(shape)) for _, shape, _ in shapes)
    print(f"wrote {a.arch} model ({count:,} parameters) to {a.out}")


if __name__ == "__main__":
    main()
