#!/usr/bin/env python3
"""Put PyTorch's numbers beside the NF4 kernel benchmarks and print the summary table.

Usage: gpu-bench.py BENCH.jsonl [SUMMARY.md]

BENCH.jsonl holds the JSON lines BenchmarkDevice wrote (the last line of each
name wins: Go reruns a benchmark with a larger b.N). For every shape there,
the same logical product is timed here with CUDA events on the same GPU, in
the same run: cuBLAS float16 and bf16 matmul (x @ W.T), and a dequantize-then-
matmul of NF4 weights in plain PyTorch (what a user without fused kernels
would write). Weights are rotated among copies so that none is served from L2.
"""
import json
import math
import sys

import torch

CODEBOOK = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]


def timed(fn, iters=50, reps=5):
    """Median seconds per call over reps batches of iters, after a warm-up."""
    for _ in range(5):
        fn(0)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for i in range(iters):
            fn(i)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3 / iters)
    times.sort()
    return times[len(times) // 2]


def copies_for(nbytes):
    return max(2, min(16, math.ceil((512 << 20) / nbytes)))


def torch_numbers(m, n, k, block=64):
    dev = torch.device("cuda")
    out = {}
    for name, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        ws = [torch.randn(n, k, dtype=dt, device=dev) for _ in range(copies_for(2 * n * k))]
        x = torch.randn(m, k, dtype=dt, device=dev)
        out[name] = timed(lambda i: x @ ws[i % len(ws)].T)
        del ws
    cb = torch.tensor(CODEBOOK, dtype=torch.float32, device=dev)
    sets = []
    for _ in range(copies_for(n * k // 2)):
        codes = torch.randint(0, 256, (n * k // 2,), dtype=torch.uint8, device=dev)
        absmax = torch.rand(n * k // block, dtype=torch.float32, device=dev) + 0.5
        sets.append((codes, absmax))
    xb = torch.randn(m, k, dtype=torch.bfloat16, device=dev)

    def deq_mm(i):
        codes, absmax = sets[i % len(sets)]
        idx = torch.stack((codes & 15, codes >> 4), dim=-1).reshape(-1).long()
        w = (cb[idx].view(-1, block) * absmax[:, None]).view(n, k).to(torch.bfloat16)
        return xb @ w.T

    out["deq+bf16"] = timed(deq_mm, iters=10)
    del sets
    torch.cuda.empty_cache()
    return out


def main():
    recs = {}
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                recs[r["name"]] = r
    if not recs:
        print("gpu-bench: no benchmark records in", sys.argv[1])
        return 1
    copy = recs.get("copy", {}).get("copy_gb_s", float("nan"))
    device = next(iter(recs.values()))["device"]
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}; nf4 engine on {device}")
    print(f"measured device-to-device copy: {copy:.0f} GB/s (bytes read + written)")
    shapes = sorted({(r["n"], r["m"]) for r in recs.values() if r["op"] != "copy"})
    cache = {}
    rows, checks = [], []
    for n, m in shapes:
        t = cache.setdefault((n, m), torch_numbers(m, n, n))
        flops = 2 * m * n * n
        for r in sorted((r for r in recs.values() if r["op"] != "copy" and r["n"] == n and r["m"] == m), key=lambda r: r["name"]):
            s = r["seconds"]
            rows.append([
                f"{n}", f"{m}", {"linear": "fwd", "linear backward": "bwd"}.get(r["op"], r["op"]), r["mode"].split()[0], f"{s * 1e6:.1f}",
                f"{r['gb_s']:.0f} ({100 * r['copy_frac']:.0f}%)", f"{r['tflop_s']:.2f}" if r["tflop_s"] < 10 else f"{r['tflop_s']:.0f}",
                f"{t['fp16'] * 1e6:.1f}", f"{t['bf16'] * 1e6:.1f}", f"{flops / t['bf16'] / 1e12:.1f}",
                f"{t['deq+bf16'] * 1e6:.1f}",
            ])
            if r["op"] != "linear":
                continue
            if m <= 8:
                checks.append((f"gemv N=K={n} M={m} {r['mode'].split()[0]}: bandwidth ≥ 80% of copy", r["copy_frac"] >= 0.8, f"{100 * r['copy_frac']:.0f}%"))
            if m == 1:
                checks.append((f"M=1 N=K={n}: ≥ 3x faster than cuBLAS fp16", t["fp16"] / s >= 3, f"{t['fp16'] / s:.2f}x"))
            if m == 512 and r["mode"].startswith("bf16"):
                frac = (flops / s) / (flops / t["bf16"])
                checks.append((f"GEMM N=K={n} M=512: ≥ 60% of cuBLAS bf16", frac >= 0.6, f"{100 * frac:.0f}%"))
    head = ["N=K", "M", "op", "mode", "nf4 µs", "nf4 GB/s (of copy)", "nf4 TFLOP/s", "fp16 µs", "bf16 µs", "bf16 TFLOP/s", "deq+mm µs"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.append("")
    lines += [f"{'PASS' if ok else 'MISS'}  {what}: {val}" for what, ok, val in checks]
    text = "\n".join(lines)
    print()
    print(text)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write(f"nf4 engine on {device}, torch {torch.__version__}, copy {copy:.0f} GB/s\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
