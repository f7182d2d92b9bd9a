#!/usr/bin/env bash
# Builds the project with AddressSanitizer and UndefinedBehaviorSanitizer in
# its own tree and runs the whole suite (scripts/test.sh) against it.
#
#   scripts/sanitize.sh              build into ./build-sanitize and test
#   QUARK_BUILD_DIR=dir scripts/sanitize.sh
#
# Debian's libMLIR is built without sanitizers while LLVM's allocator
# headers, compiled into our code, poison and unpoison its memory: ASan's
# user poisoning is off so that mismatch does not report upstream code.
# Leak checking is off because MLIR's tools leave their context to exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUARK_BUILD_DIR:-$root/build-sanitize}
flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags"
fi
export ASAN_OPTIONS=detect_leaks=0:allow_user_poisoning=0:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
QUARK_BUILD_DIR=$build exec bash "$root/scripts/test.sh"
