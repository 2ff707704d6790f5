#!/usr/bin/env python3
"""nf4 beside bitsandbytes and PyTorch on the CPU, in one run.

    scripts/cpu-peers.py NF4BENCH [--passes 3] [--reps 7] [--json]

NF4BENCH is a built cmd/nf4bench (go build -tags openblas -o /tmp/nf4bench
./cmd/nf4bench). Each pass runs `NF4BENCH -json -quick` and then, in the same
process as this script, the peers on the same products out = x·Wᵀ
(N = K = 4096, the size of nf4bench -quick; M = 1, 8, 64, block 64, NF4):

  - bitsandbytes' matmul_4bit with float32 and with bf16 activations on
    the weights as quantize_4bit returns them (its CPU backend dequantizes
    and multiplies; bitsandbytes' dequantize_4bit alone is timed too);
  - where the CPU has AVX512_BF16, bitsandbytes' fused bf16 kernel
    (bnb-packed-bf16): what its Linear4bit runs in inference there, on the
    weights converted once to its CPU layout (_convert_weight_packed_for_cpu,
    as Linear4bit.forward does on its first call);
  - PyTorch's float32 matmul on the dequantized matrix.

Weights are rotated over copies that together hold at least three times
the L3, as nf4bench does, so every timed call reads its matrix from DRAM.
Passes alternate nf4 and the peers, so each ratio comes from one pass.
Each peer's product is checked against its own dequantized matrix
(normwise error ≤ 1e-5 with float32 activations, ≤ 1e-2 with bf16) and
the script exits non-zero when one is off or nf4bench prints no product.
Needs torch and bitsandbytes (the venv .ci/check-python.sh builds).
"""

import argparse
import copy
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

N = 4096  # the one size nf4bench -quick measures

def l3_bytes():
    for idx in range(8):
        base = f"/sys/devices/system/cpu/cpu0/cache/index{idx}"
        try:
            with open(base + "/level") as f:
                if f.read().strip() != "3":
                    continue
            with open(base + "/size") as f:
                s = f.read().strip()
        except OSError:
            break
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1], 1)
        return int(s.rstrip("KMG")) * mult
    return 32 << 20


