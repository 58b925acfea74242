"""What the device build and the check's phases need, found or missing, one line each; and the
environment and CMake settings that point the build at what was found.

The lent GPU machine reaches no package registry: beyond the CUDA toolkit, CMake, a C++ compiler
and Python, the build's libraries travel in .devdeps/root (scripts/pack_device_deps.sh makes it).
cuDNN and NCCL may live only in the Python environment's nvidia/* packages, as on images that ship
PyTorch.
"""
import glob
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys

MULTIARCH = "x86_64-linux-gnu"


def first_line(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if out.returncode == 0 and text else None


class Environment:
    def __init__(self, root):
        self.root = root
        self.devdeps = os.path.join(root, ".devdeps", "root", "usr")
        self.prefixes = ([self.devdeps] if os.path.isdir(self.devdeps) else []) + ["/usr", "/usr/local"]
        self.cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
        self.python_nvidia = self._python_nvidia()

    def _python_nvidia(self):
        spec = importlib.util.find_spec("nvidia")
        if spec is None or not spec.submodule_search_locations:
            return None
        return list(spec.submodule_search_locations)[0]

    def gpus(self):
        """The GPUs nvidia-smi lists (0 where it is missing or fails)."""
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return 0
        return sum(line.startswith("GPU ") for line in out.stdout.splitlines()) if out.returncode == 0 else 0

    def header(self, name):
        for prefix in self.prefixes:
            for sub in ("include", f"include/{MULTIARCH}", "include/nifti", "include/cairo"):
                path = os.path.join(prefix, sub, name)
                if os.path.exists(path):
                    return path
        return None

    def library(self, stem, extra_dirs=()):
        dirs = [os.path.join(p, sub) for p in self.prefixes for sub in (f"lib/{MULTIARCH}", "lib", "lib64")] + list(extra_dirs)
        for d in dirs:
            hits = sorted(h for h in glob.glob(os.path.join(d, f"lib{stem}.so*")) if os.path.exists(h))  # no dangling links
            if hits:
                return hits[0]
        return None

    def cuda_library(self, stem, python_package):
        dirs = [os.path.join(self.cuda, "lib64"), os.path.join(self.cuda, "lib"), f"/usr/lib/{MULTIARCH}"]
        if self.python_nvidia:
            dirs += [os.path.join(self.python_nvidia, python_package, "lib"), os.path.join(self.python_nvidia, "cu13", "lib")]
        return self.library(stem, dirs)

    def templates(self):
        for prefix in self.prefixes:
            folder = os.path.join(prefix, "share", "mricron", "templates")
            if all(os.path.exists(os.path.join(folder, f)) for f in ("ch2better.nii.gz", "aal.nii.gz")):
                return folder
        return None

    def cuda_hints(self):
        """Prefixes for MDCSRN_CUDA_LIBRARY_HINTS: the Python environment's cuDNN and NCCL where the
        toolkit has none."""
        hints = []
        if self.python_nvidia:
            for stem, package in (("cudnn", "cudnn"), ("nccl", "nccl")):
                found = self.cuda_library(stem, package)
                if found and found.startswith(self.python_nvidia):
                    hints.append(os.path.dirname(os.path.dirname(found)))
        return hints

    def build_environment(self):
        env = dict(os.environ)
        if os.path.isdir(self.devdeps):
            env["CMAKE_PREFIX_PATH"] = self.devdeps + (":" + env["CMAKE_PREFIX_PATH"] if env.get("CMAKE_PREFIX_PATH") else "")
        libs = [os.path.join(self.devdeps, "lib", MULTIARCH)] if os.path.isdir(self.devdeps) else []
        libs += [os.path.join(h, "lib") for h in self.cuda_hints()]
        if libs:
            env["LD_LIBRARY_PATH"] = ":".join(libs + ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
        env["PATH"] = os.path.join(self.cuda, "bin") + ":" + env.get("PATH", "")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def sanitizer(self):
        return shutil.which("compute-sanitizer") or next(
            (p for p in (os.path.join(self.cuda, "bin", "compute-sanitizer"), os.path.join(self.cuda, "compute-sanitizer", "compute-sanitizer"))
             if os.access(p, os.X_OK)), None)


def report(env: Environment):
    """[(name, found, blocking, line)] for every dependency, in the order the build meets them; a
    blocking one missing stops the build, the others turn a feature or a phase off. Python modules
    are looked up in this interpreter, which runs the check's Python scripts."""
    def module(name):
        if importlib.util.find_spec(name) is None:
            return None
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "present"

    def nvcc_release():
        try:
            out = subprocess.run([os.path.join(env.cuda, "bin", "nvcc"), "--version"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = out.stdout.strip().splitlines()
        return lines[-1] if out.returncode == 0 and lines else None

    build, optional = True, False
    rows = [
        ("cmake", first_line(["cmake", "--version"]), build, "required"),
        ("ninja", first_line(["ninja", "--version"]), optional, "make builds instead"),
        ("C++ compiler", first_line([os.environ.get("CXX", "c++"), "--version"]), build, "required"),
        ("nvcc", nvcc_release(), build, "required for the device build"),
        ("GPU", first_line(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]), optional,
         "every GPU phase fails or is skipped"),
        ("cuDNN", env.cuda_library("cudnn", "cudnn"), build, "required"),
        ("cuBLAS", env.cuda_library("cublas", "cublas"), build, "required"),
        ("cuFFT", env.cuda_library("cufft", "cufft"), build, "required"),
        ("NCCL", env.cuda_library("nccl", "nccl"), optional, "GPU ranks off"),
        ("MPI (mpirun)", shutil.which("mpirun"), optional, "the data-parallel phase is skipped"),
        ("nifticlib", env.header("nifti2_io.h") and env.library("nifti2"), build, "required: carry .devdeps"),
        ("znz", env.library("znz"), build, "required: carry .devdeps"),
        ("zlib", env.header("zlib.h") and env.library("z"), build, "required: carry .devdeps"),
        ("FFTW3 single", env.header("fftw3.h") and env.library("fftw3f_threads"), build, "required: carry .devdeps"),
        ("doctest", env.header("doctest/doctest.h"), build, "required: carry .devdeps"),
        ("nlohmann-json", env.header("nlohmann/json.hpp"), build, "required: carry .devdeps"),
        ("Boost.Math", env.header("boost/math/distributions/students_t.hpp"), build, "required: carry .devdeps"),
        ("cairo", env.header("cairo.h") and env.library("cairo"), optional, "figures off"),
        ("Colin27 templates", env.templates(), optional, "every data phase fails: carry .devdeps"),
        ("python3", sys.version.split()[0], build, "required"),
        ("torch", module("torch"), optional, "PyTorch rows and the cross-check skipped"),
        ("numpy", module("numpy"), optional, "needed by nothing but PyTorch"),
        ("compute-sanitizer", env.sanitizer(), optional, "the sanitizer phase is skipped"),
    ]
    return [(name, bool(found), blocking, f"{name}: {found}" if found else f"{name}: missing ({need})")
            for name, found, blocking, need in rows]
