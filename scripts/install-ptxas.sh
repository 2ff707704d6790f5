#!/usr/bin/env bash
# install-ptxas.sh — fetch ptxas and cuobjdump (CUDA 11.8) from Debian bookworm's
# non-free nvidia-cuda-toolkit into a private cache, without touching the system's
# apt sources, state or cache. Idempotent. The last line printed is the directory
# that holds ptxas, so CI can do:
#   dir=$(scripts/install-ptxas.sh | tail -n1); export PATH="$dir:$PATH" NF4_PTXAS="$dir/ptxas"
set -euo pipefail

cache="${NF4_CUDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nf4/cuda}"
mirror="${NF4_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${NF4_DEBIAN_SUITE:-bookworm}"
keyring="${NF4_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"
root="$cache/root"
bindir="$root/usr/bin"

if [[ -x "$bindir/ptxas" && -x "$bindir/cuobjdump" ]] && "$bindir/ptxas" --version >/dev/null 2>&1; then
	echo "$bindir"
	exit 0
fi

command -v apt-get >/dev/null || { echo "install-ptxas: apt-get is required" >&2; exit 1; }
command -v dpkg >/dev/null || { echo "install-ptxas: dpkg is required" >&2; exit 1; }

apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc/preferences.d" \
	"$apt_dir/etc/sources.list.d" "$apt_dir/debs" "$root"
touch "$apt_dir/status"

# A private source list with the non-free component; the system's is left alone.
signed=""
[[ -r "$keyring" ]] && signed=" [signed-by=$keyring]"
echo "deb$signed $mirror $suite main non-free" >"$apt_dir/etc/sources.list"

apt_opts=(
	-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
	-o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
	-o "Dir::Etc::Preferences=$apt_dir/etc/preferences"
	-o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
	-o "Dir::State=$apt_dir"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::State::status=$apt_dir/status"
	-o "Dir::Cache=$apt_dir"
	-o "Dir::Cache::Archives=$apt_dir/archives"
	-o "Debug::NoLocking=1"
	-o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64"
	-o "APT::Sandbox::User=root"
)

echo "install-ptxas: updating private package lists in $apt_dir" >&2
apt-get "${apt_opts[@]}" -qq update >&2

# ptxas and cuobjdump ship in nvidia-cuda-toolkit itself (usr/bin); it needs only libc.
pkgs=(nvidia-cuda-toolkit)
(
	cd "$apt_dir/debs"
	apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}" >&2
)

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
