"""The device check's own logic, without a GPU: its phases cannot take each other down, its summary
parses the programs' real output formats (tests/scripts/data), and what it returns stays within the
device tool's 8 files.

Run by ctest as cpu.device_check: python3 -m unittest discover -s tests/scripts
"""
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "scripts", "data")
sys.path.insert(0, os.path.join(ROOT, "scripts", "device_check"))

import main as check_main  # noqa: E402
import phases as device_phases  # noqa: E402
import summary  # noqa: E402
from runner import FAIL, PASS, SKIPPED, TIMEOUT, Context, Phase, PhaseFailed, PhaseSkipped, Result, run_phases  # noqa: E402


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def context_in(folder, deadline_s=60):
    work = os.path.join(folder, "work")
    os.makedirs(work, exist_ok=True)
    start = time.monotonic()
    c = Context(root=ROOT, build=folder, work=work, env=dict(os.environ), deadline=start + deadline_s, device="cpu", rehearse=True)
    c.facts["start"] = start
    return c


def context_and_out(folder):
    """A context in folder, and an empty folder for the returned files."""
    out = os.path.join(folder, "out")
    os.makedirs(out)
    return context_in(folder), out


class CtestLog(unittest.TestCase):
    def test_every_verdict_is_read(self):
        outcome = summary.ctest_outcome(read("ctest_gpu.log"))
        self.assertEqual(outcome.passed, ["gpu.gpu_ok"])
        self.assertEqual(sorted(outcome.failed), ["gpu.gpu_bad", "gpu.gpu_slow"])
        self.assertEqual(outcome.skipped, ["gpu.gpu_skip"])

    def test_excerpts_hold_the_failing_suites_own_lines(self):
        text = read("ctest_gpu.log")
        excerpts = summary.failing_excerpts(text, summary.ctest_outcome(text))
        self.assertIn("== gpu.gpu_bad\n", excerpts)
        self.assertIn("ERROR: CHECK( error < 1e-5 ) is NOT correct!", excerpts)
        self.assertIn("values: CHECK( 3e-05 < 1e-05 )", excerpts)
        self.assertNotIn("fine", excerpts)  # the passing suite's output stays out
        self.assertIn("== gpu.gpu_slow", excerpts)


class StepFigures(unittest.TestCase):
    def test_step_table_keeps_every_variant_and_marks_the_failed_ones(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "table.md")
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "step_table.py"), os.path.join(DATA, "bench_train_step_gpu.json"),
                            os.path.join(DATA, "bench_train_step_bf16.json"), "--pytorch", os.path.join(DATA, "pytorch.json"),
                            "--pytorch", os.path.join(DATA, "pytorch_compile.json"), "--out", out], check=True, capture_output=True)
            with open(out) as f:
                table = f.read()
        self.assertIn("| mdcsrn reference step, cuDNN deterministic | fp32 | 1600.0 |", table)
        self.assertIn("| tf32 | non-finite loss |", table)
        self.assertIn("error: CUDA error an illegal memory access", table)
        self.assertIn("| mdcsrn fast path (fused bf16 forward and backward) | bf16 | 29.0 |", table)
        self.assertIn("PyTorch torch.compile of eager AMP bf16 + channels_last_3d | bf16 | 98.0", table)
        self.assertIn("at least 3x faster than torch.compile with AMP bf16: met (3.38x)", table)

    def test_step_table_prices_the_training_data_in_host_memory(self):
        result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "step_table.py"), os.path.join(DATA, "bench_train_step_bf16.json"),
                                 os.path.join(DATA, "bench_train_step_bf16_host.json")], check=True, capture_output=True, text=True)
        self.assertIn("| mdcsrn fast path, training data in host memory (data.residence host) | bf16 | 29.6 |", result.stdout)
        self.assertIn("| mdcsrn fast path (fused bf16 forward and backward) | bf16 | 29.0 |", result.stdout)
        self.assertIn("at most 3% slower than on the GPU: met (+2.1%: 29.60 against 29.00 ms; GPU memory 2.40 against 3.10 GiB)", result.stdout)

    def test_step_table_without_pytorch(self):
        result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "step_table.py"), os.path.join(DATA, "bench_train_step_bf16.json")],
                                check=True, capture_output=True, text=True)
        self.assertIn("(no PyTorch figures)", result.stdout)
        self.assertIn("| bf16 | 29.0 |", result.stdout)

    def test_headline_skips_failed_pytorch_variants(self):
        pytorch = json.loads(read("pytorch.json"))
        pytorch["results"].insert(0, {"variant": "eager fp32", "status": "error: RuntimeError: CUDA out of memory"})
        self.assertIn("PyTorch best (eager AMP bf16 + channels_last_3d) 117.0 ms", summary.step_headline([], pytorch))

    def test_headline(self):
        rows = summary.step_rows([json.loads(read("bench_train_step_gpu.json")), json.loads(read("bench_train_step_bf16.json"))])
        headline = summary.step_headline(rows, json.loads(read("pytorch.json")))
        self.assertTrue(headline.startswith("fp32 reference 1600.0 ms; tf32 reference: non-finite loss; "), headline)
        self.assertIn("fast bf16 29.0 ms", headline)
        self.assertIn("PyTorch best (eager AMP bf16 + channels_last_3d) 117.0 ms", headline)


