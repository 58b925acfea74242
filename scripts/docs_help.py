#!/usr/bin/env python3
"""Each command's --help, verbatim, on its page of docs/, so that the manual cannot drift from the
program: the page holds the text between `<!-- mdcsrn CMD --help -->` and `<!-- end -->`. Likewise
`mdcsrn train --print-config` (the default settings) on docs/training.md, whose table of settings
must name every key it prints.

usage: scripts/docs_help.py [--mdcsrn build/mdcsrn] [--check]
Without --check, rewrites those blocks from the program's current output (adding a block at the
end of a page that has none). With --check, changes nothing and exits 1 naming every page whose
block differs from the program's output, and every key missing from the table of settings
(cpu.docs_help runs this).
"""
import argparse
import json
import os
import re
import subprocess
import sys

# (command words, the page that shows their output)
BLOCKS = [(("prepare", "--help"), "docs/data.md"), (("train", "--help"), "docs/training.md"),
          (("train", "--print-config"), "docs/training.md"), (("infer", "--help"), "docs/inference.md"),
          (("eval", "--help"), "docs/inference.md"), (("age", "--help"), "docs/brain-age.md"), (("demo", "--help"), "docs/demo.md")]
SETTINGS_PAGE = "docs/training.md"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def block(words, output):
    language = "json" if words[-1] == "--print-config" else "text"
    return f"<!-- mdcsrn {' '.join(words)} -->\n```{language}\n{output.rstrip()}\n```\n<!-- end -->"


def block_pattern(words):
    return re.compile(rf"<!-- mdcsrn {re.escape(' '.join(words))} -->\n.*?<!-- end -->", re.S)


def output_of(mdcsrn, words):
    result = subprocess.run([mdcsrn, *words], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"docs_help: {mdcsrn} {' '.join(words)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def tabled_settings(page_text):
    """The keys in the first column of the table under the page's "## Every setting"."""
    section = page_text.split("## Every setting", 1)[1].split("\n## ", 1)[0] if "## Every setting" in page_text else ""
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {key for first_column in rows for key in re.findall(r"`([a-z_]+\.[a-z0-9_]+)`", first_column)}


def undocumented_settings(mdcsrn, page_text):
    """The keys `train --print-config` prints that the settings table does not name."""
    settings = json.loads(output_of(mdcsrn, ("train", "--print-config")))
    tabled = tabled_settings(page_text)
    return [f"{section}.{key}" for section, values in settings.items() for key in values if f"{section}.{key}" not in tabled]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mdcsrn", default=os.path.join(ROOT, "build", "mdcsrn"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    drifted = []
    for words, page in BLOCKS:
        path = os.path.join(ROOT, page)
        with open(path) as f:
            text = f.read()
        command = "mdcsrn " + " ".join(words)
        wanted = block(words, output_of(args.mdcsrn, words))
        found = block_pattern(words).search(text)
        if args.check:
            if not found:
                drifted.append(f"{page}: no block for `{command}`")
            elif found.group(0) != wanted:
                drifted.append(f"{page}: the block of `{command}` differs from the program's output (scripts/docs_help.py rewrites it)")
            continue
        if found:
            text = text[:found.start()] + wanted + text[found.end():]
        else:
            text = text.rstrip("\n") + f"\n\n## `{command}`\n\n{wanted}\n"
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    with open(os.path.join(ROOT, SETTINGS_PAGE)) as f:
        missing = undocumented_settings(args.mdcsrn, f.read())
    if missing:
        drifted.append(f"{SETTINGS_PAGE}: the table of settings lacks {', '.join(missing)}")
    for line in drifted:
        print(line)
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
