"""Shared pieces of the benchmark scripts."""

import json
import os
import platform
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
BUNDLED = os.path.join(ROOT, "models", "tiny-llama")
TOKENIZER_FILES = ["tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                   "special_tokens_map.json"]


def llama_7b(build, with_tokenizer=False):
    """The random-weight checkpoint with Llama-2-7B shapes (13.5 GB of bf16),
    written once under the build folder. Its tokens come from the bundled
    tokenizer (2048 ids, all inside the 32000-row embedding) when a run
    needs text."""
    model = os.path.join(build, "bench-models", "llama-7b")
    if not os.path.exists(os.path.join(model, "config.json")):
        print(f"writing the 7B-shaped random checkpoint to {model} (once)", flush=True)
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "make_random_model.py"),
                        "--preset", "llama-7b", "--max-shard-mb", "4096", "--out", model],
                       check=True)
    if with_tokenizer:
        for name in TOKENIZER_FILES:
            shutil.copy(os.path.join(BUNDLED, name), model)
    return model


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_result(path, result):
    """Writes a result file atomically and says where it went."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")
