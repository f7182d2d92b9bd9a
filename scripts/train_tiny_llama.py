#!/usr/bin/python3
"""Trains the bundled default model: a small Llama on public-domain books.

    prepare_corpus.py build/corpus
    train_tiny_llama.py --corpus build/corpus --out models/tiny-llama

Recipe (all choices are flags; defaults are what models/tiny-llama used):
  tokenizer  SentencePiece BPE trained on the training books (Debian
             python3-sentencepiece), byte fallback, identity normalization,
             digits split: newlines survive as the <0x0A> byte token, as in
             Llama-2. Saved as tokenizer.model and, converted the way Hugging
             Face converts Llama tokenizers, tokenizer.json.
  model      LlamaForCausalLM: RMSNorm, rotate-half RoPE, SwiGLU MLP, grouped
             query attention, untied lm_head. The forward pass is the
             project's independent PyTorch reference (test/reference).
  training   next-token cross entropy on random windows of the token stream,
             AdamW, linear warm-up then cosine decay, gradient clipping, a
             fixed step count (so the schedule does not depend on machine
             load). Seeded, but PyTorch's CPU training is not bit-exact from
             run to run.
  output     Hugging Face folder: config.json, model.safetensors (bf16),
             tokenizer files, training_eval.json (held-out perplexity with
             the bf16 weights, GPTQ convention), training_log.json and
             data_provenance.json. scripts/model_card.py then writes its
             README.md from these files.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "reference"))
import hfmodel  # noqa: E402
import hf_reference  # noqa: E402
import sentencepiece_convert  # noqa: E402


def train_tokenizer(corpus, out, vocab_size, threads):
    import sentencepiece as spm
    prefix = os.path.join(out, "tokenizer")
    spm.SentencePieceTrainer.train(
        input=os.path.join(corpus, "train.txt"), model_prefix=prefix,
        model_type="bpe", vocab_size=vocab_size, byte_fallback=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        split_digits=True, character_coverage=1.0, unk_id=0, bos_id=1,
        eos_id=2, pad_id=-1, num_threads=threads, minloglevel=2)
    os.remove(prefix + ".vocab")
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def llama_config(a, vocab_size):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": a.hidden,
        "intermediate_size": a.intermediate,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "head_dim": a.hidden // a.heads,
        "hidden_act": "silu",
        "max_position_embeddings": a.max_positions,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0",
    }


def parameter_shapes(config):
    h, i = config["hidden_size"], config["intermediate_size"]
    d = config["head_dim"]
    q, kv = config["num_attention_heads"] * d, config["num_key_value_heads"] * d
    shapes = [("model.embed_tokens.weight", (config["vocab_size"], h))]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        shapes += [
            (f"{p}.input_layernorm.weight", (h,)),
            (f"{p}.self_attn.q_proj.weight", (q, h)),
            (f"{p}.self_attn.k_proj.weight", (kv, h)),
            (f"{p}.self_attn.v_proj.weight", (kv, h)),
            (f"{p}.self_attn.o_proj.weight", (h, q)),
            (f"{p}.post_attention_layernorm.weight", (h,)),
            (f"{p}.mlp.gate_proj.weight", (i, h)),
            (f"{p}.mlp.up_proj.weight", (i, h)),
            (f"{p}.mlp.down_proj.weight", (h, i)),
        ]
    shapes += [("model.norm.weight", (h,)),
               ("lm_head.weight", (config["vocab_size"], h))]
    return shapes


class TrainableWeights(torch.nn.Module):
    """The reference model's weight interface over trainable parameters."""

    def __init__(self, config, generator):
        super().__init__()
        self.names = []
        std = 0.02
        residual_std = std / math.sqrt(2 * config["num_hidden_layers"])
        for name, shape in parameter_shapes(config):
            if len(shape) == 1:
                init = torch.ones(shape)
            else:
                scale = residual_std if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                init = torch.randn(shape, generator=generator) * scale
            self.register_parameter(name.replace(".", "__"), torch.nn.Parameter(init))
            self.names.append(name)
        self.tensors = {n: None for n in self.names}

    def __getitem__(self, name):
        return getattr(self, name.replace(".", "__"))

    def linear(self, x, prefix, bias=False):
        return x @ self[prefix + ".weight"].T


class FrozenWeights(TrainableWeights):
    """bf16-rounded copies: exactly what the exported checkpoint holds."""

    def __init__(self, trained):
        torch.nn.Module.__init__(self)
        self.names = trained.names
        self.tensors = {n: None for n in self.names}
        for name in self.names:
            bits = hfmodel.float_to_bf16_bits(trained[name].detach().numpy())
            self.register_buffer(name.replace(".", "__"),
                                 torch.from_numpy(hfmodel.bf16_bits_to_float(bits)))


