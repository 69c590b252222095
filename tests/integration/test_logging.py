"""mtastsd's own log (issue 6): with log_target = "file", one debug line per socketmap lookup
(domain, profile, answer, where it came from, latency) and one info line per policy change and
per failed fetch; SIGUSR1 (what logrotate sends after renaming the file) makes mtastsd write to a
new file at the path, losing nothing. With log_target = "syslog", the lines go to /dev/log with
facility mail, the level as priority, ident mtastsd and the PID: the test's own datagram socket
is /dev/log in a mount namespace of mtastsd's own (a tmpfs /dev holding the usual device nodes
and the socket; unshare and sh exec, so mtastsd keeps the PID it was started with)."""
import re
import signal
import socket
import threading

import pytest

import scenarios as sc
from rig.procs import wait_until

WAIT = 15
# lookup DOMAIN profile PROFILE: ANSWER[ REASON] (SOURCE, N us)
LOOKUP = re.compile(r"lookup (?P<domain>\S+) profile (?P<profile>\S+): (?P<answer>[a-z-]+)(?: (?P<reason>.*))? "
                    r"\((?P<source>[^()]*), (?P<us>\d+) us\)$")
FILE_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (?P<level>[a-z]+) (?P<message>.*)$")


def messages(path, level=None) -> list[str]:
    """The messages of the log file's lines (at `level` only, if given)."""
    out = []
    for line in path.read_text().splitlines():
        m = FILE_LINE.match(line)
        assert m, f"not a log line: {line!r}"
        if level is None or m["level"] == level:
            out.append(m["message"])
    return out


def lookups(lines: list[str], domain: str) -> list[re.Match]:
    return [m for m in map(LOOKUP.match, lines) if m and m["domain"] == domain]


def start_file_logged(start_mtastsd, tmp_path_factory, name: str, overrides: dict):
    """An mtastsd logging at debug to a file of its own (the rig's default is stderr)."""
    path = tmp_path_factory.mktemp(name) / "mtastsd.log"
    instance = start_mtastsd({"log_target": "file", "log_file": str(path), **overrides}, name=name)
    return instance, path


@pytest.fixture(scope="module")
def logged(start_mtastsd, tmp_path_factory):
    # No TXT re-checks in the test's time: a repeated lookup is a plain cache hit.
    return start_file_logged(start_mtastsd, tmp_path_factory, "log-file", {"cache": {"id_check_interval": "1h"}})


@pytest.fixture(scope="module")
def logged_rechecking(start_mtastsd, tmp_path_factory):
    # The rig's id_check_interval of 1 s: a changed TXT id is seen at once.
    return start_file_logged(start_mtastsd, tmp_path_factory, "log-change", {})


def test_one_debug_line_per_lookup(logged):
    mtastsd, path = logged
    domain = "log-file.example"
    for _ in range(3):
        assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    assert mtastsd.lookup("[192.0.2.7]:25", name="tlsrpt") == "NOTFOUND "
    # Each line is written before its reply is sent.
    lines = messages(path, "debug")
    found = lookups(lines, domain)
    assert [(m["profile"], m["answer"], m["source"]) for m in found] == [
        ("default", "secure", "cold"), ("default", "secure", "cache"), ("default", "secure", "cache")], found
    [literal] = lookups(lines, "[192.0.2.7]:25")
    assert (literal["profile"], literal["answer"], literal["source"]) == ("tlsrpt", "notfound", "not a domain")


def test_info_line_per_policy_change(logged_rechecking, rig):
    mtastsd, path = logged_rechecking
    domain = "log-change.example"
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    new_policy = sc.policy("testing", (f"new.{domain}",))
    rig.web.set_policy(domain, new_policy)
    rig.dns.set_txt(f"_mta-sts.{domain}", ["v=STSv1; id=lognew2;"])
    mtastsd.wait_for_answer(domain, "NOTFOUND ")  # testing mode: Postfix gets no policy
    changes = [line for line in messages(path, "info") if line.startswith(f"{domain}: policy changed")]
    assert changes == [
        f"{domain}: policy changed: id none -> logold1, mode enforce, max_age 86400, mx mail.{domain},*.mx.{domain}",
        f"{domain}: policy changed: id logold1 -> lognew2, mode testing, max_age 86400, mx new.{domain}",
    ], changes


