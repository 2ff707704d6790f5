#!/usr/bin/env bash
# install-ptxas.sh — fetch ptxas and cuobjdump (CUDA 11.8) from Debian bookworm's
# non-free nvidia-cuda-toolkit into a private cache, without touching the system's
# apt sources, state or cache. Idempotent. The last line printed is the directory
# that holds ptxas, so CI can do:
#   dir=$(scripts/install-ptxas.sh | tail -n1); export PATH="$dir:$PATH" NF4_PTXAS="$dir/ptxas"
set -euo pipefail

cache="${NF4_CUDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nf4/cuda}"
root="$cache/root"
bindir="$root/usr/bin"

if [[ -x "$bindir/ptxas" && -x "$bindir/cuobjdump" ]] && "$bindir/ptxas" --version >/dev/null 2>&1; then
	echo "$bindir"
	exit 0
fi

command -v dpkg >/dev/null || { echo "install-ptxas: dpkg is required" >&2; exit 1; }

apt_dir="$cache/apt"
mkdir -p "$root"
# ptxas and cuobjdump ship in nvidia-cuda-toolkit itself (usr/bin); it needs only libc.
"$(dirname "$0")/debian-nonfree-download.sh" "$apt_dir" "$apt_dir/debs" nvidia-cuda-toolkit

for deb in "$apt_dir"/debs/*.deb; do
	echo "install-ptxas: extracting $(basename "$deb")" >&2
	dpkg -x "$deb" "$root"
done

for tool in ptxas cuobjdump; do
	if [[ ! -x "$bindir/$tool" ]]; then
		echo "install-ptxas: $tool not found in the extracted packages" >&2
		exit 1
	fi
done
"$bindir/ptxas" --version >&2
rm -f "$apt_dir"/debs/*.deb
echo "$bindir"
