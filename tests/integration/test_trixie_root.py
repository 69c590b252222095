"""Checks of the Debian 13 root (rig/trixie.py) that the Postfix 3.10 stage of issues #3 and #4
stands on: the apt-sources reading that finds the mirror, the cache stamp, then in the built
root: Postfix is 3.10, its smtp(8) loads libtlsrpt, commands run read-only with per-test
resolv.conf and leave no mount behind, and a Postfix 3.10 instance started as a direct child
delivers a message to Postfix's own smtp-sink on loopback and stops on SIGTERM.

When this machine cannot build the root, the root-dependent tests are skipped with the reason,
printed past pytest's capture as "SKIPPED Postfix 3.10 stage: <reason>" (issue #3)."""
from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from rig import trixie
from rig.procs import Daemon, run, tcp_accepts, wait_until

SINK_ADDRESS = "127.0.3.10"  # smtp-sink, the receiving end of the delivery test
SINK_PORT = 2525
INSTANCE_DIR = "/srv"  # where a test's Postfix instance is bind-mounted inside the root


@pytest.fixture
def root(trixie_root) -> Path:
    """conftest.py's trixie_root: skips loudly when this machine cannot have the root."""
    return trixie_root


def in_root(root: Path, argv: list[str], resolv_conf: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    return run(trixie.chroot_command(root, argv, resolv_conf=resolv_conf), check=check)


# ---- without the root ----------------------------------------------------------------------------

def test_mirror_is_read_from_one_line_sources(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb-src http://src.invalid/debian bookworm main\n"
        "deb [ arch=amd64 signed-by=/k.gpg ] http://security.invalid/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://mirror.invalid/debian/ bookworm main contrib  # trailing comment\n")
    sources = trixie.apt_sources(tmp_path / "sources.list", tmp_path / "none")
    assert trixie.debian_mirror(sources, "bookworm") == "http://mirror.invalid/debian"


def test_mirror_is_read_from_deb822_sources_in_parts(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a-disabled.sources").write_text(
        "Types: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n")
    (tmp_path / "parts" / "b.sources").write_text(
        "Types: deb-src deb\n"
        "# a comment inside the stanza\n"
        "URIs: http://mirror.invalid/debian\n"
        "Suites: bookworm-updates\n"
        "  bookworm\n"
        "Components: main\n"
        "\n"
        "Types: deb\nURIs: http://other.invalid/debian\nSuites: bookworm\nComponents: main\n")
    (tmp_path / "parts" / "c.list.disabled").write_text("deb http://ignored.invalid/debian bookworm main\n")
    sources = trixie.apt_sources(tmp_path / "missing.list", tmp_path / "parts")
    assert trixie.debian_mirror(sources, "bookworm") == "http://mirror.invalid/debian"


def test_no_mirror_without_the_hosts_suite_and_main(tmp_path):
    (tmp_path / "sources.list").write_text(
        "deb http://updates.invalid/debian bookworm-updates main\n"
        "deb http://contrib.invalid/debian bookworm contrib\n"
        "deb file:/srv/local-archive bookworm main\n")
    sources = trixie.apt_sources(tmp_path / "sources.list", tmp_path / "none")
    assert trixie.debian_mirror(sources, "bookworm") is None


def test_root_counts_as_built_only_with_the_current_stamp(tmp_path):
    assert not trixie.is_built(tmp_path)
    (tmp_path / trixie.STAMP_NAME).write_text(trixie._stamp().replace("libtlsrpt0", "libtlsrpt1"))
    assert not trixie.is_built(tmp_path)
    (tmp_path / trixie.STAMP_NAME).write_text(trixie._stamp())
    assert trixie.is_built(tmp_path)


# ---- in the root ---------------------------------------------------------------------------------

def test_postfix_is_3_10(root):
    version = in_root(root, ["postconf", "-h", "-d", "mail_version"]).stdout.strip()
    assert version.startswith("3.10."), version


def test_smtp_loads_libtlsrpt_from_the_root(root):
    libraries = [p for p in (root / "usr/lib").glob("*/libtlsrpt.so.0") if p.resolve().is_file()]
    assert libraries, "libtlsrpt.so.0 is missing from the root"
    assert libraries[0].resolve().read_bytes()[:4] == b"\x7fELF"
    linked = in_root(root, ["ldd", "/usr/lib/postfix/sbin/smtp"]).stdout
    assert "libtlsrpt.so.0 => /lib/" in linked, linked


def test_commands_see_per_test_resolv_conf_and_a_read_only_root(root, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.3\n")
    shown = in_root(root, ["cat", "/etc/resolv.conf"], resolv_conf=resolv).stdout
    assert shown == "nameserver 127.0.0.3\n"
    write_etc = in_root(root, ["touch", "/etc/written-by-a-test"], check=False)
    assert write_etc.returncode != 0 and "Read-only file system" in write_etc.stderr
    assert in_root(root, ["touch", "/tmp/scratch"]).returncode == 0
    assert not (root / "etc/written-by-a-test").exists()


def test_commands_leave_no_mount_behind(root):
    in_root(root, ["true"])
    with open("/proc/self/mountinfo") as f:
        leftovers = [line for line in f if str(root) in line.split()[4]]
    assert leftovers == []


def test_bind_target_must_exist_in_the_root(root, tmp_path):
    with pytest.raises(ValueError):
        trixie.chroot_command(root, ["true"], binds={"/no-such-directory": tmp_path})


# ---- a Postfix 3.10 instance ---------------------------------------------------------------------

MAIN_CF = f"""\
compatibility_level = 3.10
queue_directory = {INSTANCE_DIR}/queue
data_directory = {INSTANCE_DIR}/data
maillog_file = {INSTANCE_DIR}/maillog
maillog_file_prefixes = {INSTANCE_DIR}
myhostname = sender310.example
mydestination =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
relayhost = [{SINK_ADDRESS}]:{SINK_PORT}
smtp_dns_support_level = disabled
"""


def _session_members(sid: int) -> list[int]:
    """PIDs whose session is sid: the master and every Postfix daemon it started."""
    members = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry))
    return members


