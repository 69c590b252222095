"""A Debian 13 ("trixie") root filesystem with Postfix 3.10 and libtlsrpt0, built with Debian's
own debootstrap on the Debian 12 test machine, cached between runs, and a way to run programs
in it from the tests.

Build (ensure_trixie_root): once per machine, under an fcntl lock (concurrent test runs wait).
  1. The mirror is the host's own Debian archive, read from its apt sources at run time
     (one-line *.list and deb822 *.sources); a private `apt-get update` against the trixie suite,
     into a state directory beside the cache, proves the mirror answers and that the packages
     exist (Postfix from the 3.10 series).
  2. `debootstrap --foreign --variant=minbase --include=PACKAGES` downloads and unpacks into
     ROOT.tmp; policy-rc.d (exit 101) is written before any maintainer script runs, then
     `debootstrap --second-stage` configures the packages inside the chroot: no service starts.
  3. A stamp file with the package list and the format version is written last and ROOT.tmp is
     renamed to ROOT. A missing or different stamp means: rebuild.
  Only the download steps (private apt update, first stage) need the network, so the root is
  built as an install step by scripts/test (`trixie.py ensure`) before the tests enter their
  namespace; inside it (nothing but lo) a missing root is TrixieUnavailable: the 3.10 tests
  skip loudly. Debian's archive is the only host contacted.
  Files beside the root: ROOT.lock, ROOT.build.log, ROOT.debs (downloaded packages, reused by a
  rebuild), ROOT.apt (private apt lists).

Running programs (chroot_command): every command runs in a mount namespace of its own
(`unshare --mount --propagation private`), which mounts what Postfix needs (/proc, /dev,
a tmpfs on /tmp), the caller's bind mounts and resolv.conf, makes the root read-only, then
execs chroot. `ip netns exec` does give pytest a private mount namespace, but pytest started
without `run` (conftest's unshare of the network only) shares the host's; a namespace per
command leaks nothing in either case and needs no unmounting: the kernel drops the mounts
when the last process of the command exits. unshare, sh and chroot all exec, so the PID the
caller sees is the program's own and the rig's Daemon class can stop it by PID. The cached
root is never written by a test: per-test state (Postfix config, queue, logs) lives in a
directory the test bind-mounts, e.g. on /srv.

Limits: amd64/host architecture only; a rebuild while another run uses the old root removes
that root under it (rebuilds happen only when PACKAGES or FORMAT change)."""
from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

SUITE = "trixie"
# postfix brings the MTA (postfix, sendmail, postconf, postqueue, smtp-sink); libtlsrpt0 is
# the TLSRPT client library that Postfix 3.10 links and the issue #4 tests load.
PACKAGES = ("postfix", "libtlsrpt0")
POSTFIX_SERIES = "3.10"
FORMAT = 1  # bump when the build steps change, to force a rebuild of existing roots
DEFAULT_ROOT = Path("/var/cache/mtastsd-tests/trixie-root")
ROOT_ENV = "MTASTSD_TRIXIE_ROOT"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DEBOOTSTRAP_SCRIPTS = Path("/usr/share/debootstrap/scripts")
STAMP_NAME = ".mtastsd-trixie-stamp"
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
APT_SOURCES_PARTS = Path("/etc/apt/sources.list.d")
OS_RELEASE = Path("/etc/os-release")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# Bounds for the build steps: the download is ~40 MB, the second stage is local.
APT_UPDATE_TIMEOUT = 300
DEBOOTSTRAP_TIMEOUT = 1800
CHROOT_CHECK_TIMEOUT = 60


class TrixieUnavailable(Exception):
    """This machine cannot build the root (a precondition is missing); the reason is the text."""


class TrixieBuildFailed(RuntimeError):
    """The preconditions held but a build step failed: a bug or a broken mirror, not a skip."""


def root_path() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def _sibling(root: Path, suffix: str) -> Path:
    return root.with_name(root.name + suffix)


def _stamp() -> str:
    return json.dumps({"format": FORMAT, "suite": SUITE, "packages": sorted(PACKAGES)}, sort_keys=True)


def is_built(root: Path) -> bool:
    try:
        return (root / STAMP_NAME).read_text() == _stamp()
    except OSError:
        return False


# ---- the host's Debian mirror, from its apt sources ------------------------------------------

@dataclass(frozen=True)
class AptSource:
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]


def _one_line_sources(text: str) -> Iterator[AptSource]:
    """sources.list(5) one-line style: `deb [opt=val ...] URI SUITE COMPONENT...`."""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        kind, rest = words[0], words[1:]
        if rest and rest[0].startswith("["):  # options, possibly spread over several words
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            yield AptSource((kind,), (rest[0],), (rest[1],), tuple(rest[2:]))


