#!/usr/bin/env python3
"""The same mDCSRN training step in PyTorch (b4u4 unless --blocks/--units/--growth), timed like
bench_train_step.

One step: forward, L1 loss, backward, Adam (lr 1e-3), on a batch of random patches already on the
device (batch 64 of 32^3 by default). Variants (--variants, in this order): eager-fp32 (TF32 off),
eager-fp32-cl (the same in channels_last_3d), eager-tf32, eager-amp (AMP bf16 with channels_last_3d) and compile-amp (torch.compile of
eager-amp). Each: warm-up, then the median of --steps steps timed with CUDA events (the host clock
on the CPU); peak memory from torch.cuda.max_memory_allocated. Prints a table; --json is rewritten
after every variant, and a variant whose loss is not finite or that fails is recorded with its
status while the next one runs (exit status 1 at the end). On --device cpu the TF32 variant is
left out and AMP is CPU autocast (oneDNN).

With --inference XxYxZ, each variant times whole-volume inference instead, tiled as mdcsrn infer
tiles it (bench_cpu_infer): a random volume of that size, zero-padded, cut into --patch tiles at
stride patch - 6, --infer-batch tiles a forward pass in eval mode without gradients, each tile's
core (a margin of 3 dropped) written back; --steps timed runs after one warm-up batch.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Unit(nn.Module):
    def __init__(self, channels, growth):
        super().__init__()
        self.bn = nn.BatchNorm3d(channels)
        self.conv = nn.Conv3d(channels, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(F.elu(self.bn(x)))


class Block(nn.Module):
    def __init__(self, channels, growth, units):
        super().__init__()
        self.units = nn.ModuleList(Unit(channels + u * growth, growth) for u in range(units))

    def forward(self, x):
        for unit in self.units:
            x = torch.cat([x, unit(x)], 1)
        return x


class MDCSRN(nn.Module):
    """Module names match the engine's checkpoints (conv0, blocks.b.units.u.{bn,conv}, ...)."""

    def __init__(self, blocks=4, units=4, growth=16):
        super().__init__()
        k2 = 2 * growth
        self.conv0 = nn.Conv3d(1, k2, 3, padding=1, bias=False)
        self.blocks = nn.ModuleList(Block(k2, growth, units) for _ in range(blocks))
        widths, width = [], k2
        for b in range(blocks):
            width += k2 + units * growth
            widths.append(width)
        self.compressors = nn.ModuleList(nn.Conv3d(widths[b], k2, 1, bias=False) for b in range(blocks - 1))
        self.reconstruction = nn.Conv3d(widths[-1], 1, 1, bias=False)

    def forward(self, x):
        f0 = self.conv0(x)
        features = torch.cat([f0, self.blocks[0](f0)], 1)
        for b in range(1, len(self.blocks)):
            features = torch.cat([features, self.blocks[b](self.compressors[b - 1](features))], 1)
        return self.reconstruction(features)


class CriticLayer(nn.Module):
    def __init__(self, in_channels, out_channels, stride, edge):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.norm = nn.LayerNorm([out_channels, edge, edge, edge])

    def forward(self, x):
        return self.norm(self.conv(x))


class Critic(nn.Module):
    """The WGAN critic; names match the engine's checkpoints under critic.<name>."""

    def __init__(self, patch=32, widths=(64, 128, 256, 512), hidden=1024, slope=0.2):
        super().__init__()
        self.slope = slope
        self.conv0 = nn.Conv3d(1, widths[0], 3, padding=1)
        layers, channels, edge = [], widths[0], patch
        for i, width in enumerate(widths):
            if i > 0:
                layers.append(CriticLayer(channels, width, 1, edge))
                channels = width
            edge //= 2
            layers.append(CriticLayer(channels, channels, 2, edge))
        self.layers = nn.ModuleList(layers)
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.fc2 = nn.Conv3d(hidden, 1, 1)

    def forward(self, x):
        x = F.leaky_relu(self.conv0(x), self.slope)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), self.slope)
        x = x.mean(dim=(2, 3, 4), keepdim=True)
        return self.fc2(F.leaky_relu(self.fc1(x), self.slope)).flatten()


VARIANTS = {  # name: (label, tf32, amp, channels_last, compiled)
    "eager-fp32": ("eager fp32", False, False, False, False),
    "eager-fp32-cl": ("eager fp32 + channels_last_3d", False, False, True, False),
    "eager-tf32": ("eager TF32", True, False, False, False),
    "eager-amp": ("eager AMP bf16 + channels_last_3d", True, True, True, False),
    "compile-amp": ("torch.compile of eager AMP bf16 + channels_last_3d", True, True, True, True),
}


