"""Debian root filesystems for the tests, built with Debian's own debootstrap on the Debian 12 test
machine, cached between runs, and a way to run programs in them. One spec per root (RootSpec):
rig/trixie.py (Debian 13, Postfix 3.10 and libtlsrpt0) and rig/bookworm.py (Debian 12, Postfix 3.7
and the runtime dependencies of mtastsd's .deb, for test_package.py).

Build (ensure): once per machine and package list, under an fcntl lock (concurrent runs wait).
  1. The mirror is the host's own Debian archive, read from its apt sources at run time
     (one-line *.list and deb822 *.sources); a private `apt-get update` against the spec's suite,
     into a state directory beside the cache, proves the mirror answers and that the packages
     exist (Postfix from the spec's series).
  2. `debootstrap --foreign --variant=minbase --include=PACKAGES` downloads and unpacks into
     ROOT.tmp; policy-rc.d (exit 101) is written before any maintainer script runs, then
     `debootstrap --second-stage` configures the packages inside the chroot: no service starts.
  3. A stamp file with the package list and the format version is written last and ROOT.tmp is
     renamed to ROOT. A missing or different stamp means: rebuild.
  Only the download steps (private apt update, first stage) need the network, so roots are
  built as an install step by scripts/test (`trixie.py ensure`, `bookworm.py ensure`) before the
  tests enter their namespace; inside it (nothing but lo) a missing root is RootUnavailable: the
  tests that need it skip loudly. Debian's archive is the only host contacted.
  Files beside a root: ROOT.lock, ROOT.build.log, ROOT.debs (downloaded packages, reused by a
  rebuild), ROOT.apt (private apt lists).

Running programs (chroot_command): every command runs in a mount namespace of its own
(`unshare --mount --propagation private`), which mounts what Postfix needs (/proc, /dev,
a tmpfs on /tmp), the caller's bind mounts and resolv.conf, makes the root read-only (unless the
caller owns a writable copy), then execs chroot. `ip netns exec` does give pytest a private mount
namespace, but pytest started without `run` (conftest's unshare of the network only) shares the
host's; a namespace per command leaks nothing in either case and needs no unmounting: the kernel
drops the mounts when the last process of the command exits. unshare, sh and chroot all exec, so
the PID the caller sees is the program's own and the rig's Daemon class can stop it by PID. The
cached root is never written by a test: per-test state lives in a directory the test bind-mounts
(e.g. on /srv), or in a copy of the root (copy_root).

Limits: amd64/host architecture only; a rebuild while another run uses the old root removes
that root under it (rebuilds happen only when the package list or FORMAT change)."""
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

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DEBOOTSTRAP_SCRIPTS = Path("/usr/share/debootstrap/scripts")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
APT_SOURCES_PARTS = Path("/etc/apt/sources.list.d")
OS_RELEASE = Path("/etc/os-release")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CACHE_DIR = Path("/var/cache/mtastsd-tests")
# Bounds for the build steps: a download is ~40-60 MB, the second stage is local.
APT_UPDATE_TIMEOUT = 300
DEBOOTSTRAP_TIMEOUT = 1800
CHROOT_CHECK_TIMEOUT = 60


class RootUnavailable(Exception):
    """This machine cannot build the root (a precondition is missing); the reason is the text."""


class RootBuildFailed(RuntimeError):
    """The preconditions held but a build step failed: a bug or a broken mirror, not a skip."""


@dataclass(frozen=True)
class RootSpec:
    """What one cached root is: the suite, the packages on top of minbase, where it lives."""
    suite: str                          # Debian codename, e.g. "trixie"
    packages: tuple[str, ...]           # --include; must bring postfix
    postfix_series: str                 # "3.10": the built root's Postfix must be 3.10.x
    default_root: Path
    root_env: str                       # environment variable that moves the root
    format: int = 1                     # bump when the build steps change, to force a rebuild
    debootstrap_scripts: tuple[str, ...] = ()  # script names to try; default: the suite's own

    @property
    def stamp_name(self) -> str:
        return f".mtastsd-{self.suite}-stamp"

    def stamp(self) -> str:
        return json.dumps({"format": self.format, "suite": self.suite, "packages": sorted(self.packages)},
                          sort_keys=True)

    def root_path(self) -> Path:
        return Path(os.environ.get(self.root_env) or self.default_root)


def sibling(root: Path, suffix: str) -> Path:
    return root.with_name(root.name + suffix)


