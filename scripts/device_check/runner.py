"""Phases that cannot take each other down.

Each phase runs its commands in their own process groups, each under a timeout that never reaches
past the phase's own limit or the check's deadline; a command that outlives it is killed with
everything it started. Whatever a phase raises becomes its status, and the next phase starts
regardless. No phase starts once the deadline has passed, and a phase whose prerequisite did not
pass is skipped, saying which.
"""
import os
import signal
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

PASS, FAIL, TIMEOUT, SKIPPED = "pass", "fail", "timeout", "skipped"


class PhaseFailed(Exception):
    """The phase ran and its check failed: the reason, and what it measured all the same."""

    def __init__(self, reason, headline=""):
        super().__init__(reason)
        self.headline = headline


class PhaseSkipped(Exception):
    """The phase cannot run here (no device, no tool); the message says why."""


class CommandTimedOut(Exception):
    pass


@dataclass
class Result:
    phase: str
    status: str
    seconds: float
    headline: str = ""
    reason: str = ""

    def as_dict(self):
        return {"phase": self.phase, "status": self.status, "seconds": round(self.seconds, 1), "headline": self.headline, "reason": self.reason}


@dataclass
class Phase:
    name: str
    limit_s: float        # the phase never runs longer
    estimate_s: float     # what it is expected to take on the device (bench/NOTES.md's arithmetic)
    body: Callable        # body(context) -> headline; raises PhaseFailed / PhaseSkipped
    needs: tuple = ()     # phases that must have passed first


@dataclass
class Context:
    """What every phase sees: where things are, the environment, and the clock."""
    root: str                      # the repository
    build: str                     # the build folder
    work: str                      # logs and outputs of this check
    env: dict
    deadline: float                # time.monotonic() after which no phase starts
    device: str = "cuda"           # "cuda" on the device, "cpu" in a rehearsal
    rehearse: bool = False
    results: dict = field(default_factory=dict)
    phase_end: float = 0.0         # the running phase's own limit, as time.monotonic()
    time_scale: float = 1.0        # limits are the device's; a rehearsal on the CPU and emulator gets this many times more
    facts: dict = field(default_factory=dict)  # what phases tell later ones (the manifest, failed suites)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def passed(self, phase):
        r = self.results.get(phase)
        return r is not None and r.status == PASS

    def finished(self):
        return [r for r in self.results.values() if r is not None]

    def remaining(self):
        return min(self.deadline, self.phase_end) - time.monotonic()

    def run(self, command, log, limit_s=None, check=True, env=None, cwd=None):
        """Runs `command` (a list, or a string for the shell) with its output in the file `log`
        (appended), under min(limit_s, the phase's time left). Returns the exit status; with check,
        a non-zero status raises PhaseFailed naming the log."""
        timeout = self.remaining() if limit_s is None else min(limit_s * self.time_scale, self.remaining())
        if timeout <= 1:
            raise CommandTimedOut(f"no time left to start {describe(command)}")
        merged = dict(self.env, **(env or {}))
        with open(log, "a") as out:
            out.write(f"$ {describe(command)}\n")
            out.flush()
            process = subprocess.Popen(command, shell=isinstance(command, str), stdout=out, stderr=subprocess.STDOUT,
                                       env=merged, cwd=cwd or self.root, start_new_session=True)
            try:
                status = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_group(process)
                out.write(f"\n[killed after {timeout:.0f} s]\n")
                raise CommandTimedOut(f"{describe(command)} ran past {timeout:.0f} s (log: {os.path.basename(log)})")
        if check and status != 0:
            raise PhaseFailed(f"{describe(command)} exited {status} (log: {os.path.basename(log)})")
        return status


def describe(command):
    text = command if isinstance(command, str) else " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(command))
    return text if len(text) <= 90 else text[:87] + "..."


def stop_group(process):
    """SIGTERM to the command's whole process group, SIGKILL if it is still there 5 s later."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_phase(phase: Phase, context: Context, log=print) -> Result:
    start = time.monotonic()
    # A prerequisite left out of this run (--phases) is taken as done by an earlier one.
    missing = [n for n in phase.needs if n in context.results and not context.passed(n)]
    if start >= context.deadline:
        result = Result(phase.name, SKIPPED, 0, reason="the check's deadline has passed")
    elif missing:
        result = Result(phase.name, SKIPPED, 0, reason=f"needs {', '.join(missing)}, which did not pass")
    else:
        context.phase_end = start + phase.limit_s * context.time_scale
        try:
            headline = phase.body(context) or ""
            result = Result(phase.name, PASS, time.monotonic() - start, headline)
        except PhaseSkipped as e:
            result = Result(phase.name, SKIPPED, time.monotonic() - start, reason=str(e))
        except PhaseFailed as e:
            result = Result(phase.name, FAIL, time.monotonic() - start, headline=e.headline, reason=str(e))
        except CommandTimedOut as e:
            result = Result(phase.name, TIMEOUT, time.monotonic() - start, reason=str(e))
        except Exception as e:  # a bug in the phase itself must not end the check
            with open(context.path(f"{phase.name}.error.log"), "w") as f:
                traceback.print_exc(file=f)
            result = Result(phase.name, FAIL, time.monotonic() - start, reason=f"{type(e).__name__}: {e} (traceback: {phase.name}.error.log)")
    context.results[phase.name] = result
    detail = result.headline or result.reason
    log(f"[{time.monotonic() - context.facts.get('start', start):5.0f} s] {phase.name}: {result.status} in {result.seconds:.0f} s"
        + (f": {detail}" if detail else ""))
    return result


def run_phases(phases, context: Context, after_each: Optional[Callable] = None, log=print):
    for phase in phases:
        context.results.setdefault(phase.name, None)
    for phase in phases:
        run_phase(phase, context, log)
        if after_each:
            after_each(context)
    return [context.results[p.name] for p in phases]
