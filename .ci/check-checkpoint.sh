#!/usr/bin/env bash
# check-checkpoint.sh — build the nf4 command and run it end to end on
# temporary safetensors files made here byte by byte: quantize (with double
# quantization), inspect, dequantize, merge a PEFT adapter, and the failure
# paths (exit codes 1 and 2, no output left behind, input untouched).
#
#   .ci/check-checkpoint.sh
#
# Needs only Go and bash. Exits non-zero on the first failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
say() { echo "check-checkpoint: $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

# le64 N: N as 8 little-endian bytes.
le64() {
	local i
	for i in 0 1 2 3 4 5 6 7; do
		printf "\\$(printf '%03o' $((($1 >> (8 * i)) & 255)))"
	done
}

# safetensors FILE HEADER: the length prefix and header; data is appended after.
safetensors() {
	le64 "${#2}" >"$1"
	printf '%s' "$2" >>"$1"
}

# expect CODE CMD...: run CMD, require exit status CODE.
expect() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	[[ $got == "$want" ]] || die "$* exited $got, want $want: $(cat "$tmp/err")"
}

say "building cmd/nf4"
go build -o "$tmp/nf4" ./cmd/nf4
nf4="$tmp/nf4"

# A float checkpoint: a BF16 weight [64 128], its F32 bias, a BF16 embedding.
in="$tmp/in.safetensors"
safetensors "$in" '{"__metadata__":{"format":"pt"},"l0.weight":{"dtype":"BF16","shape":[64,128],"data_offsets":[0,16384]},"l0.bias":{"dtype":"F32","shape":[64],"data_offsets":[16384,16640]},"embed_tokens.weight":{"dtype":"BF16","shape":[16,64],"data_offsets":[16640,18688]}}'
printf '\x80\x3f\x00\xc0\xcd\x3e\x4d\xbf%.0s' $(seq 2048) >>"$in"      # 1, -2, 0.4, -0.8 as BF16
printf '\x00\x00\x00\x3f%.0s' $(seq 64) >>"$in"                        # 0.5 as F32
printf '\x00\x3f\x00\xbf%.0s' $(seq 512) >>"$in"                       # ±0.5 as BF16
sum_in="$(cksum <"$in")"

say "help and usage errors"
expect 0 "$nf4" --help
for c in quantize inspect dequantize merge; do
	expect 0 "$nf4" "$c" --help
	grep -q "usage: nf4 $c" "$tmp/out" || die "$c --help printed no usage"
done
expect 2 "$nf4"
expect 2 "$nf4" frobnicate
expect 2 "$nf4" quantize "$in"
expect 2 "$nf4" quantize --block-size 48 "$in" "$tmp/x.safetensors"

say "quantize, inspect, dequantize"
expect 0 "$nf4" quantize --double-quant "$in" "$tmp/q.safetensors"
grep -q "1 quantized, 2 copied" "$tmp/out" || die "quantize summary: $(cat "$tmp/out")"
expect 0 "$nf4" inspect "$tmp/q.safetensors"
grep -q "l0.weight .*\[64 128\] .*NF4 b64+DQ" "$tmp/out" || die "inspect: $(cat "$tmp/out")"
grep -q "embed_tokens.weight .*BF16" "$tmp/out" || die "inspect: embedding not kept: $(cat "$tmp/out")"
expect 0 "$nf4" dequantize "$tmp/q.safetensors" "$tmp/back.safetensors"
expect 0 "$nf4" inspect "$tmp/back.safetensors"
grep -q "l0.weight .*\[64 128\] .*BF16" "$tmp/out" || die "dequantized weight: $(cat "$tmp/out")"

say "merge a PEFT adapter"
ad="$tmp/adapter"
mkdir "$ad"
printf '{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["l0"]}' >"$ad/adapter_config.json"
safetensors "$ad/adapter_model.safetensors" '{"base_model.model.l0.lora_A.weight":{"dtype":"F32","shape":[2,128],"data_offsets":[0,1024]},"base_model.model.l0.lora_B.weight":{"dtype":"F32","shape":[64,2],"data_offsets":[1024,1536]}}'
printf '\x0a\xd7\x23\x3c%.0s' $(seq 384) >>"$ad/adapter_model.safetensors" # 0.01 as F32
expect 0 "$nf4" merge "$tmp/q.safetensors" "$ad" "$tmp/merged.safetensors"
grep -q "l0.weight: merged, requantized" "$tmp/out" || die "merge report: $(cat "$tmp/out")"
expect 0 "$nf4" inspect "$tmp/merged.safetensors"
grep -q "l0.weight .*NF4 b64+DQ" "$tmp/out" || die "merged weight: $(cat "$tmp/out")"

say "bad input fails with exit 1 and leaves nothing"
head -c -7 "$in" >"$tmp/trunc.safetensors"
expect 1 "$nf4" quantize "$tmp/trunc.safetensors" "$tmp/none.safetensors"
grep -q "trunc.safetensors.*embed_tokens.weight" "$tmp/err" || die "truncation error names no file or tensor: $(cat "$tmp/err")"
expect 1 "$nf4" inspect "$tmp/trunc.safetensors"
# an adapter whose lora_B has 32 rows for a base weight with 64
safetensors "$ad/adapter_model.safetensors" '{"base_model.model.l0.lora_A.weight":{"dtype":"F32","shape":[2,128],"data_offsets":[0,1024]},"base_model.model.l0.lora_B.weight":{"dtype":"F32","shape":[32,2],"data_offsets":[1024,1280]}}'
printf '\x0a\xd7\x23\x3c%.0s' $(seq 320) >>"$ad/adapter_model.safetensors"
expect 1 "$nf4" merge "$tmp/q.safetensors" "$ad" "$tmp/none.safetensors"
grep -q "adapter_model.safetensors.*l0.lora_B.weight.*base weight l0.weight" "$tmp/err" || die "adapter mismatch error: $(cat "$tmp/err")"
expect 1 "$nf4" quantize "$in" "$in"
[[ ! -e "$tmp/none.safetensors" ]] || die "a failed run left an output"
ls -A "$tmp" | grep -E '\.(nf4tmp|tmp)$' >/dev/null && die "a temporary file was left behind"
[[ "$(cksum <"$in")" == "$sum_in" ]] || die "the input changed"

say "ok"
