"""TLS-RPT reports sent by the daemon on its own schedule (issue #4, RFC 8460 sec. 4.1, 5), and
`mtastsctl report send` / `report status`, with real parts:

- the clock: mtastsd and mtastsctl run on a fake wall clock (libfaketime, rig/fake_clock.py) that
  the test moves: sessions are counted shortly before a UTC midnight, then the clock jumps past
  it, and past a retry's time; monotonic clocks stay real;
- sessions: datagrams in libtlsrpt's format sent to mtastsd's socket (test_tlsrpt_collect.py's),
  for report domains whose TLSRPT record (scenarios.py, "TLS-RPT report schedule") names a
  mailbox and an https endpoint;
- receivers: the SMTP relay the daemon hands e-mails to (tlsrpt.smtp_relay) and the HTTPS
  endpoint (rig/report_smtp_receiver.py, rig/report_https_receiver.py), told per recipient or
  path through their rules files to defer, refuse or stall; the report JSON is checked against
  tests/data/tlsrpt-report.schema.json (python3-jsonschema) and the DKIM signature with
  python3-dkim on the same fake clock (dkimpy refuses a signing time more than 10 h ahead of its
  own clock, and the fake midnight may be up to a day ahead).

One fake day for the module: three daemons count their sessions before its end (the crash test and
the lease test have their own, as their stalled attempts hold the mail worker), and each test owns
its report domains (scenarios.SCHEDULE_DOMAINS), so the tests read their own entries and receiver
records. The lease test comes last: its clock jump passes the other tests' retry times and leases.
The message format itself (MIME, DKIM headers, https request) is test_report_delivery.py's."""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email
import email.policy
import gzip
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

import scenarios as sc
from rig.fake_clock import FakeClock
from rig.mtastsd import REPO, Mtastsd
from rig.procs import tcp_accepts, wait_until
from test_report_delivery import dkim_key, records, start_server
from test_tlsrpt_collect import ORIGIN, datagram, send as send_datagrams, tlsrpt_socket

SCHEMA = json.loads((REPO / "tests" / "data" / "tlsrpt-report.schema.json").read_text())
SUBMITTER = ORIGIN["submitter"]
FROM = f"tlsrpt-noreply@{SUBMITTER}"
SELECTOR = "sched2024"
PLAN_SETTLE = 10        # daemon/report_scheduler.hpp kPlanSettle: a day is planned this long after it ends
SEND_DELAY = 5          # tlsrpt.send_delay: sent within this after midnight
FIRST_RETRY_DELAY = 300  # core/outbox_entry.hpp kFirstRetryDelay
LEAD_TIME = 60          # the fake clock starts this long before midnight: time to count the sessions
WAIT = 30               # seconds any awaited event may take

OK, RETRY, CRASH, FAIL, HOLD, BEHIND = sc.SCHEDULE_DOMAINS
# (successful, failed) sessions per domain
SESSIONS = {OK: (7, 3), RETRY: (4, 1), CRASH: (2, 2), FAIL: (5, 0), HOLD: (1, 0), BEHIND: (0, 1)}
# The mail and https timeout of the daemons whose attempts stall, and so their claims' lease
# (daemon/report_dispatch.hpp claim_rules: the timeout for each of kMaxInFlight = 8 e-mails, plus
# kClaimMargin = 30 s), which outlasts every clock jump but the lease test's.
STALL_TIMEOUT = 60
LEASE = STALL_TIMEOUT * 8 + 30


def mailbox(domain: str) -> str:
    return f"tlsrpt@{domain}"


def https_path(domain: str) -> str:
    return f"/{domain}"


def mail_rua(domain: str) -> str:
    return f"mailto:{mailbox(domain)}"


def https_rua(domain: str) -> str:
    return f"https://{sc.SCHEDULE_HTTPS_HOST}{https_path(domain)}"


def utc(text: str) -> float:
    """A time as mtastsctl prints it ("2024-04-01T00:00:10Z") in unix seconds."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def day_of(unix_time: float) -> str:
    return dt.datetime.fromtimestamp(unix_time, dt.timezone.utc).strftime("%Y-%m-%d")


def write_json(path: Path, value) -> None:
    """Replaced whole: the receivers read their rules files at any moment."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)


# ---- the receivers --------------------------------------------------------------------------------

