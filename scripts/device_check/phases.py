"""The device check's phases, headline numbers first.

On the device (context.device == "cuda") each phase runs the GPU commands. In a rehearsal
(context.rehearse, on a machine without a GPU) each runs the same programs and scripts on the CPU
or the SIMT emulator at tiny sizes, or says why it cannot (a GPU-only program is only asked for its
--help), so that every output file the summary reads is produced and parsed before a device is
spent on it.

Estimates are seconds on an H200 with 16 cores (bench/NOTES.md, "The device check").
"""
import glob
import os
import re
import shutil
import sys

import dependencies
import summary
from runner import Phase, PhaseFailed, PhaseSkipped, CommandTimedOut

DEVICE_TARGETS = ["test_gpu", "mdcsrn", "bench_data", "bench_train_step", "bench_fused_kernels", "bench_wgan_step"]
REHEARSAL_TARGETS = DEVICE_TARGETS + ["test_emu"]
STEP_VARIANTS = [("fp32", 10), ("tf32", 20), ("tf32-any", 20), ("bf16", 20), ("bf16-host", 20)]  # (variant, timed steps)
PYTORCH_EAGER = "eager-fp32,eager-tf32,eager-amp"


def python(context):
    return context.facts.get("python", sys.executable)


def exe(context, name):
    found = glob.glob(os.path.join(context.build, "**", name), recursive=True)
    found = [f for f in found if os.path.isfile(f) and os.access(f, os.X_OK)]
    if not found:
        raise PhaseFailed(f"{name} was not built")
    return min(found, key=len)


def log(context, name):
    return context.path(f"{name}.log")


def tiny_training(context):
    """Settings that make a CPU training run of the rehearsal take seconds."""
    return ["--set", "model.blocks=1", "--set", "model.units=1", "--set", "model.growth=4", "--set", "sampler.patch=16",
            "--set", "train.batch=2", "--set", "train.val_patches=4", "--set", "train.device=cpu"]


def train(context, name, settings, launcher=(), limit_s=150):
    """mdcsrn train on the prepared data into work/NAME, its output in NAME.log, whose path it returns."""
    path = log(context, name)
    context.run(list(launcher) + [exe(context, "mdcsrn"), "train", "--manifest", context.facts["manifest"], "--out", context.path(name),
                                  "--quiet"] + settings, path, limit_s=limit_s)
    return path


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def last_line_starting(path, prefix):
    lines = [line.strip() for line in read_text(path).splitlines() if line.startswith(prefix)]
    return lines[-1] if lines else ""


def doctest_counts(text):
    m = re.findall(r"test cases:\s+(\d+) \|\s+(\d+) passed", text)
    return (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)


# --- phases ---------------------------------------------------------------------------------------

def dependencies_phase(context):
    env = dependencies.Environment(context.root)
    rows = dependencies.report(env)
    with open(context.path("dependencies.txt"), "w") as f:
        for _, _, _, text in rows:
            print(text)
            f.write(text + "\n")
    context.env.update(env.build_environment())
    context.facts["templates"] = env.templates()
    context.facts["cuda_hints"] = env.cuda_hints()
    context.facts["sanitizer"] = env.sanitizer()
    context.facts["torch"] = any(name == "torch" and found for name, found, _, _ in rows)
    context.facts["gpus"] = 2 if context.rehearse else max(env.gpus(), 1)  # a rehearsal's CPU ranks
    blocking = [name for name, found, needed, _ in rows if needed and not found]
    absent = [name for name, found, needed, _ in rows if not needed and not found]
    headline = f"{sum(found for _, found, _, _ in rows)} of {len(rows)} found" + (f"; absent: {', '.join(absent)}" if absent else "")
    if blocking:
        raise PhaseFailed(f"the build needs: {', '.join(blocking)}", headline)
    return headline


def build_phase(context):
    configure = ["cmake", "-S", context.root, "-B", context.build, "-DCMAKE_BUILD_TYPE=Release"]
    if not os.path.exists(os.path.join(context.build, "CMakeCache.txt")) and shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    if context.device == "cuda":
        configure.append("-DMDCSRN_CUDA=ON")
    if context.facts.get("cuda_hints"):
        configure.append("-DMDCSRN_CUDA_LIBRARY_HINTS=" + ";".join(context.facts["cuda_hints"]))
    if context.facts.get("templates"):
        configure.append("-DMDCSRN_TEMPLATES=" + context.facts["templates"])
    build_log = log(context, "build")
    jobs = str(os.cpu_count() or 2)
    targets = REHEARSAL_TARGETS if context.rehearse else DEVICE_TARGETS
    try:
        context.run(configure, build_log)
        build = ["cmake", "--build", context.build, "-j", jobs]
        for t in targets:
            build += ["--target", t]
        context.run(build, build_log)
    finally:
        text = read_text(build_log) if os.path.exists(build_log) else ""
        with open(context.path("build-tail.log"), "w") as f:
            f.write("\n".join(text.splitlines()[-60:]) + "\n")
    features = re.findall(r"-- mdcsrn: (.*)", text)
    return f"{len(targets)} targets with {jobs} jobs" + (f"; {features[-1]}" if features else "")


