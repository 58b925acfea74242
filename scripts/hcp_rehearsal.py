#!/usr/bin/env python3
"""The pipeline at HCP's scale on a synthetic cohort: seconds per subject and peak memory of each stage.

The paper trains on HCP subjects (0.7 mm, 320x320x256). This makes N subjects in HCP's folder layout
(ROOT/<subject>/T1w/T1w_acpc_dc_restore_brain.nii.gz and aparc+aseg.nii.gz), each a copy of Colin27
(as `mdcsrn prepare --preset colin27` prepares it) under a smooth random deformation (up to about
3 mm), a smooth multiplicative bias field and a contrast change, resampled onto a 0.7 mm grid of
--grid voxels with aseg-style labels (8 and 47 cerebellum cortex by hemisphere, 2 and 41 elsewhere
in the brain). Then, each under /usr/bin/time, it runs:
  prepare  mdcsrn prepare --hcp ROOT (split: all but two train, one val, one test; at least 3 subjects);
  train    mdcsrn train with configs/demo_cpu.json for --steps steps (start-up: loading every training
           volume and its centres, then the steps);
  infer    mdcsrn infer --manifest over the test split;
  eval     mdcsrn eval --manifest over the test split;
and prints, per stage, wall seconds, seconds per subject (of the subjects the stage touches) and the
peak resident memory. With --out the table is also written there (Markdown).

usage: /usr/bin/python3 scripts/hcp_rehearsal.py --mdcsrn build/mdcsrn --work DIR [--subjects 10]
                                                 [--grid 320x320x256] [--steps 200] [--colin27 DIR] [--out TABLE.md]
(cpu.hcp_rehearsal runs it in CI with 3 subjects on a 96x96x80 grid and 20 steps.)
Needs numpy, scipy and nibabel (Debian: python3-numpy, python3-scipy, python3-nibabel) and GNU time.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import time

try:
    import nibabel as nib
    import numpy as np
    from scipy import ndimage
except ImportError as e:
    sys.exit(f"hcp_rehearsal: {e} (Debian: python3-numpy, python3-scipy, python3-nibabel; run with /usr/bin/python3)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HCP_SPACING = 0.7  # mm


def run_timed(command, log_path):
    """Runs command under GNU time; returns (wall seconds, peak resident MiB). Exits on failure."""
    begin = time.monotonic()
    with open(log_path, "w") as log:
        done = subprocess.run(["/usr/bin/time", "-v"] + [str(c) for c in command], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    seconds = time.monotonic() - begin
    text = open(log_path).read()
    if done.returncode != 0:
        sys.exit(f"hcp_rehearsal: {' '.join(map(str, command[:2]))} failed (exit {done.returncode}); see {log_path}:\n{text[-1500:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return seconds, (int(peak.group(1)) / 1024 if peak else float("nan"))


def colin27(mdcsrn, work, prepared):
    """Colin27's prepared HR, brain and cerebellum masks (0.5 mm): from `prepared`, or prepared once
    into WORK/colin27."""
    folder = prepared or os.path.join(work, "colin27")
    if not prepared and not os.path.exists(os.path.join(folder, "manifest.json")):
        run_timed([mdcsrn, "prepare", "--preset", "colin27", "--device", "cpu", "--out", folder, "--overwrite"],
                  os.path.join(work, "colin27.log"))
    load = lambda name: nib.load(os.path.join(folder, name))  # noqa: E731
    hr = load("hr.nii.gz")
    return (np.asarray(hr.dataobj, dtype=np.float32), np.asarray(load("brain_mask.nii.gz").dataobj) > 0,
            np.asarray(load("cerebellum_mask.nii.gz").dataobj) > 0, float(hr.header.get_zooms()[0]))


def smooth_field(rng, shape, coarse, amplitude):
    """A smooth random field of `shape`: uniform noise on a coarse lattice, cubic upsampling."""
    noise = rng.uniform(-1, 1, size=coarse)
    zoom = [s / c for s, c in zip(shape, coarse)]
    return (amplitude * ndimage.zoom(noise, zoom, order=3, mode="nearest")).astype(np.float32)


def make_subject(rng, hr, brain, cerebellum, spacing, grid, folder):
    """One subject on the HCP grid: where each output voxel samples Colin27, deformed; then contrast."""
    centre = np.array([np.mean(np.nonzero(brain)[a]) for a in range(3)]) * spacing  # mm, Colin27's brain centre
    axes = [(np.arange(n, dtype=np.float32) - (n - 1) / 2) * HCP_SPACING for n in grid]  # mm around the grid's centre
    coords = []
    for a in range(3):
        shape = [1, 1, 1]
        shape[a] = grid[a]
        displacement = smooth_field(rng, grid, (5, 5, 4), 3.0)
        coords.append(((axes[a].reshape(shape) + centre[a]) + displacement) / spacing)  # Colin27 voxel coordinates
        del displacement
    sample = lambda volume, order: ndimage.map_coordinates(volume, coords, order=order, mode="constant", cval=0)  # noqa: E731
    inside = sample(brain.astype(np.float32), 1) > 0.5
    in_cerebellum = (sample(cerebellum.astype(np.float32), 1) > 0.5) & inside
    intensity = np.clip(sample(hr, 1), 0, None)
    bias = np.exp(smooth_field(rng, grid, (3, 3, 3), 0.15))
    gamma = rng.uniform(0.85, 1.15)
    t1 = np.where(inside, 1000 * (intensity / max(float(intensity.max()), 1e-6)) ** gamma * bias, 0).astype(np.float32)
    left = (np.arange(grid[0]) < grid[0] // 2).reshape(-1, 1, 1)
    labels = np.zeros(grid, dtype=np.int16)
    labels[inside] = np.where(np.broadcast_to(left, grid)[inside], 2, 41)
    labels[in_cerebellum] = np.where(np.broadcast_to(left, grid)[in_cerebellum], 8, 47)
    os.makedirs(folder, exist_ok=True)
    affine = np.diag([HCP_SPACING, HCP_SPACING, HCP_SPACING, 1.0])
    nib.save(nib.Nifti1Image(t1, affine), os.path.join(folder, "T1w_acpc_dc_restore_brain.nii.gz"))
    nib.save(nib.Nifti1Image(labels, affine), os.path.join(folder, "aparc+aseg.nii.gz"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mdcsrn", default=os.path.join(ROOT, "build", "mdcsrn"), help="the mdcsrn executable")
    parser.add_argument("--work", required=True, help="scratch folder (the cohort, the prepared data, the runs); a rehearsal's "
                        "earlier folders there are replaced, a prepared colin27/ is reused")
    parser.add_argument("--subjects", type=int, default=10, help="cohort size N (at least 3)")
    parser.add_argument("--grid", default="320x320x256", help="the HCP grid, XxYxZ voxels of 0.7 mm")
    parser.add_argument("--steps", type=int, default=200, help="training steps after start-up")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cohort's deformations and contrasts")
    parser.add_argument("--colin27", help="a folder where mdcsrn prepare --preset colin27 wrote (default: prepare one in WORK)")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    if args.subjects < 3:
        parser.error("--subjects: at least 3 (one each for validation and test)")
    if args.steps < 1:
        parser.error("--steps: at least 1")
    try:
        grid = tuple(int(n) for n in args.grid.split("x"))
        assert len(grid) == 3 and min(grid) >= 32
    except (ValueError, AssertionError):
        parser.error(f"--grid: expected XxYxZ voxels, each at least 32, got '{args.grid}'")
    if not os.path.exists(args.mdcsrn):
        parser.error(f"--mdcsrn {args.mdcsrn}: no such program (build it: scripts/build.sh)")
    if args.colin27 and not os.path.exists(os.path.join(args.colin27, "hr.nii.gz")):
        parser.error(f"--colin27 {args.colin27}: no hr.nii.gz there (mdcsrn prepare --preset colin27 --out DIR makes it)")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("hcp_rehearsal: needs GNU time (Debian: time)")
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    hcp, data = os.path.join(work, "hcp"), os.path.join(work, "data")
    for folder in (hcp, data, os.path.join(work, "run"), os.path.join(work, "sr"), os.path.join(work, "eval")):
        shutil.rmtree(folder, ignore_errors=True)

    rows = []
    hr, brain, cerebellum, spacing = colin27(args.mdcsrn, work, args.colin27)
    begin = time.monotonic()
    rng = np.random.default_rng(args.seed)
    for s in range(args.subjects):
        make_subject(rng, hr, brain, cerebellum, spacing, grid, os.path.join(hcp, f"{100000 + s}", "T1w"))
    rows.append(("cohort (this script)", time.monotonic() - begin, args.subjects, float("nan")))

    n_train = args.subjects - 2
    seconds, peak = run_timed([args.mdcsrn, "prepare", "--hcp", hcp, "--device", "cpu", "--split", f"{n_train}/1/rest", "--out", data],
                              os.path.join(work, "prepare.log"))
    rows.append(("prepare --hcp", seconds, args.subjects, peak))
    manifest = os.path.join(data, "manifest.json")
    settings = [f'data.manifest="{manifest}"', f'output.dir="{os.path.join(work, "run")}"', "train.epochs=1", "train.device=\"cpu\"",
                f"sampler.patches_per_epoch={8 * args.steps}", "train.val_patches=16"]
    seconds, peak = run_timed([args.mdcsrn, "train", "--config", "configs/demo_cpu.json", "--quiet"] + [w for s in settings for w in ("--set", s)],
                              os.path.join(work, "train.log"))
    train_log = open(os.path.join(work, "train.log")).read()
    rows.append((f"train: start-up and {args.steps} steps", seconds, n_train, peak))
    checkpoint = os.path.join(work, "run", "checkpoint.safetensors")
    seconds, peak = run_timed([args.mdcsrn, "infer", "--checkpoint", checkpoint, "--manifest", manifest, "--split", "test",
                               "--out", os.path.join(work, "sr"), "--device", "cpu"], os.path.join(work, "infer.log"))
    rows.append(("infer --manifest (test)", seconds, 1, peak))
    seconds, peak = run_timed([args.mdcsrn, "eval", "--manifest", manifest, "--split", "test", "--method",
                               "SR=" + os.path.join(work, "sr", "{id}_sr.nii.gz"), "--out", os.path.join(work, "eval")],
                              os.path.join(work, "eval.log"))
    rows.append(("eval --manifest (test)", seconds, 1, peak))

    steps_line = re.search(r"trained on .*", train_log)
    table = "\n".join([
        f"HCP-scale rehearsal: {args.subjects} synthetic subjects on a {args.grid} grid of 0.7 mm; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; {datetime.date.today().isoformat()}. `{' '.join(sys.argv)}`",
        "",
        "| stage | seconds | subjects | seconds per subject | peak memory (MiB) |",
        "| --- | --- | --- | --- | --- |",
    ] + [f"| {name} | {s:.1f} | {n} | {s / n:.1f} | {'-' if peak != peak else f'{peak:.0f}'} |" for name, s, n, peak in rows]) + "\n"
    if steps_line:
        table += f"\ntrain: {steps_line.group(0)}\n"
    print(table)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            f.write(table)
        os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