@dataclass
class Receivers:
    relay_record: Path
    relay_rules: Path
    https_record: Path
    https_rules: Path
    key_file: Path
    key_record: bytes  # the TXT data at SELECTOR._domainkey.SUBMITTER

    def set_rules(self, domain: str, relay: dict | None = None, https: int | str | None = None) -> None:
        """The relay's replies per SMTP stage for the domain's mailbox, the endpoint's answer for its
        path (None: the usual acceptance)."""
        relay_rules = json.loads(self.relay_rules.read_text())
        https_rules = json.loads(self.https_rules.read_text())
        relay_rules.pop(mailbox(domain), None)
        https_rules.pop(https_path(domain), None)
        if relay:
            relay_rules[mailbox(domain)] = relay
        if https is not None:
            https_rules[https_path(domain)] = https
        write_json(self.relay_rules, relay_rules)
        write_json(self.https_rules, https_rules)

    def mails(self, domain: str) -> list[dict]:
        """Messages the relay took for the domain's mailbox: accepted, and held ("stalled": true,
        recorded when the hold began)."""
        return [r for r in records(self.relay_record) if mailbox(domain) in r["to"]]

    def accepted_mails(self, domain: str) -> list[dict]:
        return [r for r in self.mails(domain) if not r.get("stalled")]

    def posts(self, domain: str) -> list[dict]:
        return [r for r in records(self.https_record) if r["path"] == https_path(domain)]

    def accepted_posts(self, domain: str) -> list[dict]:
        return [r for r in self.posts(domain) if r["answer"] == 200]


@contextlib.contextmanager
def running_receivers(rig, directory: Path, relay_address: str, https_address: str, https_host: str):
    """The relay on relay_address:25 and the endpoint on https_address:443 (a certificate for
    https_host from the rig's CA), with a fresh DKIM key, for as long as the context lasts."""
    cert, key = rig.ca.issue(f"{directory.name}-https", [https_host])
    key_file, key_record = dkim_key(directory)
    r = Receivers(directory / "relay.jsonl", directory / "relay-rules.json", directory / "https.jsonl",
                  directory / "https-rules.json", key_file, key_record)
    write_json(r.relay_rules, {})
    write_json(r.https_rules, {})
    servers = [
        start_server(directory, "relay", "report_smtp_receiver.py",
                     {"address": relay_address, "port": 25, "hostname": "relay.example",
                      "record": str(r.relay_record), "rules": str(r.relay_rules)}),
        start_server(directory, "https", "report_https_receiver.py",
                     {"address": https_address, "ports": [443], "cert": str(cert), "key": str(key),
                      "record": str(r.https_record), "rules": str(r.https_rules)}),
    ]
    try:
        servers[0].wait_ready(lambda: tcp_accepts(relay_address, 25))
        servers[1].wait_ready(lambda: tcp_accepts(https_address, 443))
        yield r
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def receivers(rig, tmp_path_factory):
    with running_receivers(rig, tmp_path_factory.mktemp("report-schedule"), sc.SCHEDULE_RELAY_ADDRESS,
                           sc.SCHEDULE_HTTPS_ADDRESS, sc.SCHEDULE_HTTPS_HOST) as r:
        yield r


# ---- the daemons and the fake day -----------------------------------------------------------------

@dataclass
class FakeDay:
    clock: FakeClock
    day: str            # the fake day whose sessions are reported
    midnight: float     # its end: 00:00:00 UTC of the next day, unix seconds
    main: Mtastsd       # counts OK, RETRY and FAIL
    crash: Mtastsd      # counts CRASH
    queue: Mtastsd      # counts HOLD and BEHIND


def sending_config(receivers: Receivers, ca_file: Path, timeout: str,
                   relay: str = f"{sc.SCHEDULE_RELAY_ADDRESS}:25") -> dict:
    return {"tlsrpt": {**ORIGIN, "send_delay": f"{SEND_DELAY}s", "mail_from": FROM,
                       "smtp_relay": relay, "smtp_helo": SUBMITTER,
                       "mail_timeout": timeout, "https_timeout": timeout, "https_ca_file": str(ca_file),
                       "dkim_key_file": str(receivers.key_file), "dkim_selector": SELECTOR,
                       "dkim_domain": SUBMITTER}}


def counted(mtastsd: Mtastsd, day: str, domain: str) -> tuple[int, int]:
    for entry in mtastsd.ctl_json("report", "list"):
        if (entry["day"], entry["domain"]) == (day, domain):
            return entry["successful"], entry["failed"]
    return 0, 0


