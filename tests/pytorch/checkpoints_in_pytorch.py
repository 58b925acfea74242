#!/usr/bin/env python3
"""Checkpoints mean in PyTorch what they mean in the engine, on nibabel's arrays.

1. Generator: a tiny mDCSRN trained by `mdcsrn train` on a phantom prepared by `mdcsrn prepare`,
   then `mdcsrn infer` on a non-cubic LR crop in one tile. The checkpoint is loaded strictly into
   MDCSRN of bench/pytorch_reference.py and run in float64 on nibabel's array of the same crop,
   zero-padded as infer pads its tile; the result must match the SR volume infer wrote.
2. Brain-age regressor: `mdcsrn age` (the small network, 2 folds) on volumes already on the age
   grid (4 mm, the grid's size, axis-aligned), whose 99.5th percentile of positive voxels is 1, so
   that the regressor's input is nibabel's array itself. Every fold model is loaded strictly into
   MONAI's DenseNet and must reproduce the fold's held-out predictions.

3. The critic under spectral normalisation (wgan.lipschitz spectral): a first adversarial step
   dumped by `mdcsrn train --dump-step`, redone by PyTorch's spectral_norm parametrisation from
   the dumped raw weights and vectors u, v: scores and every raw weight's gradient.

4. The critic under the gradient penalty (wgan.lipschitz gp): a first adversarial step dumped,
   redone by PyTorch with torch.autograd.grad(..., create_graph=True): the penalty and every
   parameter's gradient.

Checks 1-3 also run the checkpoint with its kernels' spatial axes reversed back (the engine's own
order, how checkpoints were stored before 2026-12-04) and require that to miss by far more than
the tolerance: the checks can tell the two orders apart. Check 4 requires the same of PyTorch's
gradients without the penalty.

usage: checkpoints_in_pytorch.py --mdcsrn BUILD/mdcsrn --workdir DIR
Needs torch, nibabel and monai (scripts/install_deps.sh installs Debian's python3-torch and
python3-nibabel, and MONAI into .pydeps/).
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np

try:
    import nibabel as nib
    import torch
    from monai.networks.nets import DenseNet
except ImportError as e:
    sys.exit(f"checkpoints_in_pytorch: {e} (scripts/install_deps.sh installs torch, nibabel and MONAI)")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from pytorch_crosscheck import read_safetensors, relative_error, step  # noqa: E402
from pytorch_reference import MDCSRN  # noqa: E402

GENERATOR_TOLERANCE = 1e-5   # max |ours - PyTorch| / max |PyTorch| on the SR crop (ours: fp32)
AGE_TOLERANCE = 1e-3         # years (the fold CSVs round to 1e-4 years; ours computes in fp32)
CRITIC_TOLERANCE = 1e-4      # relative error of the critic's scores and gradients (ours: fp32)
SEPARATION = 30              # the wrong order must miss by this many tolerances


def run(*args):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"checkpoints_in_pytorch: {' '.join(map(str, args[:2]))} failed:\n{result.stdout}{result.stderr}")


def save_nifti(array, spacing, path):
    nib.save(nib.Nifti1Image(array.astype(np.float32), np.diag([spacing, spacing, spacing, 1.0])), path)


def engine_order(state):
    """The checkpoint's tensors with the last three axes of every rank >= 4 tensor reversed."""
    return {k: (v.permute(*range(v.dim() - 3), v.dim() - 1, v.dim() - 2, v.dim() - 3).contiguous() if v.dim() >= 4 else v)
            for k, v in state.items()}


def smooth_noise(rng, shape, passes=3):
    v = rng.random(shape)
    for _ in range(passes):
        for axis in range(3):
            v = (np.roll(v, 1, axis) + v + np.roll(v, -1, axis)) / 3
    return (v - v.min()) / (v.max() - v.min())


