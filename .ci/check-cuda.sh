#!/usr/bin/env bash
# CI for the CUDA backend, without a GPU: the nf4cuda build compiles, links
# and passes vet and staticcheck against cuda.h and libcuda.so from Debian's
# non-free packages (scripts/install-cuda-dev.sh, cached); every test binary
# compiles under the tag (they need a device to run: scripts/gpu-check runs
# them on one); the default build stays free of cgo; and the code still
# type-checks under gorgonia's own `cuda` tag.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
start=$SECONDS
step() { printf -- '--- %s (%d s)\n' "$*" "$((SECONDS - start))"; }

step "cuda.h and libcuda.so"
dirs=$(scripts/install-cuda-dev.sh | tail -n2)
inc=$(sed -n 1p <<<"$dirs")
lib=$(sed -n 2p <<<"$dirs")
test -s "$inc/cuda.h" && test -s "$lib/libcuda.so"
export CGO_ENABLED=1 CGO_CFLAGS="-I$inc" CGO_LDFLAGS="-L$lib"
echo "include $inc, lib $lib"

step "default build: no cgo, no gorgonia.org/cu"
CGO_ENABLED=0 go build ./...
has() { grep -qx -- "$1" <<<"$2"; } # no pipe into grep -q: pipefail and SIGPIPE
if has gorgonia.org/cu "$(go list -deps ./...)"; then
	echo "the default build imports gorgonia.org/cu"; exit 1
fi

step "go vet -tags nf4cuda"
go vet -tags nf4cuda ./...

step "go build -tags nf4cuda"
go build -tags nf4cuda ./...
has gorgonia.org/cu "$(go list -tags nf4cuda -deps .)" || { echo "nf4cuda build does not use gorgonia.org/cu"; exit 1; }

step "staticcheck -tags nf4cuda"
staticcheck -tags nf4cuda ./...

step "test binaries compile and link with -tags nf4cuda"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
n=0
for pkg in $(go list -tags nf4cuda -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do
	out="$bin/$(echo "$pkg" | tr / _).test"
	go test -tags nf4cuda -c -o "$out" "$pkg"
	n=$((n + 1))
done
echo "$n test binaries"
# The root package's binary holds the device tests: it must link the driver.
root_test="$bin/$(go list . | tr / _).test"
grep -q 'NEEDED.*libcuda\.so' <<<"$(readelf -d "$root_test")" || { echo "$root_test does not link libcuda"; exit 1; }
grep -q 'TestDeviceLinear' <<<"$(go tool nm "$root_test")" || { echo "device tests missing from $root_test"; exit 1; }

step "the QLoRA example links with -tags nf4cuda"
go build -tags nf4cuda -o "$bin/qlora" ./examples/qlora
grep -q 'NEEDED.*libcuda\.so' <<<"$(readelf -d "$bin/qlora")" || { echo "qlora does not link libcuda"; exit 1; }

# A stand-in libcuda.so.1 (.ci/fakecuda) runs the device tests' host side:
# the worker thread and its context, uploads, residency, the kernel cache,
# launch arguments and geometry (checked and computed by a C reference),
# errors, Close, concurrency under the race detector. Kernel numerics and
# speed are left to the simulator tests and to scripts/gpu-check on a GPU.
step "device tests against the stand-in driver"
.ci/fakecuda/build.sh "$root_test" "$bin/fakecuda" "$inc"
export NF4_KERNEL_CACHE="$bin/cubin"
LD_LIBRARY_PATH="$bin/fakecuda" "$root_test" -test.count=1 -test.timeout=5m
go test -race -tags nf4cuda -c -o "$bin/race.test" .
LD_LIBRARY_PATH="$bin/fakecuda" "$bin/race.test" -test.run=Device -test.count=1 -test.timeout=5m
qlora_out=$(LD_LIBRARY_PATH="$bin/fakecuda" "$bin/qlora" -pretrain 60 -finetune 60 -eval 2)
grep -q 'engine: nf4 engine on cuda:0 Fake CUDA device' <<<"$qlora_out" || { echo "$qlora_out"; echo "qlora -tags nf4cuda does not report the device"; exit 1; }
head -n1 <<<"$qlora_out"

step "gorgonia's own cuda tag (type-check: cuDNN and cuBLAS headers are not in CI)"
go run .ci/cuda-tag-typecheck.go

step "scripts/gpu-check build, and dry-run (the calibration's pieces, without a GPU)"
scripts/gpu-check build >/dev/null
test -x .gpu/nf4.test && test -x .gpu/qlora && test -s .gpu/gpu-bench.py && test -s .gpu/model.jsonl
scripts/gpu-check dry-run >/dev/null
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' scripts/gpu-bench.py

step "done"
