"""A day of Postfix traffic becomes correct, signed TLS-RPT reports delivered to both kinds of rua,
with no session lost or counted twice across a kill -9 of mtastsd (issue #4, "Done when").

One mtastsd on a fake clock (rig/fake_clock.py) that starts LEAD_TIME before a fake UTC midnight
answers and counts for two real Postfix instances, each collected the way its generation allows
(test_tlsrpt_e2e.py): Postfix 3.10 (Debian 13 root, smtp_tlsrpt_enable = yes) sends a libtlsrpt
datagram per TLS result to mtastsd's socket; Postfix 3.7 (this machine) is followed through its
maillog_file. Both send the same mail to the report domains scenarios.DAY_DOMAINS: an enforce
policy with a good MX (GOOD); an enforce policy whose preferred MX has an expired certificate, so
that every mail fails there and goes on to the good MX 20 (MIXED); an enforce policy whose only MX
has a certificate for another name, so the mail is deferred (FAIL); no MTA-STS, a good MX (NOSTS);
a mode testing policy whose only MX has an expired certificate (TESTING, issue #5's "Done when").
Each domain's TLSRPT record names a mailbox and an https URI.

TESTING: mtastsd answers its policy NOTFOUND, so Postfix delivers as without a policy (level may)
and reports successful no-policy-found sessions; this mtastsd has [mx_validation] enabled (the
rig's base configuration turns it off) and counts them under the domain's sts policy as failed,
with the result type and MX host of its own validation (man mtastsd.8, "Testing mode"). The
validation is awaited before any mail goes out: a session counted before it would be counted with
Postfix's own outcome. Validation concerns testing-mode domains only: the other domains' numbers
are those of Postfix's logs, as without it.

The day, in fake time:
1. morning: the MORNING mail; once Postfix's logs show the sessions the plan says, the counts
   `mtastsctl report list` reads from LMDB (so: committed) must equal them;
2. kill -9 of mtastsd in the quiet after that (the deferred mail's next try is an hour away),
   and a restart: the counts are still the same;
3. afternoon: the AFTERNOON mail and `postqueue -f`, which tries the deferred mail once more;
   the counts again;
4. the clock jumps past midnight: the daemon builds the day's reports and sends them by itself
   (tlsrpt.send_delay) to the test's SMTP relay, DKIM-signed, and to its HTTPS endpoint
   (test_report_schedule.running_receivers); awaited through `report status --json`.

The expected counts come from Postfix's logs, never from mtastsd: each completed handshake is a
"<trust> TLS connection established to HOST[ADDR]:25" line, a successful session where it met the
domain's policy (Verified under an enforce policy, level secure; any TLS without a policy, level
may; under the testing policy, where the MX host has no defect), a failed one otherwise; 3.10 also logs each datagram it sends ("TLSRPT: status=..."). The logs
are first checked against the plan (what was sent, scenarios.py's MX hosts), so a Postfix that did
something else fails that check rather than moving the target. Failure result types are the MX
host's defect (RESULT_TYPES), which 3.10's TLSRPT lines confirm.

Waiting, never sleeping: each phase waits for the logs to show the plan, then for the counts. A
session in flight at a kill would be lost by design (man mtastsd.8, TLS REPORTING): the test
kills only when nothing is. Without the Debian 13 root the day runs with 3.7 alone (conftest.py's
loud skip says why) and the 3.10 checks are skipped."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import jsonschema
import pytest

import scenarios as sc
from rig.fake_clock import FakeClock
from rig.mtastsd import Mtastsd
from rig.postfix import HOST_3_7, Generation, Postfix, trixie_3_10
from rig.procs import WaitTimeout, wait_until
from rig.receivers import Receivers as MxReceivers
from rig.resolver import use_rig_resolver
from test_report_schedule import (FROM, PLAN_SETTLE, SCHEMA, SUBMITTER, Receivers, counted, dkim_verifies, day_of,
                                  mail_report, mailbox, posted_report, running_receivers, sending_config, utc)
from test_report_delivery import records
from test_tlsrpt_collect import ORIGIN

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/postfix").exists(),
                                reason="Postfix is not installed (apt-get install postfix; see scripts/lib.sh)")

GOOD, MIXED, FAIL, NOSTS, TESTING = sc.DAY_DOMAINS
PROFILES = {"3.7": "default", "3.10": "tlsrpt"}  # the map name each generation's Postfix asks
MTASTSD_TCP = "127.0.0.1:8464"  # Postfix 3.10's policy lookups (rig/postfix.py: why TCP)
LEAD_TIME = 300  # the fake clock starts this long before midnight: the day's traffic fits in it
WAIT = 30        # seconds any awaited event may take

# Mails per domain before the kill and after the restart; the afternoon's `postqueue -f` adds one
# attempt of every deferred mail. One mail to FAIL: a second one would find its destination
# throttled after the first failure (qmgr), without a session.
MORNING = {GOOD: 2, MIXED: 2, FAIL: 1, NOSTS: 1, TESTING: 2}
AFTERNOON = {GOOD: 1, MIXED: 1, NOSTS: 1, TESTING: 1}

# The RFC 8460 sec. 4.3.2.1 result type of a session to an MX served by this receiver kind, under
# an sts policy (None: the session succeeds); under the testing policy, what mtastsd's validation
# of the MX host finds (scenarios.TESTING_RESULTS).
RESULT_TYPES = {"good": None, "expired": "certificate-expired", "wrong-name": "certificate-host-mismatch"}
MX_DOMAIN = {host: domain for domain in sc.DAY_DOMAINS for host, _kind in sc.BY_DOMAIN[domain].mx}

TLS_ESTABLISHED = re.compile(r"^(?P<trust>Anonymous|Untrusted|Trusted|Verified) TLS connection established to "
                             r"(?P<host>[^\[\s]+)\[(?P<address>[^\]]+)\]:\d+:")
# Postfix 3.10's log line for each datagram it sends (TLSRPT_README "TLSRPT Status logging").
TLSRPT_STATUS = re.compile(r"^TLSRPT: status=(?P<status>\w+), domain=(?P<domain>[^,]+), "
                           r"receiving_mx=(?P<host>[^\[,]+)\[[^\]]*\](?:, failure_type=(?P<type>\w+))?")

Session = tuple[str, str, bool]  # (report domain, MX host, successful)


def has_policy(domain: str) -> bool:
    return sc.BY_DOMAIN[domain].policy is not None


def is_testing(domain: str) -> bool:
    """A mode testing policy: answered NOTFOUND, its sessions judged by mtastsd's validation."""
    return has_policy(domain) and "mode: testing" in sc.BY_DOMAIN[domain].policy.splitlines()