def phantom(rng, shape):
    """A brain-like ellipsoid with texture, and a cerebellum mask in its inferior posterior part."""
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    brain = x ** 2 / 0.8 + y ** 2 / 0.85 + z ** 2 / 0.8 < 1
    hr = np.where(brain, 0.3 + 0.7 * smooth_noise(rng, shape) * (0.6 + 0.4 * (x + 1) / 2), 0.0)
    cerebellum = brain & (y < -0.3) & (z < -0.1)
    return hr, cerebellum


def check_generator(mdcsrn, work):
    rng = np.random.default_rng(1)
    hr, cerebellum = phantom(rng, (64, 56, 48))
    save_nifti(hr, 1.0, os.path.join(work, "hr.nii.gz"))
    save_nifti(cerebellum, 1.0, os.path.join(work, "cerebellum.nii.gz"))
    run(mdcsrn, "prepare", "--hr", os.path.join(work, "hr.nii.gz"), "--cerebellum-mask", os.path.join(work, "cerebellum.nii.gz"),
        "--id", "phantom", "--device", "cpu", "--out", os.path.join(work, "data"))
    settings = ["model.blocks=2", "model.units=2", "model.growth=4", "sampler.patch=16", "sampler.patches_per_epoch=32",
                "train.batch=4", "train.epochs=2", "train.val_patches=4", "train.device=cpu"]
    run(mdcsrn, "train", "--manifest", os.path.join(work, "data", "manifest.json"), "--out", os.path.join(work, "run"), "--quiet",
        *[w for s in settings for w in ("--set", s)])
    checkpoint = os.path.join(work, "run", "checkpoint.safetensors")

    # A crop with three different edges, as nibabel gives it: (x, y, z).
    lr = np.asarray(nib.load(os.path.join(work, "data", "lr.nii.gz")).dataobj, dtype=np.float32)
    crop = lr[18:40, 14:40, 12:42]
    save_nifti(crop, 1.0, os.path.join(work, "crop.nii.gz"))
    patch, margin = 40, 3  # one tile: origin -margin on every axis, zero beyond the volume
    run(mdcsrn, "infer", "--checkpoint", checkpoint, "--input", os.path.join(work, "crop.nii.gz"), "--output", os.path.join(work, "sr.nii.gz"),
        "--patch", patch, "--margin", margin, "--device", "cpu")
    ours = torch.from_numpy(np.asarray(nib.load(os.path.join(work, "sr.nii.gz")).dataobj, dtype=np.float64))

    tensors, metadata = read_safetensors(checkpoint)
    model_config = json.loads(metadata["config"])["model"]
    state = {k: v for k, v in tensors.items() if not k.startswith(("optimizer.", "critic."))}
    tile = np.zeros((patch, patch, patch))
    tile[margin:margin + crop.shape[0], margin:margin + crop.shape[1], margin:margin + crop.shape[2]] = crop
    x = torch.from_numpy(tile)[None, None]
    core = tuple(slice(margin, margin + n) for n in crop.shape)

    def super_resolve(weights):
        model = MDCSRN(model_config["blocks"], model_config["units"], model_config["growth"]).double().eval()
        model.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in weights.items()}, strict=True)
        with torch.no_grad():
            return model(x)[0, 0][core]

    reference = super_resolve(state)
    error = float((ours - reference).abs().max() / reference.abs().max())
    wrong = super_resolve(engine_order(state))
    wrong_error = float((wrong - reference).abs().max() / reference.abs().max())
    print(f"generator: SR crop {tuple(crop.shape)}: max |infer - PyTorch float64| / max |PyTorch| = {error:.2e} "
          f"(tolerance {GENERATOR_TOLERANCE:g}); with the kernels in the engine's order {wrong_error:.2e}")
    return error <= GENERATOR_TOLERANCE and wrong_error > SEPARATION * GENERATOR_TOLERANCE


