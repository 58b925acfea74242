#!/usr/bin/env python3
"""One table of the training step: ours (bench_train_step --json) beside PyTorch's variants
(bench/pytorch_reference.py --json), measured in the same session on the same GPU.

Each of our rows shows PyTorch eager's time at the same math (bf16: eager AMP bf16) divided by
ours (above 1: ours is faster), and the ratio to the ~6 ms roofline floor; a second table holds the
fast path against every PyTorch variant, in time and peak memory. The last lines say whether the
targets hold: the reference step in fp32 and TF32 at least as fast as PyTorch eager at the same
precision; the fast path's forward within 10 ms, its step within 30 ms and at least 3x faster than
torch.compile with AMP bf16, and its peak memory at most half of PyTorch eager's (the least of the
eager variants); with the training data in host memory (variant bf16-host), at most 3% slower.

A variant recorded with a status other than ok (a non-finite loss, an error) is listed with its
status and left out of the ratios. Without PyTorch's JSON (no torch on the machine) the table holds
ours alone.

usage: bench/step_table.py OURS.json [OURS2.json ...] [--pytorch PYTORCH.json ...] [--out TABLE.md]
"""
import argparse
import json
import os
import sys


def merged(paths, what):
    """One document from several (the benchmarks run a variant per process): the first's fields, every results row."""
    docs = []
    for path in paths:
        try:
            docs.append(json.load(open(path)))
        except (OSError, ValueError) as e:
            sys.exit(f"step_table: {what} {path}: {e}")
    if not docs:
        return None
    doc = dict(docs[0])
    doc["results"] = [r for d in docs for r in d.get("results", [])]
    return doc


def ok(row):
    return row.get("status", "ok") == "ok"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ours", nargs="+")
    parser.add_argument("--pytorch", action="append", default=[])
    parser.add_argument("--out")
    args = parser.parse_args()
    ours = merged(args.ours, "ours")
    torch = merged(args.pytorch, "PyTorch") or {"results": []}
    measured = [r for r in ours["results"] if ok(r)]
    torch_rows = [r for r in torch["results"] if ok(r)]
    if not measured:
        sys.exit("step_table: no variant of ours was measured: " + "; ".join(f"{r.get('variant', r['math'])}: {r['status']}" for r in ours["results"]))
    floor_ms = measured[0]["median_ms"] / measured[0]["ratio_to_floor"]
    eager = {("bf16" if r["amp"] else "tf32" if r["tf32"] else "fp32"): r["median_ms"] for r in torch_rows if r["variant"].startswith("eager")}
    source = f" (PyTorch {torch['torch']} on {torch['device']})" if torch.get("torch") else " (no PyTorch figures)"
    lines = [f"Device: {ours['device']}{source}; batch {ours['batch']} of {ours['patch']}^3.", "",
             "| implementation | math | median step (ms) | forward (ms) | patches/s | PyTorch eager (same math) / this | x floor (6 ms) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    reference, fast, fast_host = [], None, None
    for r in ours["results"]:
        on_host = r.get("path") == "fast" and r.get("data") == "host"
        if on_host:
            name = "mdcsrn fast path, training data in host memory (data.residence host)"
        elif r.get("path") == "fast":
            name = "mdcsrn fast path (fused bf16 forward and backward)"
        else:
            algorithms = "deterministic" if r.get("deterministic", True) else "any algorithm"
            name = f"mdcsrn reference step, cuDNN {algorithms}"
        if not ok(r):
            lines.append(f"| {name} | {r['math']} | {r['status']} | | | | |")
            continue
        speedup = eager[r["math"]] / r["median_ms"] if r["math"] in eager else float("nan")
        if on_host:
            fast_host = r
        elif r.get("path") == "fast":
            fast = r
        elif r.get("deterministic", True):
            reference.append((r["math"], speedup))
        forward = f"{r['forward_ms']:.1f}" if "forward_ms" in r else ""
        lines.append(f"| {name} | {r['math']} | {r['median_ms']:.1f} | {forward} | {r['patches_per_s']:.0f} | {speedup:.2f} | "
                     f"{r['ratio_to_floor']:.0f} |")
    for r in torch["results"]:
        math = "bf16" if r["amp"] else ("tf32" if r["tf32"] else "fp32")
        if not ok(r):
            lines.append(f"| PyTorch {r['variant']} | {math} | {r['status']} | | | | |")
            continue
        lines.append(f"| PyTorch {r['variant']} | {math} | {r['median_ms']:.1f} | | {ours['batch'] / (r['median_ms'] / 1000):.0f} | | "
                     f"{r['median_ms'] / floor_ms:.0f} |")
    if fast is not None and torch_rows:
        lines += ["", "| the fast path against | its step (ms) | its time / ours | its peak memory (GiB) | its memory / ours |",
                  "| --- | --- | --- | --- | --- |"]
        for r in torch_rows:
            memory_ratio = r["peak_gib"] / fast["memory_gib"] if fast["memory_gib"] > 0 else float("nan")
            lines.append(f"| PyTorch {r['variant']} | {r['median_ms']:.1f} | {r['median_ms'] / fast['median_ms']:.2f} | "
                         f"{r['peak_gib']:.2f} | {memory_ratio:.2f} |")
    if torch_rows:
        met = all(s >= 1 for _, s in reference)
        lines += ["", "Target, the reference step at least as fast as PyTorch eager at the same math: " +
                  ("met" if met else "not met") + " (" + ", ".join(f"{m} {s:.2f}x" for m, s in reference) + ")."]
    if fast is not None and torch_rows:
        forward_met, step_met = fast["forward_ms"] <= 10, fast["median_ms"] < eager.get("tf32", 0)
        lines.append(f"Targets of the fast path: forward within 10 ms: {'met' if forward_met else 'not met'} ({fast['forward_ms']:.1f} ms); "
                     f"step faster than PyTorch eager TF32: {'met' if step_met else 'not met'} ({fast['median_ms']:.1f} against "
                     f"{eager.get('tf32', float('nan')):.1f} ms).")
        compiled = [r for r in torch_rows if r["variant"].startswith("torch.compile") and r.get("amp")]
        eager_memory = min((r["peak_gib"] for r in torch_rows if r["variant"].startswith("eager")), default=float("nan"))
        speedup = compiled[0]["median_ms"] / fast["median_ms"] if compiled else float("nan")
        lines.append(f"Targets of issue 15: step within 30 ms: {'met' if fast['median_ms'] <= 30 else 'not met'} ({fast['median_ms']:.1f} ms); "
                     f"at least 3x faster than torch.compile with AMP bf16: {'met' if speedup >= 3 else 'not met'} ({speedup:.2f}x); "
                     f"peak memory at most half of PyTorch eager's: {'met' if fast['memory_gib'] <= eager_memory / 2 else 'not met'} "
                     f"({fast['memory_gib']:.2f} against {eager_memory:.2f} GiB). The aim: 12 ms.")
    if fast is not None and fast_host is not None:
        cost = fast_host["median_ms"] / fast["median_ms"] - 1
        lines.append(f"Target of issue 31, the training data in host memory at most 3% slower than on the GPU: "
                     f"{'met' if cost <= 0.03 else 'not met'} ({100 * cost:+.1f}%: {fast_host['median_ms']:.2f} against "
                     f"{fast['median_ms']:.2f} ms; GPU memory {fast_host['memory_gib']:.2f} against {fast['memory_gib']:.2f} GiB).")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            f.write(text)
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