def attempt_sessions(domain: str) -> list[tuple[str, Optional[str]]]:
    """The sessions one delivery attempt to the domain makes, as (MX host, result type or None):
    the MX hosts in preference order up to the first good one (after a TLS failure under an enforce
    policy Postfix tries the next MX host); under a testing policy, Postfix's level may, the first
    MX host whatever its certificate."""
    sessions = []
    for host, kind in sc.BY_DOMAIN[domain].mx:
        sessions.append((host, RESULT_TYPES[kind] if has_policy(domain) else None))
        if sessions[-1][1] is None or is_testing(domain):
            break
    return sessions


def delivered(domain: str) -> bool:
    return is_testing(domain) or attempt_sessions(domain)[-1][1] is None


@dataclass
class Sender:
    """One generation's Postfix, the mail it was given and the delivery attempts that makes."""
    generation: Generation
    postfix: Postfix
    message_ids: dict[str, list[str]] = field(default_factory=dict)  # domain -> Message-IDs
    attempts: Counter[str] = field(default_factory=Counter)          # Message-ID -> attempts due

    @property
    def name(self) -> str:
        return self.generation.name

    def send(self, mails: dict[str, int]) -> None:
        for domain, count in mails.items():
            for _ in range(count):
                message_id = f"<{uuid.uuid4().hex}@sender.example>"
                self.postfix.send(f"user@{domain}", message_id)
                self.message_ids.setdefault(domain, []).append(message_id)
                self.attempts[message_id] += 1

    def flush(self) -> None:
        """postqueue -f: every deferred mail is tried once more."""
        self.postfix.flush()
        for domain, message_ids in self.message_ids.items():
            if not delivered(domain):
                self.attempts.update(message_ids)

    def await_attempts(self) -> None:
        for message_id, count in self.attempts.items():
            self.postfix.wait_for_attempts(message_id, count, timeout=WAIT)

    def planned_sessions(self) -> Counter[Session]:
        """The sessions the mail sent so far must have made."""
        planned: Counter[Session] = Counter()
        for domain, message_ids in self.message_ids.items():
            for message_id in message_ids:
                for host, result_type in attempt_sessions(domain):
                    planned[(domain, host, result_type is None)] += self.attempts[message_id]
        return planned

    def logged_sessions(self) -> Counter[Session]:
        """The TLS sessions Postfix's log shows to the report domains' MX hosts."""
        sessions: Counter[Session] = Counter()
        for line in self.postfix.log_lines():
            m = TLS_ESTABLISHED.match(line.text)
            if line.program == "smtp" and m and m["host"] in MX_DOMAIN:
                domain = MX_DOMAIN[m["host"]]
                if is_testing(domain):  # Postfix checks nothing: the MX host's defect decides
                    ok = RESULT_TYPES[dict(sc.BY_DOMAIN[domain].mx)[m["host"]]] is None
                else:
                    ok = m["trust"] == "Verified" if has_policy(domain) else True
                sessions[(domain, m["host"], ok)] += 1
        return sessions

    def tlsrpt_status_lines(self) -> Counter:
        """Postfix 3.10's own account of the datagrams it sent: Counter of (domain, MX host, result
        type or None)."""
        reported: Counter = Counter()
        for line in self.postfix.log_lines():
            m = TLSRPT_STATUS.match(line.text)
            if m and m["domain"] in sc.DAY_DOMAINS:
                failure = m["type"].replace("_", "-") if m["status"] == "failure" else None
                reported[(m["domain"], m["host"], failure)] += 1
        return reported


