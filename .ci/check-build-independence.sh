#!/usr/bin/env bash
# check-build-independence.sh — the bytes nf4 writes must not depend on how
# it was built. Builds the nf4 command four ways (default; GOAMD64=v3, where
# Go may fuse a*b+c into one FMA; that with the pure-Go kernels; arm64, where
# Go fuses by default, run under qemu-user), quantizes the
# inputs of bitsandbytes' golden files with every build (NF4 and FP4, plain
# and with double quantization, flat layouts) and dequantizes the results,
# and requires every build's files to be identical byte for byte.
#
#   .ci/check-build-independence.sh
#
# Needs Go, bash and qemu-user (installed with apt-get when missing). Exits
# non-zero on the first difference.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
say() { echo "check-build-independence: $*" >&2; }

if ! command -v qemu-aarch64 >/dev/null; then
	say "installing qemu-user"
	{ apt-get install -y -qq --no-install-recommends qemu-user >/dev/null ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends qemu-user >/dev/null; }; } ||
		{ say "FAIL: cannot install qemu-user"; exit 1; }
fi

builds=(default v3 v3-purego arm64)
for b in "${builds[@]}"; do
	env=() tags=()
	case $b in
	v3 | v3-purego) env=(GOAMD64=v3) ;;
	arm64) env=(GOARCH=arm64) ;;
	esac
	case $b in
	*purego) tags=(-tags purego) ;;
	esac
	say "building nf4 ($b)"
	env "${env[@]}" go build "${tags[@]}" -o "$tmp/nf4-$b" ./cmd/nf4
done

golden=checkpoint/testdata/bnb
# Modes: plain, dq (double quantization), fp4, fp4dq, flat (blocks over the
# flattened values). Double quantization refuses scales near float32's
# limit, so the large magnitudes go in plain only.
inputs=(doublequant_random_normal_b64:plain,dq,fp4,fp4dq doublequant_negative_scale_b64:plain,dq
	doublequant_partial_nested_b64:plain,dq quantize4bit_midpoints_posmax_b64:plain,dq,fp4
	quantize4bit_subnormal_absmax_b64:plain,dq,fp4dq quantize4bit_large_magnitudes_b128:plain,fp4
	partial_10x100_b64:flat shape3d_4x32x64_b64:flat rowspan_64x96_b64:flat)
for b in "${builds[@]}"; do
	nf4="$tmp/nf4-$b"
	if [[ $b == arm64 ]]; then
		printf '#!/bin/sh\nexec qemu-aarch64 %q "$@"\n' "$tmp/nf4-arm64" >"$tmp/run-arm64"
		chmod +x "$tmp/run-arm64"
		nf4="$tmp/run-arm64"
	fi
	mkdir "$tmp/$b"
	for spec in "${inputs[@]}"; do
		f=${spec%%:*} modes=${spec#*:}
		for mode in ${modes//,/ }; do
			flags=(--quiet --no-config --include '^input$')
			case $mode in
			dq) flags+=(--double-quant) ;;
			fp4) flags+=(--quant-type fp4) ;;
			fp4dq) flags+=(--quant-type fp4 --double-quant) ;;
			flat) flags+=(--flat --double-quant) ;;
			esac
			"$nf4" quantize "${flags[@]}" "$golden/$f.safetensors" "$tmp/$b/$f-$mode.safetensors"
			"$nf4" dequantize --quiet --no-config --dtype F32 "$tmp/$b/$f-$mode.safetensors" "$tmp/$b/$f-$mode-f32.safetensors"
		done
	done
done

for b in "${builds[@]:1}"; do
	for f in "$tmp/default"/*.safetensors; do
		name=$(basename "$f")
		cmp "$f" "$tmp/$b/$name" || {
			say "FAIL: $name differs between the default build and $b"
			exit 1
		}
	done
done
say "ok: $(ls "$tmp/default" | wc -l) files identical across ${builds[*]}"
