"""TLS-RPT collection and aggregation (issue #4), seen through `mtastsctl report show --json`
(the report JSON itself is checked against the RFC 8460 schema by core_tests):

- datagrams from the real client library, Debian 13's libtlsrpt0, run inside the cached
  Debian 13 root (rig/trixie.py) by tlsrpt_client.c, sent to mtastsd's socket bind-mounted
  into the root; skipped loudly where the root cannot be had;
- mtastsd's own policy outcome: sessions to a domain whose policy cannot be fetched although
  its TXT record is valid fail with sts-policy-fetch-error (RFC 8461 sec. 6);
- malformed datagrams are counted and logged at most once per 10 s, and harm nothing;
- kill -9: whatever the store showed before the kill is there, exactly, after the restart;
- Postfix 3.7 log lines (the format the Postfix 3.7 end-to-end rig produces) followed across a
  rename rotation and a restart become the same counts, each session once.

The client is compiled on this machine against the root's libtlsrpt.so.0 and runs in the root,
where the dynamic loader takes the library from the root: what is tested is Debian's binary.
Times in reports are UTC days: a run across midnight UTC can fail."""
from __future__ import annotations

import datetime as dt
import functools
import json
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Optional

import pytest

import scenarios as sc
from rig import trixie
from rig.procs import run, wait_until

HERE = Path(__file__).parent
CLIENT_SOURCE = HERE / "tlsrpt_client.c"
ORIGIN = {"organization_name": "mtastsd integration tests", "contact_info": "tlsrpt@sender.example",
          "submitter": "sender.example"}
STS_STRINGS = ["version: STSv1", "mode: enforce"]  # what tlsrpt_client.c and datagram() send


def utc_day() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


# ---- reading the counts ---------------------------------------------------------------------------

def reports(mtastsd, domain: str) -> list[dict]:
    """`report show --json` of today; [] when nothing is counted."""
    result = mtastsd.ctl("report", "show", utc_day(), domain, "--json")
    if result.returncode == 1:
        return []
    assert result.returncode == 0, f"report show {domain}: exit {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def counts(mtastsd, domain: str) -> dict[str, tuple[int, int]]:
    """{policy-type: (successful, failed)} over the domain's reports of today."""
    out: dict[str, tuple[int, int]] = {}
    for entry in reports(mtastsd, domain):
        for p in entry["report"]["policies"]:
            ok, failed = out.get(p["policy"]["policy-type"], (0, 0))
            out[p["policy"]["policy-type"]] = (ok + p["summary"]["total-successful-session-count"],
                                               failed + p["summary"]["total-failure-session-count"])
    return out


def wait_for_counts(mtastsd, domain: str, expected: dict, timeout: float = 20.0) -> None:
    """Until the counts are exactly `expected` (sessions are committed once a second)."""
    seen: list = []

    def attempt():
        seen.append(counts(mtastsd, domain))
        return seen[-1] == expected
    try:
        wait_until(attempt, timeout, f"TLS-RPT counts of {domain} to be {expected}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last counts: {seen[-1] if seen else None}") from None


def policy_of(mtastsd, domain: str, policy_type: str) -> dict:
    [policy] = [p for r in reports(mtastsd, domain) for p in r["report"]["policies"]
                if p["policy"]["policy-type"] == policy_type]
    return policy


def log_lines(mtastsd, text: str) -> list[str]:
    return [line for line in mtastsd.log().splitlines() if text in line]


# ---- datagrams made here (libtlsrpt's format; the real library is test 1) ----------------------

def datagram(domain: str, policy_type: int = 2, failed: bool = False, **top) -> bytes:
    """One session as libtlsrpt 0.5.0 writes it (with "dpv"); `top` replaces top-level members."""
    policy = {"policy-type": policy_type, "policy-domain": domain, "t": 0, "f": int(failed)}
    if policy_type == 2:
        policy.update({"policy-string": STS_STRINGS, "mx-host": ["*.mx.example"]})
    if failed:
        policy.update({"failure-details": [{"c": 202, "n": "mx1.mx.example", "r": "198.51.100.7"}], "t": 1})
    message = {"dpv": "1", "d": domain, "pr": sc.tlsrpt_record(domain), "policies": [policy], **top}
    return json.dumps(message).encode()