def check_age(mdcsrn, work):
    rng = np.random.default_rng(2)
    size = (24, 28, 20)  # the grid, voxels along x, y, z (x and z differ: a transposed input does not fit the same way)
    rows = []
    for s in range(6):
        v = 0.05 + 0.75 * smooth_noise(rng, size, passes=1)
        x = np.linspace(0, 1, size[0])[:, None, None]
        v = v * (0.5 + 0.5 * x ** (1 + s % 3))  # structure along x that differs between subjects
        top = rng.random(size) < 0.03
        v[top] = 1.0  # the 99.5th percentile of the positive voxels is 1 whatever the percentile's definition
        path = os.path.join(work, f"s{s}.nii.gz")
        save_nifti(v, 4.0, path)
        rows.append((f"s{s}", 40 + 5 * s, os.path.basename(path)))
    with open(os.path.join(work, "subjects.csv"), "w") as f:
        f.write("id,age,HR\n" + "".join(f"{i},{a},{p}\n" for i, a, p in rows))
    configs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "age_cpu.json")
    settings = ["grid.spacing=4", f"grid.size=[{size[0]},{size[1]},{size[2]}]", "train.folds=2", "train.epochs=3", "train.batch=2"]
    study = os.path.join(work, "age")
    run(mdcsrn, "age", "--subjects", os.path.join(work, "subjects.csv"), "--config", configs, "--out", study, "--quiet",
        *[w for s in settings for w in ("--set", s)])

    volumes = {i: np.asarray(nib.load(os.path.join(work, p)).dataobj, dtype=np.float64) for i, _, p in rows}
    ok, worst, closest_wrong = True, 0.0, float("inf")
    for fold in (1, 2):
        tensors, metadata = read_safetensors(os.path.join(study, "models", f"HR_fold{fold}.safetensors"))
        model = json.loads(metadata["config"])["model"]
        mean, scale = float(metadata["age_mean"]), float(metadata["age_scale"])
        with open(os.path.join(study, "folds", f"HR_fold{fold}.csv")) as f:
            held_out = list(csv.DictReader(f))

        def predict(weights):
            net = DenseNet(spatial_dims=3, in_channels=1, out_channels=1, init_features=model["features"], growth_rate=model["growth"],
                           block_config=tuple(model["blocks"]), bn_size=model["bottleneck"]).double().eval()
            net.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in weights.items()}, strict=True)
            with torch.no_grad():
                x = torch.from_numpy(np.stack([volumes[r["id"]] for r in held_out]))[:, None]
                return (mean + scale * net(x)[:, 0]).numpy()

        ours = np.array([float(r["predicted_age"]) for r in held_out])
        errors = np.abs(predict(tensors) - ours)
        wrong = np.abs(predict(engine_order(tensors)) - ours)
        print(f"age: fold {fold}: held-out {[r['id'] for r in held_out]}: ours {np.round(ours, 4).tolist()}, "
              f"max |ours - MONAI float64| = {errors.max():.2e} years; with the kernels in the engine's order {wrong.max():.2e}")
        worst, closest_wrong = max(worst, errors.max()), min(closest_wrong, wrong.max())
        ok &= errors.max() <= AGE_TOLERANCE and wrong.max() > SEPARATION * AGE_TOLERANCE
    print(f"age: worst {worst:.2e} years (tolerance {AGE_TOLERANCE:g}); the engine's order misses by at least {closest_wrong:.2e}")
    return ok


def dumped_critic_step(mdcsrn, work, lipschitz):
    """A small WGAN run's first step (adversarial) under wgan.lipschitz, dumped: its tensors, its
    configuration, and the relative errors of its critic quantities against PyTorch in float64."""
    settings = ["model.blocks=2", "model.units=2", "model.growth=4", "sampler.patch=16", "sampler.patches_per_epoch=8",
                "train.batch=4", "train.epochs=1", "train.val_patches=4", "train.device=cpu", "wgan.enabled=true",
                "wgan.critic_widths=[2,3,4,4]", "wgan.critic_hidden=6", f'wgan.lipschitz="{lipschitz}"']
    dump = os.path.join(work, f"{lipschitz}_step.safetensors")
    run(mdcsrn, "train", "--manifest", os.path.join(work, "data", "manifest.json"), "--out", os.path.join(work, f"{lipschitz}_run"),
        "--quiet", "--steps", 1, "--dump-step", dump, *[w for s in settings for w in ("--set", s)])
    tensors, metadata = read_safetensors(dump)
    config = json.loads(metadata["config"])
    results = step(config, tensors, torch.float64)
    errors = {name: relative_error(tensors[key], value) for name, (key, value) in results.items() if name.startswith("critic")}
    return tensors, config, errors


