#!/usr/bin/env bash
# install-ptxas.sh [11.8|12.4] — fetch NVIDIA's ptxas, cuobjdump and nvdisasm
# (which cuobjdump -sass runs) from Debian's non-free nvidia-cuda-toolkit into
# a private cache, without touching the system's apt sources, state or cache.
# Idempotent. The last line printed is the directory that holds the tools, so
# CI can do:
#   dir=$(scripts/install-ptxas.sh | tail -n1); export PATH="$dir:$PATH" NF4_PTXAS="$dir/ptxas"
#
#   11.8 (default)  Debian bookworm, PTX ISA ≤ 7.8, sm_50…sm_90; cache
#                   ${NF4_CUDA_CACHE:-~/.cache/nf4/cuda}
#   12.4            Debian trixie, PTX ISA ≤ 8.4, sm_90a (wgmma, TMA) and a
#                   disassembler that decodes all of sm_90; cache
#                   ${NF4_CUDA12_CACHE:-~/.cache/nf4/cuda12.4}, which the Go
#                   code (kernels/perf, go run ./kernels/cmd/ptxdump -perf)
#                   finds by itself.
# Both need only glibc, so they run on bookworm too.
set -euo pipefail

version=${1:-11.8}
xdg="${XDG_CACHE_HOME:-$HOME/.cache}"
case "$version" in
11.8)
	cache="${NF4_CUDA_CACHE:-$xdg/nf4/cuda}"
	suite=bookworm
	tools=(ptxas cuobjdump nvdisasm)
	;;
12.4)
	cache="${NF4_CUDA12_CACHE:-$xdg/nf4/cuda12.4}"
	suite=trixie
	tools=(ptxas cuobjdump nvdisasm)
	;;
*)
	echo "usage: $0 [11.8|12.4]" >&2
	exit 2
	;;
esac
root="$cache/root"
bindir="$root/usr/bin"

ready() {
	local t
	for t in "${tools[@]}"; do
		[[ -x "$bindir/$t" ]] || return 1
	done
	# The whole output first: ptxas writes it a line at a time, and a
	# grep -q that stops reading at the match would kill it with SIGPIPE
	# (under pipefail, a failure one run in five).
	local out
	out=$("$bindir/ptxas" --version 2>/dev/null) || return 1
	[[ "$out" == *"release $version"* ]]
}

if ready; then
	echo "$bindir"
	exit 0
fi

command -v dpkg-deb >/dev/null || { echo "install-ptxas: dpkg-deb is required" >&2; exit 1; }

apt_dir="$cache/apt"
mkdir -p "$root"
# The tools ship in nvidia-cuda-toolkit itself (usr/bin).
shopt -s nullglob
debs=("$apt_dir"/debs/nvidia-cuda-toolkit_*.deb)
if ((${#debs[@]} == 0)); then
	NF4_DEBIAN_SUITE="$suite" "$(dirname "$0")/debian-nonfree-download.sh" "$apt_dir" "$apt_dir/debs" nvidia-cuda-toolkit
	debs=("$apt_dir"/debs/nvidia-cuda-toolkit_*.deb)
fi
((${#debs[@]} > 0)) || { echo "install-ptxas: no nvidia-cuda-toolkit package was downloaded" >&2; exit 1; }

members=()
for t in "${tools[@]}"; do
	members+=("./usr/bin/$t")
done
for deb in "${debs[@]}"; do
	echo "install-ptxas: extracting ${tools[*]} from $(basename "$deb")" >&2
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" "${members[@]}"
done

if ! ready; then
	echo "install-ptxas: the extracted tools are missing, do not run, or are not CUDA $version:" >&2
	"$bindir/ptxas" --version >&2 || true
	exit 1
fi
"$bindir/ptxas" --version >&2
rm -f "$apt_dir"/debs/*.deb
echo "$bindir"