def count_sessions(mtastsd: Mtastsd, day: str, domain: str) -> None:
    successful, failed = SESSIONS[domain]
    record = sc.schedule_tlsrpt_record(domain)
    send_datagrams(tlsrpt_socket(mtastsd), [datagram(domain, pr=record) for _ in range(successful)] +
                   [datagram(domain, failed=True, pr=record) for _ in range(failed)])
    wait_until(lambda: counted(mtastsd, day, domain) == SESSIONS[domain], WAIT, f"the sessions of {domain} counted")


@pytest.fixture(scope="module")
def fake_day(rig, receivers, start_mtastsd, tmp_path_factory):
    """The three daemons count their sessions before a fake midnight; then the clock jumps to when the
    day is planned. The receivers' first answers are set before the jump."""
    # The next midnight at least LEAD_TIME ahead: the fake clock never runs behind the real one (the
    # test CA's certificate is valid from the rig's start on).
    midnight = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=LEAD_TIME + 60)).date() + dt.timedelta(days=1)
    midnight = dt.datetime.combine(midnight, dt.time(), dt.timezone.utc).timestamp()
    clock = FakeClock(tmp_path_factory.mktemp("fake-clock") / "offset")
    clock.jump_to(midnight - LEAD_TIME)
    day = day_of(midnight - 1)
    main = start_mtastsd(sending_config(receivers, rig.ca_file, "30s"), name="sched-main", env=clock.env())
    crash = start_mtastsd(sending_config(receivers, rig.ca_file, f"{STALL_TIMEOUT}s"), name="sched-crash",
                          env=clock.env())
    queue = start_mtastsd(sending_config(receivers, rig.ca_file, f"{STALL_TIMEOUT}s"), name="sched-queue",
                          env=clock.env())
    receivers.set_rules(RETRY, relay={"RCPT": "451 4.3.0 Try again later"}, https=503)
    receivers.set_rules(FAIL, relay={"RCPT": "550 5.1.1 No such user"}, https=404)
    receivers.set_rules(CRASH, relay={"DATA": "stall"}, https="hang")
    receivers.set_rules(HOLD, relay={"DATA": "stall"}, https=503)
    for mtastsd, domains in ((main, (OK, RETRY, FAIL)), (crash, (CRASH,)), (queue, (HOLD, BEHIND))):
        for domain in domains:
            count_sessions(mtastsd, day, domain)
    assert clock.now() < midnight, "counting took longer than LEAD_TIME"
    clock.jump_to(midnight + PLAN_SETTLE)
    yield FakeDay(clock, day, midnight, main, crash, queue)
    for domain in sc.SCHEDULE_DOMAINS:  # replies still held (a test did not get that far) end now,
        receivers.set_rules(domain)     # so the daemons stop at once


# ---- reading the queue and the reports --------------------------------------------------------------

def status(mtastsd: Mtastsd, day: str, domain: str) -> dict[str, dict]:
    """`report status --json` of the domain's deliveries, by rua."""
    return {e["rua"]: e for e in mtastsd.ctl_json("report", "status", "--day", day) if e["domain"] == domain}


def wait_for_status(mtastsd: Mtastsd, day: str, domain: str, condition, what: str) -> dict[str, dict]:
    """Until both deliveries of the domain satisfy condition(entry)."""
    seen: list = []

    def attempt():
        seen.append(status(mtastsd, day, domain))
        entries = seen[-1]
        return entries if len(entries) == 2 and all(condition(e) for e in entries.values()) else None
    try:
        return wait_until(attempt, WAIT, f"{domain}'s deliveries {what}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last status: {json.dumps(seen[-1] if seen else None, indent=1)}") from None


def mail_report(record: dict) -> tuple[email.message.Message, dict]:
    """The message and its report JSON, gunzipped from the application/tlsrpt+gzip part."""
    message = email.message_from_bytes(record["content"].encode("latin-1"), policy=email.policy.default)
    [attachment] = [p for p in message.iter_parts() if p.get_content_type() == "application/tlsrpt+gzip"]
    return message, json.loads(gzip.decompress(attachment.get_content()))


def posted_report(record: dict) -> dict:
    assert record["headers"]["content-type"] == "application/tlsrpt+gzip"
    return json.loads(gzip.decompress(base64.b64decode(record["body"])))