def time_variant(model, device, batch, patch, steps, warmup, amp, channels_last):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
    lr = torch.rand(batch, 1, patch, patch, patch, device=device).contiguous(memory_format=memory_format)
    hr = torch.rand(batch, 1, patch, patch, patch, device=device).contiguous(memory_format=memory_format)
    cuda = device == "cuda"

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            loss = F.l1_loss(model(lr), hr)
        loss.backward()
        optimizer.step()
        return loss

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        if cuda:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            loss = step()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            start = time.perf_counter()
            loss = step()
            times.append(1000 * (time.perf_counter() - start))
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    return {"median_ms": statistics.median(times), "peak_gib": peak, "loss": float(loss),
            "status": "ok" if torch.isfinite(loss) else "non-finite loss"}


def time_inference(model, device, dims, patch, batch, repeats, amp, channels_last, margin=3):
    """Median seconds of mdcsrn infer's tiling of a random dims = (x, y, z) volume through model."""
    core = patch - 2 * margin
    origins = [list(range(-margin, n - margin, core)) for n in dims]
    volume = torch.rand(dims[2], dims[1], dims[0], device=device)  # z, y, x: x fastest, as the engine's volumes
    high = [origins[a][-1] + patch - dims[a] for a in range(3)]
    padded = F.pad(volume, (margin, high[0], margin, high[1], margin, high[2]))
    tiles = [(i, j, k) for k in origins[2] for j in origins[1] for i in origins[0]]
    out = torch.full_like(volume, float("nan"))  # every voxel must be written by one tile's core
    memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
    model.eval()

    def run(tile_list):
        with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            for first in range(0, len(tile_list), batch):
                chunk = tile_list[first:first + batch]
                x = torch.stack([padded[k + margin:k + margin + patch, j + margin:j + margin + patch, i + margin:i + margin + patch]
                                 for i, j, k in chunk])[:, None].contiguous(memory_format=memory_format)
                y = model(x).float()
                for t, (i, j, k) in enumerate(chunk):
                    cz, cy, cx = (min(core, n - (o + margin)) for o, n in ((k, dims[2]), (j, dims[1]), (i, dims[0])))
                    out[k + margin:k + margin + cz, j + margin:j + margin + cy, i + margin:i + margin + cx] = \
                        y[t, 0, margin:margin + cz, margin:margin + cy, margin:margin + cx]

    run(tiles[:batch])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(tiles)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(1000 * (time.perf_counter() - start))
    finite = bool(torch.isfinite(out).all())
    return {"median_ms": statistics.median(times), "peak_gib": 0.0, "tiles": len(tiles), "status": "ok" if finite else "non-finite output"}


def parse_volume(text):
    try:
        dims = [int(v) for v in text.split("x")]
    except ValueError:
        dims = []
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"'{text}': expected XxYxZ with positive sizes, e.g. 159x370x316")
    return dims


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--variants", default="eager-fp32,eager-tf32,eager-amp,compile-amp", help="comma-separated: " + ", ".join(VARIANTS))
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--growth", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads; default PyTorch's own choice)")
    parser.add_argument("--inference", type=parse_volume, metavar="XxYxZ", help="time whole-volume inference of this size instead")
    parser.add_argument("--infer-batch", type=int, default=16, help="tiles per forward pass with --inference")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads: at least 1")
        torch.set_num_threads(args.threads)
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    if args.device == "cpu":
        names = [n for n in names if n != "eager-tf32"]
    else:
        torch.backends.cudnn.benchmark = True
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    shape = dict(blocks=args.blocks, units=args.units, growth=args.growth)
    parameters = sum(p.numel() for p in MDCSRN(**shape).parameters())
    results, all_ok = [], True
    for name in names:
        label, tf32, amp, channels_last, compiled = VARIANTS[name]
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        row = {"variant": label, "name": name, "tf32": tf32, "amp": amp, "channels_last": channels_last}
        try:
            model = MDCSRN(**shape).to(args.device)
            if channels_last:
                model = model.to(memory_format=torch.channels_last_3d)
            if compiled:
                model = torch.compile(model)
            if args.inference:
                row.update(time_inference(model, args.device, args.inference, args.patch, args.infer_batch, args.steps, amp, channels_last))
            else:
                row.update(time_variant(model, args.device, args.batch, args.patch, args.steps, max(args.warmup, 3 if compiled else 0),
                                        amp, channels_last))
            print(f"{label:52s} {row['median_ms']:9.2f} ms  {row['peak_gib']:6.2f} GiB  {row['status']}", flush=True)
        except Exception as e:  # recorded, and the next variant runs
            row["status"] = f"error: {type(e).__name__}: {e}"[:300]
            print(f"{label:52s} failed: {row['status']}", flush=True)
        all_ok = all_ok and row["status"] == "ok"
        results.append(row)
        if args.json:
            with open(args.json + ".tmp", "w") as f:
                json.dump({"device": device_name, "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch,
                           "inference": args.inference,
                           "patch": args.patch, "parameters": parameters, **shape, "results": results}, f, indent=2)
            os.replace(args.json + ".tmp", args.json)
    print(f"parameters: {parameters}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