class Validity(unittest.TestCase):
    def results(self, **statuses):
        return {name.replace("_", "-"): Result(name.replace("_", "-"), status, 1.0) for name, status in statuses.items()}

    def test_unverified_until_the_suite_has_run(self):
        v = summary.path_validity(self.results(smoke=PASS, step_table=PASS), [], False)
        self.assertTrue(v["fast"].startswith("unverified"))
        self.assertTrue(v["reference"].startswith("unverified"))
        v = summary.path_validity(self.results(smoke=PASS, gpu_tests=TIMEOUT), [], False)
        self.assertTrue(v["fast"].startswith("unverified"))

    def test_verified_when_the_suite_passed(self):
        v = summary.path_validity(self.results(smoke=PASS, gpu_tests=PASS), [], True)
        self.assertEqual(v, {"fast": "verified", "reference": "verified"})

    def test_a_failed_check_invalidates_its_path_only(self):
        v = summary.path_validity(self.results(smoke=PASS, gpu_tests=FAIL), ["gpu.gpu_fused_backward"], True)
        self.assertTrue(v["fast"].startswith("invalid") and "gpu.gpu_fused_backward" in v["fast"])
        self.assertEqual(v["reference"], "verified")
        v = summary.path_validity(self.results(smoke=FAIL, gpu_tests=PASS), [], True)
        self.assertTrue(v["fast"].startswith("invalid (the smoke check"))
        self.assertEqual(v["reference"], "verified")

    def test_the_step_table_carries_its_status_first(self):
        marked = summary.mark_step_table("| a | b |\n", {"fast": "verified", "reference": "unverified (x)"})
        self.assertTrue(marked.startswith("Status: fast path figures: verified; reference path figures: unverified (x).\n\n| a | b |"))


class OutOfMemory(unittest.TestCase):
    LINE = "mdcsrn train: out of GPU memory: requested 81920 MiB with 20480 of 143771 MiB free\n"

    def test_one_line_naming_the_memory(self):
        ok, text = summary.out_of_memory_verdict(1, self.LINE)
        self.assertTrue(ok, text)
        self.assertIn("80.0 GiB asked, 20.0 GiB of 140.4 free", text)

    def test_anything_else_fails(self):
        self.assertFalse(summary.out_of_memory_verdict(0, self.LINE)[0])
        self.assertFalse(summary.out_of_memory_verdict(1, self.LINE + "terminate called\n")[0])
        self.assertFalse(summary.out_of_memory_verdict(134, "CUDA error: out of memory\n")[0])
        self.assertFalse(summary.out_of_memory_verdict(1, "mdcsrn train: CUDA error (out of GPU memory)\n")[0])


