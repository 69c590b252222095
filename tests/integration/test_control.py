"""mtastsctl through the running daemon's control socket (issue 6): status (exit 3 once the daemon
has stopped, with what can be read locally), stats, cache refresh (a changed policy is in force at
once; a domain without policy or with a failing fetch gives the daemon's error and exit 1), cache
export, --json on purge; the socket itself: mode 0600, one netstring request per connection,
malformed, oversized and missing requests answered with an error or a closed connection while
socketmap lookups go on."""
import json
import os
import re
import socket
import stat
import threading
import time

import pytest

import scenarios as sc
from rig.procs import unix_accepts, wait_for_wall_clock_after, wait_until
from rig.socketmap import netstring

REFRESH = "ctl-refresh.example"
REFRESH_FAIL = "ctl-refresh-fail.example"
REQUEST_CAP = 64 * 1024  # core::kMaxControlRequestBytes
READ_DEADLINE = 5        # daemon::kControlReadDeadline, seconds


def control_socket(instance):
    return instance.dir / "control.sock"  # the default: <runtime_dir>/control.sock


def start(start_mtastsd, overrides=None, name="mtastsd"):
    instance = start_mtastsd(overrides, name=name)
    wait_until(lambda: unix_accepts(control_socket(instance)), 10, "the control socket")
    return instance


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    return start(start_mtastsd)


def exchange(instance, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a fresh control connection; everything the daemon sends until it closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(control_socket(instance)))
        if data:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon may close before taking all of an oversized request
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # closed with our request unread: what came before is kept
                break
            if not chunk:
                break
            received += chunk
    return received


def reply_of(raw: bytes) -> dict:
    """The JSON object in the one netstring the daemon answered with."""
    match = re.fullmatch(rb"(\d+):(.*),", raw, re.S)
    assert match and int(match.group(1)) == len(match.group(2)), raw[:200]
    return json.loads(match.group(2))


# ---- status ----

def test_status_while_running(mtastsd):
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")
    status = mtastsd.ctl_json("status")
    assert status["running"] is True
    assert status["pid"] == mtastsd.process.pid
    assert re.fullmatch(r"\d+\.\d+\.\d+", status["version"]), status
    assert status["config"] == str(mtastsd.config_file)
    assert status["control_socket"] == str(control_socket(mtastsd))
    now = int(time.time())
    assert now - 600 <= status["started_at"] <= now
    assert 0 <= status["uptime_seconds"] <= now - status["started_at"] + 1
    assert status["cache_entries"] == len(mtastsd.ctl_json("cache", "list")) >= 1
    assert {"role": "socketmap", "address": f"unix:{mtastsd.socket}"} in status["listeners"]
    assert {"role": "control", "address": f"unix:{control_socket(mtastsd)}"} in status["listeners"]
    assert status["next_report_run"] is None  # no report origin configured: the daemon sends none

    text = mtastsd.ctl("status")
    assert text.returncode == 0, text.stderr
    lines = dict(line.split("\t", 1) for line in text.stdout.splitlines() if not line.startswith("listener\t"))
    assert lines["daemon"] == "running"
    assert lines["pid"] == str(mtastsd.process.pid)
    assert f"listener\tsocketmap unix:{mtastsd.socket}" in text.stdout.splitlines()


def test_status_after_stop_exits_3_and_shows_the_local_cache(start_mtastsd):
    origin = {"organization_name": "Sender Org", "contact_info": "tlsrpt@sender.example",
              "submitter": "sender.example"}
    instance = start(start_mtastsd, {"tlsrpt": origin}, name="stopped")
    assert instance.lookup("valid.example") == sc.secure_answer("valid.example")
    running = instance.ctl_json("status")
    # Reports are planned 10 s after the next UTC midnight (daemon::kPlanSettle), or sent sooner.
    now = int(time.time())
    assert now <= running["next_report_run"] <= (now // 86400 + 1) * 86400 + 10, running

    assert instance.stop() == 0
    stopped = instance.ctl_json("status", expect_rc=3)
    assert stopped["running"] is False
    assert stopped["cache_entries"] == 1
    assert stopped["control_socket"] == str(control_socket(instance))
    text = instance.ctl("status")
    assert text.returncode == 3
    assert "daemon\tnot running" in text.stdout.splitlines()
    assert "cache entries\t1" in text.stdout.splitlines()
    assert "not running" in text.stderr
    for command in (("stats",), ("cache", "refresh", "valid.example")):
        result = instance.ctl(*command)
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        assert "is mtastsd running?" in result.stderr


# ---- stats ----

def test_stats_lines_are_the_samples(mtastsd):
    samples = mtastsd.ctl_json("stats")
    assert isinstance(samples, list)
    text = mtastsd.ctl("stats")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert len(lines) == len(samples)
    for line, sample in zip(lines, samples):
        assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^\t]*\})?\t\S+", line), line
        assert line.startswith(sample["name"])


