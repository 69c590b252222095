"""The Debian 13 ("trixie") root with Postfix 3.10 and libtlsrpt0 that the Postfix 3.10 stage of
the tests runs in: a rig/debian_root.py spec (how it is built, cached and run in is described
there), and the names the tests use for it.

Debian 12's debootstrap knows trixie as a link to the sid script; sid is the same script.
Files: /var/cache/mtastsd-tests/trixie-root and its siblings (MTASTSD_TRIXIE_ROOT moves them)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

if __package__ in (None, ""):  # run as a script: trixie.py ensure
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "rig"

from . import debian_root  # noqa: E402
from .debian_root import apt_sources, chroot_command, debian_mirror, host_codename  # noqa: E402,F401

SUITE = "trixie"
# postfix brings the MTA (postfix, sendmail, postconf, postqueue, smtp-sink); libtlsrpt0 is
# the TLSRPT client library that Postfix 3.10 links and the issue #4 tests load.
PACKAGES = ("postfix", "libtlsrpt0")
POSTFIX_SERIES = "3.10"
SPEC = debian_root.RootSpec(suite=SUITE, packages=PACKAGES, postfix_series=POSTFIX_SERIES,
                            default_root=debian_root.CACHE_DIR / "trixie-root", root_env="MTASTSD_TRIXIE_ROOT",
                            format=1, debootstrap_scripts=(SUITE, "sid"))
STAMP_NAME = SPEC.stamp_name

TrixieUnavailable = debian_root.RootUnavailable
TrixieBuildFailed = debian_root.RootBuildFailed


def root_path() -> Path:
    return SPEC.root_path()


def _stamp() -> str:
    return SPEC.stamp()


def is_built(root: Path) -> bool:
    return debian_root.is_built(SPEC, root)


def availability(root: Optional[Path] = None) -> tuple[bool, str]:
    return debian_root.availability(SPEC, root)


def ensure_trixie_root() -> Path:
    return debian_root.ensure(SPEC)


def main(argv: Sequence[str]) -> int:
    """Manual use: `trixie.py ensure` builds if needed and prints the root;
    `trixie.py run CMD...` runs a command in the root."""
    if argv[:1] == ["ensure"]:
        print(ensure_trixie_root())
        return 0
    if argv[:1] == ["run"] and len(argv) > 1:
        return subprocess.run(chroot_command(ensure_trixie_root(), argv[1:])).returncode
    print(__doc__.split("\n\n")[0] + "\nusage: trixie.py ensure | run CMD [ARG...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
