#!/usr/bin/env bash
# install-cuda-dev.sh — fetch cuda.h (from Debian bookworm's non-free nvidia-cuda-dev)
# and libcuda.so (from libcuda1) into a private cache, so that
# `go build -tags nf4cuda` compiles and links on a machine without a GPU or a
# CUDA install. The system's apt sources, state and cache are left alone.
# Idempotent. The last two lines printed are the include and the library
# directory, so CI can do:
#   { read -r inc; read -r lib; } < <(scripts/install-cuda-dev.sh | tail -n2)
#   export CGO_CFLAGS="-I$inc" CGO_LDFLAGS="-L$lib"
# A binary linked this way still needs a real driver (libcuda.so.1) and a GPU
# to start: gorgonia.org/cu calls cuInit in its package init.
set -euo pipefail

cache="${NF4_CUDA_DEV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nf4/cuda-dev}"
inc="$cache/include"
lib="$cache/lib"

if [[ -s "$inc/cuda.h" && -s "$lib/libcuda.so" ]]; then
	echo "$inc"
	echo "$lib"
	exit 0
fi

command -v dpkg >/dev/null || { echo "install-cuda-dev: dpkg is required" >&2; exit 1; }

apt_dir="$cache/apt"
root="$cache/root"
rm -rf "$root" "$apt_dir/debs"
mkdir -p "$root" "$inc" "$lib"
# Only these two packages are downloaded, never their dependencies: cuda.h
# lives in nvidia-cuda-dev (usr/include), the driver library in libcuda1.
"$(dirname "$0")/debian-nonfree-download.sh" "$apt_dir" "$apt_dir/debs" nvidia-cuda-dev libcuda1

for deb in "$apt_dir"/debs/*.deb; do
	echo "install-cuda-dev: extracting $(basename "$deb")" >&2
	dpkg -x "$deb" "$root"
done

hdr=$(find "$root" -name cuda.h -path '*include*' | head -n1)
[[ -n "$hdr" ]] || { echo "install-cuda-dev: cuda.h not found in nvidia-cuda-dev" >&2; exit 1; }
# libcuda1 ships the versioned library (libcuda.so.<driver>) and libcuda.so.1;
# the linker wants the unversioned name, so copy the real file under it.
so=$(find "$root" -name 'libcuda.so.*' -type f | sort | tail -n1)
[[ -n "$so" ]] || { echo "install-cuda-dev: libcuda.so not found in libcuda1" >&2; exit 1; }

cp "$hdr" "$inc/cuda.h"
cp "$so" "$lib/libcuda.so"
echo "install-cuda-dev: cuda.h from $(basename "$(dirname "$hdr")"), $(basename "$so")" >&2
rm -rf "$root" "$apt_dir"/debs/*.deb
echo "$inc"
echo "$lib"
