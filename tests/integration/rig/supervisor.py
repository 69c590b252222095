"""A small systemd-style supervisor: runs the service of an installed unit file inside a root
(a writable copy_root copy, through rig/debian_root.chroot_command) the way systemd would, for
test_package.py, on a test machine whose PID 1 is not systemd.

It reads the unit as systemd does: the first of /etc/systemd/system, /run/systemd/system,
/lib/systemd/system, /usr/lib/systemd/system that has it, then the drop-ins UNIT.d/*.conf of
those directories in file-name order (a name in /etc hides the same name further down); `Key=`
with an empty value clears a list; lines continue after a trailing backslash.

Supported in [Service]: Type= simple|exec|notify; ExecStartPre= (prefixes "-": failure ignored,
"+": run as root), ExecStart=, ExecReload= ($MAINPID); User=, Group=, SupplementaryGroups= (plus
the user's groups from the root's /etc/group, as systemd's initgroups); RuntimeDirectory= and
RuntimeDirectoryMode= (made before ExecStartPre, owned by the user, removed after the stop),
StateDirectory= and StateDirectoryMode= (kept); NotifyAccess= main|all|none with the sender's PID
from SCM_CREDENTIALS; WatchdogSec= (WATCHDOG_USEC and WATCHDOG_PID; no ping for that long after
READY=1 is recorded and answered with SIGABRT, systemd's WatchdogSignal); TimeoutStartSec=,
TimeoutStopSec= (SIGTERM, then SIGKILL); UMask=; NoNewPrivileges=. The environment is systemd's:
PATH, USER, LOGNAME, HOME, SHELL, INVOCATION_ID, NOTIFY_SOCKET, RUNTIME_DIRECTORY,
STATE_DIRECTORY, MAINPID for ExecReload.

Not done: the sandbox (Protect*=, SystemCallFilter=, CapabilityBoundingSet=...; test_package.py
has Debian 12's `systemd-analyze verify` check the unit), cgroups (only the main process is signalled),
Restart=, Environment=, specifiers (%n, %i). The rig's rules hold: every process is a direct
child of pytest, stopped by PID; the main process's PID is the daemon's own (unshare, sh, chroot,
setpriv and the WATCHDOG_PID shell all exec)."""
from __future__ import annotations

import os
import re
import secrets
import select
import shlex
import signal
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from . import debian_root
from .procs import _die_with_parent, wait_until

UNIT_PATH = ("etc/systemd/system", "run/systemd/system", "lib/systemd/system", "usr/lib/systemd/system")
DEFAULT_TIMEOUT = 90.0  # systemd's DefaultTimeoutStartSec= and DefaultTimeoutStopSec=
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOTIFY_DIR = "run/test-supervisor"  # inside the root: the notification socket
MAX_NOTIFICATION = 4096  # sd_notify messages are short; systemd reads at most a page too


class StartFailed(AssertionError):
    pass


# ---- the unit file ------------------------------------------------------------------------------

def parse_unit(text: str, into: Optional[dict] = None) -> dict[str, dict[str, list[str]]]:
    """systemd.syntax(7): [Section] headers, Key=Value, # and ; comments, backslash continuations;
    an empty value resets the key. Every key keeps the list of its values, in order."""
    sections = into if into is not None else {}
    current = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"not a unit file line: {raw!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        if value:
            current.setdefault(key, []).append(value)
        else:
            current[key] = []
    return sections


def load_unit(root: Path, name: str) -> dict[str, dict[str, list[str]]]:
    """The unit as systemd would load it from root: the unit file, then its drop-ins."""
    unit_file = next((root / d / name for d in UNIT_PATH if (root / d / name).is_file()), None)
    if unit_file is None:
        raise FileNotFoundError(f"no unit {name} in {root} ({', '.join(UNIT_PATH)})")
    sections = parse_unit(unit_file.read_text())
    drop_ins: dict[str, Path] = {}
    for directory in reversed(UNIT_PATH):  # the first directory wins for a file name
        for path in sorted((root / directory / f"{name}.d").glob("*.conf")):
            drop_ins[path.name] = path
    for file_name in sorted(drop_ins):
        parse_unit(drop_ins[file_name].read_text(), sections)
    return sections


