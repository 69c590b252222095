"""The daemon's life under a service manager (issue 6): SIGHUP reloads the configuration in the same
process without refusing a connection (a file with problems, or one whose services cannot start,
keeps the previous configuration and says why), sd_notify messages for a Type=notify unit
(READY, RELOADING, STOPPING, WATCHDOG), a root start that drops to the configured user after
binding (every thread), and a stop signal that arrives during a reload is not lost."""
import grp
import os
import pwd
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

import pytest

import scenarios as sc
from rig.mtastsd import Mtastsd, merge, to_toml
from rig.procs import wait_until
from test_report_delivery import dkim_key

TESTING_DOMAIN = "testing.example"  # mode testing: NOTFOUND by default, secure under testing = "enforce"


def rewrite_config(instance, overrides: dict) -> None:
    instance.config = merge(instance.config, overrides)
    instance.config_file.write_text(to_toml(instance.config))


def reloads_in_log(instance) -> int:
    return instance.log().count("mtastsd reloaded")


def test_sighup_applies_the_new_configuration_without_refusing_lookups(start_mtastsd):
    instance = start_mtastsd(name="reload")
    domain = "valid.example"
    assert instance.lookup(domain) == sc.secure_answer(domain)
    assert instance.lookup(TESTING_DOMAIN, name="late-profile") == "NOTFOUND "  # unknown map name: default

    # Lookups all through the reload: every one is answered (the listening socket stays open).
    stop, replies, failures = threading.Event(), [], []

    def hammer():
        # Like Postfix's socketmap client (dict_sockmap.c: "We retry connection-level errors once,
        # to make server restarts transparent"): a connection closed under it is retried once.
        while not stop.is_set():
            try:
                replies.append(instance.lookup(domain, timeout=15))
            except OSError:
                try:
                    replies.append(instance.lookup(domain, timeout=15))
                except OSError as e:
                    failures.append(repr(e))
    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        wait_until(lambda: len(replies) >= 20, 10, "lookups before the reload")
        rewrite_config(instance, {"profiles": {"late-profile": {"testing": "enforce"}}})
        instance.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads_in_log(instance) == 1, 20, "the reload")
        count = len(replies)
        wait_until(lambda: len(replies) >= count + 20, 10, "lookups after the reload")
    finally:
        stop.set()
        worker.join(20)
    assert not failures, failures[:3]
    assert set(replies) == {sc.secure_answer(domain)}
    assert instance.lookup(TESTING_DOMAIN, name="late-profile") == sc.secure_answer(TESTING_DOMAIN)
    assert instance.process.running()


def test_sighup_with_a_broken_file_keeps_the_running_configuration(start_mtastsd):
    instance = start_mtastsd({"profiles": {"kept": {"testing": "enforce"}}}, name="reload-broken")
    good = instance.config_file.read_text()
    instance.config_file.write_text(good + "\n[metrics]\nno_such_key = 1\n")
    instance.process.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "still running with the previous one" in instance.log(), 20, "the refused reload")
    log = instance.log()
    assert "unknown key 'metrics.no_such_key'" in log
    assert reloads_in_log(instance) == 0
    assert instance.lookup(TESTING_DOMAIN, name="kept") == sc.secure_answer(TESTING_DOMAIN)

    # A file that loads but whose services cannot start (a trust anchor that does not exist).
    broken = merge(instance.config, {"dns": {"trust_anchor_file": str(instance.dir / "absent.key")}})
    instance.config_file.write_text(to_toml(broken))
    instance.process.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "going back to the previous one" in instance.log(), 20, "the failed start")
    wait_until(lambda: reloads_in_log(instance) == 0 and instance.log().count("mtastsd ready") == 2, 20,
               "the previous configuration running again")
    assert instance.lookup(TESTING_DOMAIN, name="kept") == sc.secure_answer(TESTING_DOMAIN)
    assert instance.lookup("valid.example") == sc.secure_answer("valid.example")


def test_reload_keeps_what_needs_a_restart(start_mtastsd, tmp_path):
    instance = start_mtastsd(name="reload-restart-keys")
    rewrite_config(instance, {"state_dir": str(tmp_path / "elsewhere")})
    instance.process.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: reloads_in_log(instance) == 1, 20, "the reload")
    assert "state_dir changed" in instance.log() and "takes a restart" in instance.log()
    assert not (tmp_path / "elsewhere").exists()
    assert instance.lookup("valid.example") == sc.secure_answer("valid.example")


