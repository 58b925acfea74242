#!/usr/bin/env python3
"""Cross-checks a step dumped by `mdcsrn train --dump-step FILE` against PyTorch autograd.

The dump holds the first step's batch, the generator's parameters and output, and either the
generator's gradients (an L1 step) or, for a WGAN run whose first step is adversarial, the critic's
parameters, scores and gradients (under wgan.lipschitz spectral, also the vectors u and v of every
weight, which PyTorch's torch.nn.utils.parametrizations.spectral_norm then uses in eval mode; under
gp, the interpolates and the penalty, whose gradients PyTorch takes by torch.autograd.grad with
create_graph=True). This script loads the parameters into the PyTorch modules of
bench/pytorch_reference.py (strictly: every name and shape must match), recomputes the step in
float64, and prints the relative error (||ours - torch|| / ||torch||) of each quantity, beside
that of PyTorch's own float32 on the same dump. It exits non-zero when one of ours exceeds its
tolerance: --tolerance for the generator and the critic's scores, --critic-tolerance for the
critic's gradients. On real patches the critic's gradients toward its input (layers 0-3) are
ill-conditioned: they are the small difference between its gradients for SR and for HR, and on a
Colin27 dump of the paper's critic both fp32 paths are 2e-4 to 4e-4 off float64 there.

Needs torch only (the safetensors file is read here); runs on the CPU.
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from pytorch_reference import MDCSRN, Critic  # noqa: E402


def read_safetensors(path):
    """The tensors and the metadata of a safetensors file (8-byte header size, JSON header, data)."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return tensors, header.get("__metadata__", {})


def relative_error(ours, reference):
    reference = reference.detach()
    return float((ours.double() - reference).norm() / reference.norm().clamp_min(1e-300))


def load_module(module, tensors, prefix, dtype, skip_suffixes=()):
    state = {name[len(prefix):]: value.to(dtype) for name, value in tensors.items()
             if name.startswith(prefix) and not (skip_suffixes and name.endswith(skip_suffixes))}
    buffers = {name: value for name, value in module.state_dict().items() if name not in dict(module.named_parameters())}
    module.load_state_dict({**buffers, **state}, strict=True)  # every parameter named and shaped as ours


def step(config, tensors, dtype):
    """The dumped step redone by PyTorch autograd in dtype: {quantity: (dump key, PyTorch's value)}."""
    torch.set_default_dtype(dtype)
    model = config["model"]
    results = {}
    generator = MDCSRN(model["blocks"], model["units"], model["growth"]).train()
    load_module(generator, tensors, "param.", dtype)
    x, target = tensors["input"].to(dtype), tensors["target"].to(dtype)
    output = generator(x)
    results["generator output"] = ("output", output.detach())
    if "grad.conv0.weight" in tensors:
        loss = (output - target).abs().mean() if config["train"]["loss"] == "l1" else ((output - target) ** 2).mean()
        loss.backward()
        results["loss"] = ("loss", loss.detach().reshape(1))
        for name, p in generator.named_parameters():
            results["grad " + name] = ("grad." + name, p.grad)

    if "critic.param.conv0.weight" in tensors:
        w = config["wgan"]
        critic = Critic(config["sampler"]["patch"], tuple(w["critic_widths"]), w["critic_hidden"], w["critic_slope"])
        load_module(critic, tensors, "critic.param.", dtype, skip_suffixes=("_u", "_v"))
        if "critic.param.conv0.weight_u" in tensors:
            with_spectral_norm(critic, tensors, dtype)
        sr, hr = tensors["output"].to(dtype), tensors["target"].to(dtype)  # the critic sees our SR, detached
        fake, real = critic(sr), critic(hr)
        results["critic scores of SR"] = ("fake_scores", fake.detach())
        results["critic scores of HR"] = ("real_scores", real.detach())
        loss = fake.mean() - real.mean()
        if "critic.interpolates" in tensors:  # wgan.lipschitz gp: the penalty through a double backward
            mixed = tensors["critic.interpolates"].to(dtype).requires_grad_(True)
            (g,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
            penalty = w["gp_weight"] * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
            results["critic gradient penalty"] = ("critic.gradient_penalty", penalty.detach().reshape(1))
            loss = loss + penalty
        loss.backward()
        for name, p in critic.named_parameters():
            name = name.replace(".parametrizations.weight.original", ".weight")  # spectral_norm's raw weight
            results["critic grad " + name] = ("critic.grad." + name, p.grad)
    return results


def with_spectral_norm(critic, tensors, dtype):
    """PyTorch's spectral_norm on every convolution of the critic (the linear layers are 1^3 ones),
    with the dumped vectors, in eval mode: no power iteration, as the dump holds the vectors after
    the step's own."""
    from torch.nn.utils.parametrizations import spectral_norm
    modules = {"conv0": critic.conv0, "fc1": critic.fc1, "fc2": critic.fc2}
    modules.update({f"layers.{i}.conv": layer.conv for i, layer in enumerate(critic.layers)})
    for name, module in modules.items():
        spectral_norm(module)
        vectors = module.parametrizations.weight[0]
        with torch.no_grad():
            vectors._u.copy_(tensors[f"critic.param.{name}.weight_u"].to(dtype).flatten())
            vectors._v.copy_(tensors[f"critic.param.{name}.weight_v"].to(dtype).flatten())
    critic.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", help="a file written by mdcsrn train --dump-step")
    parser.add_argument("--tolerance", type=float, help="largest relative error accepted (default 1e-4 for a dump of the reference path: "
                        "our fp32 against float64; 5e-2 for one of the fast bf16 path)")
    parser.add_argument("--critic-tolerance", type=float, default=1e-2, help="the same for the critic's gradients (default 1e-2)")
    args = parser.parse_args()

    try:
        tensors, metadata = read_safetensors(args.dump)
        config = json.loads(metadata["config"])
    except (OSError, ValueError, KeyError, RuntimeError, struct.error) as e:
        sys.exit(f"{args.dump}: not a dump written by mdcsrn train --dump-step ({e})")
    path = metadata.get("generator_path", "reference")
    if args.tolerance is None:
        args.tolerance = 5e-2 if path == "fast" else 1e-4
    print(f"{args.dump}: made by the {path} path ({config['train'].get('precision', 'fp32')}); tolerance {args.tolerance:g}")
    if config["model"]["activation"] != "elu":
        sys.exit("the PyTorch reference generator uses ELU; this dump's model uses " + config["model"]["activation"])
    float64 = step(config, tensors, torch.float64)
    float32 = step(config, tensors, torch.float32)
    errors = {name: relative_error(tensors[key], value) for name, (key, value) in float64.items()}
    torch_errors = {name: relative_error(float32[name][1], value) for name, (_, value) in float64.items()}

    def tolerance(name):
        return args.critic_tolerance if name.startswith("critic grad") else args.tolerance

    print(f"{'quantity':52s} {'ours':>9s} {'torch fp32':>10s}  tolerance   (relative errors against torch float64)")
    for name, e in errors.items():
        print(f"{name:52s} {e:9.2e} {torch_errors[name]:10.2e}  {tolerance(name):g}")
    worst = max(errors, key=lambda name: errors[name] / tolerance(name))
    failed = [name for name in errors if errors[name] > tolerance(name)]
    print(f"\n{len(errors)} quantities, {len(failed)} beyond tolerance; closest to its tolerance: {worst} {errors[worst]:.2e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