def _deb822_sources(text: str) -> Iterator[AptSource]:
    """sources.list(5) deb822 style: stanzas of `Field: value` separated by blank lines."""
    stanzas: list[dict[str, str]] = [{}]
    field = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            stanzas.append({})
            field = None
        elif line[0] in " \t" and field:  # continuation line
            stanzas[-1][field] += " " + line.strip()
        elif ":" in line:
            field, value = line.split(":", 1)
            field = field.strip().lower()
            stanzas[-1][field] = value.strip()
    for s in stanzas:
        if s.get("enabled", "yes").lower() == "no" or "uris" not in s:
            continue
        yield AptSource(tuple(s.get("types", "").split()), tuple(s["uris"].split()),
                        tuple(s.get("suites", "").split()), tuple(s.get("components", "").split()))


def apt_sources(sources_list: Path = APT_SOURCES_LIST, parts: Path = APT_SOURCES_PARTS) -> list[AptSource]:
    """Every enabled source of this machine's apt, in apt's order (file, then parts by name)."""
    found: list[AptSource] = []
    if sources_list.is_file():
        found += _one_line_sources(sources_list.read_text(errors="replace"))
    for path in sorted(parts.glob("*")) if parts.is_dir() else ():
        if path.suffix == ".list":
            found += _one_line_sources(path.read_text(errors="replace"))
        elif path.suffix == ".sources":
            found += _deb822_sources(path.read_text(errors="replace"))
    return found


def host_codename(os_release: Path = OS_RELEASE) -> Optional[str]:
    try:
        text = os_release.read_text()
    except OSError:
        return None
    match = re.search(r'^VERSION_CODENAME="?([a-z]+)"?$', text, re.M)
    return match.group(1) if match else None


def debian_mirror(sources: Sequence[AptSource], codename: Optional[str]) -> Optional[str]:
    """The URI of the host's main Debian archive: a `deb` source carrying component main and the
    host's own codename as suite (not -updates, -security or -backports, which live elsewhere).
    Whether it really serves trixie is proven by the private apt update."""
    for source in sources:
        if ("deb" in source.types and "main" in source.components and codename in source.suites
                and source.uris[0].split(":", 1)[0] in ("http", "https")):
            return source.uris[0].rstrip("/")
    return None


# ---- preconditions ------------------------------------------------------------------------------

def _with_network(argv: Sequence[str]) -> list[str]:
    """argv for a step that downloads. Tests never reach outside their namespace, so inside it
    (only lo) the root cannot be built: scripts/test builds it beforehand (`trixie.py ensure`)."""
    if _isolated():
        raise TrixieUnavailable("the trixie root is not built and this network namespace has no route "
                                "to the Debian mirror; build it first outside the tests: "
                                "/usr/bin/python3 tests/integration/rig/trixie.py ensure (scripts/test does)")
    return list(argv)


def _isolated() -> bool:
    """True in a network namespace with nothing but loopback (the tests' namespace)."""
    return set(os.listdir("/sys/class/net")) <= {"lo"}


def _debootstrap_script() -> Optional[Path]:
    """Debian 12's debootstrap knows trixie (a link to the sid script); sid is the same script."""
    for name in (SUITE, "sid"):
        if (DEBOOTSTRAP_SCRIPTS / name).is_file():
            return DEBOOTSTRAP_SCRIPTS / name
    return None