def send(socket_path: Path, datagrams: list[bytes]) -> None:
    """Blocking sends: a full socket queue waits instead of dropping (exact counts)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for d in datagrams:
            s.sendto(d, str(socket_path))


def tlsrpt_socket(mtastsd) -> Path:
    return mtastsd.dir / "tlsrpt.sock"  # runtime_dir/tlsrpt.sock, the default


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    return start_mtastsd({"tlsrpt": ORIGIN}, name="tlsrpt")


# ---- 1. the real libtlsrpt client ----------------------------------------------------------------

@functools.cache
def _root_or_reason() -> Path | str:
    ok, reason = trixie.availability()
    if not ok:
        return reason
    try:
        return trixie.ensure_trixie_root()
    except trixie.TrixieUnavailable as e:
        return str(e)


@pytest.fixture
def trixie_root(capsys) -> Path:
    with capsys.disabled():  # past pytest's capture: nobody misses the reason
        found = _root_or_reason()
        if isinstance(found, str):
            print(f"\nSKIPPED libtlsrpt0 client (Debian 13 root): {found}", file=sys.stderr)
    if isinstance(found, str):
        pytest.skip(f"libtlsrpt0 client (Debian 13 root): {found}")
    return found


def build_client(root: Path, directory: Path) -> None:
    """tlsrpt_client.c linked against the root's libtlsrpt.so.0, into `directory`."""
    libraries = sorted(root.glob("usr/lib/*/libtlsrpt.so.0"))
    assert libraries, f"no libtlsrpt.so.0 in {root} (package libtlsrpt0)"
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "a C compiler is needed for tlsrpt_client.c (it builds mtastsd too)"
    run([compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", str(directory / "tlsrpt_client"),
         str(CLIENT_SOURCE), str(libraries[0])])


def run_client(root: Path, mtastsd, domain: str, successes: int, failures: int, no_policy: int) -> None:
    argv = ["/srv/tlsrpt_client", f"/srv/{tlsrpt_socket(mtastsd).name}", domain, sc.tlsrpt_record(domain),
            str(successes), str(failures), str(no_policy)]
    result = run(trixie.chroot_command(root, argv, binds={"/srv": mtastsd.dir}), timeout=60, check=False)
    assert result.returncode == 0, f"tlsrpt_client: exit {result.returncode}: {result.stderr}"
    assert result.stdout.strip() == f"sent {successes + failures + no_policy}"


def test_sessions_from_the_real_libtlsrpt_client_are_counted(mtastsd, trixie_root):
    build_client(trixie_root, mtastsd.dir)
    run_client(trixie_root, mtastsd, "rpt-lib.example", successes=5, failures=3, no_policy=2)
    wait_for_counts(mtastsd, "rpt-lib.example", {"sts": (5, 3), "no-policy-found": (2, 0)})

    [entry] = reports(mtastsd, "rpt-lib.example")
    assert entry["rua"] == ["mailto:tlsrpt@rpt-lib.example"]
    report = entry["report"]
    assert (report["organization-name"], report["contact-info"]) == (ORIGIN["organization_name"],
                                                                     ORIGIN["contact_info"])
    assert report["date-range"] == {"start-datetime": f"{utc_day()}T00:00:00Z",
                                    "end-datetime": f"{utc_day()}T23:59:59Z"}
    sts = policy_of(mtastsd, "rpt-lib.example", "sts")
    assert sts["policy"] == {"policy-type": "sts", "policy-string": STS_STRINGS, "policy-domain": "rpt-lib.example",
                             "mx-host": ["*.mx.example"]}
    # Every field the client gave, counted once per distinct detail.
    assert sts["failure-details"] == [{
        "result-type": "certificate-host-mismatch", "sending-mta-ip": "192.0.2.1",
        "receiving-mx-hostname": "mx1.mx.example", "receiving-mx-helo": "mx1.mx.example ESMTP",
        "receiving-ip": "198.51.100.7", "failed-session-count": 3,
        "additional-information": "https://sender.example/why", "failure-reason-code": "hostname mismatch"}]
    none = policy_of(mtastsd, "rpt-lib.example", "no-policy-found")
    assert none["policy"] == {"policy-type": "no-policy-found", "policy-domain": "rpt-lib.example"}
    assert none["failure-details"] == []
    assert not log_lines(mtastsd, "malformed TLS-RPT datagram")

    listed = {(e["day"], e["domain"]): e for e in mtastsd.ctl_json("report", "list")}
    assert listed[(utc_day(), "rpt-lib.example")]["successful"] == 7
    assert listed[(utc_day(), "rpt-lib.example")]["failed"] == 3


