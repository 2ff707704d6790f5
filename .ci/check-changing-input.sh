#!/usr/bin/env bash
# check-changing-input.sh — run the nf4 command while a second process
# keeps truncating and rewriting its input in place. Quantize, dequantize
# and merge must each end with exit 0 (and an output that reads back) or
# exit 1 with an error naming the input: never a crash, a signal or exit 2.
# No temporary or partial file may be left, and the input must end as the
# rewriting process last wrote it, on the same inode: nf4 never writes it.
#
#   .ci/check-changing-input.sh [RUNS]     (default 15 runs per command)
#
# Needs only Go and bash. Exits non-zero on the first failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-15}"
tmp="$(mktemp -d)"
mangler=""
cleanup() {
	[[ -z "$mangler" ]] || kill "$mangler" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
say() { echo "check-changing-input: $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

le64() {
	local i
	for i in 0 1 2 3 4 5 6 7; do
		printf "\\$(printf '%03o' $((($1 >> (8 * i)) & 255)))"
	done
}
safetensors() { # FILE HEADER: the length prefix and header; data is appended after
	le64 "${#2}" >"$1"
	printf '%s' "$2" >>"$1"
}
repeat() { # FILE PATTERN BYTES: append PATTERN repeated to BYTES bytes
	printf "$2" >"$tmp/pattern"
	while (($(stat -c %s "$tmp/pattern") < $3)); do
		cat "$tmp/pattern" "$tmp/pattern" >"$tmp/pattern2"
		mv "$tmp/pattern2" "$tmp/pattern"
	done
	head -c "$3" "$tmp/pattern" >>"$1"
}

say "building cmd/nf4"
go build -o "$tmp/nf4" ./cmd/nf4
nf4="$tmp/nf4"

# A float checkpoint of 6 MiB: four BF16 weights [512 1024] and a BF16
# embedding [1024 1024] that is copied.
mkdir "$tmp/in" "$tmp/out"
in="$tmp/in/model.safetensors"
h='{"__metadata__":{"format":"pt"}'
off=0
for i in 0 1 2 3; do
	h+=",\"model.layers.$i.mlp.up_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[512,1024],\"data_offsets\":[$off,$((off + 1048576))]}"
	off=$((off + 1048576))
done
h+=",\"model.embed_tokens.weight\":{\"dtype\":\"BF16\",\"shape\":[1024,1024],\"data_offsets\":[$off,$((off + 2097152))]}}"
safetensors "$in" "$h"
repeat "$in" '\x80\x3f\x00\xc0\xcd\x3e\x4d\xbf\x00\x3d\xa0\xbe' $((off + 2097152)) # 1, -2, 0.4, -0.8, 0.03, -0.3 as BF16
"$nf4" inspect "$in" >/dev/null || die "the input made here does not read"
nf4in="$tmp/in/model-nf4.safetensors"
"$nf4" quantize --quiet --double-quant "$in" "$nf4in" || die "quantizing the unchanged input failed"
# A PEFT adapter for layer 0.
ad="$tmp/adapter"
mkdir "$ad"
printf '{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["up_proj"]}' >"$ad/adapter_config.json"
safetensors "$ad/adapter_model.safetensors" '{"base_model.model.model.layers.0.mlp.up_proj.lora_A.weight":{"dtype":"F32","shape":[2,1024],"data_offsets":[0,8192]},"base_model.model.model.layers.0.mlp.up_proj.lora_B.weight":{"dtype":"F32","shape":[512,2],"data_offsets":[8192,12288]}}'
repeat "$ad/adapter_model.safetensors" '\x0a\xd7\x23\x3c\x0a\xd7\x23\xbc' 12288 # ±0.01 as F32

# mangle FILE: until $tmp/stop exists, cut FILE to nothing or to a part of
# itself and write it back whole, in place; end on a whole rewrite.
mangle() {
	local file=$1 copy="$tmp/copy"
	cp "$file" "$copy"
	local size
	size=$(stat -c %s "$copy")
	while [[ ! -e "$tmp/stop" ]]; do
		sleep 0.0$((RANDOM % 10)) # whole for a while, so runs can open it
		truncate -s $((RANDOM * size / 32768)) "$file"
		: >"$file"
		cat "$copy" >"$file"
	done
}

failures=0 successes=0 shrank=0
# exercise NAME FILE ARGS...: run nf4 ARGS RUNS times while FILE is mangled.
exercise() {
	local name=$1 file=$2
	shift 2
	local inode sum
	inode=$(stat -c %i "$file")
	sum=$(cksum <"$file")
	rm -f "$tmp/stop"
	mangle "$file" &
	mangler=$!
	local i code
	for ((i = 0; i < runs; i++)); do
		code=0
		"$nf4" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || code=$?
		case $code in
		0)
			successes=$((successes + 1))
			"$nf4" inspect "$tmp/out/out.safetensors" >/dev/null || die "$name: exit 0 but the output does not read back"
			;;
		1)
			failures=$((failures + 1))
			grep -q "shrank while" "$tmp/stderr" && shrank=$((shrank + 1))
			grep -qF "$file" "$tmp/stderr" || die "$name: exit 1 with an error that does not name $file: $(cat "$tmp/stderr")"
			;;
		*) die "$name: exit $code: $(head -c 2000 "$tmp/stderr")" ;;
		esac
		leftovers=$(find "$tmp" -name '*.nf4tmp' -o -name '*.tmp' -o -name '*.part')
		[[ -z "$leftovers" ]] || die "$name: left behind: $leftovers"
		rm -f "$tmp/out/out.safetensors" "$tmp/out/config.json"
	done
	touch "$tmp/stop"
	wait "$mangler"
	mangler=""
	[[ "$(stat -c %i "$file")" == "$inode" ]] || die "$name: the input was replaced"
	[[ "$(cksum <"$file")" == "$sum" ]] || die "$name: the input changed"
	[[ "$(ls -A "$tmp/out")" == "" ]] || die "$name: files left in the output folder: $(ls -A "$tmp/out")"
}

say "quantize while the float input changes ($runs runs)"
exercise quantize "$in" quantize --quiet --double-quant "$in" "$tmp/out/out.safetensors"
say "dequantize while the NF4 input changes ($runs runs)"
exercise dequantize "$nf4in" dequantize --quiet --dtype F16 "$nf4in" "$tmp/out/out.safetensors"
say "merge while the NF4 base changes ($runs runs)"
exercise merge "$nf4in" merge --quiet "$nf4in" "$ad" "$tmp/out/out.safetensors"

say "$successes runs succeeded; $failures failed cleanly on the changing input, $shrank of them when it shrank while mapped"
((shrank > 0)) || die "no run met the input shrinking while mapped: the check tested nothing"
say "ok"
