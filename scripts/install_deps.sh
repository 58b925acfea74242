#!/usr/bin/env bash
# Installs the Debian packages the engine builds against, skipping those already present.
set -euo pipefail
packages=(cmake g++ make ccache libnifti2-dev libniftiio-dev nlohmann-json3-dev doctest-dev libfftw3-dev libboost-dev zlib1g-dev libcairo2-dev fonts-dejavu-core mricron-data
          libopenmpi-dev openmpi-bin)
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
