#!/usr/bin/python3
"""PyTorch CPU perplexity of a Hugging Face Llama folder: the reference side
of bench/forward_throughput.py.

Tokenizes with the folder's SentencePiece tokenizer.model (BOS once at the
start), evaluates the first --windows windows of --seq-len tokens with the
project's PyTorch implementation of the Hugging Face model
(test/reference/hf_reference.py) in float32, and prints one JSON line:
{"perplexity", "windows", "tokens_per_s", "seconds", "threads"}. Only the
forward passes and losses are timed, as quark-quantize times them.
"""

import argparse
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "reference"))
import hf_reference  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("model_dir")
    p.add_argument("--dataset", required=True)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--windows", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.model_dir, "tokenizer.model"))
    with open(a.dataset, encoding="utf-8") as f:
        ids = [sp.bos_id()] + sp.encode(f.read())
    windows = min(a.windows, len(ids) // a.seq_len)
    config = hf_reference.hfmodel.read_config(a.model_dir)
    weights = hf_reference.Weights(a.model_dir)

    nlls = []
    start = time.perf_counter()
    with torch.no_grad():
        for w in range(windows):
            window = torch.as_tensor(ids[w * a.seq_len:(w + 1) * a.seq_len]).unsqueeze(0)
            logits = hf_reference.llama_family(config, weights, window)
            nlls.append(torch.nn.functional.cross_entropy(logits[0, :-1], window[0, 1:]).item())
    seconds = time.perf_counter() - start
    print(json.dumps({"perplexity": math.exp(sum(nlls) / len(nlls)), "windows": windows,
                      "tokens_per_s": windows * a.seq_len / seconds, "seconds": seconds,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