# ---- 2. mtastsd's own policy outcome (RFC 8461 sec. 6) -------------------------------------------

def test_sessions_while_the_policy_cannot_be_fetched_fail(mtastsd):
    domain = "rpt-fetchfail.example"
    assert mtastsd.lookup(domain) == "NOTFOUND "  # valid TXT record, the policy is a 404
    mtastsd.wait_for_entry(domain, lambda e: e["failure"] == "sts-policy-fetch-error", what="the failed fetch")
    # Postfix was told NOTFOUND and reports successful sessions without a policy.
    send(tlsrpt_socket(mtastsd), [datagram(domain, policy_type=9) for _ in range(4)])
    wait_for_counts(mtastsd, domain, {"sts": (0, 4)})
    sts = policy_of(mtastsd, domain, "sts")
    assert sts["policy"] == {"policy-type": "sts", "policy-domain": domain}
    [detail] = sts["failure-details"]
    assert detail["result-type"] == "sts-policy-fetch-error" and detail["failed-session-count"] == 4
    assert "404" in detail["failure-reason-code"]


# ---- 3. malformed datagrams ----------------------------------------------------------------------

MALFORMED_LINE = re.compile(r"malformed TLS-RPT datagram: (.*) \((\d+) in total\)")


def test_malformed_datagrams_are_counted_logged_rate_limited_and_harmless(start_mtastsd):
    mtastsd = start_mtastsd({"tlsrpt": ORIGIN}, name="tlsrpt-malformed")
    path = tlsrpt_socket(mtastsd)
    send(path, [b"not json"])
    wait_until(lambda: log_lines(mtastsd, "malformed TLS-RPT datagram"), 10, "the first malformed datagram's line")
    [first] = log_lines(mtastsd, "malformed TLS-RPT datagram")
    assert MALFORMED_LINE.search(first).groups() == ("not a JSON object: not json", "1")

    # Within the 10 s window: counted, summed up in one line when it closes.
    bad = [b"x" * 70000,                                              # above the 64 KiB cap
           datagram("rpt-lib.example", dpv="2"),                      # unknown protocol version
           json.dumps({"dpv": "1", "d": "rpt-lib.example", "pr": "v=TLSRPTv1; rua=mailto:a@b.example"}).encode(),
           datagram("rpt-lib.example", d="not a domain!")]
    send(path, bad)
    # The daemon goes on serving Postfix and counting good datagrams meanwhile.
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")
    send(path, [datagram("rpt-lib.example")])
    wait_for_counts(mtastsd, "rpt-lib.example", {"sts": (1, 0)})
    summary = wait_until(lambda: log_lines(mtastsd, "4 more in the last 10 s"), 15, "the rate-limited summary")
    assert "(5 in total)" in summary[0] and "latest: member value out of range" in summary[0], summary
    assert len(log_lines(mtastsd, "malformed TLS-RPT datagram")) == 2  # one line per window
    assert mtastsd.process.running()


