#!/usr/bin/env bash
# debian-nonfree-download.sh STATE_DIR DEST_DIR PKG... — download the .debs of
# the named packages (not their dependencies) from Debian's main and non-free
# components into DEST_DIR, with apt's lists and state kept in STATE_DIR: the
# system's apt sources, state and cache are left alone. Used by
# install-ptxas.sh and install-cuda-dev.sh. NF4_DEBIAN_MIRROR,
# NF4_DEBIAN_SUITE (default bookworm) and NF4_DEBIAN_KEYRING override the
# source.
set -euo pipefail

(($# >= 3)) || { echo "usage: $0 STATE_DIR DEST_DIR PKG..." >&2; exit 2; }
state=$1 dest=$2
shift 2
mirror="${NF4_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${NF4_DEBIAN_SUITE:-bookworm}"
keyring="${NF4_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"

command -v apt-get >/dev/null || { echo "debian-nonfree-download: apt-get is required" >&2; exit 1; }

mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/etc/preferences.d" \
	"$state/etc/sources.list.d" "$dest"
touch "$state/status"

signed=""
[[ -r "$keyring" ]] && signed=" [signed-by=$keyring]"
echo "deb$signed $mirror $suite main non-free" >"$state/etc/sources.list"

apt_opts=(
	-o "Dir::Etc::SourceList=$state/etc/sources.list"
	-o "Dir::Etc::SourceParts=$state/etc/sources.list.d"
	-o "Dir::Etc::Preferences=$state/etc/preferences"
	-o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
	-o "Dir::State=$state"
	-o "Dir::State::Lists=$state/lists"
	-o "Dir::State::status=$state/status"
	-o "Dir::Cache=$state"
	-o "Dir::Cache::Archives=$state/archives"
	-o "Debug::NoLocking=1"
	-o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64"
	-o "APT::Sandbox::User=root"
)

echo "debian-nonfree-download: updating private package lists in $state" >&2
apt-get "${apt_opts[@]}" -qq update >&2
cd "$dest"
apt-get "${apt_opts[@]}" -qq download "$@" >&2
