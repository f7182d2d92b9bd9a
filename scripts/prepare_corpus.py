"""Fetches public-domain books from Debian packages and normalizes them.

No model hub or dataset server is reachable, so the project's text comes from
Debian packages that ship books as test data (apt-get download + dpkg -x: no
installation, no dependencies):

  golang-github-colinmarc-hdfs-dev      testdata/mobydick.txt (Melville)
  golang-github-pierrec-lz4-dev         testdata/Mark.Twain-Tom.Sawyer.txt,
                                        testdata/pg1661.txt (Conan Doyle)
  golang-github-andybalholm-brotli-dev  testdata/Isaac.Newton-Opticks.txt
  bible-kjv + bible-kjv-text            the King James Bible via `bible -l0`

Normalization mirrors how a Python user reads a text file
(open(path, encoding="utf-8").read(): universal newlines) and drops the
byte-order mark and the Project Gutenberg licence header/footer, so what the
model sees is the book. Newlines are kept.

Usage: prepare_corpus.py OUTDIR   writes OUTDIR/{train,sherlock-holmes,
tom-sawyer}.txt and OUTDIR/provenance.json (packages, versions, files,
sizes, sha256). tom-sawyer.txt (also part of train.txt) is the default
calibration text of quark-quantize.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

PACKAGES = [
    "golang-github-colinmarc-hdfs-dev",
    "golang-github-pierrec-lz4-dev",
    "golang-github-andybalholm-brotli-dev",
    "bible-kjv",
    "bible-kjv-text",
]

GOCODE = "usr/share/gocode/src/github.com"
TRAIN_BOOKS = [
    f"{GOCODE}/colinmarc/hdfs/testdata/mobydick.txt",
    f"{GOCODE}/pierrec/lz4/testdata/Mark.Twain-Tom.Sawyer.txt",
    f"{GOCODE}/andybalholm/brotli/testdata/Isaac.Newton-Opticks.txt",
]
# Held out entirely: another author, so the evaluation measures
# generalization, not memorization.
EVAL_BOOK = f"{GOCODE}/pierrec/lz4/testdata/pg1661.txt"


def normalize(text):
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    start = re.search(r"^\*\*\* ?START OF.*$", text, re.MULTILINE)
    if start:
        text = text[start.end():]
    end = re.search(r"^\*\*\* ?END OF.*$", text, re.MULTILINE)
    if end:
        text = text[:end.start()]
    return text.strip("\n") + "\n"


def bible_text(root):
    """The KJV from the package's own reader, verse numbers removed."""
    out = subprocess.run(
        [os.path.join(root, "usr/bin/bible"), "-p",
         os.path.join(root, "usr/lib"), "-l0", "Gen1:1-Rev22:21"],
        check=True, capture_output=True, text=True).stdout
    return re.sub(r"^ +\d+ ", "", out, flags=re.MULTILINE).strip("\n") + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    packages = {}
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=work,
                       check=True, capture_output=True)
        root = os.path.join(work, "root")
        packages = {}
        for deb in sorted(os.listdir(work)):
            if deb.endswith(".deb"):
                subprocess.run(["dpkg", "-x", deb, root], cwd=work, check=True)
                fields = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Version"],
                                        cwd=work, check=True, capture_output=True,
                                        text=True).stdout.split("\n")
                packages[fields[0].split(": ", 1)[1]] = fields[1].split(": ", 1)[1]

        def book(path):
            with open(os.path.join(root, path), encoding="utf-8") as f:
                return normalize(f.read())

        train = [book(p) for p in TRAIN_BOOKS] + [bible_text(root)]
        with open(os.path.join(outdir, "train.txt"), "w", encoding="utf-8",
                  newline="\n") as f:
            f.write("\n\n".join(train))
        with open(os.path.join(outdir, "sherlock-holmes.txt"), "w",
                  encoding="utf-8", newline="\n") as f:
            f.write(book(EVAL_BOOK))
        with open(os.path.join(outdir, "tom-sawyer.txt"), "w",
                  encoding="utf-8", newline="\n") as f:
            f.write(book(TRAIN_BOOKS[1]))
    provenance = {"debian_packages": packages,
                  "train_sources": TRAIN_BOOKS + ["bible -l0 Gen1:1-Rev22:21 (bible-kjv)"],
                  "eval_source": EVAL_BOOK, "files": {}}
    for name in ("train.txt", "sherlock-holmes.txt", "tom-sawyer.txt"):
        path = os.path.join(outdir, name)
        with open(path, "rb") as f:
            data = f.read()
        provenance["files"][name] = {"bytes": len(data),
                                     "sha256": hashlib.sha256(data).hexdigest()}
        print(f"{path}: {len(data)} bytes")
    with open(os.path.join(outdir, "provenance.json"), "w") as f:
        json.dump(provenance, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