class Phases(unittest.TestCase):
    def test_no_phase_takes_the_next_down(self):
        def sleeps(c):
            c.run("sleep 30", c.path("sleeps.log"))

        def raises(c):
            raise KeyError("a bug in the phase")

        def fails(c):
            c.run([sys.executable, "-c", "import sys; sys.exit(3)"], c.path("fails.log"))

        def skips(c):
            raise PhaseSkipped("no device")

        def measures_then_fails(c):
            raise PhaseFailed("tf32: non-finite loss", "fp32 reference 1600.0 ms")

        def measures(c):
            return "measured 1.0 ms"

        with tempfile.TemporaryDirectory() as d:
            c = context_in(d)
            phases = [Phase("sleeps", 1.5, 1, sleeps), Phase("raises", 10, 1, raises), Phase("fails", 10, 1, fails),
                      Phase("skips", 10, 1, skips), Phase("needs-fails", 10, 1, measures, ("fails",)), Phase("measures", 10, 1, measures),
                      Phase("measures-then-fails", 10, 1, measures_then_fails)]
            start = time.monotonic()
            results = run_phases(phases, c, log=lambda line: None)
            self.assertLess(time.monotonic() - start, 15)
            self.assertEqual([r.status for r in results], [TIMEOUT, FAIL, FAIL, SKIPPED, SKIPPED, PASS, FAIL])
            self.assertIn("KeyError", results[1].reason)
            self.assertTrue(os.path.exists(c.path("raises.error.log")))
            self.assertIn("exited 3", results[2].reason)
            self.assertIn("needs fails", results[4].reason)
            self.assertEqual(results[5].headline, "measured 1.0 ms")
            self.assertEqual((results[6].headline, results[6].reason), ("fp32 reference 1600.0 ms", "tf32: non-finite loss"))

    def test_a_killed_command_takes_its_children_with_it(self):
        with tempfile.TemporaryDirectory() as d:
            c = context_in(d)
            marker = os.path.join(d, "child-survived")
            command = f"(sleep 3; touch {marker}) & sleep 30"
            results = run_phases([Phase("group", 1.5, 1, lambda ctx: ctx.run(command, ctx.path("group.log")))], c, log=lambda line: None)
            self.assertEqual(results[0].status, TIMEOUT)
            time.sleep(3)
            self.assertFalse(os.path.exists(marker))

    def test_no_phase_starts_past_the_deadline(self):
        with tempfile.TemporaryDirectory() as d:
            c = context_in(d, deadline_s=2.0)
            ran = []
            phases = [Phase("long", 10, 1, lambda ctx: ctx.run("sleep 5", ctx.path("long.log"))),
                      Phase("after", 10, 1, lambda ctx: ran.append(1))]
            results = run_phases(phases, c, log=lambda line: None)
            self.assertEqual([r.status for r in results], [TIMEOUT, SKIPPED])
            self.assertIn("deadline", results[1].reason)
            self.assertEqual(ran, [])


STUBS = {
    # The device's programs, standing in with the output formats of the real ones.
    "test_gpu": "#!/bin/sh\necho '[doctest] test cases:  1 |  1 passed | 0 failed | 46 skipped'\n",
    "compute-sanitizer": "#!/bin/sh\ntool=$2; shift 5; \"$@\" > /dev/null\n"
                         "if [ $tool = memcheck ]; then echo '========= ERROR SUMMARY: 0 errors'; "
                         "else echo '========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)'; fi\n",
    "mdcsrn": "#!/bin/sh\ncase \"$*\" in *train.batch=2048*) "
              "echo 'mdcsrn train: out of GPU memory: requested 409600 MiB with 143000 of 143771 MiB free' >&2; exit 1;; esac\nexit 2\n",
    "bench_train_step": f"#!{sys.executable}\nimport json, shutil, sys\n"
                        "args = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
                        f"source = {{'bf16': '{os.path.join(DATA, 'bench_train_step_bf16.json')}'}}.get(args['--variants'], "
                        f"'{os.path.join(DATA, 'bench_train_step_gpu.json')}')\n"
                        "doc = json.load(open(source))\n"
                        "doc['results'] = [r for r in doc['results'] if r['variant'] == args['--variants']]\n"
                        "json.dump(doc, open(args['--json'], 'w'))\n"
                        "sys.exit(0 if all(r['status'] == 'ok' for r in doc['results']) else 1)\n",
    "bench_fused_kernels": f"#!{sys.executable}\nimport json, sys\nargs = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
                           "json.dump({'copy_gbps': 4300.0, 'gemm_tflops': 780.0, 'step_kernel_ms': 11.5, 'kernels': []}, open(args['--json'], 'w'))\n"
                           "open(args['--markdown'], 'w').write('| kernel |\\n')\n",
}
CTEST_FILE = """add_test(gpu.gpu_simt "sh" "-c" "echo fine")
set_tests_properties(gpu.gpu_simt PROPERTIES LABELS "gpu")
add_test(gpu.gpu_fused_backward "sh" "-c" "echo 'test_fused_backward.cpp:140: ERROR: CHECK( error < kAccumulationBound ) is NOT correct!'; exit 1")
set_tests_properties(gpu.gpu_fused_backward PROPERTIES LABELS "gpu")
"""


