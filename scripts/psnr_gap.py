#!/usr/bin/env python3
"""The validation PSNR of two training runs after the same steps, and whether they agree within a
margin: the fast bf16 path against the fp32 reference path (issue 15 asks for 0.1 dB).

usage: scripts/psnr_gap.py REFERENCE/log.jsonl CANDIDATE/log.jsonl [--max-db 0.1]
Prints both runs' last validation PSNR and their difference; exits 1 when they differ by more than
--max-db, or when either log has no validation record or the two stopped at different steps.
"""
import argparse
import json
import sys


def last_validation(path):
    try:
        records = [json.loads(line) for line in open(path) if line.strip()]
    except (OSError, ValueError) as e:
        sys.exit(f"psnr_gap: {path}: {e}")
    validated = [r for r in records if "val_psnr" in r]
    if not validated:
        sys.exit(f"psnr_gap: {path}: no validation record (does the run end an epoch?)")
    return validated[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--max-db", type=float, default=0.1)
    args = parser.parse_args()
    a, b = last_validation(args.reference), last_validation(args.candidate)
    if a["step"] != b["step"]:
        sys.exit(f"psnr_gap: the runs validated at different steps ({a['step']} and {b['step']})")
    gap = b["val_psnr"] - a["val_psnr"]
    verdict = "within" if abs(gap) <= args.max_db else "beyond"
    print(f"validation PSNR after {a['step']} steps: reference {a['val_psnr']:.3f} dB, candidate {b['val_psnr']:.3f} dB "
          f"(LR {a.get('val_lr_psnr', float('nan')):.3f} dB); difference {gap:+.3f} dB, {verdict} {args.max_db:g} dB")
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    sys.exit(main())
