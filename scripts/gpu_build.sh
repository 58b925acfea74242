#!/usr/bin/env bash
# Builds with CUDA on a GPU machine into build-gpu/ (BUILD_DIR overrides). cuDNN, cuBLAS, cuFFT and
# NCCL are taken from the system when present, else from the Python environment's nvidia/* packages
# (as on images that ship PyTorch). Debian packages missing on the machine (nifticlib,
# mricron-data) can be unpacked under .devdeps/root beforehand. Source this script's environment
# with `source scripts/gpu_build.sh` to keep LD_LIBRARY_PATH and MDCSRN_TEMPLATES_DIR for later steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir=${BUILD_DIR:-build-gpu}
configure=(-DMDCSRN_CUDA=ON)
site=$(python3 -c "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))" 2>/dev/null || true)
hints=()
if [[ -n "$site" ]]; then
  ldconfig -p | grep -q "libcudnn.so" || hints+=("$site/nvidia/cudnn" "$site/nvidia/cu13")
  ldconfig -p | grep -q "libnccl.so" || [[ -e /usr/local/cuda/lib/libnccl.so ]] || hints+=("$site/nvidia/nccl")
fi
if ((${#hints[@]})); then
  configure+=("-DMDCSRN_CUDA_LIBRARY_HINTS=$(IFS=';'; echo "${hints[*]}")")
  echo "using CUDA libraries from ${hints[*]}"
fi
MDCSRN_TEMPLATES_DIR=/usr/share/mricron/templates
if [[ -d .devdeps/root ]]; then
  export CMAKE_PREFIX_PATH="$PWD/.devdeps/root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$PWD/.devdeps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [[ -d .devdeps/root/usr/share/mricron/templates ]] && MDCSRN_TEMPLATES_DIR=$PWD/.devdeps/root/usr/share/mricron/templates
fi
export MDCSRN_TEMPLATES_DIR
configure+=("-DMDCSRN_TEMPLATES=$MDCSRN_TEMPLATES_DIR")
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
log=${BUILD_LOG:-$build_dir.log}
BUILD_DIR=$build_dir scripts/build.sh "${configure[@]}" > "$log" 2>&1 || { tail -40 "$log"; exit 1; }
echo "built $build_dir (log: $log)"