# ---- cache refresh ----

def test_refresh_fetches_a_changed_policy_at_once(mtastsd, rig):
    assert mtastsd.lookup(REFRESH) == sc.secure_answer(REFRESH)
    first = mtastsd.cache_show(REFRESH)
    requests = rig.web.request_count(REFRESH)

    # New content under the same id: only a forced fetch sees it (RFC 8461 sec. 3.3 keys on the id).
    same_id = sc.policy("enforce", (f"new.{REFRESH}",))
    rig.web.set_policy(REFRESH, same_id)
    record = mtastsd.ctl_json("cache", "refresh", REFRESH)
    assert (record["domain"], record["policy_id"], record["policy_text"]) == (REFRESH, "ctlr1", same_id)
    assert record["state"] == "policy" and record["mode"] == "enforce"
    assert record["mx"] == [f"new.{REFRESH}"]
    assert record["fetched_at"] >= first["fetched_at"]
    assert record["next_refresh"] == record["valid_until"] - 86400 // 2  # margin capped at max_age / 2
    assert rig.web.request_count(REFRESH) == requests + 1
    shown = mtastsd.cache_show(REFRESH)
    del shown["mx_validation"]
    assert shown == record
    assert mtastsd.lookup(REFRESH) == f"OK secure match=new.{REFRESH} servername=hostname"

    # A new id and policy, once the daemon's own resolver (libunbound) can no longer hold the old
    # TXT answer: TTL 1 s, counted in whole seconds from an answer fetched before the change.
    new_id = sc.policy("enforce", (f"newer.{REFRESH}",), max_age=3600)
    rig.web.set_policy(REFRESH, new_id)
    rig.dns.set_txt(f"_mta-sts.{REFRESH}", ["v=STSv1; id=ctlr2;"])
    wait_for_wall_clock_after(int(time.time()) + 2)
    text = mtastsd.ctl("cache", "refresh", REFRESH)
    assert text.returncode == 0, text.stderr
    fields = dict(line.split("\t", 1) for line in text.stdout.splitlines())
    assert (fields["domain"], fields["policy id"], fields["mode"], fields["max_age"]) == (REFRESH, "ctlr2",
                                                                                          "enforce", "3600")
    assert fields["mx"] == f"newer.{REFRESH}"
    assert mtastsd.lookup(REFRESH) == f"OK secure match=newer.{REFRESH} servername=hostname"


def test_refresh_joins_the_running_resolution(mtastsd, rig):
    """A cold lookup's resolution is fetching: the refresh waits for it instead of fetching again."""
    domain = "ctl-refresh-slow.example"
    before = rig.web.request_count(domain)
    answers = []
    lookup = threading.Thread(target=lambda: answers.append(mtastsd.lookup(domain)))
    lookup.start()
    wait_until(lambda: rig.web.request_count(domain) == before + 1, 10, "the lookup's fetch to reach the server")
    record = mtastsd.ctl_json("cache", "refresh", domain)
    lookup.join(30)
    assert answers == [sc.secure_answer(domain)]
    assert record["policy_id"] == "ctlrs1" and record["state"] == "policy"
    assert rig.web.request_count(domain) == before + 1


def test_refresh_of_a_domain_without_policy_reports_it(mtastsd):
    result = mtastsd.ctl("cache", "refresh", "no-record.example")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no-record.example: no MTA-STS policy" in result.stderr
    assert mtastsd.ctl("cache", "refresh", "no-record.example", "--json").stdout == ""


def test_refresh_whose_fetch_fails_reports_the_failure(mtastsd):
    result = mtastsd.ctl("cache", "refresh", "notfound404.example")
    assert result.returncode == 1
    assert "notfound404.example: policy fetch for id nf1 failed: sts-policy-fetch-error" in result.stderr


def test_failed_refresh_keeps_the_cached_policy(mtastsd, rig):
    """Downgrade protection (RFC 8461 sec. 3.3): the error says what stays in force; a second refresh
    within fetch_retry_after is not fetched (the back-off of the failed id)."""
    assert mtastsd.lookup(REFRESH_FAIL) == sc.secure_answer(REFRESH_FAIL)
    rig.web.set_policy(REFRESH_FAIL, None)  # 404 from now on
    result = mtastsd.ctl("cache", "refresh", REFRESH_FAIL)
    assert result.returncode == 1
    assert "sts-policy-fetch-error" in result.stderr
    assert "the cached policy (id ctlrf1) stays in force until" in result.stderr
    assert mtastsd.lookup(REFRESH_FAIL) == sc.secure_answer(REFRESH_FAIL)
    requests = rig.web.request_count(REFRESH_FAIL)
    again = mtastsd.ctl("cache", "refresh", REFRESH_FAIL)
    assert again.returncode == 1
    assert "is not retried before" in again.stderr
    assert rig.web.request_count(REFRESH_FAIL) == requests