def test_info_line_per_fetch_failure(logged):
    mtastsd, path = logged
    domain = "notfound404.example"
    assert mtastsd.lookup(domain) == "NOTFOUND "
    failures = [line for line in messages(path, "info") if line.startswith(f"{domain}:")]
    assert len(failures) == 1, failures
    assert re.fullmatch(rf"{re.escape(domain)}: policy fetch failed: sts-policy-fetch-error: .*404.* \(id nf1\)",
                        failures[0]), failures


def test_sigusr1_reopens_the_log_file(logged):
    mtastsd, path = logged
    rotated = path.with_name("mtastsd.log.1")
    path.rename(rotated)  # what logrotate does first
    mtastsd.process.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: path.exists() and messages(path), WAIT, "the new log file's first line")
    assert messages(path) == [f"log file {path} reopened"]
    domain = "log-rotate.example"
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    assert [m["source"] for m in lookups(messages(path), domain)] == ["cold"]
    assert lookups(messages(rotated), domain) == []
    # Nothing logged before the signal went missing: the earlier tests' lines are all in the old file.
    assert lookups(messages(rotated), "log-file.example")


class SyslogCollector:
    """A datagram socket standing in for /dev/log; a thread keeps reading it (a sender blocks
    once a few datagrams are queued, net.unix.max_dgram_qlen)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.datagrams: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            with self.lock:
                self.datagrams.append(data.decode(errors="replace"))

    def received(self) -> list[str]:
        with self.lock:
            return list(self.datagrams)

    def close(self):
        self.done.set()
        self.thread.join()
        self.sock.close()


# mtastsd's own /dev: a tmpfs with the host's usual nodes bound in, and the test's socket as log.
DEV_LOG_SCRIPT = r"""set -e
dir=$1; shift
mount --rbind /dev "$dir/host-dev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for node in null zero full random urandom; do
    touch "/dev/$node"; mount --bind "$dir/host-dev/$node" "/dev/$node"
done
touch /dev/log
mount --bind "$dir/log" /dev/log
exec "$@"
"""


@pytest.fixture(scope="module")
def syslog(tmp_path_factory):
    directory = tmp_path_factory.mktemp("syslog")
    (directory / "host-dev").mkdir()
    collector = SyslogCollector(directory / "log")
    yield directory, collector
    collector.close()  # after the module's mtastsd stopped: it logs until its end


@pytest.fixture(scope="module")
def syslogged(syslog, start_mtastsd):  # syslog first: its reader outlives the daemon
    directory, collector = syslog
    wrapper = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", DEV_LOG_SCRIPT, "dev-log",
               str(directory)]
    instance = start_mtastsd({"log_target": "syslog", "syslog_facility": "mail"}, name="log-syslog",
                             wrapper=wrapper)
    return instance, collector


# glibc syslog(3) over /dev/log: <PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE
SYSLOG = re.compile(r"^<(?P<pri>\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?P<tag>[^\[]+)\[(?P<pid>\d+)\]: "
                    r"(?P<message>.*)$", re.S)
LOG_MAIL = 2 << 3
LOG_DEBUG, LOG_INFO = 7, 6


def test_syslog_has_facility_mail_priorities_and_pid(syslogged):
    mtastsd, collector = syslogged
    domain = "log-syslog.example"
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)

    def parsed():
        out = [SYSLOG.match(d) for d in collector.received()]
        assert all(out), collector.received()
        return out
    lookup_lines = wait_until(lambda: [m for m in parsed() if LOOKUP.match(m["message"])
                                       and LOOKUP.match(m["message"])["domain"] == domain],
                              WAIT, "the lookup's datagram")
    change = wait_until(lambda: [m for m in parsed() if m["message"].startswith(f"{domain}: policy changed")],
                        WAIT, "the policy change's datagram")
    assert len(lookup_lines) == 1 and len(change) == 1
    assert int(lookup_lines[0]["pri"]) == LOG_MAIL | LOG_DEBUG
    assert int(change[0]["pri"]) == LOG_MAIL | LOG_INFO
    for m in parsed():
        assert (m["tag"], int(m["pid"])) == ("mtastsd", mtastsd.process.pid), m.group(0)
        assert int(m["pri"]) & ~7 == LOG_MAIL, m.group(0)
    # The level travels as the priority: the text is the message alone.
    assert change[0]["message"] == (f"{domain}: policy changed: id none -> logsys1, mode enforce, max_age 86400, "
                                    f"mx mail.{domain},*.mx.{domain}")
    assert "ready" in " ".join(m["message"] for m in parsed())  # the start-up lines came this way too
    assert mtastsd.log() == ""  # and none to stderr