def prepare_phase(context):
    if not context.facts.get("templates"):
        raise PhaseFailed("no Colin27 templates (mricron-data, or .devdeps from scripts/pack_device_deps.sh)")
    out = context.path("colin27")
    context.run([exe(context, "mdcsrn"), "prepare", "--preset", "colin27", "--device", context.device, "--templates",
                 context.facts["templates"], "--out", out, "--overwrite"], log(context, "prepare"))
    context.facts["manifest"] = os.path.join(out, "manifest.json")
    return "Colin27 prepared"


def smoke_phase(context):
    """One whole fast step against the reference path's fp32 step, before anything is timed."""
    program, suite = ("test_emu", "emu_fast_generator") if context.rehearse else ("test_gpu", "gpu_fast_generator")
    path = log(context, "smoke")
    context.run([exe(context, program), f"--test-suite={suite}", "--test-case=a whole fast step*"], path, check=False)
    cases, passed = doctest_counts(read_text(path))
    if cases == 0:
        raise PhaseFailed("the smoke test case was not found")
    if passed != cases:
        raise PhaseFailed(f"the fast step against the reference step: {cases - passed} of {cases} failed (smoke.log)")
    return "a whole fast step matches the reference step" + (" (emulated)" if context.rehearse else "")


def step_table_phase(context):
    variants = [("fp32", 2)] if context.rehearse else STEP_VARIANTS
    shape = ["--batch", "2", "--patch", "16", "--warmup", "1"] if context.rehearse else []
    documents, problems = [], []
    for variant, steps in variants:
        json_path = context.path(f"bench_train_step-{variant}.json")
        try:
            status = context.run([exe(context, "bench_train_step"), "--manifest", context.facts["manifest"], "--device", context.device,
                                  "--variants", variant, "--steps", str(steps), "--json", json_path] + shape,
                                 log(context, "bench_train_step"), limit_s=120, check=False)
        except CommandTimedOut as e:
            status, problems = None, problems + [f"{variant}: {e}"]
        document = summary.load_json(json_path)
        if document:
            documents.append(document)
        if status not in (0, None):
            problems.append(f"{variant}: exited {status}")
        problems += [f"{variant}: {r['status']}" for r in (document or {}).get("results", []) if r.get("status", "ok") != "ok"]
    context.facts["step_documents"] = [d for d in documents]
    pytorch_json = context.path("pytorch.json")
    if context.facts.get("torch"):
        torch_shape = ["--device", "cpu", "--batch", "2", "--patch", "16", "--steps", "2", "--warmup", "1"] if context.rehearse else ["--steps", "20"]
        status = context.run([python(context), "bench/pytorch_reference.py", "--variants", PYTORCH_EAGER, "--json", pytorch_json] + torch_shape,
                             log(context, "pytorch"), limit_s=150, check=False)
        if status != 0:
            problems.append(f"PyTorch eager exited {status} (pytorch.log)")
    write_step_table(context)
    headline = summary.step_headline(summary.step_rows(documents), summary.load_json(pytorch_json))
    if problems:
        raise PhaseFailed("; ".join(problems), headline)
    return headline


def write_step_table(context):
    ours = [context.path(f"bench_train_step-{v}.json") for v, _ in STEP_VARIANTS]
    ours = [p for p in ours if os.path.exists(p)]
    if not ours:
        return
    command = [python(context), "bench/step_table.py", "--out", context.path("step_table.md")] + ours
    torch_docs = [p for p in (context.path("pytorch.json"), context.path("pytorch-compile.json")) if os.path.exists(p)]
    for p in torch_docs:
        command += ["--pytorch", p]
    context.run(command, log(context, "step_table"))