def test_refresh_of_what_is_no_domain_fails_here(mtastsd):
    result = mtastsd.ctl("cache", "refresh", "[192.0.2.1]")
    assert result.returncode == 2
    assert "is not a domain name" in result.stderr


def test_refresh_normalises_the_domain(mtastsd):
    record = mtastsd.ctl_json("cache", "refresh", "CTL-B.Example.")
    assert record["domain"] == "ctl-b.example"
    assert record["policy_id"] == "ctlb1"


# ---- cache export, purge --json ----

def test_export_lists_what_cache_list_lists(mtastsd):
    for domain in ("ctl-a.example", "valid.example"):
        assert mtastsd.lookup(domain) == sc.secure_answer(domain)
    exported = mtastsd.ctl_json("cache", "export")
    listed = mtastsd.ctl_json("cache", "list")
    assert [e["domain"] for e in exported] == [e["domain"] for e in listed]
    assert {"ctl-a.example", "valid.example"} <= {e["domain"] for e in exported}
    by_domain = {e["domain"]: e for e in exported}
    assert by_domain["ctl-a.example"] == mtastsd.cache_show("ctl-a.example")
    for entry in listed:
        assert {k: v for k, v in by_domain[entry["domain"]].items() if k != "mx_validation"} == entry

    text = mtastsd.ctl("cache", "export")
    assert text.returncode == 0, text.stderr
    rows = [line.split("\t") for line in text.stdout.splitlines()]
    assert [r[0] for r in rows] == [e["domain"] for e in listed]
    assert all(len(r) == 10 for r in rows), rows
    row = next(r for r in rows if r[0] == "ctl-a.example")
    assert row[1:6] == ["policy", "ctla1", "enforce", "86400", "mail.ctl-a.example *.mx.ctl-a.example"]


def test_purge_json(mtastsd):
    assert mtastsd.lookup("ctl-a.example") == sc.secure_answer("ctl-a.example")
    assert mtastsd.ctl_json("cache", "purge", "ctl-a.example") == {"purged": 1, "domain": "ctl-a.example"}
    assert mtastsd.cache_show("ctl-a.example") is None


# ---- the socket ----

def test_socket_mode_is_0600(mtastsd):
    st = os.stat(control_socket(mtastsd))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_one_request_per_connection_in_a_netstring(mtastsd):
    raw = exchange(mtastsd, netstring(b'{"command":"status"}'))
    reply = reply_of(raw)
    assert reply["ok"] is True and reply["pid"] == mtastsd.process.pid
    # A second request on the same connection is not read: the daemon closes after its reply.
    raw = exchange(mtastsd, netstring(b'{"command":"status"}') + netstring(b'{"command":"stats"}'))
    assert "samples" not in reply_of(raw)


@pytest.mark.parametrize("request_bytes, error", [
    (netstring(b"status"), "request is not JSON"),
    (netstring(b'["status"]'), "request is not a JSON object"),
    (netstring(b'{"command":"reload"}'), "no known \"command\""),
    (netstring(b'{"command":"refresh"}'), "refresh needs a \"domain\""),
    (netstring(b'{"command":"refresh","domain":"[192.0.2.1]"}'), "not a domain name"),
    (netstring(b'{"command":"status","force":true}'), "member its command does not take"),
    (b"12x:", "bad netstring length"),
    (b"5:abcdef", "not terminated by ','"),
    (f"{REQUEST_CAP + 1}:".encode(), f"request longer than {REQUEST_CAP} bytes"),
])
def test_malformed_requests_get_an_error_reply(mtastsd, request_bytes, error):
    reply = reply_of(exchange(mtastsd, request_bytes))
    assert reply["ok"] is False
    assert error in reply["error"], reply
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")


def test_oversized_request_sent_whole_is_refused_and_lookups_go_on(mtastsd):
    raw = exchange(mtastsd, netstring(b'{"command":"status","pad":"' + b"p" * (2 * REQUEST_CAP) + b'"}'))
    if raw:  # the error reply, unless the connection was reset under the unread request
        assert reply_of(raw) == {"ok": False, "error": f"request longer than {REQUEST_CAP} bytes"}
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")
    assert mtastsd.ctl_json("status")["running"] is True


def test_a_silent_client_is_closed_after_the_read_deadline(mtastsd):
    started = time.monotonic()
    assert exchange(mtastsd, b"", timeout=READ_DEADLINE + 10) == b""
    assert READ_DEADLINE - 0.5 <= time.monotonic() - started <= READ_DEADLINE + 5
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")
