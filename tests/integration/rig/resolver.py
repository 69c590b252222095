"""The namespace's libc resolver: programs that read /etc/resolv.conf (Postfix's smtp(8)) must ask
the rig's validating unbound, and glibc (>= 2.31) passes unbound's AD bit on to them only with
"options trust-ad", which Postfix's DANE needs (smtp_dns_support_level = dnssec).

tests/integration/run writes /etc/netns/<namespace>/resolv.conf, which `ip netns exec`
bind-mounts over /etc/resolv.conf. Started any other way (conftest.py's anonymous namespace),
use_rig_resolver() moves this process into a private mount namespace and bind-mounts such a file
itself; children started afterwards see it, nothing outside does."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

RESOLV_CONF = Path("/etc/resolv.conf")
CLONE_NEWNS = 0x00020000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def resolv_conf_text(address: str) -> str:
    return f"nameserver {address}\noptions trust-ad\n"


def resolves_through(address: str) -> bool:
    """Does /etc/resolv.conf name only `address`, with trust-ad?"""
    try:
        lines = [line.split() for line in RESOLV_CONF.read_text().splitlines()]
    except OSError:
        return False
    servers = [fields[1] for fields in lines if len(fields) > 1 and fields[0] == "nameserver"]
    options = {opt for fields in lines if fields and fields[0] == "options" for opt in fields[1:]}
    return servers == [address] and "trust-ad" in options


def use_rig_resolver(address: str, directory: Path) -> None:
    """Make /etc/resolv.conf name `address` for this process and its future children.
    Raises OSError when that is impossible (no CAP_SYS_ADMIN, or a multi-threaded process)."""
    if resolves_through(address):
        return
    libc = ctypes.CDLL(None, use_errno=True)

    def check(rc: int, what: str) -> None:
        if rc != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Mounts made here must not propagate back to the host's mount namespace.
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    source = directory / "resolv.conf"
    source.write_text(resolv_conf_text(address))
    check(libc.mount(str(source).encode(), str(RESOLV_CONF).encode(), None, MS_BIND, None),
          f"bind-mount {source} over {RESOLV_CONF}")
    if not resolves_through(address):
        raise OSError(f"{RESOLV_CONF} still does not name {address} after the bind mount")