_TIME_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
               "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600,
               "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_timespan(text: str) -> Optional[float]:
    """systemd.time(7) spans: "30s", "20" (seconds), "1min 30s", "500ms"; "infinity" and 0 -> None."""
    text = text.strip()
    if text == "infinity":
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text)
        if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([a-z]+)|\s", "", text):
            raise ValueError(f"not a time span: {text!r}")
        seconds = sum(float(n) * _TIME_UNITS[unit] for n, unit in parts)
    return seconds or None


@dataclass(frozen=True)
class ExecCommand:
    argv: tuple[str, ...]
    ignore_failure: bool = False  # "-"
    privileged: bool = False      # "+": as root, whatever User= says

    @classmethod
    def parse(cls, line: str) -> "ExecCommand":
        ignore = privileged = False
        while line and line[0] in "-+@:!":
            if line[0] in "@:!":
                raise ValueError(f"exec prefix {line[0]!r} is not supported: {line}")
            ignore |= line[0] == "-"
            privileged |= line[0] == "+"
            line = line[1:]
        return cls(tuple(shlex.split(line)), ignore, privileged)

    def with_variables(self, variables: dict[str, str]) -> tuple[str, ...]:
        def expand(word: str) -> str:
            return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), word)
        return tuple(expand(word) for word in self.argv)


# ---- accounts in the root -----------------------------------------------------------------------

@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary
    home: str
    shell: str


def _database(root: Path, name: str) -> list[list[str]]:
    return [line.split(":") for line in (root / "etc" / name).read_text().splitlines() if line and line[0] != "#"]


def group_id(root: Path, name: str) -> int:
    for entry in _database(root, "group"):
        if entry[0] == name:
            return int(entry[2])
    raise KeyError(f"no group {name} in {root}/etc/group")


def account(root: Path, user: str, group: Optional[str] = None, supplementary: Sequence[str] = ()) -> Account:
    """The user as initgroups(3) inside root sees it: primary group (or Group=), the groups that
    list the user as a member, plus SupplementaryGroups=."""
    entry = next((e for e in _database(root, "passwd") if e[0] == user), None)
    if entry is None:
        raise KeyError(f"no user {user} in {root}/etc/passwd")
    gid = group_id(root, group) if group else int(entry[3])
    members = {int(g[2]) for g in _database(root, "group") if user in g[3].split(",")}
    groups = sorted(members | {group_id(root, g) for g in supplementary} | {gid})
    return Account(user, int(entry[2]), gid, tuple(groups), entry[5], entry[6])


def as_account(who: Account, argv: Sequence[str], no_new_privs: bool = False) -> list[str]:
    """argv run inside the root as `who` (setpriv from util-linux, essential in Debian; it execs)."""
    return ["setpriv", f"--reuid={who.uid}", f"--regid={who.gid}", f"--groups={','.join(map(str, who.groups))}",
            *(["--no-new-privs"] if no_new_privs else []), "--", *argv]


# ---- notifications ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    at: float           # time.monotonic() when received
    pid: int            # the sender (SCM_CREDENTIALS)
    fields: dict[str, str]

    def __contains__(self, assignment: str) -> bool:  # "READY=1" in n
        key, _, value = assignment.partition("=")
        return self.fields.get(key) == value


@dataclass
class Stopped:
    returncode: int      # as Popen: negative for a signal
    seconds: float       # from SIGTERM to exit
    killed: bool         # TimeoutStopSec passed: SIGKILL


@dataclass
class _Watchdog:
    seconds: Optional[float]
    armed_at: Optional[float] = None   # READY=1 (systemd arms it when the service is started)
    timeouts: list[float] = field(default_factory=list)


