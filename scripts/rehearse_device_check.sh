#!/usr/bin/env bash
# Rehearses the one device command (scripts/gpu_check.sh) on this machine, without a GPU, so that a
# missing library, a typo or a parser error is found before a lent device's minutes are spent:
#
# 1. The device build in a minimal root: Debian's minbase with only what the lent machine is known
#    to have (g++, CMake, ninja, make, Python 3), the CUDA toolkit bound in read-only from this
#    machine, and the repository with the carried .devdeps (scripts/pack_device_deps.sh; packed
#    here when absent). It runs the device check's own dependencies and build phases, as the device
#    would, and scales the build's measured job times to the device's 16 cores
#    (scripts/device_check/build_time.py).
# 2. Every phase of the device check in its --rehearse mode here (the CPU backend and the SIMT
#    emulator at tiny sizes; GPU-only programs answer --help), checking that each file the summary
#    reads is produced and parsed.
#
# Needs root (debootstrap, chroot, bind mounts) and Debian's debootstrap; the root is made once in
# ROOT_DIR (default /var/tmp/mdcsrn-devroot, 3 minutes) and reused. Then about 10 minutes on 2 cores.
# usage: scripts/rehearse_device_check.sh [--skip-root-build] [--skip-phases]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root_dir=${ROOT_DIR:-/var/tmp/mdcsrn-devroot}
build_in_root=1
phases_here=1
for a in "$@"; do
  case $a in
    --skip-root-build) build_in_root=0 ;;
    --skip-phases) phases_here=0 ;;
    *) echo "usage: scripts/rehearse_device_check.sh [--skip-root-build] [--skip-phases]" >&2; exit 2 ;;
  esac
done
out=${REHEARSAL_OUT:-$repo/build/rehearsal}
mkdir -p "$out"

if ((build_in_root)); then
  [[ -d .devdeps/root ]] || scripts/pack_device_deps.sh
  if [[ ! -x $root_dir/usr/bin/g++ ]]; then
    command -v debootstrap > /dev/null || { echo "rehearse: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    debootstrap --variant=minbase --include=g++,cmake,make,ninja-build,python3 bookworm "$root_dir" http://deb.debian.org/debian \
      > "$out/debootstrap.log" 2>&1 || { tail -20 "$out/debootstrap.log"; exit 1; }
  fi
  cuda=$(readlink -f /usr/local/cuda)
  work=$root_dir/work/mdcsrn
  rm -rf "$work" "$root_dir/work/build-device" "$root_dir/work/out-device"
  mkdir -p "$work" "$root_dir$cuda"
  # What a device call carries: the tracked and untracked-but-not-ignored files, and .devdeps.
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work"
  cp -a .devdeps "$work/"
  ln -sfn "$cuda" "$root_dir/usr/local/cuda"
  mounts=("$root_dir$cuda" "$root_dir/proc" "$root_dir/dev")
  cleanup() { for m in "${mounts[@]}"; do umount "$m" 2> /dev/null || true; done; }
  trap cleanup EXIT
  mount --bind "$cuda" "$root_dir$cuda" && mount -o remount,ro,bind "$root_dir$cuda"
  mount -t proc proc "$root_dir/proc"
  mount --bind /dev "$root_dir/dev"
  echo "device build in $root_dir (packages: $(chroot "$root_dir" dpkg-query -W -f='${Package} ' g++ cmake ninja-build make python3))"
  set +e
  chroot "$root_dir" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    bash -c "cd /work/mdcsrn && scripts/gpu_check.sh --phases dependencies,build --deadline 3600 --build-limit 3600 --build /work/build-device --out /work/out-device"
  status=$?
  set -e
  cp "$root_dir/work/out-device/summary.md" "$out/device-build-summary.md"
  cp "$root_dir/work/build-device/check/dependencies.txt" "$out/device-dependencies.txt"
  python3 scripts/device_check/build_time.py "$root_dir/work/build-device/.ninja_log" --cores 16 | tee "$out/device-build-estimate.txt"
  ((status == 0)) || { echo "rehearse: the device build failed in the minimal root (see $out/device-build-summary.md)" >&2; exit 1; }
fi

if ((phases_here)); then
  scripts/gpu_check.sh --rehearse --out "$out/phases"
fi
