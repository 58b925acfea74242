#!/usr/bin/env bash
# Packs into .devdeps/root (git-ignored) what the device build needs beyond the CUDA toolkit, CMake,
# a C++ compiler and Python: the Debian packages' files the engine compiles and links against
# (nifticlib and znz, FFTW single precision, zlib's headers, doctest, nlohmann-json, the Boost.Math
# headers our code reaches) and the two Colin27 templates of mricron-data. Everything comes from
# Debian's archive (apt-get download; nothing needs to be installed here) and is unpacked with
# dpkg -x; Boost is cut to the headers a compile of our one Boost include reads. cairo is not
# packed: the build turns the figures off without it.
#
# The device tool carries at most 64 MiB with the working tree: this script fails when the packed
# folder and the tracked files together exceed MAX_CARRY_MIB (default 56, leaving room for
# uncommitted work). Then, in a device call: carry [".devdeps"], command scripts/gpu_check.sh.
# usage: scripts/pack_device_deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
max_mib=${MAX_CARRY_MIB:-56}
root=.devdeps/root
debs=.devdeps/debs
rm -rf .devdeps
mkdir -p "$root" "$debs"
packages=(libnifti2-2 libnifti2-dev libniftiio2 libniftiio-dev libznz3 libznz-dev libfftw3-single3 libfftw3-dev
          zlib1g zlib1g-dev doctest-dev nlohmann-json3-dev libboost1.74-dev mricron-data)
(cd "$debs" && apt-get download "${packages[@]}" > /dev/null 2>&1) || { echo "pack_device_deps: apt-get download failed" >&2; exit 1; }
staging=.devdeps/staging
for deb in "$debs"/*.deb; do
  case $(basename "$deb") in
    libboost*|mricron-data*|libfftw3-dev*) dpkg -x "$deb" "$staging" ;;  # only parts of these, below
    *) dpkg -x "$deb" "$root" ;;
  esac
done

# FFTW: the single-precision library's header and link names (the -dev package also holds the
# double and long-double precisions and static archives, which nothing here links).
mkdir -p "$root/usr/include" "$root/usr/lib/x86_64-linux-gnu"
cp "$staging/usr/include/fftw3.h" "$root/usr/include/"
cp -P "$staging"/usr/lib/x86_64-linux-gnu/libfftw3f{,_threads}.so "$root/usr/lib/x86_64-linux-gnu/"

# Boost: the headers that students_t.hpp reaches (as g++ preprocesses it here), and all of
# boost/config, whose branches another compiler version may take.
probe=$(mktemp --suffix=.cpp)
echo '#include <boost/math/distributions/students_t.hpp>' > "$probe"
(cd "$staging/usr/include" && g++ -std=c++20 -I. -M "$probe" | tr ' \\' '\n\n' | grep '^boost/' | sort -u) > .devdeps/boost-headers.txt
rm -f "$probe"
(cd "$staging/usr/include" && { cat "$OLDPWD/.devdeps/boost-headers.txt"; find boost/config -type f; } | sort -u |
   tar -cf - -T -) | tar -xf - -C "$root/usr/include"

# Colin27: the two templates the colin27 preset reads.
mkdir -p "$root/usr/share/mricron/templates"
cp "$staging"/usr/share/mricron/templates/{ch2better,aal}.nii.gz "$root/usr/share/mricron/templates/"

# zlib: the link name of -dev points at /lib/... absolutely, where zlib1g put the library. Both go
# to usr/lib, off the run-time library path: programs link against this copy and run with the
# machine's own libz.so.1, which every system has (and Python and PyTorch already use).
mv "$root"/lib/x86_64-linux-gnu/libz.so.1* "$root/usr/lib/"
rm -rf "$root/lib" "$root/usr/lib/x86_64-linux-gnu/libz.so"
ln -s "$(cd "$root/usr/lib" && ls libz.so.1.*)" "$root/usr/lib/libz.so"

# The rest of the packages' documentation and manuals travels for nothing.
rm -rf "$staging" "$debs" "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian" "$root/usr/bin"
find "$root" -name '*.a' -delete

absolute=$(find "$root" -type l -lname '/*')
if [[ -n $absolute ]]; then
  echo "pack_device_deps: links that point outside .devdeps: $absolute" >&2
  exit 1
fi

packed_kib=$(du -sk .devdeps | cut -f1)
tracked_kib=$(( $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) / 1024 ))
total_mib=$(( (packed_kib + tracked_kib) / 1024 ))
echo "packed .devdeps: $((packed_kib / 1024)) MiB; with the tracked files $total_mib MiB to carry (limit ${max_mib} MiB of the device tool's 64)"
if ((total_mib > max_mib)); then
  echo "pack_device_deps: .devdeps and the tracked files come to $total_mib MiB, over ${max_mib} MiB" >&2
  exit 1
fi
