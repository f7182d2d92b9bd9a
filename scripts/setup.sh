#!/usr/bin/env bash
# Installs every Debian package Quark-MLIR needs (skipping what is already
# installed), then configures and builds the project.
#
#   scripts/setup.sh            install + build into ./build
#   QUARK_BUILD_DIR=dir scripts/setup.sh
#   QUARK_SKIP_INSTALL=1 scripts/setup.sh   build only
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUARK_BUILD_DIR:-$root/build}

packages=(
  # Toolchain: Debian's LLVM/MLIR 22 (clang++-22 + lld, lit and FileCheck).
  cmake ninja-build ccache
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools clang-22 lld-22
  # Unit tests.
  libgtest-dev
  # CPU executor: oneDNN's GEMM (faster than OpenBLAS here, see
  # docs/evaluation.md); OpenBLAS (pthread flavour) makes python3-torch fast.
  libdnnl-dev libopenblas-pthread-dev libopenblas0-pthread
  # Tokenizers: PCRE2 and utf8proc (tokenizer.json), SentencePiece.
  libpcre2-dev libutf8proc-dev libsentencepiece-dev
  # Reference tests and model scripts run on Debian's Python packages.
  python3-torch python3-numpy python3-sentencepiece sentencepiece
  # ONNX protobufs and the ONNX conformance vectors.
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  # GPU kernels: ROCm device bitcode for HSACO, the HIP runtime for the
  # launcher (it reports "no AMD GPU" on machines without one).
  rocm-device-libs libamdhip64-dev
  # libFuzzer for the parser fuzz targets (scripts/fuzz.sh).
  libclang-rt-22-dev
  # Reference data comes from npm packages (scripts/fetch-reference-data.sh).
  git
)
# Any Node.js with npm will do; Debian's when there is none.
if ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

if [[ "${QUARK_SKIP_INSTALL:-0}" != 1 ]]; then
  missing=()
  for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
        grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]})); then
    sudo=""
    if [[ $EUID -ne 0 ]]; then sudo=sudo; fi
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"
  else
    echo "setup: all ${#packages[@]} Debian packages present"
  fi
fi

bash "$root/scripts/fetch-reference-data.sh"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build"
echo "setup: built into $build"