def roofline_phase(context):
    program = exe(context, "bench_fused_kernels")
    if context.rehearse:
        context.run([program, "--help"], log(context, "roofline"))
        raise PhaseSkipped("bench_fused_kernels needs a GPU (its --help answered)")
    predicted = os.path.join(context.root, "bench", "predicted_roofline.json")  # bench_kernel_counts' prediction, made without a GPU
    context.run([program, "--json", context.path("roofline.json"), "--markdown", context.path("roofline.md")]
                + (["--predicted", predicted] if os.path.exists(predicted) else []), log(context, "roofline"))
    return summary.roofline_headline(summary.load_json(context.path("roofline.json")))


def gpu_tests_phase(context):
    path = log(context, "gpu-tests")
    command = ["ctest", "--test-dir", context.build, "-L", "gpu", "-j", "4", "-V", "--timeout", "150"]
    timed_out = None
    try:
        context.run(command, path, check=False)
    except CommandTimedOut as e:
        timed_out = e
    text = read_text(path) if os.path.exists(path) else ""
    outcome = summary.ctest_outcome(text)
    context.facts["failed_suites"] = outcome.failed
    context.facts["gpu_suite_complete"] = context.device == "cuda" and not timed_out and outcome.total > 0 and not outcome.skipped
    excerpts = summary.failing_excerpts(text, outcome)
    if excerpts:
        with open(context.path("failures.log"), "a") as f:
            f.write(excerpts)
    headline = f"{len(outcome.passed)} passed, {len(outcome.failed)} failed, {len(outcome.skipped)} skipped"
    if timed_out:
        raise timed_out
    if outcome.total == 0:
        raise PhaseFailed("ctest ran no GPU test", headline)
    if outcome.failed:
        raise PhaseFailed("failed: " + ", ".join(outcome.failed) + " (failures.log)", headline)
    if outcome.skipped and context.device == "cuda":
        raise PhaseFailed("GPU tests were skipped on a GPU machine: the device is not usable", headline)
    if outcome.skipped:
        raise PhaseSkipped(f"no device: {headline}")
    return headline


def sanitizer_phase(context):
    tool = context.facts.get("sanitizer")
    if not tool:
        raise PhaseSkipped("compute-sanitizer not found")
    if context.rehearse:
        raise PhaseSkipped("compute-sanitizer needs a GPU")
    path = log(context, "sanitizer")
    problems = []
    for check in ("memcheck", "racecheck"):  # each under its own limit: a slow memcheck leaves racecheck its turn
        try:
            status = context.run([tool, "--tool", check, "--error-exitcode", "1", exe(context, "test_gpu"),
                                  "--test-suite=gpu_fused_forward,gpu_fused_backward"], path, limit_s=90, check=False)
            if status != 0:
                problems.append(f"{check} exited {status}")
        except CommandTimedOut as e:
            problems.append(f"{check}: {e}")
    text = read_text(path)
    if "Device not supported" in text:
        raise PhaseSkipped("compute-sanitizer does not support this device (as on gVisor machines)")
    counts = re.findall(r"(ERROR SUMMARY: \d+ errors?|RACECHECK SUMMARY: \d+ hazards? displayed[^\n]*)", text)
    headline = "; ".join(counts) or "no sanitizer summary"
    if problems:
        raise PhaseFailed("; ".join(problems) + " (sanitizer.log)", headline)
    return headline


# Of batch 16. On an H200 (2026-12-04) TF32 validated at -2.4 dB after 100 steps, then 11.1, 25.7,
# 26.9 and 27.8 dB after 250, 500, 750 and 1000 against the LR input's 27.7: 1000 only just passes.
ACCURACY_STEPS = 1500


def accuracy_phase(context):
    """The fast path's validation PSNR against the reference path's (TF32, cuDNN deterministic) after
    the same steps, once both have passed the LR input's PSNR: before that the two runs wander
    apart whatever the precision, and their gap says nothing."""
    runs = []
    for role, precision in (("reference", "tf32"), ("candidate", "bf16")):
        if context.rehearse:  # bf16 is the GPU's fast path: both rehearsal runs are fp32 on the CPU
            settings = tiny_training(context) + ["--set", "sampler.patches_per_epoch=8", "--set", "train.epochs=1"]
        else:
            epochs = ACCURACY_STEPS // 250  # a validation every 250 steps
            settings = ["--config", "configs/paper_balanced.json", "--set", "train.batch=16",
                        "--set", f"sampler.patches_per_epoch={16 * ACCURACY_STEPS // epochs}", "--set", f"train.epochs={epochs}",
                        "--set", "train.val_patches=256", "--set", "train.device=cuda", "--set", f"train.precision={precision}"]
        train(context, f"accuracy-{role}", settings, limit_s=240)  # TF32 took 84 s for 1000 steps on an H200
        runs.append(context.path(f"accuracy-{role}", "log.jsonl"))
    path = context.path("accuracy.txt")
    status = context.run([python(context), "scripts/psnr_gap.py", runs[0], runs[1], "--max-db", "0.1"]
                         + (["--allow-below-lr"] if context.rehearse else []), path, check=False)
    lines = [line.strip() for line in read_text(path).splitlines() if line.strip() and not line.startswith("$ ")]
    headline = lines[-1] if lines else "no PSNR comparison"
    if status != 0:
        raise PhaseFailed(f"psnr_gap.py exited {status}: {headline}")
    return headline


