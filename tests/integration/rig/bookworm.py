"""The Debian 12 ("bookworm") root that test_package.py installs mtastsd's .deb into: a
rig/debian_root.py spec (built, cached and run in as described there) whose packages are what
the .deb needs at run time, read from its Depends and Pre-Depends (first alternative of each),
plus Postfix 3.7 (the package recommends it; the test's postmap is Postfix's), procps (kill(1),
which the unit's ExecReload runs) and systemd (not running: its systemd-analyze checks the unit,
its systemd-tmpfiles serves the postinst), as on every Debian 12 system.

The test namespace has no network, so scripts/test builds the root before the tests run, for the
.deb it has just built (`bookworm.py ensure --deb PATH`); a .deb whose dependencies changed makes
the stamp differ and the root is rebuilt (its downloads are cached in ROOT.debs).
Files: /var/cache/mtastsd-tests/bookworm-root and its siblings (MTASTSD_BOOKWORM_ROOT moves them).
The .deb: MTASTSD_DEB, else the newest build-pkg/mtastsd_*.deb of this checkout (scripts/package)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

if __package__ in (None, ""):  # run as a script: bookworm.py ensure
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "rig"

from . import debian_root  # noqa: E402

SUITE = "bookworm"
BASE_PACKAGES = ("postfix", "procps", "systemd")
POSTFIX_SERIES = "3.7"
DEB_ENV = "MTASTSD_DEB"
REPO = Path(__file__).resolve().parents[3]


def package_path() -> Optional[Path]:
    """The .deb under test: $MTASTSD_DEB, else the newest build-pkg/mtastsd_*.deb."""
    if os.environ.get(DEB_ENV):
        return Path(os.environ[DEB_ENV])
    built = sorted((REPO / "build-pkg").glob("mtastsd_*.deb"), key=lambda p: p.stat().st_mtime)
    return built[-1] if built else None


def runtime_dependencies(deb: Path) -> list[str]:
    """Package names in the .deb's Pre-Depends and Depends: the first alternative of each
    relation, without version or architecture."""
    names = []
    for field in ("Pre-Depends", "Depends"):
        value = subprocess.run(["dpkg-deb", "--field", str(deb), field], capture_output=True, text=True,
                               check=True, timeout=60).stdout
        for relation in value.replace("\n", " ").split(","):
            first = relation.split("|")[0].strip()
            if first:
                names.append(re.split(r"[\s(:]", first, maxsplit=1)[0])
    return names


def spec(deb: Path) -> debian_root.RootSpec:
    packages = tuple(sorted(set(BASE_PACKAGES) | set(runtime_dependencies(deb))))
    return debian_root.RootSpec(suite=SUITE, packages=packages, postfix_series=POSTFIX_SERIES,
                                default_root=debian_root.CACHE_DIR / "bookworm-root",
                                root_env="MTASTSD_BOOKWORM_ROOT", format=1)


def availability(deb: Path) -> tuple[bool, str]:
    return debian_root.availability(spec(deb))


def ensure_bookworm_root(deb: Path) -> Path:
    return debian_root.ensure(spec(deb))


def main(argv: Sequence[str]) -> int:
    """`bookworm.py ensure [--deb PATH]` builds the root if needed and prints it;
    `bookworm.py run [--deb PATH] CMD...` runs a command in it (read-only)."""
    args = list(argv)
    deb = package_path()
    if len(args) >= 3 and args[1] == "--deb":
        deb = Path(args[2])
        del args[1:3]
    if deb is None or not deb.is_file():
        print(f"no .deb: {deb or 'build-pkg/ has none'}; build it with scripts/package or set {DEB_ENV}",
              file=sys.stderr)
        return 2
    if args[:1] == ["ensure"]:
        print(ensure_bookworm_root(deb))
        return 0
    if args[:1] == ["run"] and len(args) > 1:
        return subprocess.run(debian_root.chroot_command(ensure_bookworm_root(deb), args[1:])).returncode
    print(__doc__.split("\n\n")[0] + "\nusage: bookworm.py ensure|run [--deb PATH] [CMD ARG...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