class NotifySocket:
    """The service manager's end of sd_notify(3): a unix datagram socket collecting messages."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def receive_until(self, predicate, timeout: float, what: str) -> list[str]:
        def attempt():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
            return self.messages if predicate(self.messages) else None
        return wait_until(attempt, timeout, what)

    def close(self):
        self.sock.close()


def has(messages, field: str) -> int:
    return sum(1 for m in messages if field in m.split("\n"))


def test_sd_notify_ready_reloading_stopping_and_watchdog(start_mtastsd, tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        # WatchdogSec=1s: keep-alives every half second.
        instance = start_mtastsd(name="notify", env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
        notify.receive_until(lambda m: has(m, "READY=1") == 1, 20, "READY=1")
        assert any(m.startswith("READY=1\nSTATUS=answering on") for m in notify.messages), notify.messages
        notify.receive_until(lambda m: has(m, "WATCHDOG=1") >= 3, 10, "watchdog keep-alives")

        instance.process.proc.send_signal(signal.SIGHUP)
        messages = notify.receive_until(lambda m: has(m, "READY=1") == 2, 20, "READY=1 after the reload")
        reloading = [i for i, m in enumerate(messages) if "RELOADING=1" in m.split("\n")]
        ready = [i for i, m in enumerate(messages) if "READY=1" in m.split("\n")]
        assert len(reloading) == 1 and ready[0] < reloading[0] < ready[1], messages

        assert instance.stop() == 0
        notify.receive_until(lambda m: has(m, "STOPPING=1") == 1, 5, "STOPPING=1")
    finally:
        notify.close()


@pytest.fixture
def open_directory():
    """A state directory user nobody can reach (pytest's own temporary directories are 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="mtastsd-drop-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ids(status: str, field: str) -> list[int]:
    """Real, effective, saved and file-system ids of a /proc/.../status "Uid:" or "Gid:" line."""
    return [int(n) for n in next(line for line in status.splitlines() if line.startswith(f"{field}:")).split()[1:]]


def test_root_start_drops_to_the_configured_user(rig, open_directory):
    nobody = pwd.getpwnam("nobody")
    # Files it reads after the drop (at start and at each reload) must be readable by it.
    anchor, ca = open_directory / "root.anchor", open_directory / "ca.pem"
    shutil.copy(rig.dns.anchor_file, anchor)
    shutil.copy(rig.ca_file, ca)
    # The DKIM key of report sending (which starts the sender's worker thread): root's, readable
    # by nobody through its group, as the permission check at start-up asks.
    key, _ = dkim_key(open_directory)
    os.chown(key, 0, nobody.pw_gid)
    key.chmod(0o640)
    reports = {"organization_name": "Sender Org", "contact_info": "mailto:tls@sender.example",
               "submitter": "sender.example", "dkim_key_file": str(key), "dkim_selector": "s1"}
    # The socket goes to group daemon, which nobody is not in: only root can do that, at the start.
    daemon_gid = grp.getgrnam("daemon").gr_gid
    instance = Mtastsd(rig, open_directory, {
        "user": "nobody", "dns": {"trust_anchor_file": str(anchor)}, "fetch": {"ca_file": str(ca)},
        "listen": [{"unix": str(open_directory / "socketmap.sock"), "mode": "0660", "group": "daemon"}],
        "tlsrpt": reports})
    Mtastsd.running.append(instance)
    try:
        instance.start()
        # An answer means the start is over: the socket accepts (into its backlog) from the bind
        # on, before the drop and the cache.
        domain = "valid.example"
        assert instance.lookup(domain) == sc.secure_answer(domain)
        # The sockets and the state belong to it; the cache takes writes (a cold lookup is stored).
        assert os.stat(instance.socket).st_uid == nobody.pw_uid
        assert os.stat(instance.socket).st_gid == daemon_gid
        assert os.stat(instance.dir / "cache" / "cache.mdb").st_uid == nobody.pw_uid
        assert instance.cache_show(domain)["policy_id"] == "valid1"
        assert "running as user nobody" in instance.log()
        assert "DKIM key file" not in instance.log()  # no permission finding
        # Every thread, the resolver's (running since the lookup) and the report sender's worker
        # included, has only nobody's ids (Linux keeps credentials per thread).
        task_dir = Path(f"/proc/{instance.process.pid}/task")
        tasks = {task.name: (task / "status").read_text() for task in task_dir.iterdir()}
        assert len(tasks) >= 3, tasks.keys()
        for status in tasks.values():
            assert ids(status, "Uid") == [nobody.pw_uid] * 4, status
            assert ids(status, "Gid") == [nobody.pw_gid] * 4, status
        # A reload, without root by now, keeps the socket root gave to group daemon.
        instance.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads_in_log(instance) == 1, 20, "the reload")
        assert os.stat(instance.socket).st_gid == daemon_gid
        assert instance.lookup(domain) == sc.secure_answer(domain)
        assert instance.stop() == 0
    finally:
        instance.stop()
        Mtastsd.running.remove(instance)


def test_stop_signal_during_a_reload_is_not_lost(start_mtastsd):
    instance = start_mtastsd(name="reload-stop")
    proc = instance.process.proc
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "mtastsd stopped" in instance.log()
