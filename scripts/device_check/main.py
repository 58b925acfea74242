#!/usr/bin/env python3
"""The device check: every number a lent GPU can give, in one command that survives any failure.

usage: scripts/gpu_check.sh [--rehearse] [--deadline SECONDS] [--phases a,b,...] [--build-limit SECONDS] [--build DIR] [--out DIR]

Runs the phases of phases.py in order (the build, a smoke check, the step table against PyTorch,
the roofline, the full GPU suite, the sanitizers, inference, out-of-memory, data-parallel runs,
the rest, accuracy and torch.compile last), each under its own time limit, none started or running past the deadline (default
490 s; with a killed command's 10 s of grace and the packing, the check ends within 510 s, so that
one 10-minute device call keeps 1.5 minutes to spare). A phase that fails or times out is
recorded and the next one runs. The summary table is printed last, whatever failed.

What lands in --out (default: $OUT on the device, else BUILD/check-out) is at most 8 files,
rewritten after every phase so that a run cut short still returns what it measured: summary.md and
summary.json, step_table.md (its first line says whether its figures are verified), roofline.md,
failures.log (the failing suites' own output), build-tail.log, and everything.tar.gz with every
other log and JSON of the run.

--phases runs only the phases named; a prerequisite left out is taken as done by an earlier run.
A second call runs what the deadline skipped: --phases dependencies,build,prepare,NAMES (a machine
stays warm only 30 s after a call, so it usually builds again: ~45 s on an H200's 16 cores).

--rehearse runs the same phases on this machine without a GPU: the CPU backend and the SIMT
emulator at tiny sizes, GPU-only programs asked for --help only, every limit 10 times the
device's; see scripts/rehearse_device_check.sh.
"""
import argparse
import json
import os
import shutil
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phases as phase_list  # noqa: E402
import summary  # noqa: E402
from runner import Context, run_phases  # noqa: E402

OUT_FILES = ("summary.md", "summary.json", "step_table.md", "roofline.md", "failures.log", "build-tail.log")
ARCHIVE = "everything.tar.gz"
ARCHIVE_LIMIT = 15 << 20       # the device tool returns files of at most 16 MiB
ARCHIVED_SUFFIXES = (".log", ".json", ".jsonl", ".md", ".txt", ".stderr", ".csv")
REHEARSAL_TIME_SCALE = 10


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="scripts/gpu_check.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rehearse", action="store_true", help="run every phase on the CPU and the emulator (no GPU)")
    parser.add_argument("--deadline", type=float, default=float(os.environ.get("GPU_CHECK_DEADLINE_S", 490)),
                        help="seconds after which no phase starts (default 490; in a rehearsal 10 times as many)")
    parser.add_argument("--phases", help="only these phases (comma-separated), in their usual order")
    parser.add_argument("--build-limit", type=float, help="the build phase's time limit in seconds (default 330; a rehearsal on "
                                                         "2 cores needs more)")
    parser.add_argument("--build", help="build folder (default build-gpu; build in a rehearsal)")
    parser.add_argument("--out", help="where the returned files go (default $OUT, else BUILD/check-out)")
    return parser.parse_args(argv)


def publish(context, out, validity):
    """Rewrites the returned files from what the phases have produced so far."""
    results = context.finished()
    estimates = {p.name: p.estimate_s for p in phase_list.phases()}
    title = "Device check rehearsal (no GPU)" if context.rehearse else "Device check"
    table = summary.summary_table(results, estimates, validity, title)
    write(os.path.join(out, "summary.md"), table)
    write(os.path.join(out, "summary.json"), json.dumps({"rehearsal": context.rehearse, "phases": [r.as_dict() for r in results],
                                                         "step_figures": validity, "elapsed_s": round(time.monotonic() - context.facts["start"], 1)},
                                                        indent=2) + "\n")
    step_table = context.path("step_table.md")
    if os.path.exists(step_table):
        write(os.path.join(out, "step_table.md"), summary.mark_step_table(read(step_table), validity))
    for name in ("roofline.md", "failures.log", "build-tail.log"):
        if os.path.exists(context.path(name)):
            shutil.copyfile(context.path(name), os.path.join(out, name))
    return table


def validity_of(context):
    return summary.path_validity(context.results, context.facts.get("failed_suites", []), context.facts.get("gpu_suite_complete", False))


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def archive(context, out):
    """Every small text output of the run in one file under the device tool's 16 MiB, the largest
    files left out first if the compressed archive would not fit."""
    files = []
    for folder, _, names in os.walk(context.work):
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(ARCHIVED_SUFFIXES):
                files.append((os.path.getsize(path), path))
    files.sort()
    kept = files
    target = os.path.join(out, ARCHIVE)
    while True:
        with tarfile.open(target + ".tmp", "w:gz") as tar:
            for _, path in kept:
                tar.add(path, arcname=os.path.relpath(path, context.work))
        if os.path.getsize(target + ".tmp") <= ARCHIVE_LIMIT or not kept:
            break
        kept = kept[:len(kept) // 2]
    os.replace(target + ".tmp", target)
    return len(kept), len(files)


def main(argv=None):
    start = time.monotonic()
    args = parse_arguments(argv)
    selected = phase_list.phases()
    if args.phases:
        wanted = args.phases.split(",")
        unknown = set(wanted) - {p.name for p in selected}
        if unknown:
            sys.exit(f"gpu_check: unknown phase(s): {', '.join(sorted(unknown))} (phases: {', '.join(p.name for p in selected)})")
        selected = [p for p in selected if p.name in wanted]
    if args.build_limit:
        for phase in selected:
            if phase.name == "build":
                phase.limit_s = args.build_limit
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.path.abspath(args.build or os.environ.get("BUILD_DIR") or ("build" if args.rehearse else "build-gpu"))
    out = os.path.abspath(args.out or os.environ.get("OUT") or os.path.join(build, "check-out"))
    work = os.path.join(build, "check")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.makedirs(out, exist_ok=True)
    for name in OUT_FILES + (ARCHIVE,):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    # The CPU backend and the emulator run the rehearsal's commands far slower than a GPU runs the
    # real ones: its limits and deadline are the device's, scaled.
    scale = REHEARSAL_TIME_SCALE if args.rehearse else 1.0
    context = Context(root=root, build=build, work=work, env=dict(os.environ), deadline=start + args.deadline * scale,
                      device="cpu" if args.rehearse else "cuda", rehearse=args.rehearse, time_scale=scale)
    context.facts["start"] = start
    print(f"{'rehearsal' if args.rehearse else 'device check'}: {len(selected)} phases, deadline {args.deadline * scale:.0f} s; build {build}; "
          f"returned files in {out}", flush=True)

    def after_each(ctx):
        publish(ctx, out, validity_of(ctx))
        sys.stdout.flush()

    results = run_phases(selected, context, after_each)
    validity = validity_of(context)
    kept, found = archive(context, out)
    table = publish(context, out, validity)
    print(f"\n{ARCHIVE}: {kept} of {found} logs and JSON files; {len(os.listdir(out))} files in {out}\n")
    if os.path.exists(os.path.join(out, "step_table.md")):
        print(read(os.path.join(out, "step_table.md")))
    if os.path.exists(os.path.join(out, "roofline.md")):
        print(read(os.path.join(out, "roofline.md")))
    print(table, end="")
    return 0 if all(r.status in ("pass", "skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