def cpu_summary():
    flags, model = set(), "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "flags" and not flags:
                    flags = set(val.split())
                elif key == "model name" and model == "unknown":
                    model = val.strip()
    except OSError:
        pass
    sets = [s for s in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_bf16") if s in flags]
    return model, sets


def checked(name, m, got, ref, tol):
    """The normwise error of a peer's product; exits when it is over tol:
    a peer that computes something else is not a baseline."""
    err = ((got - ref).norm() / ref.norm()).item()
    if not err <= tol:
        sys.exit(f"cpu-peers: {name} at M = {m}: normwise error {err:.2e} against its own dequantized matrix")
    return err


def timed(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)


class Peers:
    """The peers' weights, quantized and copied once for every pass."""

    def __init__(self):
        import torch
        import bitsandbytes as bnb
        import bitsandbytes.functional as F

        self.torch, self.bnb, self.F = torch, bnb, F
        torch.manual_seed(1)
        torch.set_num_threads(os.cpu_count() or 1)
        self.q, self.state = F.quantize_4bit(torch.randn(N, N), blocksize=64, quant_type="nf4")
        self.dense = F.dequantize_4bit(self.q, self.state)
        self.qs = [self.q.clone() for _ in range(max(1, -(-3 * l3_bytes() // self.q.numel())))]
        self.ds = [self.dense.clone() for _ in range(max(1, -(-3 * l3_bytes() // (4 * self.dense.numel()))))]
        # bitsandbytes' fused CPU kernel reads its own layout, made once
        # per copy of the weights, as Linear4bit does in inference.
        self.packed = []
        if F.has_avx512bf16():
            self.packed = [F._convert_weight_packed_for_cpu(q.clone(), copy.deepcopy(self.state)) for q in self.qs]

    def run(self, reps):
        """Times the peers once; returns their rows and torch's and bitsandbytes' versions."""
        torch, bnb, F = self.torch, self.bnb, self.F
        q, state, dense, qs, ds = self.q, self.state, self.dense, self.qs, self.ds
        rows = []
        nq = itertools.cycle(qs).__next__
        med, low = timed(lambda: F.dequantize_4bit(nq(), state), reps)
        rows.append({"impl": "bnb-dequantize_4bit", "m": 0, "ms": med * 1e3, "min_ms": low * 1e3})
        for m in (1, 8, 64):
            for name, dt in (("bnb-f32", torch.float32), ("bnb-bf16", torch.bfloat16)):
                x = torch.randn(m, N).to(dt)
                nq = itertools.cycle(qs).__next__
                with torch.inference_mode():
                    med, low = timed(lambda: bnb.matmul_4bit(x, nq().t(), quant_state=state), reps)
                    ref = x.float() @ dense.t()
                    got = bnb.matmul_4bit(x, q.t(), quant_state=state).float()
                err = checked(name, m, got, ref, 1e-5 if dt == torch.float32 else 1e-2)
                rows.append({"impl": name, "m": m, "ms": med * 1e3, "min_ms": low * 1e3, "err": err})
            if self.packed:
                x = torch.randn(m, N).to(torch.bfloat16)
                npk = itertools.cycle(self.packed).__next__

                def packed_call():
                    p, ps = npk()
                    bnb.matmul_4bit(x, p, quant_state=ps)

                with torch.inference_mode():
                    med, low = timed(packed_call, reps)
                    p, ps = self.packed[0]
                    got = bnb.matmul_4bit(x, p, quant_state=ps).float()
                    ref = x.float() @ dense.t()
                err = checked("bnb-packed-bf16", m, got, ref, 1e-2)
                rows.append({"impl": "bnb-packed-bf16", "m": m, "ms": med * 1e3, "min_ms": low * 1e3, "err": err})
            x = torch.randn(m, N)
            nd = itertools.cycle(ds).__next__
            with torch.inference_mode():
                med, low = timed(lambda: x @ nd().t(), reps)
            rows.append({"impl": "torch-f32", "m": m, "ms": med * 1e3, "min_ms": low * 1e3})
        return rows, torch.__version__, bnb.__version__


def nf4_rows(nf4bench):
    out = subprocess.run([nf4bench, "-json", "-quick"], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        r = json.loads(line)
        if r.get("n", N) != N:
            continue
        if r["op"] == "dequant" or (r["op"] == "linear" and r["impl"].startswith("nf4")):
            rows.append({"impl": r["impl"] if r["op"] == "linear" else r["impl"] + "-dequantize",
                         "m": r.get("m", 0), "ms": r["ns_per_op"] / 1e6, "min_ms": r["ns_min_max"][0] / 1e6})
    if not any(r["m"] == 1 for r in rows):
        sys.exit(f"cpu-peers: {nf4bench} printed no M = 1 product at N = K = {N}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nf4bench")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="one JSON object per measurement")
    args = ap.parse_args()
    model, sets = cpu_summary()
    print(f"# CPU: {model}; {os.cpu_count()} threads; sets: {' '.join(sets) or 'none of interest'}")
    them = Peers()
    for p in range(1, args.passes + 1):
        ours = nf4_rows(args.nf4bench)
        theirs, tv, bv = them.run(args.reps)
        if args.json:
            for r in ours + theirs:
                print(json.dumps({"pass": p, "n": N, **r}))
            continue
        print(f"\n## pass {p} (torch {tv}, bitsandbytes {bv}; medians, min in brackets)\n")
        print("| impl | M | ms | vs nf4 exact | vs nf4 bf16 mode |")
        print("|---|---|---|---|---|")
        best, bf16 = {}, {}  # nf4bench prints the best kernel set's row first
        for r in ours:
            if r["m"] and "bf16" not in r["impl"]:
                best.setdefault(r["m"], r["ms"])
            elif r["m"] and r["impl"] == "nf4-bf16":
                bf16[r["m"]] = r["ms"]
        for r in ours + theirs:
            ratios = [f"{r['ms'] / b[r['m']]:.2f}×" if r["m"] in b else "" for b in (best, bf16)]
            err = f" (err {r['err']:.1e})" if "err" in r else ""
            print(f"| {r['impl']}{err} | {r['m'] or '–'} | {r['ms']:.3f} [{r['min_ms']:.3f}] | {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
