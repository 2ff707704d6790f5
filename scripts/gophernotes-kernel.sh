#!/usr/bin/env bash
# gophernotes-kernel.sh — build a gophernotes (Go Jupyter) kernel that can import
# nf4, for the Go in use, and register it with Jupyter as "gophernotes-nf4".
#
#   scripts/gophernotes-kernel.sh [--no-warm] [--kernels-dir DIR]
#
# gophernotes v0.7.5 does not start on Go 1.26 as published; this builds it
# with a newer gomacro, fixes its display.JSONer proxy (and gomacro's code for
# local imports), and runs it with
# GODEBUG=gotypesalias=0 (a setting Go 1.27 removed, so Go 1.26 is required).
# A notebook's imports are compiled as Go plugins, and a plugin that shares a
# package with the kernel at another version does not load; so the kernel is
# built from the module examples/notebooks, which requires nf4 (the checkout),
# and the script checks that the notebooks' imports resolve to the versions
# linked into the kernel. Builds are cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/nf4/gophernotes, keyed by the Go version and
# the go.mod/go.sum files, so a second run only re-registers the kernel.
#
# Options:
#   --no-warm          skip compiling nf4, gorgonia and gonum/plot in plugin mode
#                      ahead of time (the first notebook then takes ~3 minutes longer)
#   --kernels-dir DIR  where to register the kernel spec (default:
#                      ${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels)
# The last line printed is the kernel spec's directory.
set -euo pipefail

name=gophernotes-nf4
gophernotes_version=v0.7.5
warm=1
kernels_dir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels"
while (($#)); do
	case "$1" in
	--no-warm) warm=0 ;;
	--kernels-dir)
		kernels_dir="${2:?--kernels-dir needs a directory}"
		shift
		;;
	-h | --help)
		awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
		exit 0
		;;
	*)
		echo "gophernotes-kernel: unknown argument $1 (try --help)" >&2
		exit 2
		;;
	esac
	shift
done

say() { echo "gophernotes-kernel: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nbmod="$root/examples/notebooks"
[[ -f "$nbmod/go.mod" ]] || die "$nbmod/go.mod not found (run this from an nf4 checkout)"
command -v go >/dev/null || die "the go command is not on PATH"
export GOTOOLCHAIN=local GOWORK=off

gover="$(go env GOVERSION)"
goroot="$(go env GOROOT)"
gomacro="$(cd "$nbmod" && go list -m -f '{{.Version}}' github.com/cosmos72/gomacro)"
what="Go $gover, gophernotes $gophernotes_version, gomacro $gomacro"
case "$gover" in
go1.26 | go1.26.* | go1.26rc*) ;;
*) die "$what: this kernel needs Go 1.26. gomacro $gomacro cannot read types.Alias and \
only runs with GODEBUG=gotypesalias=0, which Go 1.27 removed; older Go versions are not supported by nf4." ;;
esac
[[ "$(go env CGO_ENABLED)" == 1 ]] || die "$what: cgo is disabled (CGO_ENABLED=0). \
The kernel compiles every notebook import as a Go plugin, which needs cgo: set CGO_ENABLED=1 and install a C compiler."
cc="$(go env CC)"
command -v "${cc%% *}" >/dev/null || die "$what: the C compiler '$cc' is not installed; Go plugins need one (Debian: apt-get install gcc)."

modcache="$(go env GOMODCACHE)"
userproxy="$(go env GOPROXY)"
# The build is keyed by this recipe's version and the module files; the
# launcher recomputes the files' part at each start.
recipe=2
fingerprint() { { cat "$root/go.mod" "$root/go.sum" "$nbmod/go.mod" "$nbmod/go.sum" 2>/dev/null || echo missing; } | sha256sum | cut -c1-16; }
key="$(fingerprint)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/nf4/gophernotes"
# One build per checkout: older builds for this checkout are removed below.
checkout="$(printf %s "$root" | sha256sum | cut -c1-8)"
build="$cache/$gover-r$recipe-$checkout-$key"
bin="$build/bin/gophernotes"

