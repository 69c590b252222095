"""A private Postfix instance as the sending MTA (Debian 12's Postfix 3.7): its own
config_directory, queue_directory, data_directory and maillog_file under one test directory,
submitted to with `sendmail -C`, inspected with `postqueue -c ... -j` and its own log.

master(8) runs as a direct child in the foreground (`master -c DIR -s`) after `postfix -c DIR
check` has created the queue directories; `postfix start-fg` would instead leave master a child
of the postfix-script shell unless it is PID 1. Stopped by PID: SIGTERM makes master pass the
signal to its process group and exit, and the daemons it leaves behind (now children of this
subreaper) are waited for by PID.

Every service runs unchrooted (chroot column "n"), so smtp(8) uses the namespace's
/etc/resolv.conf (rig/resolver.py), except extra smtp services asked to run chrooted the Debian
way (SmtpService.chroot: the queue directory gets copies of etc/resolv.conf and friends, as
Debian's configure-instance.sh makes). mtastsd listens inside the queue directory and the map
names its socket relative to it, which both kinds of smtp(8) reach. There is no smtpd: nothing
listens, and inet_interfaces = loopback-only keeps the receivers' 127.0.3.x addresses from being
"myself".

Postfix opens files in data_directory (master.lock, prng_exch) as the postfix user by absolute
path, which pytest's private (0700) temp tree does not allow: data_directory is a directory of
its own under /tmp, removed at stop. Everything else is reached as root or relative to the queue
directory."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .procs import Daemon, own_children, run, wait_until

POSTFIX_USER = "postfix"
SENDER = "sender@sender.example"
SOCKET_DIR = "mtastsd"                    # inside the queue directory
SOCKET_NAME = "socketmap.sock"
DAEMON_DIRECTORY = Path("/usr/lib/postfix/sbin")
CHROOT_FILES = ("etc/localtime", "etc/services", "etc/resolv.conf", "etc/hosts", "etc/host.conf",
                "etc/nsswitch.conf")


def policy_map(profile: str) -> str:
    """smtp_tls_policy_maps value asking mtastsd's `profile`; the socket path is relative to the
    queue directory, where smtp(8) runs chrooted or not."""
    return f"socketmap:unix:{SOCKET_DIR}/{SOCKET_NAME}:{profile}"


MAIN_CF = """\
# A private Postfix instance for the end-to-end tests (rig/postfix.py).
compatibility_level = 3.6
config_directory = {dir}/etc
queue_directory = {dir}/queue
data_directory = {data_dir}
multi_instance_directories =
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
myhostname = sender.example
mydomain = sender.example
myorigin = $myhostname
mydestination =
local_transport = error:5.1.1 no local delivery in this test instance
inet_interfaces = loopback-only
inet_protocols = ipv4

# mtastsd decides the TLS policy of every next hop; NOTFOUND leaves smtp_tls_security_level.
smtp_tls_policy_maps = {policy_map}
smtp_tls_security_level = may
smtp_tls_CAfile = {ca_file}
smtp_tls_loglevel = 1
smtp_dns_support_level = dnssec
{transport_maps}
# Tests force retries (postqueue -f); the timers only bound what they wait for otherwise.
smtp_connect_timeout = 5s
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
maximal_queue_lifetime = 7d
bounce_queue_lifetime = 7d
"""

# Every service unchrooted (5th column "n"). No smtpd, no local delivery.
MASTER_CF = """\
# service  type  private unpriv chroot wakeup maxproc command + args
pickup     unix  n       -      n      60     1       pickup
cleanup    unix  n       -      n      -      0       cleanup
qmgr       unix  n       -      n      300    1       qmgr
tlsmgr     unix  -       -      n      1000?  1       tlsmgr
rewrite    unix  -       -      n      -      -       trivial-rewrite
bounce     unix  -       -      n      -      0       bounce
defer      unix  -       -      n      -      0       bounce
trace      unix  -       -      n      -      0       bounce
flush      unix  n       -      n      1000?  0       flush
smtp       unix  -       -      n      -      -       smtp
showq      unix  n       -      n      -      -       showq
error      unix  -       -      n      -      -       error
retry      unix  -       -      n      -      -       error
scache     unix  -       -      n      -      1       scache
postlog    unix-dgram n  -      n      -      1       postlogd
"""

# One log line of a Postfix daemon: "<date> <host> postfix/smtp[123]: text" (the service may be
# prefixed: postfix/smtp-dane/smtp[123]).
LOG_LINE = re.compile(r"^\S+ +\d+ \S+ \S+ postfix/(?:(?P<service>[\w.-]+)/)?(?P<program>[\w.-]+)\[(?P<pid>\d+)\]: "
                      r"(?P<text>.*)$")
DELIVERY = re.compile(r"^(?P<qid>[0-9A-F]+): to=<(?P<to>[^>]*)>, relay=(?P<relay>\S+), .*\bstatus=(?P<status>\w+) "
                      r"\((?P<reason>.*)\)$")


@dataclass
class LogLine:
    program: str
    service: Optional[str]
    pid: int
    text: str


@dataclass
class Delivery:
    """One `QID: to=<...>, relay=..., status=...` line: the result of one delivery attempt, and
    the master.cf service that logged it (None: the plain smtp service)."""
    service: Optional[str]
    qid: str
    to: str
    relay: str
    status: str
    reason: str


@dataclass
class SmtpService:
    """An extra smtp(8) service in master.cf: its -o overrides (e.g. smtp_tls_policy_maps with
    another profile) and whether it runs chrooted in the queue directory, as Debian's does."""
    overrides: dict[str, str] = field(default_factory=dict)
    chroot: bool = False


