"""A private Postfix instance as the sending MTA, in one of two generations (Generation):
Debian 12's Postfix 3.7 from this machine, or Debian 13's Postfix 3.10 run inside the cached
trixie root (rig/trixie.py). Either way the instance has its own config_directory,
queue_directory, data_directory and maillog_file under one test directory, is submitted to with
`sendmail -C`, inspected with `postqueue -c ... -j` and its own log. The driver is the same for
both; a generation only changes how a command is started and where Postfix sees the directory.

3.10 in the root: every command goes through trixie.chroot_command (its own mount namespace,
the root read-only), with the instance directory bind-mounted on /srv and this namespace's
/etc/resolv.conf (the rig's unbound) shown as the root's. The root's postfix user has other
uid/gid numbers than the host's, so files Postfix must own are created by Postfix's own
programs inside the root (`postfix check`), and mtastsd is reached over TCP loopback
(policy_tcp; the network namespace is shared) rather than through a socket whose group would
have to be the root's postfix group.

master(8) runs as a direct child in the foreground (`master -c DIR -s`) after `postfix -c DIR
check` has created the queue directories; `postfix start-fg` would instead leave master a child
of the postfix-script shell unless it is PID 1. The chroot wrapper execs, so the PID held is
master's. Stopped by PID: SIGTERM makes master pass the signal to its process group and exit,
and the daemons it leaves behind (now children of this subreaper) are waited for by PID.

Every service runs unchrooted (chroot column "n"), so smtp(8) uses the namespace's
/etc/resolv.conf (rig/resolver.py), except extra smtp services asked to run chrooted the Debian
way (SmtpService.chroot: the queue directory gets copies of etc/resolv.conf and friends, as
Debian's configure-instance.sh makes). With a unix socket (3.7), mtastsd listens inside the queue
directory and the map names its socket relative to it, which both kinds of smtp(8) reach. There
is no smtpd: nothing listens, and inet_interfaces = loopback-only keeps the receivers' 127.0.3.x
addresses from being "myself".

3.10 with TLS-RPT (trixie_3_10(root, tlsrpt=True)): smtp_tlsrpt_socket_name names mtastsd's
datagram socket relative to the queue directory, in a directory of its own there
(Postfix.tlsrpt_socket says why its permissions are what they are).

3.7 on the host opens files in data_directory (master.lock, prng_exch) as the postfix user by
absolute path, which pytest's private (0700) temp tree does not allow: its data_directory is a
directory of its own under /tmp, removed at stop. In the root only the bind-mounted instance
directory (made 0755) is on the path, so data_directory is inside it. Everything else is reached
as root or relative to the queue directory."""

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

from . import trixie
from .procs import Daemon, own_children, run, wait_until

POSTFIX_USER = "postfix"
SENDER = "sender@sender.example"
SOCKET_DIR = "mtastsd"                    # inside the queue directory
SOCKET_NAME = "socketmap.sock"
# mtastsd's libtlsrpt datagram socket for 3.10 with TLS-RPT on, inside the queue directory: named
# relative to it (smtp_tlsrpt_socket_name), smtp(8) reaches it chrooted or not.
TLSRPT_SOCKET_DIR = "tlsrpt"
TLSRPT_SOCKET_NAME = "tlsrpt.sock"
DAEMON_DIRECTORY = Path("/usr/lib/postfix/sbin")  # the same in Debian 12 and 13
ROOT_INSTANCE_DIR = "/srv"                # where the instance directory appears inside the root
RESOLV_CONF = Path("/etc/resolv.conf")    # this namespace's: the rig's unbound (rig/resolver.py)
CHROOT_FILES = ("etc/localtime", "etc/services", "etc/resolv.conf", "etc/hosts", "etc/host.conf",
                "etc/nsswitch.conf")
# Copies the files above (those that exist) into QUEUE/etc as the generation's programs see them.
POPULATE_CHROOT = ('queue=$1; shift; for f; do '
                   'if [ -f "/$f" ]; then cp "/$f" "$queue/$f"; chmod 644 "$queue/$f"; fi; done')