@dataclass
class Day:
    """The fake day and what it left: the daemon, the senders, the receivers, the counts read
    around the kill and the report deliveries."""
    clock: FakeClock
    day: str          # the fake day of the traffic
    midnight: float   # its end, unix seconds
    mtastsd: Mtastsd
    senders: dict[str, Sender]
    missing: dict[str, str]  # generation -> why it did not run
    receivers: Receivers
    mx_receivers: MxReceivers
    validation: dict  # TESTING's MX validation as `cache show --json` gave it before the mail
    before_kill: dict[str, tuple[int, int]] = field(default_factory=dict)    # domain -> committed counts
    after_restart: dict[str, tuple[int, int]] = field(default_factory=dict)
    morning_sessions: dict[str, Counter[Session]] = field(default_factory=dict)  # generation -> logged
    deliveries: list[dict] = field(default_factory=list)  # `report status --json` once all delivered

    def sessions(self) -> Counter[Session]:
        """Every generation's logged sessions of the day."""
        return sum((s.logged_sessions() for s in self.senders.values()), Counter())

    def expected_counts(self, sessions: Optional[Counter[Session]] = None) -> dict[str, tuple[int, int]]:
        """(successful, failed) per report domain, from the logs."""
        sessions = self.sessions() if sessions is None else sessions
        return {domain: (sum(n for (d, _h, ok), n in sessions.items() if d == domain and ok),
                         sum(n for (d, _h, ok), n in sessions.items() if d == domain and not ok))
                for domain in sc.DAY_DOMAINS}

    def expected_result_types(self, domain: str) -> dict[str, int]:
        kinds = dict(sc.BY_DOMAIN[domain].mx)
        types: Counter = Counter()
        for (d, host, ok), n in self.sessions().items():
            if d == domain and not ok:
                types[RESULT_TYPES[kinds[host]]] += n
        return dict(types)

    def counts(self) -> dict[str, tuple[int, int]]:
        return {domain: counted(self.mtastsd, self.day, domain) for domain in sc.DAY_DOMAINS}

    def settle(self, phase: str) -> None:
        """Wait until every planned delivery attempt is logged, each Postfix's log shows the planned
        sessions, and the committed counts equal the logged sessions."""
        for sender in self.senders.values():
            sender.await_attempts()
            await_equal(sender.logged_sessions, sender.planned_sessions(),
                        f"Postfix {sender.name}'s {phase} sessions in its log",
                        lambda: f"Postfix log tail:\n{sender.postfix.log()[-3000:]}")
        await_equal(self.counts, self.expected_counts(), f"the {phase} sessions counted")

    def report_status(self) -> list[dict]:
        return self.mtastsd.ctl_json("report", "status", "--day", self.day)


def await_equal(current, expected, what: str, context=lambda: "") -> None:
    """Poll current() until it equals expected; on timeout say what it was last."""
    seen = []
    try:
        wait_until(lambda: (seen.append(current()), seen[-1] == expected)[1], WAIT, what)
    except WaitTimeout as e:
        raise AssertionError(f"{e}: last {seen[-1] if seen else None!r}, expected {expected!r}\n{context()}") from None


