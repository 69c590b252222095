"""A disk that fails under a running program: ext4 in an image file on a loop device, mounted with
errors=remount-ro. `fail()` makes ext4 record an error (/sys/fs/ext4/<device>/trigger_fs_error,
what a bad block or a corrupt inode does), and the kernel turns the file system read-only at once:
every later write fails, through descriptors opened before as well (EIO under the emergency
read-only of Linux >= 6.x, EROFS before), while reads go on. A read-only bind mount cannot do that:
descriptors opened before it keep writing.

The mount is made in a mount namespace of this process's own (unshare, private propagation), so
nothing outside the test sees it; programs started afterwards inherit it. The file system cannot
be made writable again without unmounting it (emergency read-only is cleared only by a new mount).

Limits: root, a loop device and ext4 are needed; `unavailable()` says why when they are not.
unshare(CLONE_NEWNS) fails in a process with more than one thread."""
from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path
from typing import Optional

from .procs import run, wait_until

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
IMAGE_SIZE = 32 << 20  # room for an LMDB cache of a few hundred policies


def _private_mounts() -> None:
    """Move this process into a mount namespace of its own whose mounts propagate nowhere."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNS): {os.strerror(errno)}")
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount --make-rprivate /: {os.strerror(errno)}")


def unavailable() -> Optional[str]:
    """Why this machine cannot have a failing disk, or None."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if not shutil.which(tool):
            return f"{tool} is missing"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control (loop devices)"
    return None


class FailingDisk:
    """ext4 mounted on `mountpoint` (created), backed by `image`; `device` once mounted."""

    def __init__(self, image: Path, mountpoint: Path):
        self.image = image
        self.mountpoint = mountpoint
        self.device: Optional[str] = None
        self.mounted = False

    def mount(self) -> "FailingDisk":
        _private_mounts()
        with open(self.image, "wb") as f:
            f.truncate(IMAGE_SIZE)
        run(["mkfs.ext4", "-q", "-F", str(self.image)])
        self.device = run(["losetup", "--find", "--show", str(self.image)]).stdout.strip()
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        run(["mount", "-t", "ext4", "-o", "errors=remount-ro", self.device, str(self.mountpoint)])
        self.mounted = True
        return self

    def read_only(self) -> bool:
        """Does the kernel refuse writes to it now? (a new file cannot be created)"""
        probe = self.mountpoint / ".write-probe"
        try:
            probe.write_bytes(b"x")
            probe.unlink()
            return False
        except OSError:
            return True

    def fail(self) -> None:
        """An ext4 error now: the kernel makes the file system read-only (errors=remount-ro)."""
        assert self.device, "not mounted"
        trigger = Path("/sys/fs/ext4") / Path(self.device).name / "trigger_fs_error"
        trigger.write_text("1\n")
        wait_until(self.read_only, 10, f"{self.mountpoint} to turn read-only")

    def remove(self) -> None:
        """Unmount (lazily if something still holds it) and free the loop device; the image stays."""
        if self.mounted:
            if run(["umount", str(self.mountpoint)], check=False).returncode != 0:
                run(["umount", "-l", str(self.mountpoint)], check=False)
            self.mounted = False
        if self.device:
            run(["losetup", "-d", self.device], check=False)
            self.device = None