def is_built(spec: RootSpec, root: Path) -> bool:
    try:
        return (root / spec.stamp_name).read_text() == spec.stamp()
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
    Whether it really serves the wanted suite is proven by the private apt update."""
    for source in sources:
        if ("deb" in source.types and "main" in source.components and codename in source.suites
                and source.uris[0].split(":", 1)[0] in ("http", "https")):
            return source.uris[0].rstrip("/")
    return None


# ---- preconditions ------------------------------------------------------------------------------

def _with_network(spec: RootSpec, argv: Sequence[str]) -> list[str]:
    """argv for a step that downloads. Tests never reach outside their namespace, so inside it
    (only lo) the root cannot be built: scripts/test builds it beforehand."""
    if _isolated():
        raise RootUnavailable(f"the {spec.suite} root is not built and this network namespace has no route "
                              f"to the Debian mirror; build it first outside the tests: "
                              f"/usr/bin/python3 tests/integration/rig/{spec.suite}.py ensure (scripts/test does)")
    return list(argv)


def _isolated() -> bool:
    """True in a network namespace with nothing but loopback (the tests' namespace)."""
    return set(os.listdir("/sys/class/net")) <= {"lo"}


def _debootstrap_script(spec: RootSpec) -> Optional[Path]:
    for name in spec.debootstrap_scripts or (spec.suite,):
        if (DEBOOTSTRAP_SCRIPTS / name).is_file():
            return DEBOOTSTRAP_SCRIPTS / name
    return None


def _install_debootstrap(spec: RootSpec) -> Optional[str]:
    """apt-get install debootstrap from the host's own suite; returns a reason on failure."""
    if shutil.which("apt-get") is None:
        return "debootstrap is not installed and there is no apt-get to install it"
    result = subprocess.run(_with_network(spec, ["apt-get", "install", "-y", "--no-install-recommends",
                                                 "debootstrap"]),
                            capture_output=True, text=True, timeout=APT_UPDATE_TIMEOUT,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if result.returncode != 0 or shutil.which("debootstrap") is None:
        return f"debootstrap is not installed and apt-get install failed: {result.stderr.strip()[-400:]}"
    return None


def _apt_options(spec: RootSpec, state: Path) -> list[str]:
    """apt options that confine apt to a private state directory with only the spec's suite."""
    return ["-o", f"Dir::Etc::SourceList={state / (spec.suite + '.list')}", "-o", "Dir::Etc::SourceParts=-",
            "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
            "-o", "Dir::State::status=/dev/null", "-o", "Dir::Etc::Preferences=/dev/null",
            "-o", "Dir::Etc::PreferencesParts=-", "-o", "APT::Sandbox::User=root"]


def _candidate_versions(spec: RootSpec, state: Path, mirror: str) -> dict[str, Optional[str]]:
    """Private `apt-get update` of the suite, then each package's candidate version.
    Raises RootUnavailable when the mirror cannot be read or its signature does not verify."""
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / (spec.suite + ".list")).write_text(f"deb [signed-by={KEYRING}] {mirror} {spec.suite} main\n")
    options = _apt_options(spec, state)
    update = subprocess.run(_with_network(spec, ["apt-get", *options, "-q", "update"]), capture_output=True,
                            text=True, timeout=APT_UPDATE_TIMEOUT)
    # apt-get update exits 0 after some fetch errors; the W:/E: lines say whether it got the suite.
    problems = [line for line in update.stderr.splitlines() if line.startswith(("E:", "W:"))]
    if update.returncode != 0 or problems:
        raise RootUnavailable(f"the Debian mirror did not serve {spec.suite}: {' '.join(problems)[-400:]}")
    policy = subprocess.run(["apt-cache", *options, "policy", *spec.packages], capture_output=True, text=True,
                            timeout=CHROOT_CHECK_TIMEOUT, check=True).stdout
    versions: dict[str, Optional[str]] = dict.fromkeys(spec.packages)
    package = None
    for line in policy.splitlines():
        if not line.startswith(" "):
            package = line.rstrip(":")
        elif line.strip().startswith("Candidate:") and package in versions:
            candidate = line.split(":", 1)[1].strip()
            versions[package] = None if candidate == "(none)" else candidate
    return versions


def availability(spec: RootSpec, root: Optional[Path] = None) -> tuple[bool, str]:
    """(True, how) when the root is built or can be built here; (False, why not) otherwise.
    When the root is not built yet this contacts the mirror and may install debootstrap."""
    root = root or spec.root_path()
    if is_built(spec, root):
        return True, f"cached at {root}"
    try:
        return True, f"can be built from {_check_preconditions(spec, root)[0]}"
    except RootUnavailable as e:
        return False, str(e)


def _check_preconditions(spec: RootSpec, root: Path) -> tuple[str, list[str]]:
    """Raises RootUnavailable with the reason; returns the mirror URI and the packages to include
    (virtual packages replaced by a provider)."""
    if os.geteuid() != 0:
        raise RootUnavailable(f"building the {spec.suite} root needs root (debootstrap, chroot)")
    for tool in ("unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise RootUnavailable(f"{tool} (util-linux/coreutils) is missing")
    if not KEYRING.is_file():
        raise RootUnavailable(f"{KEYRING} is missing (package debian-archive-keyring)")
    mirror = debian_mirror(apt_sources(), host_codename())
    if mirror is None:
        raise RootUnavailable(f"no http(s) Debian archive for '{host_codename()}' with component main "
                              f"in {APT_SOURCES_LIST} or {APT_SOURCES_PARTS}/*.list|*.sources")
    if shutil.which("debootstrap") is None:
        reason = _install_debootstrap(spec)
        if reason:
            raise RootUnavailable(reason)
    if _debootstrap_script(spec) is None:
        names = " nor ".join(spec.debootstrap_scripts or (spec.suite,))
        raise RootUnavailable(f"this debootstrap knows neither {names} ({DEBOOTSTRAP_SCRIPTS})")
    try:
        sibling(root, ".apt").parent.mkdir(parents=True, exist_ok=True)
        versions = _candidate_versions(spec, sibling(root, ".apt"), mirror)
    except (OSError, subprocess.SubprocessError) as e:
        raise RootUnavailable(f"cannot query the Debian mirror for {spec.suite}: {e}") from None
    include = []
    for package, version in versions.items():
        provider = package if version else _provider(spec, sibling(root, ".apt"), package)
        if provider is None:
            raise RootUnavailable(f"{spec.suite} on the mirror has no package {package}")
        include.append(provider)
    if not versions["postfix"] or not versions["postfix"].startswith(spec.postfix_series + "."):
        raise RootUnavailable(f"{spec.suite}'s postfix is {versions['postfix']}, not {spec.postfix_series}.x")
    return mirror, include


def _provider(spec: RootSpec, state: Path, virtual: str) -> Optional[str]:
    """The first real package that provides a virtual one (shlibs name e.g. libspdlog1.10-fmt9,
    provided by libspdlog1.10): debootstrap --include takes real packages only."""
    shown = subprocess.run(["apt-cache", *_apt_options(spec, state), "showpkg", virtual], capture_output=True,
                           text=True, timeout=CHROOT_CHECK_TIMEOUT).stdout
    _, found, providers = shown.partition("Reverse Provides: \n")
    return providers.split()[0] if found and providers.strip() else None


# ---- building -----------------------------------------------------------------------------------

def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below path in this mount namespace (never delete through a mount)."""
    prefix = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].encode().decode("unicode_escape") for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def remove_tree(path: Path) -> None:
    """rm -r, but never through a mount point below path."""
    if not path.exists() and not path.is_symlink():
        return
    mounted = _mounts_under(path)
    if mounted:
        raise RootBuildFailed(f"refusing to delete {path}: mounts below it: {mounted}")
    shutil.rmtree(path)


def _logged_step(log, what: str, argv: Sequence[str], timeout: float) -> None:
    log.write(f"\n=== {what}: {shlex.join(argv)}\n")
    log.flush()
    started = time.monotonic()
    try:
        result = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                timeout=timeout, env={"PATH": SYSTEM_PATH, "LC_ALL": "C.UTF-8", "HOME": "/root"})
    except subprocess.TimeoutExpired:
        raise RootBuildFailed(f"{what} took longer than {timeout}s; see {log.name}") from None
    log.write(f"=== {what}: exit {result.returncode} after {time.monotonic() - started:.0f}s\n")
    log.flush()
    if result.returncode != 0:
        raise RootBuildFailed(f"{what} failed (exit {result.returncode}); see {log.name}")


POLICY_RC_D = "#!/bin/sh\n# mtastsd tests: no service starts inside this root (invoke-rc.d(8)).\nexit 101\n"
RESOLV_CONF = "# Set per test: chroot_command(..., resolv_conf=FILE) bind-mounts FILE here.\n"


def _build(spec: RootSpec, root: Path, mirror: str, include: Sequence[str]) -> None:
    tmp = sibling(root, ".tmp")
    debs = sibling(root, ".debs")
    remove_tree(tmp)
    debs.mkdir(parents=True, exist_ok=True)
    with open(sibling(root, ".build.log"), "w") as log:
        _logged_step(log, "debootstrap first stage (download, unpack)", _with_network(spec, [
            "debootstrap", "--foreign", "--variant=minbase", f"--include={','.join(include)}",
            f"--keyring={KEYRING}", f"--cache-dir={debs}", spec.suite, str(tmp), mirror,
            str(_debootstrap_script(spec))]), DEBOOTSTRAP_TIMEOUT)
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
        if not version.startswith(spec.postfix_series + "."):
            raise RootBuildFailed(f"the built root has Postfix '{version}', not {spec.postfix_series}.x")
        log.write(f"\n=== built: Postfix {version}\n")
    (tmp / spec.stamp_name).write_text(spec.stamp())
    old = sibling(root, ".old")
    remove_tree(old)
    if root.exists():
        root.rename(old)
    tmp.rename(root)
    remove_tree(old)


def ensure(spec: RootSpec) -> Path:
    """The built root (building it first if needed). Raises RootUnavailable when this machine
    cannot build it, RootBuildFailed when a build step fails."""
    root = spec.root_path()
    if is_built(spec, root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(sibling(root, ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{spec.suite} root: waiting for another build of {root}", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(spec, root):  # built by the holder of the lock we waited for
            return root
        mirror, include = _check_preconditions(spec, root)
        print(f"{spec.suite} root: building {root} with {' '.join(spec.packages)} "
              f"(log {sibling(root, '.build.log')})", file=sys.stderr)
        _build(spec, root, mirror, include)
    return root


def copy_root(root: Path, destination: Path) -> Path:
    """A private, writable copy of a built root (cp -a: owners, modes, links, devices kept), for a
    test that installs into it; the cached root stays as built."""
    subprocess.run(["cp", "-a", "--reflink=auto", str(root), str(destination)], check=True,
                   timeout=DEBOOTSTRAP_TIMEOUT)
    return destination


# ---- running programs in a root -----------------------------------------------------------------

# $1 = root, $2 = resolv.conf or "", $3 = "ro" or "rw", $4 = umask or "", then pairs
# "host path" "path inside" up to "--", then argv.
_CHROOT_SCRIPT = rf"""set -e
root=$1 resolv=$2 access=$3 mask=$4; shift 4
if [ "$access" = ro ]; then
  mount --bind "$root" "$root"
  mount -o remount,bind,ro "$root"
fi
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
[ -z "$resolv" ] || mount --bind -o ro "$resolv" "$root/etc/resolv.conf"
while [ "$1" != "--" ]; do mount --bind "$1" "$root$2"; shift 2; done
shift
[ -z "$mask" ] || umask "$mask"
PATH={SYSTEM_PATH} exec chroot "$root" "$@"
"""


def chroot_command(root: Path, argv: Sequence[str], binds: Optional[Mapping[str, Path]] = None,
                   resolv_conf: Optional[Path] = None, writable: bool = False,
                   umask: Optional[int] = None) -> list[str]:
    """argv for subprocess that runs `argv` inside root, in a mount namespace of its own.
    binds: {path inside the root: host path}, bind-mounted read-write; the inside path must
    exist in the root (/srv and /mnt are empty). resolv_conf: host file shown as /etc/resolv.conf.
    The root is read-only unless writable (for a copy_root copy); /tmp is a fresh tmpfs either way.
    umask: the program's umask (default: the caller's)."""
    bind_args: list[str] = []
    for inside, host in (binds or {}).items():
        if not inside.startswith("/") or not (root / inside.lstrip("/")).exists():
            raise ValueError(f"bind target {inside} does not exist in {root}")
        bind_args += [str(host), inside]
    mask = "" if umask is None else f"{umask:04o}"
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", _CHROOT_SCRIPT, "root-chroot",
            str(root), str(resolv_conf or ""), "rw" if writable else "ro", mask, *bind_args, "--", *argv]
