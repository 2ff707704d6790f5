#!/usr/bin/env bash
# ggml-peers.sh — nf4 beside ggml's CPU backend on the same products, in
# one run.
#
#   scripts/ggml-peers.sh GGML_SOURCE_DIR [NF4BENCH]
#
# GGML_SOURCE_DIR is a checkout of github.com/ggml-org/ggml. Its CPU
# backend is built in Release with GGML_NATIVE (every instruction set this
# CPU has) under ${XDG_CACHE_HOME:-~/.cache}/nf4/ggml-build, with
# scripts/ggml-peers/matmul.c, which times ggml's MUL_MAT with the weights
# in the CPU backend's repack buffer (the layout llama.cpp loads them into:
# for iq4_nl and q4_0 on x86, 8-row interleaved blocks multiplied with
# activations quantized to 8 bits; AMX tiles where the CPU has them), copies
# rotating past the cache. iq4_nl is ggml's 4-bit type with a non-linear
# 16-value table, the closest to NF4 (4.5 bits a weight, as NF4 with
# 64-code blocks and float32 scales). NF4BENCH, a built cmd/nf4bench
# (default: built here with -tags openblas), then times nf4's products of
# the same shapes, exact and bf16 mode: 4096² at M = 1, 8, 64 and
# N = 4096, K = 14336 (a Llama-3 8B FFN down projection) at M = 1, 8, 512.
set -euo pipefail
die() { echo "ggml-peers: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: scripts/ggml-peers.sh GGML_SOURCE_DIR [NF4BENCH]"
src=$(cd "$1" && pwd) || die "no directory $1"
[[ -f "$src/CMakeLists.txt" && -f "$src/include/ggml-cpu.h" ]] || die "$src is not a ggml source tree (no include/ggml-cpu.h)"
command -v cmake >/dev/null || die "cmake is required (Debian: apt-get install cmake g++)"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${XDG_CACHE_HOME:-$HOME/.cache}/nf4/ggml-build"
mkdir -p "$build"
log="$build/build.log"
{ cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF &&
	cmake --build "$build" --target ggml -j "$(nproc)"; } >"$log" 2>&1 || { tail -n 20 "$log" >&2; die "building ggml failed (log: $log)"; }
libs=$(dirname "$(find "$build" -name 'libggml-cpu.so' | head -n1)")
[[ -n "$libs" && -d "$libs" ]] || die "the ggml build left no libggml-cpu.so under $build"
"${CC:-cc}" -O2 -Wall -o "$build/matmul" "$root/scripts/ggml-peers/matmul.c" -I"$src/include" \
	-L"$libs" -lggml -lggml-base -lggml-cpu -Wl,-rpath,"$libs"
bench=${2:-}
if [[ -z "$bench" ]]; then
	bench="$build/nf4bench"
	(cd "$root" && go build -tags openblas -o "$bench" ./cmd/nf4bench)
fi

echo "# ggml $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)'), CPU backend, repacked weights"
for t in iq4_nl q4_0; do
	for m in 1 8 64; do "$build/matmul" "$t" 4096 4096 "$m" 21 2>/dev/null; done
	for m in 1 8; do "$build/matmul" "$t" 4096 14336 "$m" 15 2>/dev/null; done
	"$build/matmul" "$t" 4096 14336 512 5 2>/dev/null
done
echo
echo "# nf4: $bench -quick, then -shape 4096x14336 -batches 1,8,512"
env -u OPENBLAS_CORETYPE "$bench" -quick
env -u OPENBLAS_CORETYPE "$bench" -shape 4096x14336 -batches 1,8,512
