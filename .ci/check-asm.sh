#!/usr/bin/env bash
# The amd64 kernels of cpu/ and their fallbacks: the committed assembly must
# be exactly what go generate writes, the pure-Go build must pass its tests,
# other architectures must vet, and the OpenBLAS comparison must build and
# run. Called from .ci/run; run alone with: bash .ci/check-asm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

step() { printf '\n=== %s\n' "$*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step "cpu: go generate reproduces the committed assembly"
generated=(cpu/nf4_amd64.s cpu/nf4_amd64_stubs.go cpu/nf4_avx512_amd64.s cpu/nf4_avx512_amd64_stubs.go cpu/nf4_amx_amd64.s cpu/nf4_amx_amd64_stubs.go)
for f in "${generated[@]}"; do cp "$f" "$tmp/$(basename "$f")"; done
restore() { for f in "${generated[@]}"; do cp "$tmp/$(basename "$f")" "$f"; done; }
if ! go generate ./cpu; then
	restore; echo "FAIL: go generate ./cpu failed"; exit 1
fi
stale=0
for f in "${generated[@]}"; do
	if ! cmp -s "$f" "$tmp/$(basename "$f")"; then
		echo "FAIL: $f differs from what go generate writes:"
		diff -u "$tmp/$(basename "$f")" "$f" | head -40 || true
		stale=1
	fi
done
restore
[ "$stale" = 0 ] || exit 1
(cd cpu/internal/asmgen && go vet ./...)
# The simulator's probes are generated too.
probes=(cpu/internal/asmsim/internal/probe/probe_amd64.s cpu/internal/asmsim/internal/probe/probe_amd64.go cpu/internal/asmsim/probes_amd64_test.go)
for f in "${probes[@]}"; do cp "$f" "$tmp/probe-$(basename "$f")"; done
go generate ./cpu/internal/asmsim/internal/probe
for f in "${probes[@]}"; do
	if ! cmp -s "$f" "$tmp/probe-$(basename "$f")"; then
		echo "FAIL: $f differs from what go generate writes"; cp "$tmp/probe-$(basename "$f")" "$f"; exit 1
	fi
done
# The AVX2 set (its own file; the AVX-512 set is nf4_avx512_amd64.s) must
# stay AVX2: avo silently takes X16-X31/Y16-Y31 (EVEX, AVX-512 only) when a
# kernel needs more than 16 vector registers.
if grep -nE '\b[XYZ](1[6-9]|2[0-9]|3[01])\b|\bZ[0-9]+\b|\bK[1-7]\b' cpu/nf4_amd64.s; then
	echo "FAIL: cpu/nf4_amd64.s uses AVX-512 registers"; exit 1
fi

step "cpu: vet (amd64 checks the assembly frames), purego tests, arm64 vet"
go vet ./cpu/...
go test -count=1 -tags purego ./cpu/...
GOARCH=arm64 go vet ./cpu/... ./cmd/nf4bench/...
go vet -tags purego ./cpu/...

step "cpu: kernel sets run natively and in the simulator"
go test -count=1 -v -run '^(TestKernelSetsRun|TestSimulatedKernels|TestSimulatedAMX|TestAMXNative|TestAMXRefusedFallsBack)$' ./cpu | grep -E 'natively|NATIVELY|simulator|^(ok|FAIL|---)'
# The AMX probes run natively only where the CPU has AMX and Linux grants it.
go test -count=1 -v -run '^TestProbesMatchCPU$' ./cpu/internal/asmsim | grep -E 'needs amx|^(ok|FAIL|---)'

step "nf4bench with OpenBLAS"
if ! ldconfig -p | grep 'libopenblas\.so ' >/dev/null; then
	apt-get install -y --no-install-recommends libopenblas-dev >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends libopenblas-dev >/dev/null; } ||
		{ echo "FAIL: cannot install libopenblas-dev"; exit 1; }
fi
go vet -tags openblas ./cmd/nf4bench
go build -tags openblas -o "$tmp/nf4bench" ./cmd/nf4bench
"$tmp/nf4bench" -quick -reps 1 -json >"$tmp/bench.json"
grep -q '"impl":"openblas-f32"' "$tmp/bench.json" || { echo "FAIL: no OpenBLAS rows"; cat "$tmp/bench.json"; exit 1; }
grep -q '"op":"peak"' "$tmp/bench.json" || { echo "FAIL: no arithmetic peak row"; cat "$tmp/bench.json"; exit 1; }
echo ok
