"""Testing mode that reports (issue 5): Postfix has no testing level, so mtastsd answers a
`mode: testing` policy NOTFOUND, validates the domain's MX hosts itself in the background
(daemon/mx_validator, io::MxProbe), and counts the sessions Postfix reports without a policy under
the domain's sts policy: failed with the result type of the MX host's validation, or successful.

The domains (scenarios.py, "testing mode") have one MX host served by a receiver of each kind
(rig/receivers.py: good, wrong-name, expired, untrusted CA, no STARTTLS), an MX host outside the
policy's patterns, two MX hosts (a good one preferred), and a TLSRPT record each. Checked:
- the answer stays NOTFOUND, and the validations appear in `mtastsctl cache show --json` with
  the result type each receiver deserves;
- sessions from the real libtlsrpt client (Debian 13's libtlsrpt0 in the cached root, as in
  test_tlsrpt_collect.py) of policy-type no-policy-found and no MX host, as Postfix 3.10 sends
  for a successful delivery, end up in `mtastsctl report show DAY DOMAIN --json` as sts
  sessions, failed with the right result type and receiving-mx-hostname;
- a real Postfix 3.7 (rig/postfix.py) delivering to two testing-mode domains: its log's
  sessions are counted the same way;
- with no session source at all, count_as_sessions counts the validations themselves.
Every mtastsd here has [mx_validation] enabled (the rig's base configuration turns it off) with
the EHLO name sender.example. Waiting, never sleeping: the validation is awaited in `cache show`
before any session is sent, since a session counted before its domain's validation is counted
with Postfix's own outcome. Reports are of the current UTC day: a run across midnight UTC can fail."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

import scenarios as sc
from rig.mtastsd import Mtastsd
from rig.postfix import HOST_3_7, Postfix
from rig.procs import wait_until
from rig.receivers import Receivers
from rig.resolver import use_rig_resolver
from test_tlsrpt_collect import build_client, run_client

ORIGIN = {"organization_name": "mtastsd integration tests", "contact_info": "tlsrpt@sender.example",
          "submitter": "sender.example"}
VALIDATION = {"mx_validation": {"enabled": True}}
RECEIVER_DOMAINS = {f"tst-{kind}.example": kind for kind in sc.TESTING_RESULTS}
WAIT = 30.0  # a validation is a DNS lookup and one SMTP session per address


def utc_day() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


def sts_policy_of(domain: str) -> dict:
    """The policy part of an sts report entry for a tst-* domain: its lines and mx patterns."""
    lines = sc.BY_DOMAIN[domain].policy.splitlines()
    return {"policy-type": "sts", "policy-string": lines, "policy-domain": domain,
            "mx-host": [line.removeprefix("mx: ") for line in lines if line.startswith("mx: ")]}


def receiver_of(domain: str, host: str) -> str:
    [kind] = [kind for h, kind in sc.BY_DOMAIN[domain].mx if h == host]
    return kind


def validated(mtastsd: Mtastsd, domain: str) -> dict:
    """Looks the domain up (NOTFOUND, as for any testing policy in the default profile) and waits
    for its validation; returns `cache show --json`'s mx_validation."""
    assert mtastsd.lookup(domain) == "NOTFOUND "
    entry = mtastsd.wait_for_entry(domain, lambda e: e["mx_validation"] is not None, timeout=WAIT,
                                   what=f"the MX validation of {domain}")
    assert entry["mode"] == "testing"
    return entry["mx_validation"]


def only_check(validation: dict, host: str) -> dict:
    [entry] = [h for h in validation["hosts"] if h["host"] == host]
    [check] = entry["checks"]
    return check


# ---- the report ----------------------------------------------------------------------------------

def reports(mtastsd: Mtastsd, domain: str) -> list[dict]:
    result = mtastsd.ctl("report", "show", utc_day(), domain, "--json")
    if result.returncode == 1:
        return []
    assert result.returncode == 0, f"report show {domain}: exit {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def policies(mtastsd: Mtastsd, domain: str) -> list[dict]:
    return [p for entry in reports(mtastsd, domain) for p in entry["report"]["policies"]]


def counts(mtastsd: Mtastsd, domain: str) -> dict[str, tuple[int, int]]:
    return {p["policy"]["policy-type"]: (p["summary"]["total-successful-session-count"],
                                         p["summary"]["total-failure-session-count"])
            for p in policies(mtastsd, domain)}


def wait_for_counts(mtastsd: Mtastsd, domain: str, expected: dict) -> None:
    seen: list = []

    def attempt():
        seen.append(counts(mtastsd, domain))
        return seen[-1] == expected
    try:
        wait_until(attempt, WAIT, f"TLS-RPT counts of {domain} to be {expected}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last counts: {seen[-1] if seen else None}") from None