def test_postfix_delivers_to_smtp_sink_and_stops_on_sigterm(root, tmp_path):
    instance = tmp_path / "instance"
    for sub in ("", "conf", "queue"):
        (instance / sub).mkdir(mode=0o755)
        (instance / sub).chmod(0o755)
    sink = instance / "sink"
    sink.mkdir()
    sink.chmod(0o1777)  # smtp-sink writes as nobody
    (instance / "conf/main.cf").write_text(MAIN_CF)
    (instance / "conf/master.cf").write_bytes((root / "etc/postfix/master.cf").read_bytes())
    binds = {INSTANCE_DIR: instance}
    conf = f"{INSTANCE_DIR}/conf"

    def postfix_command(argv):
        return trixie.chroot_command(root, argv, binds=binds)

    # No smtpd listener, nothing chrooted a second time (the queue is not a ready chroot).
    run(postfix_command(["postconf", "-c", conf, "-M#", "smtp/inet"]))
    run(postfix_command(["postconf", "-c", conf, "-F", "*/*/chroot = n"]))
    # What `postfix start-fg` does before the master: create the queue, check the install.
    run(postfix_command(["postfix", "-c", conf, "check"]))

    smtp_sink = Daemon("smtp-sink", postfix_command(
        ["smtp-sink", "-u", "nobody", "-d", f"{INSTANCE_DIR}/sink/%M.", f"{SINK_ADDRESS}:{SINK_PORT}", "10"]),
        tmp_path / "smtp-sink.log").start()
    # `postfix start-fg` would run the master as the child of a shell; run the master itself
    # (with the same -s) so that the PID we hold is the one SIGTERM stops.
    master = Daemon("postfix-3.10", postfix_command(["/usr/lib/postfix/sbin/master", "-c", conf, "-s"]),
                    tmp_path / "master.log").start()
    maillog = instance / "maillog"
    try:
        smtp_sink.wait_ready(lambda: tcp_accepts(SINK_ADDRESS, SINK_PORT))
        master.wait_ready(lambda: "daemon started -- version 3.10." in maillog.read_text())

        message_id = f"{uuid.uuid4().hex}@sender310.example"
        message = f"Message-ID: <{message_id}>\nSubject: trixie root check\n\nbody {message_id}\n"
        run(postfix_command(["sendmail", "-C", conf, "-f", "a@sender310.example", "b@receiver.example"]),
            input=message)
        queue_id = wait_until(lambda: next((l.split(": ")[1] for l in maillog.read_text().splitlines()
                                            if f"message-id=<{message_id}>" in l), None), 15, "cleanup to log the message")
        sent = f"{queue_id}: to=<b@receiver.example>, relay={SINK_ADDRESS}[{SINK_ADDRESS}]:{SINK_PORT}"
        delivery = wait_until(lambda: next((l for l in maillog.read_text().splitlines() if sent in l), None), 15,
                              f"the delivery of {queue_id} in {maillog}")
        assert "status=sent (250 " in delivery, delivery
        dumps = [p.read_text(errors="replace") for p in sink.iterdir()]
        assert len(dumps) == 1 and f"body {message_id}" in dumps[0]
        assert "X-Rcpt-Args: <b@receiver.example>" in dumps[0]
    finally:
        master_status = master.stop()
        smtp_sink.stop()
    assert master_status == -signal.SIGTERM  # the master re-raises the signal after ending its children
    wait_until(lambda: not _session_members(master.pid), 10, "every Postfix daemon to exit")
