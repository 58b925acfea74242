#!/usr/bin/env bash
# On a GPU machine, one command for everything that needs the device, meant to fit in ~8 minutes of
# an H100/H200 including the build (each phase's seconds go to timings.txt; the phases after the
# step table are skipped once the budget is spent, and say so):
#   1. build the device targets (CI builds and runs the CPU and emulator tests on every commit);
#   2. ctest -L gpu, which fails if any GPU test is skipped: every op and fused kernel against the
#      CPU reference, the tests of tests/kernels that CI runs under the SIMT emulator, here on the
#      real GPU (so the emulator's definitions of shuffles, votes, ldmatrix, mma and cp.async meet
#      the hardware), whole networks on both paths, inference and bit-identical resume;
#   3. the training step and its forward, reference and fast path (graph-replayed), beside PyTorch's
#      variants in one table (step_table.md, by bench/step_table.py), and the roofline of every
#      fast-path kernel against the copy bandwidth and bf16 GEMM rate measured in the same run
#      (roofline.md, by bench_fused_kernels);
#   4. the accuracy check, shortened: the paper's configuration on Colin27 for one 100-step epoch
#      in fp32 (the reference path) and bf16 (the fast path), their validation PSNR within 0.1 dB
#      (scripts/psnr_gap.py; accuracy.txt);
#   5. whole-volume inference of Colin27, fast and reference path, timed;
#   6. data-parallel training over NCCL, one rank per GPU under mpirun (where MPI is here);
#   7. short training runs (mDCSRN in TF32 and bf16, mDCSRN-WGAN), the GPU's first steps against
#      PyTorch autograd (scripts/pytorch_crosscheck.py), the data and WGAN benchmarks.
# The build and where its libraries come from: scripts/gpu_build.sh. Results go to $OUT when it is
# set (else build-gpu/); bench/RESULTS.md records their numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-gpu}
results=${OUT:-$build_dir}
budget_s=${GPU_CHECK_BUDGET_S:-420}
mkdir -p "$results"
timings="$results/timings.txt"
: > "$timings"
phase() { echo "$1: $SECONDS s since start" | tee -a "$timings"; }
within_budget() {
  if ((SECONDS < budget_s)); then return 0; fi
  echo "skipped $1: $SECONDS s spent of the ${budget_s} s budget" | tee -a "$timings"
  return 1
}

BUILD_TARGETS=${BUILD_TARGETS:-"test_gpu mdcsrn bench_data bench_train_step bench_fused_kernels bench_wgan_step"} BUILD_DIR=$build_dir \
  BUILD_LOG="$results/build.log" source scripts/gpu_build.sh
templates=$MDCSRN_TEMPLATES_DIR
phase build

# -V keeps each suite's messages (measured errors against the references) in the log.
scripts/run_tests.sh "$build_dir" -L gpu -j 1 -V > "$results/gpu-tests.log" 2>&1 || { grep -E "ERROR|FAILED|Failed" "$results/gpu-tests.log" | head -40; tail -1 "$results/gpu-tests.log"; exit 1; }
tail -1 "$results/gpu-tests.log"
grep -A2 "MESSAGE" "$results/gpu-tests.log" > "$results/gpu-errors.log" || true
if grep -q "\*\*\*Skipped" "$results/gpu-tests.log"; then
  echo "GPU tests were skipped on a GPU machine: the device is not usable" >&2
  exit 1
fi
phase gpu-tests

"$build_dir/mdcsrn" prepare --preset colin27 --device cuda --templates "$templates" --out "$build_dir/colin27" > "$results/prepare.log"
tail -1 "$results/prepare.log"
manifest=$build_dir/colin27/manifest.json

"$build_dir/bench_train_step" --manifest "$manifest" --steps 20 --json "$results/bench_train_step.json" | tee "$results/bench_train_step.log"
PYTHONUNBUFFERED=1 python3 bench/pytorch_reference.py --steps 20 --json "$results/pytorch.json" 2>&1 | grep -v Warning \
  > "$results/pytorch.log"
python3 bench/step_table.py "$results/bench_train_step.json" "$results/pytorch.json" --out "$results/step_table.md"
"$build_dir/bench_fused_kernels" --json "$results/roofline.json" --markdown "$results/roofline.md" > "$results/bench_fused_kernels.log"
tail -1 "$results/roofline.md"
phase step-benchmarks

# The fast path's accuracy against the reference path's, shortened: one epoch of 100 steps of
# batch 16 from the same seed, validated on the same 256 patches.
if within_budget "the accuracy check"; then
  for precision in fp32 bf16; do
    "$build_dir/mdcsrn" train --config configs/paper_balanced.json --manifest "$manifest" --out "$build_dir/accuracy-$precision" --quiet \
      --set train.batch=16 --set sampler.patches_per_epoch=1600 --set train.epochs=1 --set train.val_patches=256 \
      --set train.device=cuda --set train.precision=$precision > "$results/accuracy-$precision.log" 2>&1 \
      || { tail -20 "$results/accuracy-$precision.log"; exit 1; }
  done
  python3 scripts/psnr_gap.py "$build_dir/accuracy-fp32/log.jsonl" "$build_dir/accuracy-bf16/log.jsonl" --max-db 0.1 \
    | tee "$results/accuracy.txt" || true
  phase accuracy
