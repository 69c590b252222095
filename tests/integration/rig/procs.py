"""Child processes and waiting for events.

Daemons run as direct children in their foreground modes and are stopped by PID (SIGTERM, then
SIGKILL after a bounded wait), never by name. The pytest process is made a child subreaper so
that grandchildren (nginx workers, nsd's server processes) that outlive their parent are
re-parented to us and can be reaped. All waits poll a condition with a deadline; none sleeps
as a substitute for an event."""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_INTERVAL = 0.02
T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _die_with_parent() -> None:
    """Runs in the child before exec: if pytest itself is killed (SIGKILL), take the daemon along."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def wait_until(condition: Callable[[], Optional[T]], timeout: float, what: str) -> T:
    """Poll condition() until it returns something truthy; return that, or fail after timeout."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # the condition may not be checkable yet (file missing, ...)
            last_error = e
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(POLL_INTERVAL)


def wait_for_wall_clock_after(t: float) -> None:
    """Some checks compare unix-second timestamps: wait until the clock has passed t."""
    while time.time() <= t:
        time.sleep(min(POLL_INTERVAL, max(t - time.time(), 0) + 0.001))


def tcp_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def unix_accepts(path: str | Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(0.5)
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def udp_dns_answers(host: str, port: int = 53) -> bool:
    """A minimal DNS query (". SOA") answered at all, whatever the rcode."""
    query = bytes.fromhex("beef01000001000000000000") + b"\x00" + (6).to_bytes(2, "big") + (1).to_bytes(2, "big")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(0.3)
        s.sendto(query, (host, port))
        data, _ = s.recvfrom(4096)
        return data[:2] == b"\xbe\xef"
    except OSError:
        return False
    finally:
        s.close()


class Daemon:
    """A child process run in the foreground, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Optional[dict] = None,
                 cwd: Optional[Path] = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "Daemon":
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.cwd, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, condition: Callable[[], object], timeout: float = 15.0) -> None:
        def ready():
            if not self.running():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n{self.log()[-3000:]}")
            return condition()
        try:
            wait_until(ready, timeout, f"{self.name} to become ready")
        except WaitTimeout as e:
            raise WaitTimeout(f"{e}; log:\n{self.log()[-3000:]}") from None

    def stop(self, grace: float = 10.0) -> Optional[int]:
        """SIGTERM, wait at most `grace` seconds, then SIGKILL. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)


def own_children() -> list[int]:
    """PIDs whose parent is this process (direct children and re-parented orphans)."""
    me = str(os.getpid())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me:
            pids.append(int(entry))
    return pids


def reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def terminate_leftover_children(grace: float = 5.0) -> list[int]:
    """End every process still parented to us (orphaned grandchildren included), by PID."""
    reap_zombies()
    leftovers = own_children()
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        reap_zombies()
        if not own_children():
            return leftovers
        time.sleep(POLL_INTERVAL)
    for pid in own_children():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: (reap_zombies(), not own_children())[1], 5, "leftover children to exit")
    return leftovers


def run(argv: Sequence[str], timeout: float = 30, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=check, **kw)
