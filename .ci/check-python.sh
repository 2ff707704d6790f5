#!/usr/bin/env bash
# check-python.sh — nf4 against the Python stack: transformers, PEFT,
# bitsandbytes (its CPU backend) and tokenizers, on random Llamas made by
# transformers and on the model examples/llama trains.
#
#   .ci/check-python.sh
#
# Installs the pinned packages of .ci/python-requirements.txt from PyPI into
# a virtual environment cached under ${XDG_CACHE_HOME:-~/.cache}/nf4/python
# (about 7 GB: PyPI's torch brings its CUDA libraries; a cold install takes
# a few minutes), then runs:
#   - the interop tests (go test -tags interop ./models/...): float logits,
#     4-bit models both ways, PEFT adapters both ways, quantize bytes
#     against bitsandbytes' quantize_4bit, tokenizers on random texts;
#   - examples/llama on a short schedule, the nf4 command on its output, and
#     the same checks on what it wrote;
#   - one short pass of scripts/cpu-peers.py (nf4bench beside
#     bitsandbytes' and PyTorch's CPU products, each peer checked against
#     its own dequantized matrix).
# Fails, saying so, when PyPI cannot be reached or any test skips.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
say() { echo "check-python: $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

req=.ci/python-requirements.txt
cache="${XDG_CACHE_HOME:-$HOME/.cache}/nf4/python"
venv="$cache/venv-$(sha256sum "$req" | cut -c1-16)"
py="$venv/bin/python"
imports='import torch, transformers, peft, bitsandbytes, safetensors, tokenizers, accelerate'
if ! [[ -x "$py" ]] || ! "$py" -c "$imports" 2>/dev/null; then
	base=$(command -v python3 || true)
	[[ -n "$base" ]] || die "python3 not found: install Python 3.9 or newer"
	say "installing $req into $venv (cold: a few minutes, about 7 GB)"
	rm -rf "$venv"
	mkdir -p "$cache"
	"$base" -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
	if ! "$venv/bin/pip" install --quiet --no-input --progress-bar off -r "$req" 2>"$cache/pip-error.log"; then
		tail -n 20 "$cache/pip-error.log" >&2
		rm -rf "$venv"
		if ! "$base" -m pip download --quiet --no-deps --dest "$(mktemp -d)" six==1.16.0 >/dev/null 2>&1; then
			die "PyPI cannot be reached, so the Python packages these checks compare against cannot be installed (pip output above)"
		fi
		die "pip could not install $req (output above)"
	fi
	"$py" -c "$imports" || die "the installed packages do not import"
	for old in "$cache"/venv-*; do # environments of earlier requirement files
		[[ "$old" == "$venv" ]] || rm -rf "$old"
	done
	say "installed in $((SECONDS - start)) s"
fi
"$py" -c 'import torch, transformers, peft, bitsandbytes; print("check-python: torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "bitsandbytes", bitsandbytes.__version__)' 2>/dev/null
export NF4_PYTHON="$py" CI="${CI:-true}" HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say "examples/llama, short schedule"
ex="$tmp/example"
go run ./examples/llama -out "$ex" -pretrain 40 -finetune 20 -samples 1 -gen 16 >"$tmp/example.log" 2>&1 ||
	{ tail -n 30 "$tmp/example.log" >&2; die "examples/llama failed"; }
grep -q "merged into the NF4 base" "$tmp/example.log" || die "examples/llama did not finish its story: $(tail -n 5 "$tmp/example.log")"

say "the nf4 command on the example's model"
go build -o "$tmp/nf4" ./cmd/nf4
mkdir -p "$tmp/cli" "$tmp/cli-merged"
"$tmp/nf4" quantize --quiet --double-quant "$ex/base/model.safetensors" "$tmp/cli/model.safetensors"
cmp "$tmp/cli/model.safetensors" "$ex/nf4/model.safetensors" || die "nf4 quantize wrote other bytes than the example's quantization"
"$tmp/nf4" merge --quiet "$ex/nf4/model.safetensors" "$ex/adapter" "$tmp/cli-merged/model.safetensors"
cmp "$tmp/cli-merged/model.safetensors" "$ex/merged/model.safetensors" || die "nf4 merge wrote other bytes than the example's merge"
"$tmp/nf4" quantize --quiet "$ex/base/model.safetensors" "$tmp/cli/plain.safetensors"
"$py" models/llama/testdata/interop.py bnb-bytes "$ex/base/model.safetensors" "$tmp/cli/plain.safetensors" 64 0 ||
	die "nf4 quantize's bytes differ from bitsandbytes' quantize_4bit on the example's model"

say "scripts/cpu-peers.py: nf4bench beside bitsandbytes and PyTorch, one short pass"
go build -o "$tmp/nf4bench" ./cmd/nf4bench
"$py" scripts/cpu-peers.py "$tmp/nf4bench" --passes 1 --reps 1 >"$tmp/peers.log" 2>&1 ||
	{ tail -n 30 "$tmp/peers.log" >&2; die "scripts/cpu-peers.py failed"; }
grep -q '^| bnb-bf16 .* | 64 | ' "$tmp/peers.log" || die "scripts/cpu-peers.py printed no bitsandbytes row: $(tail -n 5 "$tmp/peers.log")"

say "interop tests"
export NF4_LLAMA_EXAMPLE="$ex"
go test -tags interop -count=1 -v -timeout 60m -run Interop ./models/... >"$tmp/test.log" 2>&1 ||
	{ grep -v '^\s*\[\[' "$tmp/test.log" | tail -n 60 >&2; die "interop tests failed"; }
grep -E '^(---|ok|PASS|FAIL)|^\s+--- ' "$tmp/test.log" >&2
if grep -q -- '--- SKIP' "$tmp/test.log"; then
	die "an interop test skipped (above)"
fi
passed=$(grep -c -- '--- PASS' "$tmp/test.log" || true)
((passed >= 6)) || die "only $passed interop tests passed"
say "ok ($((SECONDS - start)) s)"
