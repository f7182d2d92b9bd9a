"""Token ids of a text with the SentencePiece library (python3-sentencepiece):
an independent tokenization to check GGUF tokenizers against.

  spm_ids.py TOKENIZER.model TEXT_FILE [--bos] [--limit N] [--chars N]

Prints the ids comma-separated."""
import argparse

import sentencepiece as spm

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("text")
p.add_argument("--bos", action="store_true")
p.add_argument("--limit", type=int, default=0)
p.add_argument("--chars", type=int, default=0)
args = p.parse_args()
processor = spm.SentencePieceProcessor(model_file=args.model)
text = open(args.text, encoding="utf-8").read()
if args.chars:
    text = text[: args.chars]
ids = ([processor.bos_id()] if args.bos else []) + processor.encode(text)
if args.limit:
    ids = ids[: args.limit]
print(",".join(map(str, ids)))
