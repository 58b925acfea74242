#!/usr/bin/env bash
# On a GPU machine, one command for everything that needs the device: build, the GPU tests (ctest
# label gpu; fails if any is skipped, since on a GPU machine a skip means the device was not
# usable), the CPU tests, the data benchmark, short training runs, the GPU's first steps against
# PyTorch autograd (scripts/pytorch_crosscheck.py), the training-step benchmark,
# the WGAN iteration benchmark and the PyTorch reference (bench/RESULTS.md records their numbers).
# The build and where its libraries come from: scripts/gpu_build.sh.
# Results go to $OUT when it is set (else build-gpu/).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-gpu}
results=${OUT:-$build_dir}
BUILD_DIR=$build_dir BUILD_LOG="$results/build.log" source scripts/gpu_build.sh
templates=$MDCSRN_TEMPLATES_DIR

scripts/run_tests.sh "$build_dir" -L gpu -j 1 | tee "$results/gpu-tests.log"
if grep -q "Skipped" "$results/gpu-tests.log"; then
  echo "GPU tests were skipped on a GPU machine: the device is not usable" >&2
  exit 1
fi
"$build_dir/tests/gpu/test_gpu" 2>&1 | grep -A2 "MESSAGE" > "$results/gpu-errors.log" || true
scripts/run_tests.sh "$build_dir" -L cpu > "$results/cpu-tests.log" 2>&1 || { tail -40 "$results/cpu-tests.log"; exit 1; }
tail -1 "$results/cpu-tests.log"

"$build_dir/mdcsrn" prepare --preset colin27 --device cuda --templates "$templates" --out "$build_dir/colin27" | tee "$results/prepare.log"
"$build_dir/bench_data" --manifest "$build_dir/colin27/manifest.json" --json "$results/bench_data.json" | tee "$results/bench_data.log"

# A short training run of the paper's generator on Colin27, for the step rate on this device.
"$build_dir/mdcsrn" train --manifest "$build_dir/colin27/manifest.json" --out "$build_dir/train-paper" --steps 20 \
  --set train.log_every=10 --set train.tf32=true > "$results/train-paper.log" 2>&1 || { tail -20 "$results/train-paper.log"; exit 1; }
tail -4 "$results/train-paper.log"
# And of mDCSRN-WGAN (the 16.6M-parameter critic beside it).
"$build_dir/mdcsrn" train --config configs/paper_wgan_balanced.json --manifest "$build_dir/colin27/manifest.json" \
  --out "$build_dir/train-wgan" --steps 20 --set train.log_every=5 --set train.tf32=true > "$results/train-wgan.log" 2>&1 \
  || { tail -20 "$results/train-wgan.log"; exit 1; }
tail -4 "$results/train-wgan.log"

# The GPU's first steps against PyTorch autograd in float64: the paper's generator (L1 step) and the
# paper's critic (an adversarial first step), batch 4 of 32^3, fp32 with TF32 off.
for run in paper:configs/paper_balanced.json wgan:configs/paper_wgan_balanced.json; do
  name=${run%%:*}
  "$build_dir/mdcsrn" train --config "${run#*:}" --manifest "$build_dir/colin27/manifest.json" --out "$build_dir/dump-$name" \
    --steps 1 --set train.batch=4 --set train.val_patches=4 --set wgan.pretrain_epochs=0 --set train.device=cuda --quiet \
    --dump-step "$results/dump-$name.safetensors" > "$results/dump-$name.log" 2>&1 || { tail -20 "$results/dump-$name.log"; exit 1; }
  python3 scripts/pytorch_crosscheck.py "$results/dump-$name.safetensors" > "$results/crosscheck-$name.log"
  tail -1 "$results/crosscheck-$name.log"
done

"$build_dir/bench_train_step" --manifest "$build_dir/colin27/manifest.json" --steps 50 --json "$results/bench_train_step.json" \
  | tee "$results/bench_train_step.log"
"$build_dir/bench_wgan_step" --manifest "$build_dir/colin27/manifest.json" --device cuda --steps 20 \
  --json "$results/bench_wgan_step.json" | tee "$results/bench_wgan_step.log"
PYTHONUNBUFFERED=1 python3 bench/pytorch_reference.py --steps 50 --json "$results/pytorch.json" 2>&1 | grep -v Warning \
  | tee "$results/pytorch.log"
