#!/usr/bin/env bash
# check-notebooks.sh — execute every notebook in examples/notebooks headless on the
# gophernotes-nf4 kernel and check their results.
#
#   .ci/check-notebooks.sh            execute into a temporary directory and check
#   .ci/check-notebooks.sh --update   also write the executed notebooks back in place
#
# Installs Jupyter from Debian (jupyter-nbconvert, python3-nbclient, jupyter-client)
# and a C compiler when missing (apt-get, as root), builds and registers the kernel
# with scripts/gophernotes-kernel.sh (cached under ${XDG_CACHE_HOME:-$HOME/.cache}),
# runs `jupyter nbconvert --to notebook --execute` on each notebook, and fails on a
# cell error, a missing chart or a missing expected result.
set -euo pipefail

update=0
case "${1:-}" in
--update) update=1 ;;
"") ;;
*)
	echo "check-notebooks: unknown argument $1 (use --update or nothing)" >&2
	exit 2
	;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
say() { echo "check-notebooks: $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

# Debian's Jupyter runs on /usr/bin/python3; call it by path so that another
# python3 first on PATH does not matter.
jupyter=/usr/bin/jupyter
python=/usr/bin/python3
need=()
[[ -x /usr/bin/jupyter-nbconvert ]] || need+=(jupyter-nbconvert)
[[ -x "$python" ]] && "$python" -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null ||
	need+=(python3-nbclient jupyter-client)
[[ -x "$jupyter" ]] || need+=(jupyter-core)
command -v "$(go env CC 2>/dev/null || echo gcc)" >/dev/null || need+=(gcc libc6-dev)
if ((${#need[@]})); then
	say "installing ${need[*]} with apt-get"
	command -v apt-get >/dev/null || die "apt-get not found; install ${need[*]}"
	SUDO=()
	((EUID == 0)) || SUDO=(sudo)
	"${SUDO[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/jupyter/kernels" "$work/out"
scripts/gophernotes-kernel.sh --kernels-dir "$work/jupyter/kernels" >/dev/null
export JUPYTER_PATH="$work/jupyter"
say "kernel ready after $((SECONDS - start)) s"

# Expected results: "notebook|minimum number of charts|text that must appear in its outputs".
expect=(
	"quickstart.ipynb|2|7.11× smaller than float32"
	"quickstart.ipynb|2|double-quantized: "
	"qlora.ipynb|1|QLORA-RESULT OK:"
	"engine.ipynb|1|float32 graph, nf4 engine vs default engine: max |Δ| = 0,"
	"engine.ipynb|1|NF4 graph, default engine vs nf4 engine: max |Δ| = 0"
	"llama.ipynb|1|LLAMA-RESULT OK:"
)

shopt -s nullglob
notebooks=(examples/notebooks/*.ipynb)
((${#notebooks[@]} >= 4)) || die "expected the quickstart, qlora, engine and llama notebooks in examples/notebooks, found ${#notebooks[@]}"
for nb in "${notebooks[@]}"; do
	name="$(basename "$nb")"
	t=$SECONDS
	((update)) || "$python" - "$nb" <<'EOF' || die "$name: committed without the outputs of a run (run .ci/check-notebooks.sh --update)"
import json, sys
nb = json.load(open(sys.argv[1]))
cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
sys.exit(0 if cells and all(c.get("execution_count") for c in cells) else 1)
EOF
	if ! "$jupyter" nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
		--ExecutePreprocessor.kernel_name=gophernotes-nf4 --output-dir "$work/out" "$nb" >"$work/$name.log" 2>&1; then
		grep -v '^// debug:\|^go: ' "$work/$name.log" | tail -n 40 >&2
		die "$name: a cell failed (above)"
	fi
	checks=()
	for e in "${expect[@]}"; do
		[[ "${e%%|*}" == "$name" ]] && checks+=("${e#*|}")
	done
	"$python" - "$work/out/$name" "${checks[@]}" <<'EOF' || die "$name: missing expected results (above)"
import json, sys
nb = json.load(open(sys.argv[1]))
text, charts, errors = [], 0, []
for c in nb["cells"]:
    for o in c.get("outputs", []):
        if o["output_type"] == "error":
            errors.append(o.get("evalue", ""))
        if o["output_type"] == "stream":
            text.append("".join(o["text"]))
        data = o.get("data", {})
        if "image/png" in data:
            charts += 1
        text.append("".join(data.get("text/plain", "")))
text = "".join(text)
for line in text.splitlines():
    if line.startswith("QLORA-RESULT") or line.startswith("LLAMA-RESULT"):
        print("  " + line, file=sys.stderr)
bad = ["cell error: " + e for e in errors]
for check in sys.argv[2:]:
    want, needle = check.split("|", 1)
    if charts < int(want):
        bad.append("%d charts, want at least %s" % (charts, want))
    if needle not in text:
        bad.append("no output contains %r" % needle)
for b in sorted(set(bad)):
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
	say "$name OK ($((SECONDS - t)) s)"
	if ((update)); then
		cp "$work/out/$name" "$nb"
	fi
done
say "all ${#notebooks[@]} notebooks ran and gave the expected results ($((SECONDS - start)) s)"
