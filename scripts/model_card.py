#!/usr/bin/python3
"""Writes a trained model folder's README.md from the files the training run
left there (config.json, training_log.json, training_eval.json,
data_provenance.json), so the card always states what was measured.

    scripts/model_card.py models/tiny-llama
"""

import json
import os
import sys


def load(folder, name):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    config = load(folder, "config.json")
    log = load(folder, "training_log.json")
    evaluation = load(folder, "training_eval.json")
    provenance = load(folder, "data_provenance.json")
    args = log["arguments"]
    last = log["log"][-1]
    packages = ", ".join(f"`{name}` {version}" for name, version in
                         sorted(provenance["debian_packages"].items()))
    files = provenance["files"]
    budget = (f" (this model's run chose it from a {args['minutes']:g}-minute budget "
              f"with `--minutes`)" if args.get("minutes") else "")
    card = f"""# tiny-llama: the bundled default model

A {log['parameters'] / 1e6:.1f}M-parameter Llama (`LlamaForCausalLM`) trained by
this project on public-domain books, stored in exact Hugging Face format, so
every tool that reads a Hugging Face folder reads it. It is the model the
README's first command evaluates and the end-to-end tests run on: a real
trained model, with the weight and activation statistics of one, small
enough to quantize and evaluate in seconds.

## Files

| file | what |
|---|---|
| `config.json` | the architecture (below) |
| `model.safetensors` | weights, bf16 |
| `tokenizer.model` | SentencePiece BPE, {config['vocab_size']} pieces |
| `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json` | the same tokenizer as a Hugging Face fast tokenizer (LlamaTokenizer, BOS added) |
| `generation_config.json` | BOS/EOS ids |
| `training_log.json` | every argument, the loss curve, wall time |
| `training_eval.json` | the held-out perplexity measured at the end of training |
| `data_provenance.json` | packages, versions, source files and checksums of the text |

## Architecture

| | |
|---|---|
| hidden size | {config['hidden_size']} |
| layers | {config['num_hidden_layers']} |
| attention heads / KV heads | {config['num_attention_heads']} / {config['num_key_value_heads']} (grouped-query attention) |
| head dim | {config['head_dim']} |
| MLP | SwiGLU, intermediate {config['intermediate_size']} |
| norm | RMSNorm, eps {config['rms_norm_eps']} |
| positions | RoPE (rotate-half), theta {config['rope_theta']:g}, up to {config['max_position_embeddings']} |
| vocabulary | {config['vocab_size']}, untied lm_head |
| parameters | {log['parameters']:,} |

## Data

Books that Debian packages ship as test data, fetched with `apt-get download`
and `dpkg -x` ({packages}): Melville's *Moby Dick*, Twain's *Tom Sawyer*,
Newton's *Opticks* and the King James Bible for training
({files['train.txt']['bytes']:,} bytes, {log['train_tokens']:,} tokens);
Conan Doyle's *The Adventures of Sherlock Holmes* held out entirely for
evaluation (`data/sherlock-holmes.txt`, {files['sherlock-holmes.txt']['bytes']:,}
bytes). All are public domain. Texts are normalized as Python reads them
(universal newlines), without the byte-order mark and the Project Gutenberg
licence header and footer; newlines are kept, and reach the model as the
`<0x0A>` byte token. *Tom Sawyer*, part of the training text, is also the
default calibration text of `quark-quantize` (`data/tom-sawyer.txt`,
{files['tom-sawyer.txt']['bytes']:,} bytes): calibration data drawn from the
training distribution, as Quark's pile-val is for most models.

## Tokenizer

SentencePiece BPE trained on the training books (Debian
`python3-sentencepiece`): {config['vocab_size']} pieces, byte fallback,
identity normalization (no NFKC, spaces kept), digits split, `<unk>`=0,
`<s>`=1, `</s>`=2. `tokenizer.json` is the same model converted the way
Hugging Face converts Llama tokenizers; the test suite checks that both give
identical ids on the whole evaluation book.

## Training

`scripts/train_tiny_llama.py` with Debian's python3-torch {log['torch']}
(OpenBLAS), {args['threads']} threads, seed {args['seed']}: next-token cross
entropy on random windows of {args['seq_len']} tokens, batch {args['batch']},
AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), learning rate
{args['lr']:g} with {args['warmup']} warm-up steps and cosine decay to a
tenth, gradient clipping at 1.0, {log['steps']} steps
({log['tokens_seen']:,} tokens, {log['tokens_seen'] / log['train_tokens']:.1f}
passes over the data), {log['wall_seconds'] / 60:.0f} minutes. Final
smoothed training loss: {last['train_loss']}.

## Evaluation

Perplexity on the held-out book with the GPTQ/Quark convention (the whole
text tokenized once with one BOS, {evaluation['windows']} windows of
{evaluation['seq_len']} tokens, exp of the mean window loss), computed at the
end of training from the bf16 weights as stored:

**perplexity {evaluation['perplexity']:.4f}** ({evaluation['tokens']:,} tokens)

`quark-quantize` reproduces it (the test suite checks agreement to 1e-5):

```sh
build/bin/quark-quantize --model_dir models/tiny-llama --skip_quantization \\
    --tasks perplexity --eval_dataset data/sherlock-holmes.txt --seq_len {evaluation['seq_len']}
```

## Reproducing

```sh
python3 scripts/prepare_corpus.py build/corpus
python3 scripts/train_tiny_llama.py --corpus build/corpus --out models/tiny-llama \\
    --steps {log['steps']} --intermediate {args['intermediate']}
python3 scripts/model_card.py models/tiny-llama
```

The text is pinned (the checksums in `data_provenance.json`) and the
tokenizer is reproducible (tokenizer.json comes out byte-identical). The
weights are reproducible in recipe, not in bits: PyTorch's CPU training is
not bit-deterministic from run to run (in a check on an earlier model, two
4-step runs with the same seed and threads differed in 405 of its 5.5M bf16
weights, by one unit in the last place), so a rerun gives a model of the
same quality with slightly different weights and perplexity. The step count
is fixed{budget}, so the schedule does not depend on machine load.
"""
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(card)
    print(f"wrote {os.path.join(folder, 'README.md')}")


if __name__ == "__main__":
    main()