class Postfix:
    def __init__(self, directory: Path, ca_file: Path, profile: str = "default",
                 transports: Optional[dict[str, SmtpService]] = None):
        """profile: the mtastsd profile main.cf's smtp_tls_policy_maps names.
        transports: extra smtp(8) services {name: service}; route domains to them with route()."""
        self.dir = directory
        self.config_dir = directory / "etc"
        self.queue_dir = directory / "queue"
        self.maillog = directory / "maillog"
        self.ca_file = ca_file
        self.profile = profile
        self.transports = transports or {}
        self.routes: dict[str, str] = {}
        self.data_dir: Optional[Path] = None
        self.master: Optional[Daemon] = None

    @property
    def policy_socket(self) -> Path:
        """Where mtastsd must listen (group postfix, mode 0660)."""
        return self.queue_dir / SOCKET_DIR / SOCKET_NAME

    def route(self, domain: str, transport: str) -> None:
        """Send mail for domain through one of the extra transports (before prepare())."""
        assert transport in self.transports
        self.routes[domain] = transport

    # ---- set-up ----
    def prepare(self) -> "Postfix":
        """Write the configuration, create the queue (postfix check) and mtastsd's socket
        directory. mtastsd starts after this and before start()."""
        self.config_dir.mkdir(parents=True)
        self.queue_dir.mkdir(mode=0o755)  # root's; postfix check creates what is inside
        self.data_dir = Path(tempfile.mkdtemp(prefix="mtastsd-it-postfix-data-"))
        shutil.chown(self.data_dir, POSTFIX_USER)
        transport_maps = ""
        if self.routes:
            pairs = ", ".join(f"{domain}={transport}:" for domain, transport in sorted(self.routes.items()))
            transport_maps = f"transport_maps = inline:{{ {pairs} }}\n"
        (self.config_dir / "main.cf").write_text(MAIN_CF.format(
            dir=self.dir, data_dir=self.data_dir, policy_map=policy_map(self.profile), ca_file=self.ca_file,
            transport_maps=transport_maps))
        master_cf = MASTER_CF
        for name, service in self.transports.items():
            master_cf += f"{name:<10} unix  -       -      {'y' if service.chroot else 'n'}      -      -       smtp\n"
            # Its log lines read postfix/<name>/smtp[PID].
            overrides = {"syslog_name": f"postfix/{name}", **service.overrides}
            master_cf += "".join(f"  -o {parameter}={value}\n" for parameter, value in overrides.items())
        (self.config_dir / "master.cf").write_text(master_cf)
        if any(service.chroot for service in self.transports.values()):
            self._populate_chroot()
        self.postfix("check")
        socket_dir = self.policy_socket.parent
        socket_dir.mkdir(mode=0o750)
        shutil.chown(socket_dir, "root", POSTFIX_USER)
        return self

    def _populate_chroot(self) -> None:
        """What Debian's /usr/lib/postfix/configure-instance.sh copies into the queue directory
        for chrooted services: the files the resolver and service lookups read."""
        for name in CHROOT_FILES:
            source = Path("/") / name
            if source.is_file():
                target = self.queue_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)  # the content as this namespace sees it
                target.chmod(0o644)

    def start(self) -> "Postfix":
        self.master = Daemon("postfix-master", [str(DAEMON_DIRECTORY / "master"), "-c", str(self.config_dir), "-s"],
                             self.dir / "master.out").start()
        self.master.wait_ready(lambda: "daemon started" in self.log() and (self.queue_dir / "public/pickup").exists())
        return self

    def stop(self) -> Optional[int]:
        """SIGTERM to master (it signals its process group), then wait for every daemon by PID."""
        status = None
        if self.master is not None and self.master.proc is not None:
            group = self.master.pid
            status = self.master.stop()
            wait_until(lambda: not _reap_group(group), 15, "Postfix daemons to exit")
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir)
            self.data_dir = None
        return status

    # ---- commands ----
    def command(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        result = run(argv, check=False, **kw)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
                                 f"Postfix log tail:\n{self.log()[-2000:]}")
        return result

    def postfix(self, *args: str) -> subprocess.CompletedProcess:
        return self.command(["postfix", "-c", str(self.config_dir), *args])

    def send(self, recipient: str, message_id: str, subject: str = "mtastsd end-to-end test") -> None:
        message = (f"From: {SENDER}\nTo: {recipient}\nSubject: {subject}\nMessage-ID: {message_id}\n\n"
                   f"Sent by the mtastsd integration tests.\n")
        self.command(["sendmail", "-C", str(self.config_dir), "-f", SENDER, recipient], input=message)

    def queue(self) -> list[dict]:
        """`postqueue -j`: one object per queued message (queue_name, queue_id, recipients...)."""
        out = self.command(["postqueue", "-c", str(self.config_dir), "-j"]).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def queued(self, qid: str) -> Optional[dict]:
        return next((m for m in self.queue() if m["queue_id"] == qid), None)

    def flush(self) -> None:
        """postqueue -f: retry all deferred mail now, dead destinations included."""
        self.command(["postqueue", "-c", str(self.config_dir), "-f"])

    # ---- the log ----
    def log(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self) -> list[LogLine]:
        lines = []
        for raw in self.log().splitlines():
            m = LOG_LINE.match(raw)
            if m:
                lines.append(LogLine(m["program"], m["service"], int(m["pid"]), m["text"]))
        return lines

    def queue_id(self, message_id: str) -> Optional[str]:
        """The queue id cleanup(8) gave the message with this Message-ID, once it has."""
        for line in self.log_lines():
            m = re.match(r"^([0-9A-F]+): message-id=(.*)$", line.text)
            if line.program == "cleanup" and m and m[2] == message_id:
                return m[1]
        return None

    def deliveries(self, qid: str) -> list[Delivery]:
        """Every delivery attempt of the message, oldest first."""
        found = []
        for line in self.log_lines():
            m = DELIVERY.match(line.text)
            if m and m["qid"] == qid:
                found.append(Delivery(line.service, m["qid"], m["to"], m["relay"], m["status"], m["reason"]))
        return found

    def smtp_lines(self, mentioning: str) -> list[str]:
        """smtp(8) lines containing `mentioning`, e.g. "HOST[" for one MX host (TLS results carry
        no queue id; each scenario has MX host names of its own)."""
        return [line.text for line in self.log_lines() if line.program == "smtp" and mentioning in line.text]

    def service_roots(self, service: str) -> set[str]:
        """The root directories of the running processes of a master.cf service (`-n service`
        on their command lines): the queue directory for a chrooted one, "/" otherwise."""
        roots = set()
        for pid in os.listdir("/proc"):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if b"-n" in argv and argv[argv.index(b"-n") + 1] == service.encode():
                    roots.add(os.readlink(f"/proc/{pid}/root"))
            except (OSError, ValueError, IndexError):
                continue
        return roots

    def wait_for_attempts(self, message_id: str, count: int, timeout: float = 30) -> list[Delivery]:
        """Wait until the message has had `count` delivery attempts; return them."""
        def attempts():
            qid = self.queue_id(message_id)
            found = self.deliveries(qid) if qid else []
            return found if len(found) >= count else None
        try:
            return wait_until(attempts, timeout, f"{count} delivery attempt(s) of {message_id}")
        except AssertionError as e:
            raise AssertionError(f"{e}; Postfix log tail:\n{self.log()[-3000:]}") from None


def _reap_group(pgid: int) -> list[int]:
    """Reap the exited children of process group pgid (ours since master's exit); return the
    PIDs still alive."""
    alive = []
    for pid in own_children():
        try:
            if os.getpgid(pid) != pgid:
                continue
        except ProcessLookupError:
            continue
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done == 0:
            alive.append(pid)
    return alive