# dkimpy checks t= against its own clock: it runs on the sender's fake clock, like a receiver at the
# time of sending. Exit 0: verified.
VERIFY_DKIM = """
import sys, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
def txt(query, timeout=5):
    return record if query.rstrip(b".") == name else None
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=txt) else 1)
"""


def dkim_verifies(message: bytes, receivers: Receivers, clock: FakeClock) -> bool:
    p = subprocess.run(["/usr/bin/python3", "-c", VERIFY_DKIM, f"{SELECTOR}._domainkey.{SUBMITTER}",
                        receivers.key_record.decode()], input=message, capture_output=True, timeout=30,
                       env={**os.environ, **clock.env()})
    assert p.returncode in (0, 1), p.stderr.decode()
    return p.returncode == 0


def check_report(report: dict, fake_day: FakeDay, domain: str) -> None:
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["date-range"] == {"start-datetime": f"{fake_day.day}T00:00:00Z",
                                    "end-datetime": f"{fake_day.day}T23:59:59Z"}
    [policy] = report["policies"]
    assert policy["policy"]["policy-domain"] == domain
    successful, failed = SESSIONS[domain]
    assert policy["summary"] == {"total-successful-session-count": successful,
                                 "total-failure-session-count": failed}
    assert sum(d["failed-session-count"] for d in policy.get("failure-details", [])) == failed


# ---- 1. the daemon sends by itself ---------------------------------------------------------------------

def test_after_midnight_the_reports_go_out_by_themselves(fake_day, receivers):
    entries = wait_for_status(fake_day.main, fake_day.day, OK, lambda e: e["state"] == "delivered", "delivered")
    assert set(entries) == {mail_rua(OK), https_rua(OK)}
    for e in entries.values():
        assert e["attempts"] == 1, e
        # Planned once the day was over, sent once due: never before midnight.
        assert utc(e["planned"]) >= fake_day.midnight + PLAN_SETTLE
        assert fake_day.midnight <= utc(e["first_attempt"]) <= utc(e["finished"])
    report_id = entries[mail_rua(OK)]["report_id"]
    assert entries[https_rua(OK)]["report_id"] == report_id, "one report for the record's rua list"

    [mail] = receivers.accepted_mails(OK)
    assert mail["from"] == FROM and mail["to"] == [mailbox(OK)]
    message, report = mail_report(mail)
    check_report(report, fake_day, OK)
    assert report["report-id"] == report_id
    assert message["TLS-Report-Domain"] == OK
    assert message["Date"].datetime.date() == dt.date.fromisoformat(day_of(fake_day.midnight)), "fake clock's date"
    raw = mail["content"].encode("latin-1")
    assert dkim_verifies(raw, receivers, fake_day.clock)
    assert not dkim_verifies(raw.replace(f"Report Domain: {OK}".encode(), b"Report Domain: x.example"),
                             receivers, fake_day.clock), "the verifier checks"

    [post] = receivers.accepted_posts(OK)
    assert posted_report(post) == report
    assert len(receivers.posts(OK)) == 1
    queued = [line for line in fake_day.main.log().splitlines() if f"for {OK} queued" in line]
    assert len(queued) == 1 and f"reports of {fake_day.day}" in queued[0], queued


# ---- 2. a temporary failure is retried after the back-off ------------------------------------------

def test_temporary_failures_are_retried_after_five_minutes(fake_day, receivers):
    entries = wait_for_status(fake_day.main, fake_day.day, RETRY,
                              lambda e: e["state"] == "queued" and e["attempts"] == 1, "tried once")
    for e in entries.values():
        assert e["state"] == "queued" and e["last_result"].startswith("temporary"), e
        delay = utc(e["next_attempt"]) - utc(e["first_attempt"])
        assert FIRST_RETRY_DELAY <= delay <= FIRST_RETRY_DELAY + 5, e
    assert "451 4.3.0" in entries[mail_rua(RETRY)]["last_result"]
    assert "503" in entries[https_rua(RETRY)]["last_result"]
    report_id = entries[mail_rua(RETRY)]["report_id"]
    assert receivers.accepted_mails(RETRY) == []
    [refused] = receivers.posts(RETRY)
    assert refused["answer"] == 503 and posted_report(refused)["report-id"] == report_id

    # Nothing happens before the retry time; then the receivers take the reports.
    assert {e["state"] for e in status(fake_day.main, fake_day.day, RETRY).values()} == {"queued"}
    receivers.set_rules(RETRY)
    fake_day.clock.jump_to(max(utc(e["next_attempt"]) for e in entries.values()) + 1)
    entries = wait_for_status(fake_day.main, fake_day.day, RETRY, lambda e: e["state"] == "delivered", "delivered")
    assert {e["attempts"] for e in entries.values()} == {2}
    assert {e["report_id"] for e in entries.values()} == {report_id}
    [mail] = receivers.accepted_mails(RETRY)
    _, report = mail_report(mail)
    check_report(report, fake_day, RETRY)
    assert report["report-id"] == report_id
    assert [p["answer"] for p in receivers.posts(RETRY)] == [503, 200]
    assert posted_report(receivers.posts(RETRY)[1]) == report


