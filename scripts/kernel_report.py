#!/usr/bin/env python3
"""Resource report and instruction mix of the GPU kernel families, for bench/NOTES.md.

Compiles each kernels/<family>.cu for sm_90 with nvcc (no GPU needed) to PTX and to a cubin with
`-Xptxas -v`, and prints one Markdown row per kernel: registers, stack frame (local-memory arrays) and spill
bytes, barriers, SASS
instructions, 16-byte global loads and stores (from cuobjdump -sass, when --cuobjdump is given or
on PATH: PyPI's nvidia-cuda-cuobjdump wheel carries one), and the 64-bit integer divisions and
remainders in its PTX.

usage: scripts/kernel_report.py [--root DIR] [--cuobjdump PATH] [--families kernels/a,tests/kernels/b,...] [--json FILE]
  --root DIR  the source tree to report on (default: this checkout), e.g. a `git worktree` of an
              older commit for a before/after comparison
  --json FILE also write {"kernels": {name: {"family", "registers", "stack", "spills", "barriers"}}},
              the names as in the table, for bench_kernel_counts --resources (resident blocks a SM)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

def families(root):
    """kernels/CMakeLists.txt's MDCSRN_GPU_KERNELS, and the tests' probes."""
    with open(os.path.join(root, "kernels", "CMakeLists.txt")) as f:
        listed = re.search(r"set\(MDCSRN_GPU_KERNELS([^)]*)\)", f.read()).group(1).split()
    return ["kernels/" + name for name in listed] + ["tests/kernels/probe_kernels"]


def demangle(names):
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout.split("\n")
    return dict(zip(names, out))


def short_name(full):
    """mdcsrn::gpu::(anonymous namespace)::forward_kernel(...) -> forward_kernel; templates keep their arguments."""
    full = full.replace("(anonymous namespace)::", "")
    if full.startswith("void "):
        full = full[5:]
    return re.sub(r"\bmdcsrn::(gpu::)?", "", full.split("(")[0])


def ptx_entries(ptx):
    for m in re.finditer(r"\.entry (\S+?)\((.*?)^\}", ptx, re.S | re.M):
        yield m.group(1), m.group(0)


def sass_functions(sass):
    parts = re.split(r"\n\s*Function : (\S+)\n", sass)
    for i in range(1, len(parts), 2):
        yield parts[i], parts[i + 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--cuobjdump", default=shutil.which("cuobjdump"))
    parser.add_argument("--families", help="default: every family of kernels/CMakeLists.txt and the tests' probes")
    parser.add_argument("--nvcc", default=shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc")
    parser.add_argument("--json")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    args.families = args.families or ",".join(families(root))
    flags = ["-O3", "-DNDEBUG", "-DMDCSRN_HAVE_CUDA=1", "-std=c++20", "--expt-relaxed-constexpr", "-arch=sm_90", "-I" + root,
             "-isystem", os.path.join(os.path.dirname(os.path.dirname(args.nvcc)), "include")]
    print("| family | kernel | registers | stack (B) | spills (B) | barriers | SASS instructions | 16-byte loads / stores | "
          "64-bit int div+rem (PTX) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            source = os.path.join(root, family + ".cu")
            if not os.path.exists(source):
                continue  # an older tree without this file
            stem = os.path.basename(family)
            ptx_path, cubin_path = os.path.join(tmp, stem + ".ptx"), os.path.join(tmp, stem + ".cubin")
            subprocess.run([args.nvcc, *flags, "-ptx", source, "-o", ptx_path], check=True)
            ptxas = subprocess.run([args.nvcc, *flags, "-cubin", "-Xptxas", "-v", source, "-o", cubin_path], check=True,
                                   capture_output=True, text=True).stderr
            resources = {}
            for m in re.finditer(r"Compiling entry function '(\S+)'.*?(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads"
                                 r".*?Used (\d+) registers, used (\d+) barriers", ptxas, re.S):
                resources[m.group(1)] = (int(m.group(5)), int(m.group(2)), int(m.group(3)) + int(m.group(4)), int(m.group(6)))
            # Kernels in anonymous namespaces are mangled differently by each compilation: match by demangled name.
            entries = dict(ptx_entries(open(ptx_path).read()))
            entry_names = demangle(list(entries))
            divisions = {entry_names[name]: len(re.findall(r"\b(div|rem)\.[su]64\b", body)) for name, body in entries.items()}
            sass = {}
            if args.cuobjdump:
                dump = subprocess.run([args.cuobjdump, "-sass", cubin_path], check=True, capture_output=True, text=True).stdout
                for name, body in sass_functions(dump):
                    instructions = re.findall(r"/\*[0-9a-f]{4,}\*/\s+([^;]*);", body)
                    wide = sum(1 for i in instructions if re.search(r"\b(LDG|STG)\.E\.128\b", i))
                    sass[name] = (len(instructions), wide)
            names = demangle(list(resources))
            for mangled in sorted(resources, key=lambda n: short_name(names[n])):
                registers, stack, spills, barriers = resources[mangled]
                count, wide = sass.get(mangled, ("n/a", "n/a"))
                print(f"| {os.path.basename(family)} | `{short_name(names[mangled])}` | {registers} | {stack} | {spills} | {barriers} | {count} | {wide} | "
                      f"{divisions.get(names[mangled], 'n/a')} |")
                report[short_name(names[mangled])] = {"family": family, "registers": registers, "stack": stack, "spills": spills,
                                                      "barriers": barriers}
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"kernels": report}, f, indent=1, sort_keys=True)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    sys.exit(main())