def mail_rua(domain: str) -> str:
    return f"mailto:{mailbox(domain)}"


def https_rua(domain: str) -> str:
    return f"https://{sc.DAY_HTTPS_HOST}/{domain}"


def await_answers(mtastsd: Mtastsd, profiles: list[str]) -> None:
    """Every domain's policy cached before its mail goes out (Postfix gets the answer from the
    cache, not from the cold-lookup budget)."""
    for domain in sc.DAY_DOMAINS:
        expected = sc.secure_answer(domain) if has_policy(domain) and not is_testing(domain) else "NOTFOUND"
        for profile in profiles:
            mtastsd.wait_for_answer(domain, lambda reply: reply.startswith(expected), name=profile)


@pytest.fixture(scope="module")
def day(rig, request, tmp_path_factory) -> Day:
    """The whole day (module comment), up to the reports delivered; the tests check what it left."""
    directory = tmp_path_factory.mktemp("tlsrpt-day")
    try:
        use_rig_resolver(rig.dns.unbound_address, directory)
    except OSError as e:
        pytest.skip(f"cannot point /etc/resolv.conf at the rig's unbound ({e}); run tests/integration/run")
    generations, missing = {"3.7": HOST_3_7}, {}
    try:
        generations["3.10"] = trixie_3_10(request.getfixturevalue("trixie_root"), tlsrpt=True)
    except pytest.skip.Exception as e:
        missing["3.10"] = str(e)
    stack = contextlib.ExitStack()  # closed last in, first out, also when a step here fails
    request.addfinalizer(stack.close)
    mx_receivers = MxReceivers(directory / "mx", rig).start()
    stack.callback(mx_receivers.stop)
    (directory / "reports").mkdir()
    receivers = stack.enter_context(running_receivers(rig, directory / "reports", sc.DAY_RELAY_ADDRESS,
                                                      sc.DAY_HTTPS_ADDRESS, sc.DAY_HTTPS_HOST))

    senders = {}
    for name, generation in generations.items():
        postfix = Postfix(directory / name, rig.ca_file, generation, profile=PROFILES[name],
                          policy_tcp=MTASTSD_TCP if generation.root else None)
        postfix.prepare()
        # No retry of deferred mail but the test's own (a retry is another session).
        postfix.set(minimal_backoff_time="1h", maximal_backoff_time="1h")
        senders[name] = Sender(generation, postfix)

    state = directory / "mtastsd"
    tlsrpt = sending_config(receivers, rig.ca_file, "30s", relay=f"{sc.DAY_RELAY_ADDRESS}:25")["tlsrpt"]
    listen = [{"unix": str(state / "socketmap.sock"), "mode": "0600"}]
    if "3.10" in senders:
        listen.append({"tcp": MTASTSD_TCP})
        tlsrpt.update(socket=str(senders["3.10"].postfix.tlsrpt_socket), socket_mode="0666")
    postfix_3_7 = senders["3.7"].postfix
    listen.append({"unix": str(postfix_3_7.policy_socket), "group": "postfix", "mode": "0660"})
    tlsrpt.update(postfix_log=str(postfix_3_7.maillog), postfix_log_profile=PROFILES["3.7"])

    # The next midnight at least LEAD_TIME + 60 s ahead: the fake clock never runs behind the real
    # one (the test CA's certificates are valid from the rig's start on).
    midnight = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=LEAD_TIME + 60)).date() + dt.timedelta(days=1)
    midnight = dt.datetime.combine(midnight, dt.time(), dt.timezone.utc).timestamp()
    clock = FakeClock(directory / "fake-clock-offset")
    clock.jump_to(midnight - LEAD_TIME)
    validation = {"enabled": True, "helo_name": "sender.example"}  # TESTING's (module comment)
    mtastsd = Mtastsd(rig, state, {"listen": listen, "tlsrpt": tlsrpt, "mx_validation": validation},
                      tcp=MTASTSD_TCP if "3.10" in senders else None, env=clock.env())
    Mtastsd.running.append(mtastsd)
    stack.callback(Mtastsd.running.remove, mtastsd)
    stack.callback(lambda: assert_clean_stop(mtastsd))
    mtastsd.start()  # before Postfix: the 3.7 log's first lines are read too
    for sender in senders.values():
        stack.callback(sender.postfix.stop)
        sender.postfix.start()
    await_answers(mtastsd, [PROFILES[name] for name in senders])
    # The lookups started TESTING's validation; its sessions must find it done.
    entry = mtastsd.wait_for_entry(TESTING, lambda e: e["mx_validation"] is not None, timeout=WAIT,
                                   what=f"the MX validation of {TESTING}")

    d = Day(clock, day_of(midnight - 1), midnight, mtastsd, senders, missing, receivers, mx_receivers,
            entry["mx_validation"])
    for sender in senders.values():
        sender.send(MORNING)
    d.settle("morning")
    d.morning_sessions = {name: sender.logged_sessions() for name, sender in senders.items()}
    d.before_kill = d.counts()
    mtastsd.kill9()
    mtastsd.start()
    d.after_restart = d.counts()

    for sender in senders.values():
        sender.send(AFTERNOON)
        sender.flush()
    d.settle("afternoon")
    assert clock.now() < midnight, "the day's traffic took longer than LEAD_TIME"

    clock.jump_to(midnight + PLAN_SETTLE)
    rua_count = 2 * len(sc.DAY_DOMAINS)
    seen: list[list[dict]] = []

    def all_delivered() -> Optional[list[dict]]:
        seen.append(d.report_status())
        return seen[-1] if len(seen[-1]) == rua_count and all(e["state"] == "delivered" for e in seen[-1]) else None
    try:
        d.deliveries = wait_until(all_delivered, WAIT, "every report delivered")
    except WaitTimeout as e:
        raise AssertionError(f"{e}; last status: {json.dumps(seen[-1] if seen else None, indent=1)}") from None
    return d