class Supervisor:
    """One service of a unit in a root. start() -> READY; reload(); stop() -> Stopped."""

    def __init__(self, root: Path, unit_name: str, log_path: Path):
        self.root = root
        self.unit_name = unit_name
        self.log_path = log_path
        self.unit = load_unit(root, unit_name)
        self.service = self.unit.get("Service", {})
        self.type = self._last("Type", "simple")
        if self.type not in ("simple", "exec", "notify"):
            raise ValueError(f"Type={self.type} is not supported")
        self.notify_access = self._last("NotifyAccess", "main" if self.type == "notify" else "none")
        user = self._last("User")
        self.account = account(root, user, self._last("Group"), self._words("SupplementaryGroups")) if user else None
        self.start_timeout = self._timespan("TimeoutStartSec", DEFAULT_TIMEOUT)
        self.stop_timeout = self._timespan("TimeoutStopSec", DEFAULT_TIMEOUT)
        self.umask = int(self._last("UMask", "0022"), 8)
        self.no_new_privs = self._last("NoNewPrivileges", "no") in ("yes", "true", "1", "on")
        self.watchdog = _Watchdog(self._timespan("WatchdogSec", None))
        self.runtime_dirs = self._words("RuntimeDirectory")
        self.state_dirs = self._words("StateDirectory")
        self.process: Optional[subprocess.Popen] = None
        self._notifications: list[Notification] = []
        self._lock = threading.Condition()
        self._socket: Optional[socket.socket] = None
        self._reader: Optional[threading.Thread] = None
        self._closing = threading.Event()
        self._stopping = False  # systemd disarms the watchdog once it stops the service

    # ---- unit values ----
    def _last(self, key: str, default: Optional[str] = None) -> Optional[str]:
        values = self.service.get(key)
        return values[-1] if values else default

    def _words(self, key: str) -> list[str]:
        return [word for value in self.service.get(key, []) for word in value.split()]

    def _timespan(self, key: str, default: Optional[float]) -> Optional[float]:
        value = self._last(key)
        return default if value is None else parse_timespan(value)

    def exec_commands(self, key: str) -> list[ExecCommand]:
        return [ExecCommand.parse(line) for line in self.service.get(key, [])]

    # ---- state ----
    @property
    def main_pid(self) -> int:
        assert self.process is not None, "the service was not started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def notifications(self) -> list[Notification]:
        """The notifications systemd would act on (NotifyAccess=), in order of arrival."""
        with self._lock:
            received = list(self._notifications)
        if self.notify_access == "all":
            return received
        if self.notify_access == "main" and self.process is not None:
            return [n for n in received if n.pid == self.process.pid]
        return []

    def rejected_notifications(self) -> list[Notification]:
        accepted = self.notifications()
        with self._lock:
            return [n for n in self._notifications if n not in accepted]

    def mark(self) -> int:
        """A position in the notifications: wait_for_notification(..., since=mark)."""
        return len(self.notifications())

    def wait_for_notification(self, assignment: str, since: int = 0, timeout: float = 30.0) -> Notification:
        return wait_until(lambda: next((n for n in self.notifications()[since:] if assignment in n), None),
                          timeout, f"{assignment} from {self.unit_name} (log: {self.log_path})")

    def watchdog_timeouts(self) -> list[float]:
        return list(self.watchdog.timeouts)

    # ---- running commands ----
    def _environment(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        env = {"PATH": SERVICE_PATH, "LANG": "C.UTF-8", "INVOCATION_ID": self._invocation_id}
        if self.account:
            env |= {"USER": self.account.name, "LOGNAME": self.account.name, "HOME": self.account.home,
                    "SHELL": self.account.shell}
        if self.runtime_dirs:
            env["RUNTIME_DIRECTORY"] = ":".join(f"/run/{d}" for d in self.runtime_dirs)
        if self.state_dirs:
            env["STATE_DIRECTORY"] = ":".join(f"/var/lib/{d}" for d in self.state_dirs)
        return env | (extra or {})

    def _argv(self, command: ExecCommand, argv: Sequence[str]) -> list[str]:
        inside = list(argv)
        if self.account and not command.privileged:
            inside = as_account(self.account, inside, self.no_new_privs)
        return debian_root.chroot_command(self.root, inside, writable=True, umask=self.umask)

    def _run(self, command: ExecCommand, what: str, variables: Optional[dict[str, str]] = None) -> int:
        argv = command.with_variables(variables or {})
        with open(self.log_path, "ab") as log:
            log.write(f"supervisor: {what}: {shlex.join(argv)}\n".encode())
            log.flush()
            result = subprocess.run(self._argv(command, argv),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=self._environment(variables), timeout=self.start_timeout)
        return result.returncode

    def _note(self, text: str) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"supervisor: {text}\n".encode())

    # ---- directories ----
    def _make_directories(self) -> None:
        owner = (self.account.uid, self.account.gid) if self.account else (0, 0)
        for kind, names, mode_key, default_mode in (("run", self.runtime_dirs, "RuntimeDirectoryMode", "0755"),
                                                    ("var/lib", self.state_dirs, "StateDirectoryMode", "0755")):
            mode = int(self._last(mode_key, default_mode), 8)
            for name in names:
                path = self.root / kind / name
                path.mkdir(parents=True, exist_ok=True)
                path.chmod(mode)
                for entry in [path, *path.rglob("*")]:  # systemd hands the whole tree to the user
                    os.lchown(entry, *owner)

    def _remove_runtime_directories(self) -> None:
        for name in self.runtime_dirs:
            debian_root.remove_tree(self.root / "run" / name)

    # ---- the notification socket ----
    def _open_notify_socket(self) -> str:
        directory = self.root / NOTIFY_DIR
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        path = directory / f"{self.unit_name}.notify"
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sock.bind(str(path))
        path.chmod(0o666)  # the service runs as its own user
        self._socket = sock
        self._closing.clear()
        self._reader = threading.Thread(target=self._read_notifications, name="notify-reader", daemon=True)
        self._reader.start()
        return "/" + str(path.relative_to(self.root))

    def _read_notifications(self) -> None:
        credentials_size = socket.CMSG_SPACE(struct.calcsize("3i"))
        while True:
            closing = self._closing.is_set()  # then only what is queued is still read
            readable, _, _ = select.select([self._socket], [], [], 0 if closing else 0.05)
            if not readable and closing:
                return
            if readable:
                data, ancillary, _, _ = self._socket.recvmsg(MAX_NOTIFICATION, credentials_size)
                pid = 0
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                        pid = struct.unpack("3i", payload[:struct.calcsize("3i")])[0]
                fields = dict(line.split("=", 1) for line in data.decode(errors="replace").splitlines() if "=" in line)
                with self._lock:
                    self._notifications.append(Notification(time.monotonic(), pid, fields))
                    self._lock.notify_all()
            self._check_watchdog()

    def _check_watchdog(self) -> None:
        """systemd's watchdog: after READY=1, each WATCHDOG=1 must follow the last within WatchdogSec."""
        dog = self.watchdog
        if dog.seconds is None or self._stopping or not self.running():
            return
        accepted = self.notifications()
        ready = next((n.at for n in accepted if "READY=1" in n), None)
        if ready is None:
            return
        last = max([ready, dog.armed_at or 0.0] + [n.at for n in accepted if "WATCHDOG=1" in n])
        if time.monotonic() - last > dog.seconds:
            dog.timeouts.append(time.monotonic())
            dog.armed_at = time.monotonic()  # one SIGABRT per missed period
            self._note(f"watchdog timeout ({dog.seconds}s without WATCHDOG=1): SIGABRT to {self.main_pid}")
            os.kill(self.main_pid, signal.SIGABRT)

    def _close_notify_socket(self) -> None:
        self._closing.set()
        if self._reader:
            self._reader.join(5)
        if self._socket:
            self._socket.close()
            self._socket = None

    # ---- the life of the service ----
    def start(self) -> "Supervisor":
        """Directories, ExecStartPre=, ExecStart=; returns once the service is started as systemd
        means it (Type=notify: READY=1 from an accepted sender). Raises StartFailed otherwise."""
        assert not self.running(), "already running"
        self._invocation_id = secrets.token_hex(16)
        self._stopping = False
        with self._lock:
            self._notifications.clear()
        self._make_directories()
        for pre in self.exec_commands("ExecStartPre"):
            status = self._run(pre, "ExecStartPre")
            if status != 0 and not pre.ignore_failure:
                raise StartFailed(f"ExecStartPre {shlex.join(pre.argv)} exited {status}:\n{self.log()[-3000:]}")
        (main,) = self.exec_commands("ExecStart")
        extra = {}
        argv = list(main.argv)
        if self.type == "notify":
            extra["NOTIFY_SOCKET"] = self._open_notify_socket()
        if self.watchdog.seconds is not None:
            extra["WATCHDOG_USEC"] = str(round(self.watchdog.seconds * 1_000_000))
            # WATCHDOG_PID is the main process's PID, known only in the child: the shell's own,
            # which it keeps when it execs the service.
            argv = ["/bin/sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh", *argv]
        self._note(f"ExecStart: {shlex.join(main.argv)}")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self._argv(main, argv), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=self._environment(extra),
                                            start_new_session=True, preexec_fn=_die_with_parent)
        if self.type == "notify":
            self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + (self.start_timeout or DEFAULT_TIMEOUT)
        with self._lock:
            while not any("READY=1" in n for n in self.notifications()):
                if self.process.poll() is not None:
                    raise StartFailed(f"{self.unit_name} exited {self.process.returncode} before READY=1:\n"
                                      f"{self.log()[-3000:]}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise StartFailed(f"no READY=1 from {self.unit_name} within {self.start_timeout}s "
                                      f"(TimeoutStartSec); stopped it:\n{self.log()[-3000:]}")
                self._lock.wait(0.05)

    def reload(self) -> int:
        """ExecReload= with $MAINPID; returns its exit status. The service's own RELOADING=1 and
        READY=1 are for the caller to wait for (mark() before, wait_for_notification(since=))."""
        assert self.running(), f"{self.unit_name} is not running"
        status = 0
        for command in self.exec_commands("ExecReload"):
            status = self._run(command, "ExecReload", {"MAINPID": str(self.main_pid)})
            if status != 0 and not command.ignore_failure:
                return status
        return status

    def stop(self) -> Stopped:
        """SIGTERM to the main process, SIGKILL after TimeoutStopSec=; then the runtime directory goes."""
        assert self.process is not None, "the service was not started"
        started = time.monotonic()
        killed = False
        self._stopping = True
        if self.process.poll() is None:
            self._note(f"stop: SIGTERM to {self.process.pid}")
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._note(f"stop: still running after {self.stop_timeout}s (TimeoutStopSec): SIGKILL")
                self.process.kill()
                self.process.wait(10)
                killed = True
        seconds = time.monotonic() - started
        self._note(f"stopped: exit {self.process.returncode} after {seconds:.2f}s")
        self._close_notify_socket()
        self._remove_runtime_directories()
        return Stopped(self.process.returncode, seconds, killed)

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout)


def run_in_root(root: Path, argv: Sequence[str], user: Optional[str] = None, timeout: float = 60,
                check: bool = False, **kw) -> subprocess.CompletedProcess:
    """A command in the (writable) root, as root or as `user` with that user's groups."""
    inside = as_account(account(root, user), argv) if user else list(argv)
    return subprocess.run(debian_root.chroot_command(root, inside, writable=True), capture_output=True, text=True,
                          timeout=timeout, check=check, **kw)