# The environment the kernel runs in, also used for the checks below.
# Local modules and nf4's dependencies come from the module cache first
# (mirrors that answer 403 for unknown modules break plugin builds otherwise).
kproxy="file://$modcache/cache/download"
case "$userproxy" in off | "") ;; *) kproxy="$kproxy,$userproxy" ;; esac
kernel_env() {
	env GODEBUG=gotypesalias=0 GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=1 GOPROXY="$kproxy" \
		PATH="$goroot/bin:$PATH" "$@"
}

if [[ ! -x "$bin" ]]; then
	say "building the kernel for $what (about a minute) in $build"
	rm -rf "$build"
	mkdir -p "$build/bin"
	(cd "$nbmod" && go mod download) || die "$what: downloading the notebook module's dependencies failed"

	# The released gophernotes has a proxy for display.JSONer whose JSON method
	# returns string; display.JSONer's returns map[string]interface{} (fixed
	# upstream after v0.7.5). Without the fix the kernel dies at start.
	src="$modcache/github.com/gopherdata/gophernotes@$gophernotes_version"
	[[ -d "$src" ]] || die "$what: $src is missing after go mod download"
	cp -r "$src" "$build/gophernotes"
	chmod -R u+w "$build/gophernotes"
	sed -i \
		-e 's/^\tJSON_  func(interface{}) string$/\tJSON_  func(interface{}) map[string]interface{}/' \
		-e 's/^func (P \*proxy_JSONer) JSON() string {$/func (P *proxy_JSONer) JSON() map[string]interface{} {/' \
		"$build/gophernotes/x_package.go"
	[[ "$(grep -c 'map\[string\]interface{}' "$build/gophernotes/x_package.go")" -ge 2 ]] ||
		die "$what: the display.JSONer fix did not apply to gophernotes' x_package.go"

	# gomacro names a local package (import "../..") after its directory in the
	# code it generates for the plugin, so nf4 in a checkout not named nf4 fails
	# to compile ("main.Quantize undefined"); name it after the package instead.
	gsrc="$modcache/github.com/cosmos72/gomacro@$gomacro"
	cp -r "$gsrc" "$build/gomacro"
	chmod -R u+w "$build/gomacro"
	gen="$build/gomacro/base/genimport/genimport.go"
	grep -q '^	gen.name = gen.pkgrenames\[gen.path\]$' "$gen" ||
		die "$what: gomacro's genimport.go is not the one this script knows how to fix"
	sed -i 's/^	gen.name = gen.pkgrenames\[gen.path\]$/&\n	if gen.name == "" \&\& gen.gpkg != nil {\n		gen.name = gen.pkgrenames[gen.gpkg.Path()]\n	}/' "$gen"
	grep -q 'gen.pkgrenames\[gen.gpkg.Path()\]' "$gen" || die "$what: the local-import fix did not apply to gomacro"

	cp "$nbmod/go.mod" "$build/kernel.mod"
	cp "$nbmod/go.sum" "$build/kernel.sum"
	go mod edit -modfile="$build/kernel.mod" \
		-replace "github.com/gopherdata/gophernotes=$build/gophernotes" \
		-replace "github.com/cosmos72/gomacro=$build/gomacro" \
		-replace "github.com/nf4go/nf4=$root"
	(cd "$nbmod" && CGO_ENABLED=1 go build -modfile="$build/kernel.mod" -o "$bin.tmp" github.com/gopherdata/gophernotes) ||
		die "$what: building gophernotes failed"
	mv "$bin.tmp" "$bin"
	for old in "$cache"/*-"$checkout"-*; do
		[[ "$old" == "$build" || ! -d "$old" ]] || rm -rf "$old"
	done
fi

# Check that the notebooks' imports resolve, as the kernel resolves them, to
# the module versions linked into the kernel. This module mirrors the one the
# kernel writes for an import block of local packages.
check="$build/importcheck"
imports=(github.com/nf4go/nf4 github.com/nf4go/nf4/ops github.com/nf4go/nf4/checkpoint github.com/nf4go/nf4/models/llama
	github.com/nf4go/nf4/models/tokenizer github.com/nf4go/nf4/examples/notebooks/nb gorgonia.org/gorgonia)
if [[ ! -f "$check/ok" ]]; then
	say "checking that notebook imports agree with the kernel's module versions"
	rm -rf "$check"
	mkdir -p "$check"
	printf 'module gomacro.imports/importcheck\n\nreplace github.com/nf4go/nf4 => %s\nreplace github.com/nf4go/nf4/examples/notebooks => %s\n' \
		"$root" "$nbmod" >"$check/go.mod"
	{
		echo 'package main'
		echo 'import ('
		for p in "${imports[@]}"; do echo "	_ \"$p\""; done
		echo ')'
		echo 'func main() {}'
	} >"$check/main.go"
	(cd "$check" && kernel_env go get "${imports[@]}" >"$check/get.log" 2>&1) ||
		die "$what: resolving the notebooks' imports failed (as the kernel does it): $(tail -n 5 "$check/get.log")"
	(cd "$check" && kernel_env go list -deps -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' . | sort -u) >"$check/plugin.txt"
	go version -m "$bin" | awk '$1 == "dep" { print $2, $3 } $1 == "=>" { print "replaced", $2, $3 }' >"$check/kernel.txt"
	mismatch=""
	while read -r path version; do
		[[ -n "$version" ]] || continue
		kv="$(awk -v p="$path" '$1 == p { print $2 }' "$check/kernel.txt")"
		if [[ -n "$kv" && "$kv" != "$version" ]]; then
			mismatch+=$'\n'"  $path: notebooks get $version, the kernel links $kv"
		fi
	done <"$check/plugin.txt"
	[[ -z "$mismatch" ]] || die "$what: module versions differ between the kernel and the notebooks' imports,\
 so importing nf4 would fail with 'plugin was built with a different version of package':$mismatch
Make examples/notebooks/go.mod require the versions the notebooks get (cd examples/notebooks && go get MODULE@VERSION), then run this script again."
	if ((warm)); then
		say "compiling nf4, gorgonia and gonum/plot in plugin mode once (a few minutes the first time)"
		(cd "$check" && kernel_env go build -buildmode=plugin -o "$check/warm.so" . >"$check/warm.log" 2>&1) ||
			die "$what: building the notebooks' imports as a Go plugin failed: $(tail -n 5 "$check/warm.log")"
		rm -f "$check/warm.so"
	fi
	touch "$check/ok"
fi

# The launcher refuses to start when the Go version or the module files
# changed since the build: the kernel's plugins would not load.
launcher="$build/bin/$name"
cat >"$launcher.tmp" <<EOF
#!/usr/bin/env bash
# Starts the nf4 gophernotes kernel built by scripts/gophernotes-kernel.sh.
set -euo pipefail
export GODEBUG=gotypesalias=0 GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=1
export GOPROXY='$kproxy'
export PATH='$goroot/bin':"\$PATH"
now="\$(go env GOVERSION 2>/dev/null || echo 'no go command')"
key="\$({ cat '$root/go.mod' '$root/go.sum' '$nbmod/go.mod' '$nbmod/go.sum' 2>/dev/null || echo missing; } | sha256sum | cut -c1-16)"
if [[ "\$now" != '$gover' || "\$key" != '$key' ]]; then
	{
		echo "gophernotes-nf4: this kernel was built for $what and nf4's module files as of the build;"
		[[ "\$now" == '$gover' ]] || echo "  the Go at $goroot is now \$now;"
		[[ "\$key" == '$key' ]] || echo "  go.mod/go.sum of $root or examples/notebooks changed since;"
		echo "  its notebook imports would not load (plugin version mismatch). Rebuild it: $root/scripts/gophernotes-kernel.sh"
	} >&2
	exit 1
fi
exec '$bin' "\$@"
EOF
chmod +x "$launcher.tmp"
mv "$launcher.tmp" "$launcher"

spec="$kernels_dir/$name"
mkdir -p "$spec"
cp "$build/gophernotes/kernel/logo-32x32.png" "$build/gophernotes/kernel/logo-64x64.png" "$spec/" 2>/dev/null ||
	cp "$modcache/github.com/gopherdata/gophernotes@$gophernotes_version/kernel/"logo-*.png "$spec/"
chmod u+w "$spec"/logo-*.png
cat >"$spec/kernel.json" <<EOF
{
  "argv": ["$launcher", "{connection_file}"],
  "display_name": "Go (gophernotes, nf4)",
  "language": "go",
  "name": "$name"
}
EOF
say "kernel '$name' ($what) registered in $spec"
echo "$spec"