# ---- 4. kill -9 ------------------------------------------------------------------------------------

def test_counts_committed_before_a_kill9_survive_it_exactly(start_mtastsd):
    mtastsd = start_mtastsd({"tlsrpt": ORIGIN}, name="tlsrpt-kill9")
    domain = "rpt-lib.example"
    send(tlsrpt_socket(mtastsd), [datagram(domain) for _ in range(300)] +
         [datagram(domain, failed=True) for _ in range(100)])
    wait_for_counts(mtastsd, domain, {"sts": (300, 100)})  # committed: the store shows them

    # A burst, and the kill right behind it: at most these may be lost.
    send(tlsrpt_socket(mtastsd), [datagram(domain) for _ in range(50)])
    mtastsd.kill9()
    mtastsd.start()
    successful, failed = counts(mtastsd, domain)["sts"]
    assert 300 <= successful <= 350 and failed == 100, (successful, failed)

    # Counting goes on on top of what survived.
    send(tlsrpt_socket(mtastsd), [datagram(domain, failed=True)])
    wait_for_counts(mtastsd, domain, {"sts": (successful, 101)})


# ---- 5. Postfix 3.7 log lines -----------------------------------------------------------------------

class MailLog:
    """Lines in the format of Postfix 3.7's smtp(8) at smtp_tls_loglevel = 1, as the Postfix 3.7
    end-to-end rig's maillog shows them (syslog prefix "Mon DD HH:MM:SS host")."""
    CIPHER = ("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature "
              "ECDSA (prime256v1) server-digest SHA256")

    def __init__(self, path: Path):
        self.path = path
        self.queue_id = 0x4D6C3A7E3B2

    def write(self, lines: list[str], path: Optional[Path] = None) -> None:
        with open(path or self.path, "a") as f:
            f.writelines(line + "\n" for line in lines)

    def _prefix(self, pid: int) -> str:
        return f"{dt.datetime.now().strftime('%b %d %H:%M:%S')} sender postfix/smtp[{pid}]: "

    def _delivery(self, pid: int, domain: str, host: str, address: str, status: str) -> str:
        self.queue_id += 1
        dsn = "2.0.0" if status.startswith("sent") else "4.7.5"
        return (f"{self._prefix(pid)}{self.queue_id:X}: to=<user@{domain}>, relay={host}[{address}]:25, delay=0.22, "
                f"delays=0.07/0.13/0.02/0, dsn={dsn}, status={status}")

    def verified(self, domain: str, pid: int = 12531) -> list[str]:
        host = f"mail.{domain}"
        return [f"{self._prefix(pid)}Verified TLS connection established to {host}[127.0.3.1]:25: {self.CIPHER}",
                self._delivery(pid, domain, host, "127.0.3.1", "sent (250 2.0.0 Ok: stored)")]

    def untrusted_delivered(self, domain: str, pid: int = 12532) -> list[str]:
        """Opportunistic TLS (level may): an unverified session Postfix went on with is a success."""
        host = f"mail.{domain}"
        return [f"{self._prefix(pid)}Untrusted TLS connection established to {host}[127.0.3.4]:25: {self.CIPHER}",
                self._delivery(pid, domain, host, "127.0.3.4", "sent (250 2.0.0 Ok: stored)")]

    def failed(self, domain: str, reason: str, pid: int = 12543) -> list[str]:
        host = f"mail.{domain}"
        return [f"{self._prefix(pid)}server certificate verification failed for {host}[127.0.3.2]:25: {reason}",
                f"{self._prefix(pid)}Untrusted TLS connection established to {host}[127.0.3.2]:25: {self.CIPHER}",
                self._delivery(pid, domain, host, "127.0.3.2", "deferred (Server certificate not verified)")]

    def plaintext(self, domain: str, pid: int = 12549) -> list[str]:
        host = f"mail.{domain}"
        return [self._delivery(pid, domain, host, "127.0.3.5",
                               f"deferred (TLS is required, but was not offered by host {host}[127.0.3.5])")]