def assert_clean_stop(mtastsd: Mtastsd) -> None:
    status = mtastsd.stop()
    assert status in (0, None), f"mtastsd exited with {status} on SIGTERM; log:\n{mtastsd.log()[-3000:]}"


@pytest.fixture(params=("3.7", "3.10"))
def sender(request, day) -> Sender:
    if request.param in day.missing:
        pytest.skip(day.missing[request.param])
    return day.senders[request.param]


# ---- what Postfix did -----------------------------------------------------------------------------

def test_postfix_made_the_planned_sessions(day, sender):
    """The traffic the counts are about, as Postfix logged it: each mail's attempts went where
    scenarios.py's MX hosts say, delivered or deferred as its policy demands, and each attempt made
    the planned sessions; no warnings."""
    for domain, message_ids in sender.message_ids.items():
        final_host = attempt_sessions(domain)[-1][0]
        for message_id in message_ids:
            attempts = sender.postfix.deliveries(sender.postfix.queue_id(message_id))
            assert len(attempts) == sender.attempts[message_id], attempts  # no retry but the test's
            assert [(a.relay.split("[")[0], a.status) for a in attempts] == \
                [(final_host, "sent" if delivered(domain) else "deferred")] * len(attempts)
    assert sender.logged_sessions() == sender.planned_sessions()
    warnings = [line.text for line in sender.postfix.log_lines()
                if line.text.startswith(("warning:", "error:", "fatal:", "panic:"))]
    assert warnings == []


def test_postfix_310_reported_each_session_with_its_result_type(day):
    """3.10's own account of the datagrams it sent: one per logged session, the failures with the
    result type of the MX host's defect."""
    if "3.10" in day.missing:
        pytest.skip(day.missing["3.10"])
    sender = day.senders["3.10"]
    kinds = {host: kind for domain in sc.DAY_DOMAINS for host, kind in sc.BY_DOMAIN[domain].mx}
    expected = Counter()
    for (domain, host, ok), n in sender.logged_sessions().items():
        # Postfix knows no testing policy: a success for it, whatever the certificate.
        expected[(domain, host, None if ok or is_testing(domain) else RESULT_TYPES[kinds[host]])] += n
    assert sender.tlsrpt_status_lines() == expected


# ---- the kill -9 ---------------------------------------------------------------------------------

def test_counts_committed_before_the_kill_are_there_after_it(day):
    """The morning's sessions, as the logs show them, read from LMDB before the kill -9 and at once
    after the restart: nothing lost, nothing counted again."""
    morning = day.expected_counts(sum(day.morning_sessions.values(), Counter()))
    assert day.before_kill == morning
    assert day.after_restart == morning