class DevicePhases(unittest.TestCase):
    """The phases' device branches, which no rehearsal runs, against stand-ins for the GPU programs."""

    def run_device_phases(self, d, wanted, stubs=STUBS, ctest_file=CTEST_FILE):
        for name, text in stubs.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(d, name), 0o755)
        with open(os.path.join(d, "CTestTestfile.cmake"), "w") as f:
            f.write(ctest_file)
        c = context_in(d)
        c.device, c.rehearse = "cuda", False
        c.facts.update(manifest=os.path.join(d, "manifest.json"), sanitizer=os.path.join(d, "compute-sanitizer"), torch=False)
        selected = [p for p in device_phases.phases() if p.name in wanted]
        return c, {r.phase: r for r in run_phases(selected, c, log=lambda line: None)}

    def test_a_device_that_skips_every_suite_verifies_nothing(self):
        skipping = 'add_test(gpu.gpu_simt "sh" "-c" "exit 77")\nset_tests_properties(gpu.gpu_simt PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77)\n'
        unsupported = dict(STUBS, **{"compute-sanitizer": "#!/bin/sh\necho '========= Error: Device not supported'; exit 1\n"})
        with tempfile.TemporaryDirectory() as d:
            c, results = self.run_device_phases(d, ("gpu-tests", "sanitizer"), unsupported, skipping)
            self.assertEqual(results["gpu-tests"].status, FAIL)
            self.assertIn("the device is not usable", results["gpu-tests"].reason)
            self.assertFalse(c.facts["gpu_suite_complete"])
            self.assertEqual(summary.path_validity(c.results, c.facts["failed_suites"], c.facts["gpu_suite_complete"])["fast"][:10], "unverified")
            self.assertEqual(results["sanitizer"].status, SKIPPED)
            self.assertIn("does not support this device", results["sanitizer"].reason)

    def test_device_branches_read_what_the_programs_write(self):
        with tempfile.TemporaryDirectory() as d:
            c, results = self.run_device_phases(d, ("smoke", "step-table", "roofline", "gpu-tests", "sanitizer", "out-of-memory"))
            self.assertEqual(results["smoke"].status, PASS, results["smoke"].reason)
            step = results["step-table"]
            self.assertEqual(step.status, FAIL)  # tf32's loss was not finite and tf32-any failed: recorded, not fatal
            self.assertIn("tf32: non-finite loss", step.reason)
            self.assertIn("fast bf16 29.0 ms", step.headline)
            self.assertTrue(os.path.exists(c.path("step_table.md")))
            self.assertEqual(results["roofline"].headline,
                             "one step's kernels 11.50 ms; ceilings measured: copy 4300 GB/s, bf16 GEMM 780 TFLOP/s")
            self.assertEqual(results["gpu-tests"].status, FAIL)
            self.assertEqual(results["gpu-tests"].headline, "1 passed, 1 failed, 0 skipped")
            with open(c.path("failures.log")) as f:
                self.assertIn("ERROR: CHECK( error < kAccumulationBound )", f.read())
            self.assertEqual(results["sanitizer"].status, PASS, results["sanitizer"].reason)
            self.assertIn("ERROR SUMMARY: 0 errors; RACECHECK SUMMARY: 0 hazards displayed", results["sanitizer"].headline)
            self.assertEqual(results["out-of-memory"].status, PASS, results["out-of-memory"].reason)
            self.assertTrue(c.facts["gpu_suite_complete"])
            validity = summary.path_validity(c.results, c.facts["failed_suites"], c.facts["gpu_suite_complete"])
            self.assertTrue(validity["fast"].startswith("invalid (failed: gpu.gpu_fused_backward"))
            self.assertEqual(validity["reference"], "verified")


