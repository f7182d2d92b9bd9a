#!/usr/bin/python3
"""Prints BATCH sequences of LENGTH random token ids below VOCAB, in the
--ids format of quark-run ("1,2,3;4,5,6").

    random_ids.py BATCH LENGTH VOCAB [SEED]
"""
import sys

import numpy as np

batch, length, vocab = (int(x) for x in sys.argv[1:4])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
ids = np.random.default_rng(seed).integers(0, vocab, size=(batch, length))
print(";".join(",".join(str(t) for t in row) for row in ids))