def assert_reported_as_validated(mtastsd: Mtastsd, domain: str, host: str, check: dict, sessions: int) -> None:
    """Every session of the domain is an sts session, failed as the host's check says (or not)."""
    [sts] = policies(mtastsd, domain)
    assert sts["policy"] == sts_policy_of(domain)
    if check["result"] == "ok":
        assert (sts["summary"]["total-successful-session-count"], sts["summary"]["total-failure-session-count"]) == \
            (sessions, 0)
        assert sts["failure-details"] == []
        return
    detail = {"result-type": check["result"], "receiving-mx-hostname": host, "failed-session-count": sessions,
              "failure-reason-code": check["detail"]}
    if check["address"]:
        detail["receiving-ip"] = check["address"]
    if check["helo"]:
        detail["receiving-mx-helo"] = check["helo"]
    assert sts["failure-details"] == [detail]


# ---- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def receivers(rig, tmp_path_factory):
    started = Receivers(tmp_path_factory.mktemp("testing-receivers"), rig).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def mtastsd(receivers, start_mtastsd):
    """Sessions come from libtlsrpt datagrams (its default socket)."""
    return start_mtastsd({"tlsrpt": ORIGIN, **VALIDATION}, name="testing-validation")


@pytest.fixture(scope="module")
def libtlsrpt(mtastsd, trixie_root) -> Path:
    """The Debian 13 root with tlsrpt_client built for `mtastsd` (skipped, loudly, where the root
    cannot be had: conftest.py)."""
    build_client(trixie_root, mtastsd.dir)
    return trixie_root


# ---- 1. the validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("domain", sorted(RECEIVER_DOMAINS))
def test_each_receiver_gets_its_result_type_and_the_answer_stays_notfound(mtastsd, domain):
    kind = RECEIVER_DOMAINS[domain]
    validation = validated(mtastsd, domain)
    assert validation["policy_id"] == sc.BY_DOMAIN[domain].txt[0].split("id=")[1].rstrip(";")
    assert validation["mx_error"] == ""
    host = f"mail.{domain}"
    check = only_check(validation, host)
    assert check["result"] == sc.TESTING_RESULTS[kind], check
    assert check["address"] == sc.SMTP_RECEIVERS[kind]
    assert check["helo"] == f"{kind}.receiver.example"  # the greeting's host
    assert check["detail"]
    assert mtastsd.lookup(domain) == "NOTFOUND "  # validated or not, Postfix delivers as before


def test_an_mx_host_outside_the_policy_is_a_validation_failure_without_a_probe(mtastsd, receivers):
    domain = "tst-mx-mismatch.example"
    host = "rogue.tst-mx-mismatch.example"
    connections_before = len(receivers.connections("good"))
    validation = validated(mtastsd, domain)
    assert only_check(validation, host) == {"address": "", "checked_at": validation["checked_at"],
                                            "result": "validation-failure", "detail": "MX host not in the policy",
                                            "helo": ""}
    # Its validation is stored, so it is over: no connection was made for it.
    assert len(receivers.connections("good")) == connections_before


def test_text_output_names_each_host_and_result(mtastsd):
    domain = "tst-two-mx.example"
    validated(mtastsd, domain)
    result = mtastsd.ctl("cache", "show", domain)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "MX validation:" in text
    assert f"mail.{domain} [{sc.SMTP_RECEIVERS['good']}]: ok" in text, text
    assert f"b.mx.{domain} [{sc.SMTP_RECEIVERS['expired']}]: certificate-expired" in text, text


# ---- 2. sessions from the real libtlsrpt client ------------------------------------------------------

def test_no_policy_found_datagrams_count_as_sts_sessions_by_the_validation(mtastsd, libtlsrpt):
    """Postfix 3.10's datagram of a successful delivery without a policy: policy-type
    no-policy-found, no MX host. The session is counted against the first MX host the validation
    reached: failed with its result type where that failed."""
    checks = {domain: only_check(validated(mtastsd, domain), f"mail.{domain}") for domain in RECEIVER_DOMAINS}
    for domain in RECEIVER_DOMAINS:
        run_client(libtlsrpt, mtastsd, domain, successes=0, failures=0, no_policy=2)
    for domain, check in checks.items():
        expected = (2, 0) if check["result"] == "ok" else (0, 2)
        wait_for_counts(mtastsd, domain, {"sts": expected})
        assert_reported_as_validated(mtastsd, domain, f"mail.{domain}", check, sessions=2)


def test_the_first_reached_mx_host_decides_for_sessions_that_name_none(mtastsd, libtlsrpt):
    """MX 10 (good certificate) is what Postfix tries first and what the session is counted
    against; MX 20's expired certificate is in `cache show`, not in the report."""
    domain = "tst-two-mx.example"
    validation = validated(mtastsd, domain)
    assert [h["host"] for h in validation["hosts"]] == [f"mail.{domain}", f"b.mx.{domain}"]
    assert only_check(validation, f"b.mx.{domain}")["result"] == "certificate-expired"
    run_client(libtlsrpt, mtastsd, domain, successes=0, failures=0, no_policy=1)
    wait_for_counts(mtastsd, domain, {"sts": (1, 0)})
    assert_reported_as_validated(mtastsd, domain, f"mail.{domain}", only_check(validation, f"mail.{domain}"), 1)


