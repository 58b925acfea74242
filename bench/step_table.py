#!/usr/bin/env python3
"""One table of the training step: ours (bench_train_step --json) beside PyTorch's variants
(bench/pytorch_reference.py --json), measured in the same session on the same GPU.

Each of our rows shows PyTorch eager's time at the same math divided by ours (above 1: ours is
faster), and the ratio to the ~6 ms roofline floor. The last line says whether the reference
step's target holds: fp32 and TF32 at least as fast as PyTorch eager at the same precision.

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
    eager = {("tf32" if r["tf32"] else "fp32"): r["median_ms"] for r in torch["results"] if r["variant"].startswith("eager") and not r["amp"]}
    lines = [f"Device: {ours['device']} (PyTorch {torch['torch']} on {torch['device']}); batch {ours['batch']} of {ours['patch']}^3.", "",
             "| implementation | math | median step (ms) | patches/s | PyTorch eager (same math) / this | x floor (6 ms) |",
             "| --- | --- | --- | --- | --- | --- |"]
    verdict = []
    for r in ours["results"]:
        algorithms = "deterministic" if r.get("deterministic", True) else "any algorithm"
        speedup = eager[r["math"]] / r["median_ms"] if r["math"] in eager else float("nan")
        if r.get("deterministic", True):
            verdict.append((r["math"], speedup))
        lines.append(f"| mdcsrn reference step, cuDNN {algorithms} | {r['math']} | {r['median_ms']:.1f} | {r['patches_per_s']:.0f} | "
                     f"{speedup:.2f} | {r['ratio_to_floor']:.0f} |")
    for r in torch["results"]:
        math = "bf16" if r["amp"] else ("tf32" if r["tf32"] else "fp32")
        lines.append(f"| PyTorch {r['variant']} | {math} | {r['median_ms']:.1f} | {ours['batch'] / (r['median_ms'] / 1000):.0f} | | "
                     f"{r['median_ms'] / floor_ms:.0f} |")
    met = all(s >= 1 for _, s in verdict)
    lines += ["", "Target, the reference step at least as fast as PyTorch eager at the same math: " +
              ("met" if met else "not met") + " (" + ", ".join(f"{m} {s:.2f}x" for m, s in verdict) + ")."]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