fi

# A short run of the paper's generator on the fast path (whose checkpoint the inference below uses),
# then whole-volume inference of the Colin27 LR volume (301 x 370 x 316) on both paths.
"$build_dir/mdcsrn" train --manifest "$manifest" --out "$build_dir/train-bf16" --steps 20 --quiet \
  --set train.log_every=10 --set train.precision=bf16 > "$results/train-bf16.log" 2>&1 || { tail -20 "$results/train-bf16.log"; exit 1; }
tail -2 "$results/train-bf16.log"
for precision in bf16 tf32; do
  "$build_dir/mdcsrn" infer --checkpoint "$build_dir/train-bf16/checkpoint.safetensors" --input "$build_dir/colin27/lr.nii.gz" \
    --output "$build_dir/sr-$precision.nii.gz" --precision "$precision" > "$results/infer-$precision.log" 2>&1 \
    || { tail -5 "$results/infer-$precision.log"; exit 1; }
  tail -2 "$results/infer-$precision.log"
done
phase fast-training-and-inference

# Data-parallel training on the GPU over NCCL (BatchNorm's partials all-gathered, the gradients
# all-reduced; gpu.gpu_generator checked one NCCL rank bit for bit against the plain step): one
# rank per GPU of this machine under mpirun, when the build found MPI and mpirun is here.
if command -v mpirun > /dev/null && grep -q "^MPI_CXX_LIB_NAMES" "$build_dir/CMakeCache.txt"; then
  gpus=$(nvidia-smi -L | wc -l)
  for precision in tf32 bf16; do  # the reference path, and the fast path with NCCL inside its step graph
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np "$gpus" --oversubscribe "$build_dir/mdcsrn" train \
      --manifest "$manifest" --out "$build_dir/train-nccl-$precision" --steps 20 --quiet --set train.batch=$((16 * gpus)) \
      --set train.log_every=10 --set train.device=cuda --set train.precision=$precision > "$results/train-nccl-$precision.log" 2>&1 \
      || { tail -20 "$results/train-nccl-$precision.log"; exit 1; }
    grep "data-parallel" "$results/train-nccl-$precision.log"
    tail -2 "$results/train-nccl-$precision.log"
  done
else
  echo "no MPI here: GPU ranks ran only as gpu.gpu_generator's one-rank NCCL case (reference path)" | tee "$results/train-nccl.log"
fi
phase data-parallel

if within_budget "the reference and WGAN training runs and the PyTorch cross-check"; then
  "$build_dir/mdcsrn" train --manifest "$manifest" --out "$build_dir/train-paper" --steps 20 --quiet \
    --set train.log_every=10 --set train.precision=tf32 > "$results/train-paper.log" 2>&1 || { tail -20 "$results/train-paper.log"; exit 1; }
  tail -2 "$results/train-paper.log"
  "$build_dir/mdcsrn" train --config configs/paper_wgan_balanced.json --manifest "$manifest" --out "$build_dir/train-wgan" --steps 20 \
    --quiet --set train.log_every=5 --set train.precision=tf32 > "$results/train-wgan.log" 2>&1 || { tail -20 "$results/train-wgan.log"; exit 1; }
  tail -2 "$results/train-wgan.log"
  # The GPU's first steps against PyTorch autograd in float64: the paper's generator (L1 step) and
  # the paper's critic (an adversarial first step), batch 4 of 32^3, fp32 with TF32 off.
  for run in paper:configs/paper_balanced.json wgan:configs/paper_wgan_balanced.json; do
    name=${run%%:*}
    "$build_dir/mdcsrn" train --config "${run#*:}" --manifest "$manifest" --out "$build_dir/dump-$name" \
      --steps 1 --set train.batch=4 --set train.val_patches=4 --set wgan.pretrain_epochs=0 --set train.device=cuda --quiet \
      --dump-step "$results/dump-$name.safetensors" > "$results/dump-$name.log" 2>&1 || { tail -20 "$results/dump-$name.log"; exit 1; }
    python3 scripts/pytorch_crosscheck.py "$results/dump-$name.safetensors" > "$results/crosscheck-$name.log"
    tail -1 "$results/crosscheck-$name.log"
  done
  phase training-and-crosscheck
fi

if within_budget "the data and WGAN benchmarks"; then
  "$build_dir/bench_data" --manifest "$manifest" --json "$results/bench_data.json" > "$results/bench_data.log"
  "$build_dir/bench_wgan_step" --manifest "$manifest" --device cuda --steps 10 --json "$results/bench_wgan_step.json" \
    > "$results/bench_wgan_step.log"
  tail -3 "$results/bench_wgan_step.log"
  phase data-and-wgan-benchmarks
fi
cat "$results/step_table.md"
cat "$results/roofline.md"
cat "$results/accuracy.txt" 2>/dev/null || true
