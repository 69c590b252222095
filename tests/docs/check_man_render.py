#!/usr/bin/env python3
"""Checks that man pages render without a single groff warning.

    check_man_render.py PAGE...

Each page is formatted as man(1) would (`groff -man -Tutf8`) with every warning
on (-ww) and the output discarded (-z); anything groff says on standard error,
or a non-zero exit, fails the page. Limits: checks the roff, not what it says;
needs groff (Debian: groff-base, which man-db depends on).
"""

from __future__ import annotations

import subprocess
import sys

GROFF_TIMEOUT_SECONDS = 30  # a page formats in well under a second


def main(pages: list[str]) -> int:
    if not pages:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failed = 0
    for page in pages:
        run = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True,
                             timeout=GROFF_TIMEOUT_SECONDS, check=False)
        if run.returncode != 0 or run.stderr:
            failed += 1
            print(f"{page}: groff exit {run.returncode}\n{run.stderr}", end="")
        else:
            print(f"{page}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