def _install_debootstrap() -> Optional[str]:
    """apt-get install debootstrap from the host's own suite; returns a reason on failure."""
    if shutil.which("apt-get") is None:
        return "debootstrap is not installed and there is no apt-get to install it"
    result = subprocess.run(_with_network(["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"]),
                            capture_output=True, text=True, timeout=APT_UPDATE_TIMEOUT,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if result.returncode != 0 or shutil.which("debootstrap") is None:
        return f"debootstrap is not installed and apt-get install failed: {result.stderr.strip()[-400:]}"
    return None


def _apt_options(state: Path) -> list[str]:
    """apt options that confine apt to a private state directory with only the trixie source."""
    return ["-o", f"Dir::Etc::SourceList={state / 'trixie.list'}", "-o", "Dir::Etc::SourceParts=-",
            "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
            "-o", "Dir::State::status=/dev/null", "-o", "Dir::Etc::Preferences=/dev/null",
            "-o", "Dir::Etc::PreferencesParts=-", "-o", "APT::Sandbox::User=root"]


def _candidate_versions(state: Path, mirror: str) -> dict[str, Optional[str]]:
    """Private `apt-get update` of the trixie suite, then each package's candidate version.
    Raises TrixieUnavailable when the mirror cannot be read or its signature does not verify."""
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "trixie.list").write_text(f"deb [signed-by={KEYRING}] {mirror} {SUITE} main\n")
    options = _apt_options(state)
    update = subprocess.run(_with_network(["apt-get", *options, "-q", "update"]), capture_output=True,
                            text=True, timeout=APT_UPDATE_TIMEOUT)
    # apt-get update exits 0 after some fetch errors; the W:/E: lines say whether it got the suite.
    problems = [line for line in update.stderr.splitlines() if line.startswith(("E:", "W:"))]
    if update.returncode != 0 or problems:
        raise TrixieUnavailable(f"the Debian mirror did not serve {SUITE}: {' '.join(problems)[-400:]}")
    policy = subprocess.run(["apt-cache", *options, "policy", *PACKAGES], capture_output=True, text=True,
                            timeout=CHROOT_CHECK_TIMEOUT, check=True).stdout
    versions: dict[str, Optional[str]] = dict.fromkeys(PACKAGES)
    package = None
    for line in policy.splitlines():
        if not line.startswith(" "):
            package = line.rstrip(":")
        elif line.strip().startswith("Candidate:") and package in versions:
            candidate = line.split(":", 1)[1].strip()
            versions[package] = None if candidate == "(none)" else candidate
    return versions


def availability(root: Optional[Path] = None) -> tuple[bool, str]:
    """(True, how) when the root is built or can be built here; (False, why not) otherwise.
    When the root is not built yet this contacts the mirror and may install debootstrap."""
    root = root or root_path()
    if is_built(root):
        return True, f"cached at {root}"
    try:
        return True, f"can be built from {_check_preconditions(root)}"
    except TrixieUnavailable as e:
        return False, str(e)


