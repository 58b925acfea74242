#!/usr/bin/env bash
# Installs the Debian packages the engine builds against, skipping those already present.
# With --tests, also what the test suite alone needs: Debian's PyTorch (CPU), nibabel, SciPy and
# GNU time (scripts/hcp_rehearsal.py), and MONAI from PyPI into .pydeps/ (pure Python, without its dependencies: Debian's torch and numpy
# serve), for tests/pytorch/checkpoints_in_pytorch.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=(cmake g++ make ccache libnifti2-dev libniftiio-dev nlohmann-json3-dev doctest-dev libfftw3-dev libboost-dev zlib1g-dev libcairo2-dev fonts-dejavu-core mricron-data
          libopenmpi-dev openmpi-bin)
tests=false
[[ ${1:-} == --tests ]] && tests=true
$tests && packages+=(python3-torch python3-nibabel python3-scipy python3-pip time)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
monai=1.4.0  # the newest MONAI that runs on Debian 12's torch 1.13
if $tests && [[ ! -d $root/.pydeps/monai-$monai.dist-info ]]; then
  echo "installing MONAI $monai into .pydeps/"
  rm -rf "$root/.pydeps"
  # Debian's pip, for Debian's Python the tests run: a --target install is allowed beside its
  # externally managed packages.
  PIP_ROOT_USER_ACTION=ignore /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$root/.pydeps" "monai==$monai"
fi