def inference_phase(context):
    if context.rehearse:
        settings = ["--steps", "2"] + tiny_training(context)
    else:
        settings = ["--steps", "20", "--set", "train.log_every=10", "--set", "train.precision=bf16", "--set", "train.device=cuda"]
    train(context, "train-infer", settings)
    out = context.path("train-infer")
    lr = os.path.join(os.path.dirname(context.facts["manifest"]), "lr.nii.gz")
    figures = []
    for precision in (("fp32",) if context.rehearse else ("bf16", "tf32")):
        path = log(context, f"infer-{precision}")
        context.run([exe(context, "mdcsrn"), "infer", "--checkpoint", os.path.join(out, "checkpoint.safetensors"), "--input", lr,
                     "--output", context.path(f"sr-{precision}.nii.gz"), "--device", context.device, "--precision", precision]
                    + (["--patch", "16"] if context.rehearse else []), path, limit_s=120)
        seconds = re.findall(r"\(([\d.]+) s\)", read_text(path))
        figures.append(f"{precision} {seconds[-1]} s" if seconds else f"{precision} done")
    return "whole Colin27 volume: " + ", ".join(figures)


def out_of_memory_phase(context):
    """A batch far beyond the card's memory must be refused in one line, naming what was asked and free."""
    if context.device != "cuda":
        raise PhaseSkipped("needs a GPU")
    stderr_path = context.path("out-of-memory.stderr")
    command = (f"{exe(context, 'mdcsrn')} train --manifest {context.facts['manifest']} --out {context.path('out-of-memory')} --steps 1 --quiet "
               f"--set train.batch=2048 --set train.device=cuda --set train.precision=tf32 2> {stderr_path}")
    status = context.run(command, log(context, "out-of-memory"), limit_s=60, check=False)
    ok, verdict = summary.out_of_memory_verdict(status, read_text(stderr_path))
    if not ok:
        raise PhaseFailed(verdict)
    return verdict


def data_parallel_phase(context):
    cache = read_text(os.path.join(context.build, "CMakeCache.txt"))
    if not shutil.which("mpirun") or "MPI_CXX_LIB_NAMES" not in cache:
        raise PhaseSkipped("no MPI here: GPU ranks ran only as gpu.gpu_generator's one-rank NCCL case")
    ranks = context.facts.get("gpus", 2)
    headlines = []
    for precision in (("fp32",) if context.rehearse else ("tf32", "bf16")):
        if context.rehearse:  # two CPU ranks of batch 2
            settings = ["--steps", "2"] + tiny_training(context) + ["--set", "train.batch=4"]
        else:
            # tf32 uploads each rank's GPU copy from the node's shared host copy; bf16 reads that copy
            # over the bus (data.residence host: the MPI window pinned for every rank's GPU).
            residence = "host" if precision == "bf16" else "device"
            settings = ["--steps", "20", "--set", f"train.batch={16 * ranks}", "--set", "train.log_every=10", "--set", "train.device=cuda",
                        "--set", f"train.precision={precision}", "--set", f'data.residence="{residence}"']
        path = train(context, f"data-parallel-{precision}", settings, launcher=("mpirun", "-np", str(ranks), "--oversubscribe"), limit_s=120)
        headlines.append(f"{precision}: {last_line_starting(path, 'data-parallel:')}, {last_line_starting(path, 'trained on')}")
    return "; ".join(headlines)


def pytorch_compile_phase(context):
    if not context.facts.get("torch"):
        raise PhaseSkipped("no torch here")
    if context.rehearse:
        raise PhaseSkipped("torch.compile of the AMP variant is timed on the GPU only")
    context.run([python(context), "bench/pytorch_reference.py", "--variants", "compile-amp", "--steps", "20",
                 "--json", context.path("pytorch-compile.json")], log(context, "pytorch-compile"), limit_s=240)
    write_step_table(context)
    doc = summary.load_json(context.path("pytorch-compile.json"))
    return f"torch.compile of AMP bf16: {doc['results'][0]['median_ms']:.1f} ms" if doc and doc.get("results") else "no result"