def _check_preconditions(root: Path) -> str:
    """Raises TrixieUnavailable with the reason; returns the mirror URI."""
    if os.geteuid() != 0:
        raise TrixieUnavailable("building the trixie root needs root (debootstrap, chroot)")
    for tool in ("unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise TrixieUnavailable(f"{tool} (util-linux/coreutils) is missing")
    if not KEYRING.is_file():
        raise TrixieUnavailable(f"{KEYRING} is missing (package debian-archive-keyring)")
    mirror = debian_mirror(apt_sources(), host_codename())
    if mirror is None:
        raise TrixieUnavailable(f"no http(s) Debian archive for '{host_codename()}' with component main "
                                f"in {APT_SOURCES_LIST} or {APT_SOURCES_PARTS}/*.list|*.sources")
    if shutil.which("debootstrap") is None:
        reason = _install_debootstrap()
        if reason:
            raise TrixieUnavailable(reason)
    if _debootstrap_script() is None:
        raise TrixieUnavailable(f"this debootstrap knows neither {SUITE} nor sid ({DEBOOTSTRAP_SCRIPTS})")
    try:
        _sibling(root, ".apt").parent.mkdir(parents=True, exist_ok=True)
        versions = _candidate_versions(_sibling(root, ".apt"), mirror)
    except (OSError, subprocess.SubprocessError) as e:
        raise TrixieUnavailable(f"cannot query the Debian mirror for {SUITE}: {e}") from None
    missing = [p for p, v in versions.items() if v is None]
    if missing:
        raise TrixieUnavailable(f"{SUITE} on the mirror has no package {', '.join(missing)}")
    if not versions["postfix"].startswith(POSTFIX_SERIES + "."):
        raise TrixieUnavailable(f"{SUITE}'s postfix is {versions['postfix']}, not {POSTFIX_SERIES}.x")
    return mirror


# ---- building -----------------------------------------------------------------------------------

def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below path in this mount namespace (never delete through a mount)."""
    prefix = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].encode().decode("unicode_escape") for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def _remove_tree(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    mounted = _mounts_under(path)
    if mounted:
        raise TrixieBuildFailed(f"refusing to delete {path}: mounts below it: {mounted}")
    shutil.rmtree(path)


def _logged_step(log, what: str, argv: Sequence[str], timeout: float) -> None:
    log.write(f"\n=== {what}: {shlex.join(argv)}\n")
    log.flush()
    started = time.monotonic()
    try:
        result = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                timeout=timeout, env={"PATH": SYSTEM_PATH, "LC_ALL": "C.UTF-8", "HOME": "/root"})
    except subprocess.TimeoutExpired:
        raise TrixieBuildFailed(f"{what} took longer than {timeout}s; see {log.name}") from None
    log.write(f"=== {what}: exit {result.returncode} after {time.monotonic() - started:.0f}s\n")
    log.flush()
    if result.returncode != 0:
        raise TrixieBuildFailed(f"{what} failed (exit {result.returncode}); see {log.name}")


POLICY_RC_D = "#!/bin/sh\n# mtastsd tests: no service starts inside this root (invoke-rc.d(8)).\nexit 101\n"
RESOLV_CONF = "# Set per test: chroot_command(..., resolv_conf=FILE) bind-mounts FILE here.\n"


def _build(root: Path, mirror: str) -> None:
    tmp = _sibling(root, ".tmp")
    debs = _sibling(root, ".debs")
    _remove_tree(tmp)
    debs.mkdir(parents=True, exist_ok=True)
    with open(_sibling(root, ".build.log"), "w") as log:
        _logged_step(log, "debootstrap first stage (download, unpack)", _with_network([
            "debootstrap", "--foreign", "--variant=minbase", f"--include={','.join(PACKAGES)}",
            f"--keyring={KEYRING}", f"--cache-dir={debs}", SUITE, str(tmp), mirror, str(_debootstrap_script())]),
            DEBOOTSTRAP_TIMEOUT)
        policy = tmp / "usr/sbin/policy-rc.d"
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
        # The second stage mounts /proc in the root itself; its own mount namespace drops that.
        _logged_step(log, "debootstrap second stage (configure)", [
            "unshare", "--mount", "--propagation", "private",
            "chroot", str(tmp), "/debootstrap/debootstrap", "--second-stage"], DEBOOTSTRAP_TIMEOUT)
        _logged_step(log, "apt-get clean", ["chroot", str(tmp), "apt-get", "clean"], CHROOT_CHECK_TIMEOUT)
        resolv = tmp / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)  # may be a copy of the host's, or a dangling link
        resolv.write_text(RESOLV_CONF)
        version = subprocess.run(["chroot", str(tmp), "postconf", "-h", "-d", "mail_version"], capture_output=True,
                                 text=True, timeout=CHROOT_CHECK_TIMEOUT).stdout.strip()
        if not version.startswith(POSTFIX_SERIES + "."):
            raise TrixieBuildFailed(f"the built root has Postfix '{version}', not {POSTFIX_SERIES}.x")
        log.write(f"\n=== built: Postfix {version}\n")
    (tmp / STAMP_NAME).write_text(_stamp())
    old = _sibling(root, ".old")
    _remove_tree(old)
    if root.exists():
        root.rename(old)
    tmp.rename(root)
    _remove_tree(old)


def ensure_trixie_root() -> Path:
    """The built root (building it first if needed). Raises TrixieUnavailable when this machine
    cannot build it, TrixieBuildFailed when a build step fails."""
    root = root_path()
    if is_built(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(_sibling(root, ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"trixie root: waiting for another build of {root}", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(root):  # built by the holder of the lock we waited for
            return root
        mirror = _check_preconditions(root)
        print(f"trixie root: building {root} (downloads ~40 MB; log {_sibling(root, '.build.log')})",
              file=sys.stderr)
        _build(root, mirror)
    return root


# ---- running programs in the root ---------------------------------------------------------------

# $1 = root, $2 = resolv.conf or "", then pairs "host path" "path inside" up to "--", then argv.
_CHROOT_SCRIPT = rf"""set -e
root=$1 resolv=$2; shift 2
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
[ -z "$resolv" ] || mount --bind -o ro "$resolv" "$root/etc/resolv.conf"
while [ "$1" != "--" ]; do mount --bind "$1" "$root$2"; shift 2; done
shift
PATH={SYSTEM_PATH} exec chroot "$root" "$@"
"""


def chroot_command(root: Path, argv: Sequence[str], binds: Optional[Mapping[str, Path]] = None,
                   resolv_conf: Optional[Path] = None) -> list[str]:
    """argv for subprocess that runs `argv` inside root, in a mount namespace of its own.
    binds: {path inside the root: host path}, bind-mounted read-write; the inside path must
    exist in the root (/srv and /mnt are empty). resolv_conf: host file shown as /etc/resolv.conf.
    The root itself is read-only; /tmp is a fresh tmpfs."""
    bind_args: list[str] = []
    for inside, host in (binds or {}).items():
        if not inside.startswith("/") or not (root / inside.lstrip("/")).exists():
            raise ValueError(f"bind target {inside} does not exist in {root}")
        bind_args += [str(host), inside]
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", _CHROOT_SCRIPT, "trixie-chroot",
            str(root), str(resolv_conf or ""), *bind_args, "--", *argv]


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