def check_spectral_critic(mdcsrn, work):
    """A WGAN step under spectral normalisation (its first step adversarial), dumped, redone by
    PyTorch's spectral_norm from the dumped weights and vectors: the critic's scores and every
    gradient of its raw weights."""
    tensors, config, errors = dumped_critic_step(mdcsrn, work, "spectral")
    worst = max(errors, key=errors.get)
    # The dumped v with its kernel axes reversed (the engine's order): PyTorch's sigma then differs.
    wrong = dict(tensors)
    for name in [n for n in tensors if n.endswith(".weight_v") and tensors[n].dim() == 4]:
        wrong[name] = tensors[name].permute(0, 3, 2, 1).contiguous()
    wrong_results = step(config, wrong, torch.float64)
    wrong_error = relative_error(tensors["fake_scores"], wrong_results["critic scores of SR"][1])
    print(f"spectral critic: {len(errors)} quantities (scores, raw-weight gradients) against PyTorch's spectral_norm in float64: "
          f"worst {worst} {errors[worst]:.2e} (tolerance {CRITIC_TOLERANCE:g}); with v's kernel axes reversed, SR scores {wrong_error:.2e}")
    return errors[worst] <= CRITIC_TOLERANCE and wrong_error > SEPARATION * CRITIC_TOLERANCE


def check_penalty_critic(mdcsrn, work):
    """A WGAN step under the gradient penalty, dumped, redone by PyTorch with
    torch.autograd.grad(..., create_graph=True) at the dumped interpolates: the penalty and every
    parameter's gradient of the critic's loss with it. Without the penalty's own gradients (the
    loss alone), PyTorch's gradients must miss ours by far more."""
    tensors, config, errors = dumped_critic_step(mdcsrn, work, "gp")
    worst = max(errors, key=errors.get)
    without = {name: value for name, value in tensors.items() if name != "critic.interpolates"}
    plain = step(config, without, torch.float64)
    plain_error = max(relative_error(tensors[key], value) for name, (key, value) in plain.items() if name.startswith("critic grad"))
    print(f"gradient penalty: {len(errors)} quantities (scores, penalty, gradients) against torch.autograd.grad(create_graph=True) "
          f"in float64: worst {worst} {errors[worst]:.2e} (tolerance {CRITIC_TOLERANCE:g}); "
          f"PyTorch's gradients without the penalty {plain_error:.2e} off")
    return "critic gradient penalty" in errors and errors[worst] <= CRITIC_TOLERANCE and plain_error > SEPARATION * CRITIC_TOLERANCE


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mdcsrn", required=True, help="the mdcsrn executable")
    parser.add_argument("--workdir", required=True, help="scratch folder (emptied first)")
    a = parser.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, nibabel {nib.__version__}, monai {sys.modules['monai'].__version__}")
    results = {"generator": check_generator(a.mdcsrn, a.workdir), "age": check_age(a.mdcsrn, a.workdir),
               "spectral critic": check_spectral_critic(a.mdcsrn, a.workdir), "gradient penalty": check_penalty_critic(a.mdcsrn, a.workdir)}
    failed = [name for name, ok in results.items() if not ok]
    print("FAILED: " + ", ".join(failed) if failed else
          "passed: generator and brain-age checkpoints, the spectrally normalised critic and the gradient penalty mean the same in "
          "PyTorch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