def training_runs_phase(context):
    """Short runs of the reference path (TF32) and of mDCSRN-WGAN."""
    headlines = []
    for name, config in (("paper", "configs/paper_balanced.json"), ("wgan", "configs/paper_wgan_balanced.json")):
        if context.rehearse:
            settings = ["--steps", "3"] + tiny_training(context) + (["--set", "wgan.pretrain_epochs=0"] if name == "wgan" else [])
        else:
            settings = ["--steps", "20", "--set", "train.log_every=10", "--set", "train.precision=tf32", "--set", "train.device=cuda"]
        path = train(context, f"train-{name}", ["--config", config] + settings, limit_s=120)
        headlines.append(f"{name}: {last_line_starting(path, 'trained on')}")
    return "; ".join(headlines)


def crosscheck_phase(context):
    """The GPU's first steps against PyTorch autograd in float64 (generator, critic, and the critic
    under the gradient penalty: its double backward against torch.autograd.grad(create_graph=True))."""
    if not context.facts.get("torch"):
        raise PhaseSkipped("no torch here")
    headlines = []
    for name, config, extra in (("paper", "configs/paper_balanced.json", []), ("wgan", "configs/paper_wgan_balanced.json", []),
                                ("wgan-gp", "configs/paper_wgan_balanced.json", ["--set", 'wgan.lipschitz="gp"'])):
        dump = context.path(f"dump-{name}.safetensors")
        train(context, f"dump-{name}", ["--config", config, "--steps", "1", "--set", "train.batch=4", "--set", "train.val_patches=4",
                                         "--set", "wgan.pretrain_epochs=0", "--set", f"train.device={context.device}", "--dump-step", dump]
              + extra, limit_s=90)
        path = log(context, f"crosscheck-{name}")
        context.run([python(context), "scripts/pytorch_crosscheck.py", dump], path, limit_s=90)
        headlines.append(f"{name}: " + read_text(path).strip().splitlines()[-1][:80])
    return "; ".join(headlines)


def benchmarks_phase(context):
    """The data pipeline and the WGAN step."""
    context.run([exe(context, "bench_data"), "--manifest", context.facts["manifest"], "--json", context.path("bench_data.json")]
                + (["--repeats", "2"] if context.rehearse else []), log(context, "bench_data"), limit_s=90)
    for lipschitz in ("clip", "spectral", "gp"):  # the critic's constraints' costs, side by side
        suffix = "" if lipschitz == "clip" else "_" + lipschitz
        context.run([exe(context, "bench_wgan_step"), "--manifest", context.facts["manifest"], "--device", context.device,
                     "--steps", "2" if context.rehearse else "10", "--json", context.path(f"bench_wgan_step{suffix}.json"),
                     "--set", f'wgan.lipschitz="{lipschitz}"']
                    + (["--config", "configs/demo_cpu_wgan.json"] if context.rehearse else []), log(context, "bench_wgan_step" + suffix),
                    limit_s=90)
    return "bench_data and bench_wgan_step (clip, spectral, gp) written"


def phases():
    """In order: the headline numbers first, then the full verification, then the rest, the two
    longest (the accuracy runs, 2 x 1500 steps; torch.compile, minutes of compilation) last."""
    return [
        Phase("dependencies", 30, 3, dependencies_phase),
        Phase("build", 330, 150, build_phase, ("dependencies",)),
        Phase("prepare", 60, 10, prepare_phase, ("build",)),
        Phase("smoke", 60, 5, smoke_phase, ("build",)),
        Phase("step-table", 240, 95, step_table_phase, ("prepare",)),
        Phase("roofline", 60, 15, roofline_phase, ("build",)),
        Phase("gpu-tests", 240, 90, gpu_tests_phase, ("build",)),
        Phase("sanitizer", 200, 40, sanitizer_phase, ("build",)),
        Phase("inference", 180, 30, inference_phase, ("prepare",)),
        Phase("out-of-memory", 60, 5, out_of_memory_phase, ("prepare",)),
        Phase("data-parallel", 180, 20, data_parallel_phase, ("prepare",)),
        Phase("training-runs", 180, 25, training_runs_phase, ("prepare",)),
        Phase("crosscheck", 240, 35, crosscheck_phase, ("prepare",)),
        Phase("benchmarks", 240, 40, benchmarks_phase, ("prepare",)),
        Phase("accuracy", 300, 180, accuracy_phase, ("prepare",)),
        Phase("pytorch-compile", 240, 150, pytorch_compile_phase, ("step-table",)),
    ]
