#!/usr/bin/env python3
"""What a build measured here would take on more cores, from ninja's log of that build.

Ninja records every job's start and end (milliseconds, .ninja_log format v5). On N cores a build
takes at least its longest job (nothing splits one compile) and at least its total job time over N;
the estimate adds the two, which is pessimistic by design: the device check's deadline is planned
on it.

usage: scripts/device_check/build_time.py BUILD/.ninja_log [--cores 16]
"""
import argparse
import sys


def jobs(text):
    """[(seconds, output)] of every job in a .ninja_log (that of one fresh build: each later ninja
    run appends its own jobs, timed from its own start)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        start, end, _, output, _ = line.split("\t")
        rows.append(((int(end) - int(start)) / 1000, output))
    return rows


def estimate(job_list, cores):
    total = sum(s for s, _ in job_list)
    longest = max(job_list, default=(0.0, ""))
    return {"jobs": len(job_list), "job_seconds": total, "longest_s": longest[0], "longest": longest[1],
            "estimate_s": total / cores + longest[0], "cores": cores}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ninja_log")
    parser.add_argument("--cores", type=int, default=16)
    args = parser.parse_args()
    try:
        with open(args.ninja_log) as f:
            e = estimate(jobs(f.read()), args.cores)
    except (OSError, ValueError) as error:
        sys.exit(f"build_time: {args.ninja_log}: {error}")
    print(f"{e['jobs']} jobs, {e['job_seconds']:.0f} s of job time; longest {e['longest_s']:.0f} s ({e['longest']}); "
          f"on {e['cores']} cores about {e['estimate_s']:.0f} s (job time / cores + the longest job)")


if __name__ == "__main__":
    main()