# ---- 3. kill -9 in the middle of an attempt ---------------------------------------------------------

def test_an_attempt_cut_off_by_kill9_is_taken_over_at_restart_and_sent_once(fake_day, receivers):
    mtastsd = fake_day.crash
    wait_until(lambda: receivers.mails(CRASH) and receivers.posts(CRASH), WAIT, "both attempts to stall")
    sending = wait_for_status(mtastsd, fake_day.day, CRASH, lambda e: e["state"] == "sending", "sending")
    for e in sending.values():
        assert e["claimed_by"] == mtastsd.process.pid and e["attempts"] == 1, e
    [stalled_mail] = receivers.mails(CRASH)
    [stalled_post] = receivers.posts(CRASH)
    assert stalled_mail["stalled"] and stalled_post["answer"] == "hang"
    report_id = sending[mail_rua(CRASH)]["report_id"]

    mtastsd.kill9()
    receivers.set_rules(CRASH)
    mtastsd.start()
    entries = wait_for_status(mtastsd, fake_day.day, CRASH, lambda e: e["state"] == "delivered", "delivered")
    for rua, e in entries.items():
        assert e["attempts"] == 2 and e["report_id"] == report_id, e
        # Taken over because the claimant is dead, not because its lease ran out.
        assert utc(sending[rua]["next_attempt"]) == utc(e["first_attempt"]) + LEASE, sending[rua]
        assert utc(e["finished"]) < utc(sending[rua]["next_attempt"]), (e, sending[rua])
    taken_over = f"the attempt by process {sending[mail_rua(CRASH)]['claimed_by']} was interrupted"
    assert taken_over in mtastsd.log() and "sending it again with the same report-id" in mtastsd.log()
    [mail] = receivers.accepted_mails(CRASH)
    assert mail_report(mail)[1] == mail_report(stalled_mail)[1]
    assert mail_report(mail)[0]["Message-ID"] == mail_report(stalled_mail)[0]["Message-ID"]
    check_report(mail_report(mail)[1], fake_day, CRASH)
    [post] = receivers.accepted_posts(CRASH)
    assert posted_report(post) == posted_report(stalled_post) == mail_report(mail)[1]

    # Delivered is final: neither a restart after another kill -9 nor `report send` sends again.
    mtastsd.kill9()
    mtastsd.start()
    again = mtastsd.ctl("report", "send", "--day", fake_day.day)
    assert again.returncode == 1, again
    assert "already delivered" in again.stderr and "--resend" in again.stderr, again.stderr
    assert len(receivers.mails(CRASH)) == 2 and len(receivers.posts(CRASH)) == 2
    assert {e["state"] for e in status(mtastsd, fake_day.day, CRASH).values()} == {"delivered"}


# ---- 4. a permanent failure, sent again by hand ------------------------------------------------------