def learning_rate(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def perplexity(config, weights, ids, seq_len):
    """GPTQ convention: floor(N / seq_len) windows, mean NLL per window over
    its seq_len - 1 predictions, exp of the mean over windows."""
    windows = len(ids) // seq_len
    nlls = []
    for w in range(windows):
        window = torch.as_tensor(ids[w * seq_len:(w + 1) * seq_len]).unsqueeze(0)
        logits = hf_reference.llama_family(config, weights, window)
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], window[0, 1:])
        nlls.append(loss.item())
    return math.exp(sum(nlls) / len(nlls)), windows


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--minutes", type=float, default=0.0,
                   help="instead of --steps: fit the schedule to this wall-clock budget")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--intermediate", type=int, default=768)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--max-positions", type=int, default=1024)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--eval-seq-len", type=int, default=512)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    started = time.time()

    sp = train_tokenizer(a.corpus, a.out, a.vocab, a.threads)
    sentencepiece_convert.write_hf_tokenizer_files(os.path.join(a.out, "tokenizer.model"), a.out)
    with open(os.path.join(a.corpus, "train.txt"), encoding="utf-8") as f:
        train_ids = np.array([sp.bos_id()] + sp.encode(f.read()), dtype=np.int64)
    with open(os.path.join(a.corpus, "sherlock-holmes.txt"), encoding="utf-8") as f:
        eval_ids = [sp.bos_id()] + sp.encode(f.read())
    print(f"tokenizer: {sp.get_piece_size()} pieces; train {len(train_ids)} tokens, "
          f"eval {len(eval_ids)} tokens ({time.time() - started:.0f} s)", flush=True)

    config = llama_config(a, sp.get_piece_size())
    generator = torch.Generator().manual_seed(a.seed)
    weights = TrainableWeights(config, generator)
    parameters = sum(t.numel() for t in weights.parameters())
    print(f"model: {parameters} parameters", flush=True)
    decay = [t for n, t in weights.named_parameters() if t.dim() > 1]
    no_decay = [t for n, t in weights.named_parameters() if t.dim() == 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=a.lr, betas=(0.9, 0.95))

    train_start = time.time()
    # A time budget needs a step count for the schedule: estimate it from the
    # first steps' speed, then keep it fixed so the cosine ends on time. A
    # step count (the default) keeps the result independent of machine load.
    total_steps = a.steps if not a.minutes else 10**9
    log, step, smoothed = [], 0, None
    while step < total_steps:
        starts = torch.randint(0, len(train_ids) - a.seq_len - 1, (a.batch,), generator=generator)
        batch = torch.from_numpy(np.stack([train_ids[s:s + a.seq_len + 1] for s in starts.tolist()]))
        lr = learning_rate(step, total_steps, a.lr, a.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        logits = hf_reference.llama_family(config, weights, batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(weights.parameters(), 1.0)
        optimizer.step()
        step += 1
        smoothed = loss.item() if smoothed is None else 0.98 * smoothed + 0.02 * loss.item()
        elapsed = time.time() - train_start
        if step == 20 and a.minutes:
            total_steps = max(a.warmup + 1, int(a.minutes * 60 / (elapsed / step)))
            print(f"schedule: {total_steps} steps in {a.minutes} minutes", flush=True)
        if step % 50 == 0 or step == total_steps:
            log.append({"step": step, "seconds": round(elapsed, 1), "lr": lr,
                        "train_loss": round(smoothed, 4)})
            print(f"step {step}/{total_steps}  loss {smoothed:.3f}  lr {lr:.2e}  {elapsed:.0f} s",
                  flush=True)

    frozen = FrozenWeights(weights)
    ppl, windows = perplexity(config, frozen, eval_ids, a.eval_seq_len)
    print(f"held-out perplexity (bf16 weights, seq_len {a.eval_seq_len}): {ppl:.4f}", flush=True)

    hfmodel.write_config(a.out, config)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
        f.write("\n")
    hfmodel.write_checkpoint(a.out, [(n, tuple(frozen[n].shape), lambda n=n: frozen[n].numpy())
                                     for n in frozen.names], dtype="BF16")
    with open(os.path.join(a.out, "training_eval.json"), "w") as f:
        json.dump({"dataset": "sherlock-holmes.txt", "seq_len": a.eval_seq_len,
                   "tokens": len(eval_ids), "windows": windows, "perplexity": ppl,
                   "weights": "bf16 (as stored)", "reference": "test/reference/hf_reference.py"},
                  f, indent=2)
        f.write("\n")
    provenance = os.path.join(a.corpus, "provenance.json")
    if os.path.exists(provenance):
        shutil.copy(provenance, os.path.join(a.out, "data_provenance.json"))
    with open(os.path.join(a.out, "training_log.json"), "w") as f:
        json.dump({"arguments": vars(a), "parameters": parameters,
                   "train_tokens": int(len(train_ids)), "steps": step,
                   "tokens_seen": step * a.batch * a.seq_len,
                   "wall_seconds": round(time.time() - started, 1),
                   "torch": torch.__version__, "log": log}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