def write_validations(path, records):
    with open(path, "w") as f:
        for step, psnr in records:
            f.write(json.dumps({"step": step, "val_psnr": psnr, "val_lr_psnr": 27.7}) + "\n")


class PsnrGap(unittest.TestCase):
    def verdict(self, reference, candidate, *flags):
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.jsonl"), os.path.join(d, "b.jsonl")
            write_validations(a, reference)
            write_validations(b, candidate)
            run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "psnr_gap.py"), a, b, *flags], capture_output=True, text=True)
            return run.returncode, run.stdout.strip().splitlines()[-1]

    def test_within_beyond_and_inconclusive(self):
        self.assertEqual(self.verdict([(250, 11.0), (500, 28.00)], [(250, 12.0), (500, 28.05)])[0], 0)
        self.assertEqual(self.verdict([(500, 28.0)], [(500, 28.3)])[0], 1)
        status, last = self.verdict([(100, -2.4)], [(100, 4.9)])  # the first H200 run's 100 steps
        self.assertEqual(status, 2)
        self.assertIn("inconclusive: the reference and candidate runs had not passed", last)
        self.assertEqual(self.verdict([(100, -2.4)], [(100, 4.9)], "--allow-below-lr")[0], 1)


class Returned(unittest.TestCase):
    def test_at_most_eight_files_come_back_with_a_summary_last(self):
        with tempfile.TemporaryDirectory() as d:
            c, out = context_and_out(d)
            for i in range(40):
                with open(c.path(f"phase{i}.log"), "w") as f:
                    f.write("line\n" * 100)
            with open(c.path("step_table.md"), "w") as f:
                f.write("| table |\n")
            with open(c.path("sr.nii.gz"), "wb") as f:
                f.write(b"\0" * 1000)
            c.results["step-table"] = Result("step-table", PASS, 2.0, "fast bf16 29.0 ms")
            c.results["gpu-tests"] = Result("gpu-tests", FAIL, 9.0, "1 passed, 1 failed", "failed: gpu.gpu_fused_backward")
            validity = summary.path_validity(c.results, ["gpu.gpu_fused_backward"], True)
            kept, found = check_main.archive(c, out)
            table = check_main.publish(c, out, validity)
            names = sorted(os.listdir(out))
            self.assertLessEqual(len(names), 8)
            self.assertEqual(names, ["everything.tar.gz", "step_table.md", "summary.json", "summary.md"])
            self.assertEqual((kept, found), (41, 41))  # the volume stays out of the archive
            self.assertIn("| gpu-tests | fail | 9 (90) | 1 passed, 1 failed (failed: gpu.gpu_fused_backward) |", table)
            self.assertIn("fast path invalid (failed: gpu.gpu_fused_backward)", table)
            with open(os.path.join(out, "step_table.md")) as f:
                self.assertTrue(f.read().startswith("Status: fast path figures: invalid"))
            with open(os.path.join(out, "summary.json")) as f:
                self.assertEqual(json.load(f)["phases"][1]["status"], FAIL)


class Archive(unittest.TestCase):
    def test_the_archive_stays_under_the_limit_by_leaving_the_largest_out(self):
        with tempfile.TemporaryDirectory() as d:
            c, out = context_and_out(d)
            for i in range(8):  # incompressible logs of 1 to 8 KiB
                with open(c.path(f"random{i}.log"), "wb") as f:
                    f.write(os.urandom(1024 * (i + 1)))
            limit = check_main.ARCHIVE_LIMIT
            check_main.ARCHIVE_LIMIT = 12 * 1024
            try:
                kept, found = check_main.archive(c, out)
            finally:
                check_main.ARCHIVE_LIMIT = limit
            self.assertEqual((kept, found), (4, 8))  # 1 + 2 + 3 + 4 KiB
            self.assertLessEqual(os.path.getsize(os.path.join(out, "everything.tar.gz")), 12 * 1024)


if __name__ == "__main__":
    unittest.main()