@dataclass(frozen=True)
class Generation:
    """Which Postfix runs an instance. root None: this machine's programs (Debian 12, 3.7);
    otherwise the Debian 13 root whose programs run chrooted in it (3.10). main_cf: lines
    appended to main.cf for this generation only. tlsrpt: smtp(8) sends libtlsrpt datagrams to
    TLSRPT_SOCKET_DIR/TLSRPT_SOCKET_NAME in the queue directory (Postfix >= 3.10)."""
    name: str
    compatibility_level: str
    root: Optional[Path] = None
    main_cf: str = ""
    tlsrpt: bool = False

    def root_group_id(self, name: str) -> int:
        """A group's id in the root's /etc/group, whose numbers are not the host's."""
        for line in (self.root / "etc/group").read_text().splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == name:
                return int(fields[2])
        raise LookupError(f"no group {name} in {self.root}/etc/group")

    def instance_dir(self, host_dir: Path) -> Path:
        """The instance directory as this generation's programs see it."""
        return Path(ROOT_INSTANCE_DIR) if self.root else host_dir

    def command(self, argv: list[str], host_dir: Path) -> list[str]:
        """argv that runs a Postfix program of this generation on the instance in host_dir."""
        if self.root is None:
            return list(argv)
        return trixie.chroot_command(self.root, argv, binds={ROOT_INSTANCE_DIR: host_dir}, resolv_conf=RESOLV_CONF)


def policy_map(profile: str, tcp: Optional[str] = None) -> str:
    """smtp_tls_policy_maps value asking mtastsd's `profile`: over TCP loopback ("ADDRESS:PORT"),
    or by a socket path relative to the queue directory, where smtp(8) runs chrooted or not."""
    if tcp:
        return f"socketmap:inet:{tcp}:{profile}"
    return f"socketmap:unix:{SOCKET_DIR}/{SOCKET_NAME}:{profile}"


MAIN_CF = """\
# A private Postfix instance for the end-to-end tests (rig/postfix.py).
compatibility_level = {compatibility_level}
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
smtp_tls_CAfile = {dir}/{ca_name}
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
{generation_lines}"""

MAIN_CF_3_10 = """\
# Postfix 3.10: TLS-RPT collection off (test_tlsrpt_e2e.py turns it on); the TLSRPT policy
# attributes are parsed either way, and smtp_tls_enforce_sts_mx_patterns (default yes) uses them.
smtp_tlsrpt_enable = no
"""

MAIN_CF_3_10_TLSRPT = f"""\
# Postfix 3.10 with TLS-RPT: every TLS result goes to mtastsd's datagram socket, named relative
# to the queue directory so that a chrooted smtp(8) finds it too.
smtp_tlsrpt_enable = yes
smtp_tlsrpt_socket_name = {TLSRPT_SOCKET_DIR}/{TLSRPT_SOCKET_NAME}
"""

HOST_3_7 = Generation("3.7", compatibility_level="3.6")


def trixie_3_10(root: Path, tlsrpt: bool = False) -> Generation:
    """Debian 13's Postfix in the built root (conftest.py's trixie_root); tlsrpt: with TLS-RPT on."""
    return Generation("3.10", compatibility_level="3.10", root=root,
                      main_cf=MAIN_CF_3_10_TLSRPT if tlsrpt else MAIN_CF_3_10, tlsrpt=tlsrpt)


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
    """An extra smtp(8) service in master.cf: its -o overrides, the mtastsd profile its
    smtp_tls_policy_maps asks instead of main.cf's (reached the same way), whether it runs
    chrooted in the queue directory, as Debian's does, and its process limit (None: Postfix's
    default; 1: every delivery through it is made by the same process while that lives)."""
    overrides: dict[str, str] = field(default_factory=dict)
    profile: Optional[str] = None
    chroot: bool = False
    maxproc: Optional[int] = None


