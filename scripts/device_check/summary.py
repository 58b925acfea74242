"""Reading the device check's outputs: ctest's log, the step benchmarks' JSON, the roofline, and
the one summary table printed last. Kept free of side effects so that CI can feed it sample outputs
(tests/scripts/test_device_check.py).
"""
import json
import math
import re
from dataclasses import dataclass, field

# The GPU suites whose failure makes a path's timings meaningless: what the path's step runs on.
FAST_PATH_SUITES = {"gpu.gpu_fused_forward", "gpu.gpu_fused_backward", "gpu.gpu_fast_generator", "gpu.gpu_step_schedule",
                    "gpu.gpu_channel_fold", "gpu.gpu_simt", "gpu.gpu_generator", "gpu.gpu_trainer", "gpu.gpu_sampler",
                    "gpu.gpu_optimizer", "gpu.gpu_loss", "gpu.gpu_philox"}
REFERENCE_PATH_SUITES = {"gpu.gpu_conv3d", "gpu.gpu_batchnorm", "gpu.gpu_activation", "gpu.gpu_generator", "gpu.gpu_trainer",
                         "gpu.gpu_sampler", "gpu.gpu_optimizer", "gpu.gpu_loss", "gpu.gpu_philox", "gpu.gpu_engine"}

_CTEST_LINE = re.compile(r"Test +#(\d+): (\S+) \.*\s*(\*\*\*)?(Passed|Failed|Skipped|Timeout|Not Run|Exception)")


@dataclass
class CtestOutcome:
    passed: list = field(default_factory=list)
    failed: list = field(default_factory=list)   # Failed, Timeout, Exception, Not Run
    skipped: list = field(default_factory=list)
    numbers: dict = field(default_factory=dict)  # test name -> ctest's number (its -V output's line prefix)

    @property
    def total(self):
        return len(self.passed) + len(self.failed) + len(self.skipped)


def ctest_outcome(text):
    """Every test ctest reported in `text`, by verdict."""
    outcome = CtestOutcome()
    for number, name, _, verdict in _CTEST_LINE.findall(text):
        outcome.numbers[name] = int(number)
        {"Passed": outcome.passed, "Skipped": outcome.skipped}.get(verdict, outcome.failed).append(name)
    return outcome


def failing_excerpts(text, outcome, lines_per_test=40):
    """For each failed test, the lines of its own output (ctest -V prefixes them with its number)
    around the first failures: what a reader needs to see without the whole log."""
    parts = []
    for name in outcome.failed:
        prefix = f"{outcome.numbers[name]}: "
        own = [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]
        marks = [i for i, line in enumerate(own) if re.search(r"ERROR|FATAL|FAILED|[Ee]rror|Timeout|Segmentation", line)]
        start = max(0, marks[0] - 5) if marks else max(0, len(own) - lines_per_test)
        parts.append(f"== {name}\n" + "\n".join(own[start:start + lines_per_test]))
    return "\n\n".join(parts) + ("\n" if parts else "")


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def step_rows(documents):
    """The rows of bench_train_step's JSON documents (one per variant's run), in order."""
    rows = []
    for doc in documents:
        if doc:
            rows.extend(doc.get("results", []))
    return rows


def step_name(row):
    if row.get("path") == "fast":
        return "fast bf16"
    return f"{row['math']} reference" + ("" if row.get("deterministic", True) else " (any algorithm)")


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def step_headline(rows, pytorch=None):
    """One line of the step times: ours per variant, then PyTorch's best."""
    parts = []
    for row in rows:
        if row.get("status", "ok") != "ok":
            parts.append(f"{step_name(row)}: {row['status']}")
        elif finite(row.get("median_ms")):
            parts.append(f"{step_name(row)} {row['median_ms']:.1f} ms")
    measured = [r for r in (pytorch or {}).get("results", []) if r.get("status", "ok") == "ok" and finite(r.get("median_ms"))]
    if measured:
        best = min(measured, key=lambda r: r["median_ms"])
        parts.append(f"PyTorch best ({best['variant']}) {best['median_ms']:.1f} ms")
    return "; ".join(parts) if parts else "no step measured"


def roofline_headline(roofline):
    if not roofline:
        return "no roofline"
    return (f"one step's kernels {roofline['step_kernel_ms']:.2f} ms; ceilings measured: copy {roofline['copy_gbps']:.0f} GB/s, "
            f"bf16 GEMM {roofline['gemm_tflops']:.0f} TFLOP/s")


def path_validity(results, failed_suites, suite_complete):
    """Whether each path's timings can be trusted: 'invalid' when a check of that path failed (the
    smoke check for the fast path, or a GPU suite the path runs on), 'verified' when every GPU suite
    ran on the device (none skipped, none cut short) and none of the path's failed, 'unverified'
    otherwise."""
    smoke = results.get("smoke")
    validity = {}
    for path, suites in (("fast", FAST_PATH_SUITES), ("reference", REFERENCE_PATH_SUITES)):
        bad = sorted(set(failed_suites) & suites)
        if path == "fast" and smoke is not None and smoke.status in ("fail", "timeout"):
            validity[path] = "invalid (the smoke check of the fast step against the reference step failed)"
        elif bad:
            validity[path] = "invalid (failed: " + ", ".join(bad) + ")"
        elif suite_complete:
            validity[path] = "verified"
        else:
            validity[path] = "unverified (the full GPU suite has not run to the end on a device)"
    return validity


def mark_step_table(table_text, validity):
    """The step table with its status line first."""
    status = "; ".join(f"{path} path figures: {v}" for path, v in validity.items())
    return f"Status: {status}.\n\n{table_text}"


def summary_table(results, estimates, validity=None, title="Device check"):
    lines = [f"## {title}", "", "| phase | status | seconds (estimate) | headline or reason |", "| --- | --- | --- | --- |"]
    for r in results:
        text = r.headline or r.reason
        if r.headline and r.reason:
            text = f"{r.headline} ({r.reason})"
        text = text.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.phase} | {r.status} | {r.seconds:.0f} ({estimates.get(r.phase, 0):.0f}) | {text} |")
    total = sum(r.seconds for r in results)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "timeout", "skipped")}
    lines += ["", f"{counts['pass']} passed, {counts['fail']} failed, {counts['timeout']} timed out, {counts['skipped']} skipped; "
                  f"{total:.0f} s in phases."]
    if validity:
        lines.append("Step figures: " + "; ".join(f"{path} path {v}" for path, v in validity.items()) + ".")
    return "\n".join(lines) + "\n"


_OOM = re.compile(r"out of GPU memory: requested (\d+) MiB with (\d+) of (\d+) MiB free")


def out_of_memory_verdict(status, stderr_text):
    """An over-large batch must end with exit 1 and one line naming the memory asked for and free."""
    lines = [line for line in stderr_text.splitlines() if line.strip()]
    if status != 1:
        return False, f"exit status {status}, expected 1"
    if len(lines) != 1:
        return False, f"{len(lines)} lines on stderr, expected one"
    m = _OOM.search(lines[0])
    if not m:
        return False, f"the line does not name the memory asked for and free: {lines[0][:160]}"
    return True, f"refused in one line: {int(m.group(1)) / 1024:.1f} GiB asked, {int(m.group(2)) / 1024:.1f} GiB of {int(m.group(3)) / 1024:.1f} free"