def test_the_day_counts_every_session_once(day):
    """After the afternoon's traffic and long after the restart (a log read again from too early
    would show here): the logged sessions of the whole day, nothing more or less; successes and
    failures on both sides of the kill."""
    total = day.expected_counts()
    assert day.counts() == total
    grew = {domain: (total[domain][0] > day.before_kill[domain][0], total[domain][1] > day.before_kill[domain][1])
            for domain in sc.DAY_DOMAINS}
    assert grew == {GOOD: (True, False), MIXED: (True, True), FAIL: (False, True), NOSTS: (True, False),
                    TESTING: (False, True)}


# ---- the reports ---------------------------------------------------------------------------------

def delivery(day: Day, rua: str) -> dict:
    [entry] = [e for e in day.deliveries if e["rua"] == rua]
    return entry


def mailed(day: Day, domain: str) -> tuple:
    """The one message the relay took for the domain: (record, message, report)."""
    mails = day.receivers.mails(domain)
    assert len(mails) == 1, f"{domain}: {len(mails)} e-mails"
    message, report = mail_report(mails[0])
    return mails[0], message, report


def posted(day: Day, domain: str) -> dict:
    posts = day.receivers.posts(domain)
    assert len(posts) == 1, f"{domain}: {len(posts)} uploads"
    assert posts[0]["answer"] == 200
    return posted_report(posts[0])


def test_each_report_was_delivered_once_to_each_rua_after_midnight(day):
    assert sorted((e["domain"], e["rua"]) for e in day.deliveries) == sorted(
        (domain, rua) for domain in sc.DAY_DOMAINS for rua in (mail_rua(domain), https_rua(domain)))
    for e in day.deliveries:
        assert e["state"] == "delivered" and e["attempts"] == 1, e
        assert utc(e["first_attempt"]) >= day.midnight + PLAN_SETTLE, e
    # Exactly one copy each: nothing else reached the receivers.
    assert sorted(to for m in records(day.receivers.relay_record) for to in m["to"]) == sorted(
        mailbox(domain) for domain in sc.DAY_DOMAINS)
    assert sorted(p["path"] for p in records(day.receivers.https_record)) == sorted(
        f"/{domain}" for domain in sc.DAY_DOMAINS)


def test_mail_and_https_carry_the_same_report(day):
    for domain in sc.DAY_DOMAINS:
        _record, _message, report = mailed(day, domain)
        assert posted(day, domain) == report
        assert report["report-id"] == delivery(day, mail_rua(domain))["report_id"] == \
            delivery(day, https_rua(domain))["report_id"]
    assert len({mailed(day, domain)[2]["report-id"] for domain in sc.DAY_DOMAINS}) == len(sc.DAY_DOMAINS)


def test_reports_count_the_sessions_postfix_made(day):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    expected = day.expected_counts()
    for domain in sc.DAY_DOMAINS:
        report = mailed(day, domain)[2]
        assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)] == []
        assert report["date-range"] == {"start-datetime": f"{day.day}T00:00:00Z",
                                        "end-datetime": f"{day.day}T23:59:59Z"}
        assert (report["organization-name"], report["contact-info"]) == (ORIGIN["organization_name"],
                                                                         ORIGIN["contact_info"])
        [policy] = report["policies"]  # both generations' sessions under one policy
        assert policy["summary"] == {"total-successful-session-count": expected[domain][0],
                                     "total-failure-session-count": expected[domain][1]}, domain
        details = policy.get("failure-details", [])
        types: Counter = Counter()
        for detail in details:
            types[detail["result-type"]] += detail["failed-session-count"]
        assert dict(types) == day.expected_result_types(domain), domain


