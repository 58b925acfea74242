#!/usr/bin/env python3
"""One table of the generator's training step on the CPU: ours (bench_cpu_step) beside PyTorch's
(bench/pytorch_reference.py --device cpu: fp32 in channels_last_3d, and bf16 autocast), measured in
the same run on the same cores, for the demo's model, the same with growth 16 (which the fused bf16
CPU path covers) and the paper's.

Each model is measured ours first, then PyTorch, one process each, with the same number of threads
(ours: OpenMP's; PyTorch's set to it); with --rounds N, N times in turn, each cell the median of
its N medians, so that a slow spell of a shared machine does not fall on one side only. The ratio columns are PyTorch's median step divided by ours
(above 1: ours is faster). The header names the CPU, its instruction-set flags that matter here,
the level our kernels ran at (MDCSRN_MAX_CPU_ISA caps it) and the date.

Ours in bf16 is the fused bf16 CPU path (bench_cpu_step --precision bf16, kernels/cpu_fused): bf16
storage, VDPBF16PS products on a CPU with AVX512-BF16, fp32 arithmetic on an AVX2 one. It covers growth-16 models; for others, or on a CPU that
cannot run it, its cell gives the reason instead of a number. On a CPU without AVX512-BF16 or AMX,
PyTorch's bf16 autocast converts in software: about 2 minutes a step of the paper's model on 2
cores, so a whole run takes ~15 minutes there (--models demo: ~1).

With --inference, a second table times whole-volume inference the same way (ours: bench_cpu_infer,
mdcsrn infer's tiling; PyTorch: pytorch_reference.py --inference, the same tiles) on a random
volume of --volume voxels, the demo's test box by default: minutes per model on 2 cores (the
paper's model: ~18 minutes on a 2-core Zen 5, PyTorch fp32 the longest).

usage: /usr/bin/python3 bench/cpu_table.py [--build build] [--models demo,small16,paper] [--steps 5] [--rounds 1]
                                           [--inference] [--volume 159x370x316] [--out TABLE.md]
(a Python that imports torch: Debian's python3-torch)
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# name: (label, blocks, units, growth, batch, patch)
MODELS = {
    "demo": ("demo b2u2 k8, 8 of 16^3", 2, 2, 8, 8, 16),
    "small16": ("b2u2 k16, 8 of 16^3", 2, 2, 16, 8, 16),
    "paper": ("paper b4u4 k16, 2 of 32^3", 4, 4, 16, 2, 32),
}
FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_facts():
    name, flags = "unknown CPU", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and name == "unknown CPU":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name, [f for f in FLAGS if f in flags]


def run_json(command, what, refusal_ok=False):
    """Runs a benchmark that writes JSON to the path given as its last argument; returns the document.
    With refusal_ok, a benchmark that refuses (exit 1, one line) gives {"refused": that line}."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "result.json")
        done = subprocess.run(command + [path], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not os.path.exists(path):
            if refusal_ok and done.returncode == 1 and done.stdout.strip():
                return {"refused": done.stdout.strip().splitlines()[-1]}
            sys.exit(f"cpu_table: {what} wrote no result (exit {done.returncode}):\n{done.stdout[-2000:]}")
        return json.load(open(path))


def measure(build, model, steps):
    label, blocks, units, growth, batch, patch = MODELS[model]
    shape = ["--blocks", str(blocks), "--units", str(units), "--growth", str(growth), "--batch", str(batch), "--patch", str(patch)]
    ours = run_json([os.path.join(build, "bench_cpu_step")] + shape + ["--steps", str(steps), "--json"], "bench_cpu_step")
    ours_bf16 = run_json([os.path.join(build, "bench_cpu_step")] + shape + ["--steps", str(steps), "--precision", "bf16", "--json"],
                         "bench_cpu_step --precision bf16", refusal_ok=True)
    torch = run_json([sys.executable, "bench/pytorch_reference.py", "--device", "cpu", "--variants", "eager-fp32-cl,eager-amp",
                      "--threads", str(ours["threads"]), "--steps", str(steps), "--warmup", "2"] + shape + ["--json"],
                     "bench/pytorch_reference.py")
    return ours, ours_bf16, torch


INFERENCE_PATCH = 32  # mdcsrn infer's and the demo's tiles, whatever patch the model trains on


def measure_inference(build, model, volume):
    label, blocks, units, growth, batch, patch = MODELS[model]
    shape = ["--blocks", str(blocks), "--units", str(units), "--growth", str(growth), "--patch", str(INFERENCE_PATCH)]
    program = os.path.join(build, "bench_cpu_infer")
    ours = run_json([program] + shape + ["--volume", volume, "--json"], "bench_cpu_infer")
    ours_bf16 = run_json([program] + shape + ["--volume", volume, "--precision", "bf16", "--json"], "bench_cpu_infer --precision bf16",
                         refusal_ok=True)
    torch = run_json([sys.executable, "bench/pytorch_reference.py", "--device", "cpu", "--variants", "eager-fp32-cl,eager-amp",
                      "--threads", str(ours["threads"]), "--steps", "1", "--inference", volume] + shape + ["--json"],
                     "bench/pytorch_reference.py --inference")
    return ours, ours_bf16, torch


def median_of(documents, key="median_ms"):
    """The median of documents' key where every document has it, else the first document's refusal."""
    values = [d.get(key) for d in documents]
    return statistics.median(values) if all(v is not None for v in values) else None


def combine(rounds):
    """One (ours, ours_bf16, PyTorch rows) from several rounds: each cell the median of its rounds."""
    ours = dict(rounds[0][0], median_ms=median_of([r[0] for r in rounds]))
    ours_bf16 = dict(rounds[0][1], median_ms=median_of([r[1] for r in rounds]))
    rows = {}
    for name in ("eager-fp32-cl", "eager-amp"):
        found = [next((row for row in r[2]["results"] if row["name"] == name), None) for r in rounds]
        ok = [row for row in found if row is not None and row.get("status") == "ok"]
        rows[name] = dict(ok[0], median_ms=median_of(ok)) if len(ok) == len(found) else next((row for row in found if row), None)
    return ours, ours_bf16, rounds[0][2], rows


def cell(row):
    if row is None:
        return "-", None
    if row.get("status") != "ok":
        return row.get("status", "failed"), None
    return f"{row['median_ms']:.1f} ms", row["median_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="the build folder holding bench_cpu_step")
    parser.add_argument("--models", default="demo,small16,paper", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (medians)")
    parser.add_argument("--rounds", type=int, default=1, help="measure ours and PyTorch in turn this many times (medians)")
    parser.add_argument("--inference", action="store_true", help="also time whole-volume inference")
    parser.add_argument("--volume", default="159x370x316", help="the inference volume, XxYxZ (default: the demo's test box)")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)} (known: {', '.join(MODELS)})")
    if args.steps < 1:
        parser.error("--steps: at least 1")
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    programs = ["bench_cpu_step"] + (["bench_cpu_infer"] if args.inference else [])
    for program in programs:
        if not os.path.exists(os.path.join(args.build, program)):
            parser.error(f"--build {args.build}: no {program} there (build it: cmake --build {args.build} --target {program})")
    try:
        import torch  # noqa: F401  (checked here so that a missing torch is one line, not a traceback per model)
    except ImportError:
        sys.exit(f"cpu_table: {sys.executable} cannot import torch (Debian: python3-torch; run with /usr/bin/python3)")

    name, flags = cpu_facts()
    lines, inference_lines, isa, threads, torch_version = [], [], None, None, None
    ratio = lambda theirs, mine: f"{theirs / mine:.2f}x" if theirs and mine else "-"  # noqa: E731

    def ours_bf16_cell(doc, unit_ms):
        refused = doc.get("refused", "")
        if "do not cover " in refused:
            refused = "not for " + refused.split("do not cover ", 1)[1]
        return f"{doc['median_ms'] / unit_ms:.1f}" if doc.get("median_ms") else refused.replace("|", "/")

    for model in models:
        label = MODELS[model][0]
        ours, ours_bf16, torch_doc, rows = combine([measure(args.build, model, args.steps) for _ in range(args.rounds)])
        isa, threads, torch_version = ours["isa"], ours["threads"], torch_doc["torch"]
        fp32, fp32_ms = cell(rows.get("eager-fp32-cl"))
        bf16, bf16_ms = cell(rows.get("eager-amp"))
        ours_ms, ours_bf16_ms = ours["median_ms"], ours_bf16.get("median_ms")
        bf16_ours = ours_bf16_cell(ours_bf16, 1.0)
        lines.append(f"| {label} | {ours_ms:.1f} ms | {bf16_ours + ' ms' if ours_bf16_ms else bf16_ours} | {fp32} | {bf16} | "
                     f"{ratio(fp32_ms, ours_ms)} | {ratio(bf16_ms, ours_bf16_ms)} | {ratio(bf16_ms, ours_ms)} |")
        print(lines[-1], flush=True)
        if args.inference:
            ours, ours_bf16, torch_doc = measure_inference(args.build, model, args.volume)
            found = {r["name"]: r for r in torch_doc["results"]}
            seconds = lambda row: (f"{row['median_ms'] / 1000:.1f} s", row["median_ms"]) if row and row.get("status") == "ok" else (  # noqa: E731
                (row or {}).get("status", "-"), None)
            fp32, fp32_ms = seconds(found.get("eager-fp32-cl"))
            bf16, bf16_ms = seconds(found.get("eager-amp"))
            ours_ms, ours_bf16_ms = ours["median_ms"], ours_bf16.get("median_ms")
            bf16_ours = ours_bf16_cell(ours_bf16, 1000.0)
            inference_lines.append(f"| {label.split(',')[0]} | {ours_ms / 1000:.1f} s | {bf16_ours + ' s' if ours_bf16_ms else bf16_ours} | "
                                   f"{fp32} | {bf16} | {ratio(fp32_ms, ours_ms)} | {ratio(bf16_ms, ours_bf16_ms)} |")
            print(inference_lines[-1], flush=True)
    rounds = f"the median of {args.rounds} rounds of " if args.rounds > 1 else ""
    table = "\n".join([
        f"CPU training step (forward, L1, backward, Adam), {rounds}median of {args.steps} steps: {name}, {threads} threads; "
        f"flags: {', '.join(flags) or 'none of ' + ', '.join(FLAGS)}; our kernels at {isa}; PyTorch {torch_version}; "
        f"{datetime.date.today().isoformat()}. Ratios: PyTorch's step / ours (above 1: ours is faster).",
        "",
        "| model, batch | ours fp32 | ours bf16 (fused) | PyTorch fp32 channels_last_3d | PyTorch bf16 autocast "
        "| PyTorch fp32 / ours fp32 | PyTorch bf16 / ours bf16 | PyTorch bf16 / ours fp32 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ] + lines) + "\n"
    if inference_lines:
        table += "\n".join([
            "",
            f"Whole-volume inference of a random {args.volume} volume (mdcsrn infer's tiles: patch {INFERENCE_PATCH}, "
            "cores of patch - 6, 16 tiles a pass), one timed run after a warm-up batch, same machine and threads. "
            "Ratios: PyTorch's time / ours.",
            "",
            "| model | ours fp32 | ours bf16 (fused) | PyTorch fp32 channels_last_3d | PyTorch bf16 autocast "
            "| PyTorch fp32 / ours fp32 | PyTorch bf16 / ours bf16 |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ] + inference_lines) + "\n"
    print("\n" + table)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            f.write(table)
        os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