def test_a_host_outside_the_policy_fails_the_sessions(mtastsd, libtlsrpt):
    domain = "tst-mx-mismatch.example"
    host = "rogue.tst-mx-mismatch.example"
    check = only_check(validated(mtastsd, domain), host)
    run_client(libtlsrpt, mtastsd, domain, successes=0, failures=0, no_policy=3)
    wait_for_counts(mtastsd, domain, {"sts": (0, 3)})
    assert_reported_as_validated(mtastsd, domain, host, check, sessions=3)


# ---- 3. a real Postfix 3.7 and its log ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sender_37(rig, receivers, tmp_path_factory):
    """Postfix 3.7 (this machine) asking an mtastsd of its own, which follows its maillog_file."""
    if not Path("/usr/sbin/postfix").exists():
        pytest.skip("Postfix is not installed (apt-get install postfix; see scripts/lib.sh)")
    directory = tmp_path_factory.mktemp("testing-postfix")
    try:
        use_rig_resolver(rig.dns.unbound_address, directory)
    except OSError as e:
        pytest.skip(f"cannot point /etc/resolv.conf at the rig's unbound ({e}); run tests/integration/run")
    postfix = Postfix(directory / "postfix", rig.ca_file, HOST_3_7, profile="default")
    postfix.prepare()
    postfix.set(minimal_backoff_time="1h", maximal_backoff_time="1h")  # one attempt: one session
    mtastsd_dir = directory / "mtastsd"
    listen = [{"unix": str(mtastsd_dir / "socketmap.sock"), "mode": "0600"},
              {"unix": str(postfix.policy_socket), "group": "postfix", "mode": "0660"}]
    mtastsd = Mtastsd(rig, mtastsd_dir, {"listen": listen, **VALIDATION,
                                         "tlsrpt": {**ORIGIN, "postfix_log": str(postfix.maillog)}})
    Mtastsd.running.append(mtastsd)
    try:
        mtastsd.start()
        postfix.start()
        yield postfix, mtastsd
    finally:
        postfix.stop()
        status = mtastsd.stop()
        Mtastsd.running.remove(mtastsd)
        assert status in (0, None), f"mtastsd exited with {status} on SIGTERM"


@pytest.mark.parametrize("domain", ["tst-log-good.example", "tst-log-untrusted.example"])
def test_postfix_37_log_sessions_count_as_sts_sessions_by_the_validation(sender_37, domain):
    postfix, mtastsd = sender_37
    host = f"mail.{domain}"
    check = only_check(validated(mtastsd, domain), host)
    assert check["result"] == sc.TESTING_RESULTS[receiver_of(domain, host)]
    message_id = f"<{uuid.uuid4().hex}@sender.example>"
    postfix.send(f"user@{domain}", message_id)
    [attempt] = postfix.wait_for_attempts(message_id, 1)
    assert attempt.status == "sent"  # testing mode: delivered, whatever the certificate
    assert attempt.relay == f"{host}[{check['address']}]:25"
    expected = (1, 0) if check["result"] == "ok" else (0, 1)
    wait_for_counts(mtastsd, domain, {"sts": expected})
    [sts] = policies(mtastsd, domain)
    assert sts["policy"] == sts_policy_of(domain)
    if check["result"] != "ok":
        # The log names the host and address the session went to; the greeting is ours.
        [detail] = sts["failure-details"]
        assert detail == {"result-type": check["result"], "receiving-mx-hostname": host,
                          "receiving-ip": check["address"], "receiving-mx-helo": check["helo"],
                          "failed-session-count": 1, "failure-reason-code": check["detail"]}


# ---- 4. no session source: the validations are the sessions ----------------------------------------

def test_count_as_sessions_counts_each_probe(receivers, start_mtastsd):
    mtastsd = start_mtastsd({"tlsrpt": ORIGIN, "mx_validation": {"enabled": True, "count_as_sessions": True}},
                            name="testing-count")
    domain = "tst-count.example"
    validation = validated(mtastsd, domain)
    plaintext = only_check(validation, f"b.mx.{domain}")
    assert only_check(validation, f"mail.{domain}")["result"] == "ok"
    assert plaintext["result"] == "starttls-not-supported"
    wait_for_counts(mtastsd, domain, {"sts": (1, 1)})
    [sts] = policies(mtastsd, domain)
    assert sts["policy"] == sts_policy_of(domain)
    assert sts["failure-details"] == [{
        "result-type": "starttls-not-supported", "receiving-mx-hostname": f"b.mx.{domain}",
        "receiving-ip": plaintext["address"], "receiving-mx-helo": plaintext["helo"], "failed-session-count": 1,
        "failure-reason-code": plaintext["detail"]}]