def test_permanent_failure_ends_at_once_and_report_send_retries_it(fake_day, receivers):
    failed = wait_for_status(fake_day.main, fake_day.day, FAIL, lambda e: e["state"] == "failed", "failed")
    for e in failed.values():
        assert e["attempts"] == 1 and e["last_result"].startswith("permanent") and e["next_attempt"] is None, e
    assert "550 5.1.1" in failed[mail_rua(FAIL)]["last_result"]
    assert "404" in failed[https_rua(FAIL)]["last_result"]
    assert receivers.accepted_mails(FAIL) == [] and receivers.accepted_posts(FAIL) == []

    # Later the receivers are fixed and the operator sends the day's reports again.
    receivers.set_rules(FAIL)
    fake_day.clock.jump_to(fake_day.clock.now() + 60)
    before = int(fake_day.clock.now())
    sent = fake_day.main.ctl("report", "send", "--day", fake_day.day, "--domain", FAIL)
    assert sent.returncode == 0, sent
    assert sent.stdout.count("delivered ") == 2, sent.stdout
    entries = status(fake_day.main, fake_day.day, FAIL)
    for rua, e in entries.items():
        assert e["state"] == "delivered" and e["attempts"] == 2, e
        assert e["report_id"] == failed[rua]["report_id"]
        # A fresh retry period: it counts from this attempt.
        assert utc(e["first_attempt"]) >= before > utc(failed[rua]["first_attempt"]), (e, failed[rua])
    [mail] = receivers.accepted_mails(FAIL)
    _, report = mail_report(mail)
    check_report(report, fake_day, FAIL)
    assert report["report-id"] == failed[mail_rua(FAIL)]["report_id"]
    [post] = receivers.accepted_posts(FAIL)
    assert posted_report(post) == report


# ---- 5. what report send refuses -----------------------------------------------------------------------

def test_report_send_refuses_a_day_not_over_and_finds_nothing_on_a_day_without_counts(fake_day):
    today = day_of(fake_day.clock.now())
    assert today == day_of(fake_day.midnight)
    refused = fake_day.main.ctl("report", "send", "--day", today)
    assert refused.returncode == 2 and "is not over yet" in refused.stderr, refused
    empty_day = day_of(fake_day.midnight - 86400 - 1)
    empty = fake_day.main.ctl("report", "send", "--day", empty_day)
    assert empty.returncode == 1 and f"no sessions counted on {empty_day}" in empty.stderr, empty
    assert fake_day.main.ctl_json("report", "status", "--day", empty_day) == []


# ---- 6. attempts in flight: a lease running out, a stop ----------------------------------------------

def test_attempts_in_flight_are_not_claimed_twice_and_a_stop_waits_for_them(fake_day, receivers):
    """One e-mail is held at DATA, the next one waits for the daemon's only mail worker; then the
    wall clock steps past both claims' lease (as after a suspended VM resumes). The daemon still
    runs both attempts: it must not start second ones beside them. Then SIGTERM: the daemon waits
    for both (within its drain deadline), records them delivered, and exits cleanly."""
    mtastsd = fake_day.queue
    wait_until(lambda: receivers.mails(HOLD), WAIT, "the first e-mail to be held")
    hold = wait_for_status(mtastsd, fake_day.day, HOLD, lambda e: e["state"] in ("sending", "queued"), "tried")
    assert hold[mail_rua(HOLD)]["state"] == "sending" and hold[https_rua(HOLD)]["state"] == "queued", hold
    waiting = status(mtastsd, fake_day.day, BEHIND)[mail_rua(BEHIND)]
    assert waiting["state"] == "sending" and waiting["attempts"] == 1, waiting
    assert receivers.mails(BEHIND) == [], "the second e-mail waits behind the first"

    # The step also makes HOLD's refused upload due again: the scan that claims it weighs both
    # e-mails' expired claims too.
    receivers.set_rules(HOLD, relay={"DATA": "stall"})
    upload = status(mtastsd, fake_day.day, HOLD)[https_rua(HOLD)]
    fake_day.clock.jump_to(max(utc(waiting["next_attempt"]), utc(upload["next_attempt"])) + 1)
    wait_until(lambda: status(mtastsd, fake_day.day, HOLD)[https_rua(HOLD)]["state"] == "delivered", WAIT,
               "the upload retried after the step")
    for domain in (HOLD, BEHIND):
        e = status(mtastsd, fake_day.day, domain)[mail_rua(domain)]
        assert e["state"] == "sending" and e["attempts"] == 1, e

    os.kill(mtastsd.process.pid, signal.SIGTERM)
    wait_until(lambda: "stopping (draining" in mtastsd.log(), WAIT, "the daemon to start draining")
    receivers.set_rules(HOLD)
    assert mtastsd.stop() == 0, mtastsd.log()[-3000:]
    for domain in (HOLD, BEHIND):
        e = status(mtastsd, fake_day.day, domain)[mail_rua(domain)]
        assert e["state"] == "delivered" and e["attempts"] == 1, e
        assert len(receivers.accepted_mails(domain)) == 1
