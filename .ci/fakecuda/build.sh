#!/usr/bin/env bash
# build.sh BINARY OUTDIR INCLUDE — builds OUTDIR/libcuda.so.1 for BINARY: the
# functions of fakecuda.c, and a stub returning CUDA_ERROR_NOT_SUPPORTED for
# every other driver symbol BINARY links.
set -euo pipefail
bin=$1 out=$2 inc=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
gcc -O2 -fPIC -ffp-contract=off -Wall -Wno-unused-parameter -I"$inc" -c "$here/fakecuda.c" -o "$out/fakecuda.o"
defined=$(nm --defined-only "$out/fakecuda.o" | awk '{print $3}')
{
	for sym in $(nm -D --undefined-only "$bin" | awk '$2 ~ /^cu/ {print $2}' | sort -u); do
		grep -qx -- "$sym" <<<"$defined" || echo "int $sym(void) { return 801; }"
	done
} >"$out/stubs.c"
gcc -O2 -fPIC -c "$out/stubs.c" -o "$out/stubs.o"
gcc -shared -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "$out/fakecuda.o" "$out/stubs.o" -lpthread
