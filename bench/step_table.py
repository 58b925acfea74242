#!/usr/bin/env python3
"""One table of the training step: ours (bench_train_step --json) beside PyTorch's variants
(bench/pytorch_reference.py --json), measured in the same session on the same GPU.

Each of our rows shows PyTorch eager's time at the same math (bf16: eager AMP bf16) divided by
ours (above 1: ours is faster), and the ratio to the ~6 ms roofline floor; a second table holds the
fast path against every PyTorch variant, in time and peak memory. The last lines say whether the
targets hold: the reference step in fp32 and TF32 at least as fast as PyTorch eager at the same
precision; the fast path's forward within 10 ms, its step within 30 ms and at least 3x faster than
torch.compile with AMP bf16, and its peak memory at most half of PyTorch eager's (the least of the
eager variants).

usage: bench/step_table.py OURS.json PYTORCH.json [--out TABLE.md]
"""
import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ours")
    parser.add_argument("pytorch")
    parser.add_argument("--out")
    args = parser.parse_args()
    try:
        ours, torch = json.load(open(args.ours)), json.load(open(args.pytorch))
    except (OSError, ValueError) as e:
        sys.exit(f"step_table: {e}")
    floor_ms = ours["results"][0]["median_ms"] / ours["results"][0]["ratio_to_floor"]
    eager = {("bf16" if r["amp"] else "tf32" if r["tf32"] else "fp32"): r["median_ms"] for r in torch["results"]
             if r["variant"].startswith("eager")}
    lines = [f"Device: {ours['device']} (PyTorch {torch['torch']} on {torch['device']}); batch {ours['batch']} of {ours['patch']}^3.", "",
             "| implementation | math | median step (ms) | forward (ms) | patches/s | PyTorch eager (same math) / this | x floor (6 ms) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    reference, fast = [], None
    for r in ours["results"]:
        speedup = eager[r["math"]] / r["median_ms"] if r["math"] in eager else float("nan")
        if r.get("path") == "fast":
            name, fast = "mdcsrn fast path (fused bf16 forward and backward)", r
        else:
            algorithms = "deterministic" if r.get("deterministic", True) else "any algorithm"
            name = f"mdcsrn reference step, cuDNN {algorithms}"
            if r.get("deterministic", True):
                reference.append((r["math"], speedup))
        forward = f"{r['forward_ms']:.1f}" if "forward_ms" in r else ""
        lines.append(f"| {name} | {r['math']} | {r['median_ms']:.1f} | {forward} | {r['patches_per_s']:.0f} | {speedup:.2f} | "
                     f"{r['ratio_to_floor']:.0f} |")
    for r in torch["results"]:
        math = "bf16" if r["amp"] else ("tf32" if r["tf32"] else "fp32")
        lines.append(f"| PyTorch {r['variant']} | {math} | {r['median_ms']:.1f} | | {ours['batch'] / (r['median_ms'] / 1000):.0f} | | "
                     f"{r['median_ms'] / floor_ms:.0f} |")
    if fast is not None:
        lines += ["", "| the fast path against | its step (ms) | its time / ours | its peak memory (GiB) | its memory / ours |",
                  "| --- | --- | --- | --- | --- |"]
        for r in torch["results"]:
            lines.append(f"| PyTorch {r['variant']} | {r['median_ms']:.1f} | {r['median_ms'] / fast['median_ms']:.2f} | "
                         f"{r['peak_gib']:.2f} | {r['peak_gib'] / fast['memory_gib']:.2f} |")
    met = all(s >= 1 for _, s in reference)
    lines += ["", "Target, the reference step at least as fast as PyTorch eager at the same math: " +
              ("met" if met else "not met") + " (" + ", ".join(f"{m} {s:.2f}x" for m, s in reference) + ")."]
    if fast is not None:
        forward_met, step_met = fast["forward_ms"] <= 10, fast["median_ms"] < eager.get("tf32", 0)
        lines.append(f"Targets of the fast path: forward within 10 ms: {'met' if forward_met else 'not met'} ({fast['forward_ms']:.1f} ms); "
                     f"step faster than PyTorch eager TF32: {'met' if step_met else 'not met'} ({fast['median_ms']:.1f} against "
                     f"{eager.get('tf32', float('nan')):.1f} ms).")
        compiled = [r for r in torch["results"] if r["variant"].startswith("torch.compile") and r.get("amp")]
        eager_memory = min((r["peak_gib"] for r in torch["results"] if r["variant"].startswith("eager")), default=float("nan"))
        speedup = compiled[0]["median_ms"] / fast["median_ms"] if compiled else float("nan")
        lines.append(f"Targets of issue 15: step within 30 ms: {'met' if fast['median_ms'] <= 30 else 'not met'} ({fast['median_ms']:.1f} ms); "
                     f"at least 3x faster than torch.compile with AMP bf16: {'met' if speedup >= 3 else 'not met'} ({speedup:.2f}x); "
                     f"peak memory at most half of PyTorch eager's: {'met' if fast['memory_gib'] <= eager_memory / 2 else 'not met'} "
                     f"({fast['memory_gib']:.2f} against {eager_memory:.2f} GiB). The aim: 12 ms.")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