class Postfix:
    def __init__(self, directory: Path, ca_file: Path, generation: Generation = HOST_3_7, profile: str = "default",
                 transports: Optional[dict[str, SmtpService]] = None, policy_tcp: Optional[str] = None):
        """directory: the instance's directory on this host (created here).
        profile: the mtastsd profile main.cf's smtp_tls_policy_maps names.
        transports: extra smtp(8) services {name: service}; route domains to them with route().
        policy_tcp: reach mtastsd on this loopback "ADDRESS:PORT" instead of the socket in the
        queue directory (policy_socket); required in the root, whose postfix group is not ours."""
        if generation.root is not None and not policy_tcp:
            raise ValueError(f"Postfix {generation.name} in {generation.root} needs policy_tcp: a socket's group "
                             "would be this host's postfix group, not the root's")
        self.generation = generation
        self.dir = directory
        self.config_dir = directory / "etc"
        self.queue_dir = directory / "queue"
        self.maillog = directory / "maillog"
        self.ca_file = ca_file
        self.profile = profile
        self.transports = transports or {}
        self.policy_tcp = policy_tcp
        self.routes: dict[str, str] = {}
        self.data_dir: Optional[Path] = None
        self.master: Optional[Daemon] = None
        # The same directories as the generation's programs see them (the arguments they get).
        self.inside = generation.instance_dir(directory)
        self.inside_config_dir = self.inside / "etc"

    @property
    def policy_socket(self) -> Path:
        """Where mtastsd must listen (group postfix, mode 0660), unless policy_tcp is given."""
        return self.queue_dir / SOCKET_DIR / SOCKET_NAME

    @property
    def tlsrpt_socket(self) -> Path:
        """Where mtastsd must receive libtlsrpt datagrams (generation.tlsrpt): a socket of mode
        0666 in a directory that only root and the generation's postfix group may enter
        (prepare()). The root's postfix group has another id than any host group mtastsd could
        be told by name, so the directory, made here by number, is what keeps others out: the
        way Postfix's own public/ directory guards its sockets."""
        return self.queue_dir / TLSRPT_SOCKET_DIR / TLSRPT_SOCKET_NAME

    def policy_map(self, profile: str) -> str:
        return policy_map(profile, self.policy_tcp)

    def route(self, domain: str, transport: str) -> None:
        """Send mail for domain through one of the extra transports (before prepare())."""
        assert transport in self.transports
        self.routes[domain] = transport

    # ---- set-up ----
    def prepare(self) -> "Postfix":
        """Write the configuration, create the queue (postfix check) and, without policy_tcp,
        mtastsd's socket directory. mtastsd starts after this and before start()."""
        self.dir.mkdir(mode=0o755)
        self.dir.chmod(0o755)  # in the root, Postfix's users reach data_directory through it
        self.config_dir.mkdir()
        self.queue_dir.mkdir(mode=0o755)  # root's; postfix check creates what is inside
        if self.generation.root is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="mtastsd-it-postfix-data-"))
            shutil.chown(self.data_dir, POSTFIX_USER)
            data_dir = self.data_dir
        else:
            data_dir = self.inside / "data"  # made by postfix check, owned by the root's postfix user
        ca_name = "ca.pem"
        shutil.copyfile(self.ca_file, self.dir / ca_name)
        transport_maps = ""
        if self.routes:
            pairs = ", ".join(f"{domain}={transport}:" for domain, transport in sorted(self.routes.items()))
            transport_maps = f"transport_maps = inline:{{ {pairs} }}\n"
        (self.config_dir / "main.cf").write_text(MAIN_CF.format(
            compatibility_level=self.generation.compatibility_level, dir=self.inside, data_dir=data_dir,
            policy_map=self.policy_map(self.profile), ca_name=ca_name, transport_maps=transport_maps,
            generation_lines=self.generation.main_cf))
        master_cf = MASTER_CF
        for name, service in self.transports.items():
            chroot, maxproc = "y" if service.chroot else "n", service.maxproc or "-"
            master_cf += f"{name:<10} unix  -       -      {chroot}      -      {maxproc}       smtp\n"
            # Its log lines read postfix/<name>/smtp[PID].
            overrides = {"syslog_name": f"postfix/{name}", **service.overrides}
            if service.profile:
                overrides["smtp_tls_policy_maps"] = self.policy_map(service.profile)
            master_cf += "".join(f"  -o {parameter}={value}\n" for parameter, value in overrides.items())
        (self.config_dir / "master.cf").write_text(master_cf)
        if any(service.chroot for service in self.transports.values()):
            self._populate_chroot()
        self.postfix("check")
        if not self.policy_tcp:
            socket_dir = self.policy_socket.parent
            socket_dir.mkdir(mode=0o750)
            shutil.chown(socket_dir, "root", POSTFIX_USER)
        if self.generation.tlsrpt:
            socket_dir = self.tlsrpt_socket.parent
            socket_dir.mkdir(mode=0o750)
            os.chown(socket_dir, 0, self.generation.root_group_id(POSTFIX_USER))
        return self

    def set(self, **parameters: str) -> None:
        """Change main.cf parameters with Postfix's own `postconf -e` (before start())."""
        self.command(["postconf", "-c", str(self.inside_config_dir), "-e",
                      *(f"{name}={value}" for name, value in parameters.items())])

    def _populate_chroot(self) -> None:
        """What Debian's /usr/lib/postfix/configure-instance.sh copies into the queue directory
        for chrooted services: the files the resolver and service lookups read, as the
        generation's own programs see them (in the root: its files, this namespace's resolv.conf)."""
        (self.queue_dir / "etc").mkdir()
        self.command(["sh", "-c", POPULATE_CHROOT, "populate-chroot", str(self.inside / "queue"), *CHROOT_FILES])

    def start(self) -> "Postfix":
        argv = self.generation.command([str(DAEMON_DIRECTORY / "master"), "-c", str(self.inside_config_dir), "-s"],
                                       self.dir)
        self.master = Daemon(f"postfix-{self.generation.name}-master", argv, self.dir / "master.out").start()
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
        """Run a program of this instance's generation (in the root for 3.10); fail on exit != 0."""
        result = run(self.generation.command(argv, self.dir), check=False, **kw)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
                                 f"Postfix log tail:\n{self.log()[-2000:]}")
        return result

    def postfix(self, *args: str) -> subprocess.CompletedProcess:
        return self.command(["postfix", "-c", str(self.inside_config_dir), *args])

    def postconf(self, parameter: str) -> str:
        """The parameter's value in this instance (default or set)."""
        return self.command(["postconf", "-c", str(self.inside_config_dir), "-h", parameter]).stdout.strip()

    def send(self, recipient: str, message_id: str, subject: str = "mtastsd end-to-end test",
             also_to: tuple[str, ...] = ()) -> None:
        """One message to recipient and the also_to addresses (one envelope)."""
        recipients = (recipient, *also_to)
        message = (f"From: {SENDER}\nTo: {', '.join(recipients)}\nSubject: {subject}\nMessage-ID: {message_id}\n\n"
                   f"Sent by the mtastsd integration tests.\n")
        self.command(["sendmail", "-C", str(self.inside_config_dir), "-f", SENDER, *recipients], input=message)

    def queue(self) -> list[dict]:
        """`postqueue -j`: one object per queued message (queue_name, queue_id, recipients...)."""
        out = self.command(["postqueue", "-c", str(self.inside_config_dir), "-j"]).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def queued(self, qid: str) -> Optional[dict]:
        return next((m for m in self.queue() if m["queue_id"] == qid), None)

    def flush(self) -> None:
        """postqueue -f: retry all deferred mail now, dead destinations included."""
        self.command(["postqueue", "-c", str(self.inside_config_dir), "-f"])

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

    def service_roots(self, service: str) -> set[tuple[int, int]]:
        """The root directories, as file_identity(), of this instance's running processes of a
        master.cf service (`-n service` on their command lines, in master's process group):
        the queue directory's for a chrooted one. Compared by identity because a process in the
        root's mount namespace names its root by a path of that namespace."""
        roots = set()
        for pid in os.listdir("/proc"):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if (b"-n" in argv and argv[argv.index(b"-n") + 1] == service.encode()
                        and os.getpgid(int(pid)) == self.master.pid):
                    roots.add(file_identity(Path(f"/proc/{pid}/root")))
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


def file_identity(path: Path) -> tuple[int, int]:
    """(device, inode) of what path names: the same through a bind mount or another namespace."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


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