def test_reports_name_the_policy_and_the_failing_mx_hosts(day):
    """The policy as published (one for both generations); each failure detail names the MX host
    and address the session went to, with its result type."""
    for domain in sc.DAY_DOMAINS:
        [policy] = mailed(day, domain)[2]["policies"]
        expected = {"policy-type": "sts" if has_policy(domain) else "no-policy-found", "policy-domain": domain}
        if has_policy(domain):
            body = sc.BY_DOMAIN[domain].policy
            expected.update({"policy-string": body.splitlines(),
                             "mx-host": [line.split(": ", 1)[1] for line in body.splitlines()
                                         if line.startswith("mx: ")]})
        assert policy["policy"] == expected
        kinds = dict(sc.BY_DOMAIN[domain].mx)
        details = policy.get("failure-details", [])
        for detail in details:
            host = detail["receiving-mx-hostname"]
            assert RESULT_TYPES[kinds[host]] == detail["result-type"], detail
            assert detail["receiving-ip"] == sc.SMTP_RECEIVERS[kinds[host]], detail
        if is_testing(domain):  # one detail from the validation for both generations: see below
            continue
        # One detail per generation and failing MX host, however many sessions, before and after the
        # kill (3.10's carry sending-mta-ip, which 3.7's log does not give), each with the failed
        # sessions that generation's log shows.
        by_source = {(d["receiving-mx-hostname"], "3.10" if "sending-mta-ip" in d else "3.7"): d["failed-session-count"]
                     for d in details}
        assert len(by_source) == len(details), details
        assert by_source == {(host, name): n for name, sender in day.senders.items()
                             for (d, host, ok), n in sender.logged_sessions().items() if d == domain and not ok}


def test_mail_is_an_rfc8460_report_signed_with_dkim(day):
    for domain in sc.DAY_DOMAINS:
        record, message, report = mailed(day, domain)
        assert record["from"] == FROM and record["to"] == [mailbox(domain)]
        assert message["TLS-Report-Domain"] == domain
        assert message["TLS-Report-Submitter"] == SUBMITTER
        assert message["Subject"] == (f"Report Domain: {domain} Submitter: {SUBMITTER} "
                                      f"Report-ID: <{report['report-id']}>")
        assert dkim_verifies(record["content"].encode("latin-1"), day.receivers, day.clock), domain
    raw = mailed(day, GOOD)[0]["content"].encode("latin-1")
    assert not dkim_verifies(raw.replace(f"Report Domain: {GOOD}".encode(), b"Report Domain: x.example"),
                             day.receivers, day.clock), "the verifier checks"


# ---- the testing-mode domain (issue 5, "Done when") ------------------------------------------------

def test_testing_domain_mail_was_delivered_to_its_broken_mx(day):
    """Every mail to TESTING, from each generation, reached the receiver with the expired
    certificate, in one attempt (test_postfix_made_the_planned_sessions: status=sent)."""
    [(host, kind)] = sc.BY_DOMAIN[TESTING].mx
    assert kind == "expired"
    sent = sum(len(sender.message_ids[TESTING]) for sender in day.senders.values())
    assert sent == len(day.senders) * (MORNING[TESTING] + AFTERNOON[TESTING])
    received = day.mx_receivers.messages_for(f"user@{TESTING}")
    assert [m["receiver"] for m in received] == [kind] * sent
    for sender in day.senders.values():
        for message_id in sender.message_ids[TESTING]:
            [attempt] = sender.postfix.deliveries(sender.postfix.queue_id(message_id))
            assert (attempt.relay, attempt.status) == (f"{host}[{sc.SMTP_RECEIVERS[kind]}]:25", "sent")


def test_testing_domain_report_says_which_mx_failed_and_why(day):
    """The day's report, by mail and by https, counts every session Postfix made to TESTING as
    failed under its sts policy, with one failure detail: the MX host, its address and greeting,
    certificate-expired, and the validation's reason."""
    [(host, kind)] = sc.BY_DOMAIN[TESTING].mx
    [checked] = day.validation["hosts"]
    [check] = checked["checks"]
    assert (checked["host"], check["result"], check["address"]) == \
        (host, sc.TESTING_RESULTS[kind], sc.SMTP_RECEIVERS[kind])
    sessions = sum(n for (d, h, _ok), n in day.sessions().items() if d == TESTING and h == host)
    assert sessions == len(day.senders) * (MORNING[TESTING] + AFTERNOON[TESTING])  # one per mail
    lines = sc.BY_DOMAIN[TESTING].policy.splitlines()
    for report in (mailed(day, TESTING)[2], posted(day, TESTING)):
        [policy] = report["policies"]
        assert policy["policy"] == {"policy-type": "sts", "policy-string": lines, "policy-domain": TESTING,
                                    "mx-host": [line.removeprefix("mx: ") for line in lines if line.startswith("mx: ")]}
        assert policy["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": sessions}
        assert policy["failure-details"] == [{
            "result-type": "certificate-expired", "receiving-mx-hostname": host,
            "receiving-ip": sc.SMTP_RECEIVERS[kind], "receiving-mx-helo": f"{kind}.receiver.example",
            "failed-session-count": sessions, "failure-reason-code": check["detail"]}]
    assert check["detail"]