def detail_counts(mtastsd, domain: str) -> dict[str, int]:
    return {d["result-type"]: d["failed-session-count"] for d in policy_of(mtastsd, domain, "sts")["failure-details"]}


def test_postfix_37_log_followed_across_rotation_and_restart(start_mtastsd, tmp_path_factory):
    log = MailLog(tmp_path_factory.mktemp("maillog") / "mail.log")
    # Lines from before mtastsd's first start are not today's business: never counted.
    log.write(log.verified("rpt-log.example") + log.failed("rpt-log.example", "num=62:hostname mismatch"))
    mtastsd = start_mtastsd({"tlsrpt": {**ORIGIN, "postfix_log": str(log.path)}}, name="tlsrpt-log")
    # The policy cache decides which policy the logged sessions ran under.
    assert mtastsd.lookup("rpt-log.example") == sc.secure_answer("rpt-log.example")
    assert mtastsd.lookup("rpt-log-norpt.example") == sc.secure_answer("rpt-log-norpt.example")
    assert mtastsd.lookup("rpt-log-nosts.example") == "NOTFOUND "
    assert mtastsd.lookup("rpt-log-fetchfail.example") == "NOTFOUND "
    mtastsd.wait_for_entry("rpt-log-fetchfail.example", lambda e: e["failure"] == "sts-policy-fetch-error")

    log.write(log.verified("rpt-log.example")
              + log.failed("rpt-log.example", "num=62:hostname mismatch")
              + ["Nov 29 23:06:18 sender postfix/qmgr[12000]: 4D6C3A7E3B2: removed",  # not smtp: ignored
                 f"Nov 29 23:06:18 sender postfix/smtp[12600]: {'x' * 9000}"]        # too long: counted, logged
              + log.untrusted_delivered("rpt-log-nosts.example")
              + log.verified("rpt-log-norpt.example")                                 # no TLSRPT record
              + log.verified("rpt-log-fetchfail.example", pid=12533))
    wait_for_counts(mtastsd, "rpt-log.example", {"sts": (1, 1)})
    wait_for_counts(mtastsd, "rpt-log-nosts.example", {"no-policy-found": (1, 0)})
    wait_for_counts(mtastsd, "rpt-log-fetchfail.example", {"sts": (0, 1)})
    assert counts(mtastsd, "rpt-log-norpt.example") == {}
    assert detail_counts(mtastsd, "rpt-log.example") == {"certificate-host-mismatch": 1}
    sts = policy_of(mtastsd, "rpt-log.example", "sts")["policy"]
    assert sts["mx-host"] == ["mail.rpt-log.example", "*.mx.rpt-log.example"]
    assert sts["policy-string"] == sc.enforce("rpt-log.example").splitlines()
    assert log_lines(mtastsd, "unreadable Postfix log line: log line too long")

    # logrotate: rename, the syslog daemon writes a last line to the old file, then a new file.
    log.path.rename(log.path.with_name("mail.log.1"))
    log.write(log.verified("rpt-log.example"), path=log.path.with_name("mail.log.1"))
    log.write(log.failed("rpt-log.example", "certificate has expired") + log.plaintext("rpt-log.example"))
    wait_for_counts(mtastsd, "rpt-log.example", {"sts": (2, 3)})
    assert detail_counts(mtastsd, "rpt-log.example") == {
        "certificate-host-mismatch": 1, "certificate-expired": 1, "starttls-not-supported": 1}

    # A restart continues where the counted lines end: lines written meanwhile count once.
    assert mtastsd.stop() == 0
    log.write(log.verified("rpt-log.example"))
    mtastsd.start()
    wait_for_counts(mtastsd, "rpt-log.example", {"sts": (3, 3)})
    log.write(log.verified("rpt-log.example"))  # and nothing else comes in with the next line
    wait_for_counts(mtastsd, "rpt-log.example", {"sts": (4, 3)})
