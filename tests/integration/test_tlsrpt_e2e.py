"""Real Postfix traffic becomes correct TLS-RPT counts (issue #4), end to end, through both ways
mtastsd collects sessions:
- Postfix 3.10 (Debian 13 root, rig/trixie.py) with smtp_tlsrpt_enable = yes: smtp(8) sends one
  libtlsrpt datagram per TLS result to mtastsd's [tlsrpt] socket; its policies come from the
  "tlsrpt" profile (dialect postfix-tlsrpt) over TCP loopback;
- Postfix 3.7 (this machine): mtastsd follows its maillog_file ([tlsrpt] postfix_log, profile
  "default"), and its own policy cache says which policy each logged session ran under.
The same mail goes through both generations at the same time, each with an mtastsd of its own,
to one domain per outcome (scenarios.py, "TLS-RPT end to end"), each publishing a TLSRPT record:
enforce with a good MX, a wrong-name, expired or unknown-CA certificate, or no STARTTLS; testing
mode with an unknown-CA MX; no MTA-STS; a policy that cannot be fetched; a chrooted smtp(8); a
preferred MX host outside the policy's patterns; one mail to two recipients.
Checked through `mtastsctl report show DAY DOMAIN --json`: the summary counts and failure result
types of every domain (CASES), the failure details and policies, for 3.10 also against Postfix's
own "TLSRPT: status=..." log lines, the two generations against each other (same reports up to
what only one source can know: KNOWN_DIFFERENCES), and every report against the RFC 8460 schema
tests/data/tlsrpt-report.schema.json (python3-jsonschema).

What a testing-mode policy gives here: mtastsd answers it NOTFOUND (profiles' default), so Postfix
delivers opportunistically (level may) and reports a successful no-policy-found session, although
the MX's certificate would fail the policy. These mtastsd instances run with MX validation off
(the rig's base configuration), so that is what rpt-e2e-testing.example's report counts: Postfix's
own view. With [mx_validation] enabled, mtastsd counts such sessions under the sts policy, failed
as its own validation of the MX host found (issue 5): test_testing_validation.py and
test_tlsrpt_day.py check that.

Waiting, never sleeping: each mail's first delivery attempt is awaited in Postfix's log, then
one more mail goes to rpt-e2e-last.example (LAST); both sources deliver sessions to mtastsd in the
order Postfix made them, so once that one is counted every earlier one has been read; the 3.7
log's sessions may still wait for their domain's _smtp._tls lookup, so the per-domain reports are
also awaited. Deferred mail is not retried during the test (backoff 1 h): every count is exact.
Reports are of the current UTC day: a run across midnight UTC can fail."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import jsonschema
import pytest

import scenarios as sc
from rig.mtastsd import REPO, Mtastsd
from rig.postfix import HOST_3_7, Delivery, Generation, LogLine, Postfix, SmtpService, trixie_3_10
from rig.procs import WaitTimeout, wait_until
from rig.receivers import WRONG_NAME, Receivers
from rig.resolver import use_rig_resolver

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/postfix").exists(),
                                reason="Postfix is not installed (apt-get install postfix; see scripts/lib.sh)")

GENERATIONS = ("3.7", "3.10")
PROFILES = {"3.7": "default", "3.10": "tlsrpt"}
MTASTSD_TCP = "127.0.0.1:8463"  # Postfix 3.10's policy lookups (rig/postfix.py: why TCP)
ORIGIN = {"organization_name": "mtastsd integration tests", "contact_info": "tlsrpt@sender.example",
          "submitter": "sender.example"}
CHROOT_TRANSPORT = "smtp-chroot"
# One process for the plaintext MX: a retry is made by the process that deferred the mail, with
# no line in between (test_a_retried_deferral_is_another_session).
SINGLE_TRANSPORT = "smtp-single"
TRANSPORTS = {CHROOT_TRANSPORT: SmtpService(chroot=True), SINGLE_TRANSPORT: SmtpService(maxproc=1)}
SCHEMA = REPO / "tests/data/tlsrpt-report.schema.json"
SETTLE_TIMEOUT = 30.0

# What mtastsd answers a domain before its mail is sent (awaited, so that Postfix gets the answer
# from the cache, not from the cold-lookup budget).
SECURE, NOTFOUND, FETCH_ERROR = "secure", "notfound", "fetch-error"


@dataclass(frozen=True)
class Expected:
    """What a domain's report must show: {policy-type: (successful, failed)} and
    {result-type: failed sessions}."""
    counts: dict[str, tuple[int, int]]
    result_types: dict[str, int]


@dataclass(frozen=True)
class Case:
    """One scenario domain and one mail: what Postfix does with it (delivered on the first
    attempt or deferred), and the one session the report must show: its policy-type and, for a
    failed session, its result type (None: successful). Where a generation differs, see
    KNOWN_DIFFERENCES."""
    domain: str
    answer: str
    delivered: bool
    policy_type: str
    result_type: Optional[str] = None
    transport: Optional[str] = None
    also_to: tuple[str, ...] = ()  # more recipients of the mail, in the same domain

    @property
    def mx_host(self) -> str:
        """The MX host the mail goes to (a "bystander" one must not get it)."""
        [(host, _receiver)] = [(h, r) for h, r in sc.BY_DOMAIN[self.domain].mx if r != "bystander"]
        return host

    @property
    def mx_address(self) -> str:
        [receiver] = [r for h, r in sc.BY_DOMAIN[self.domain].mx if h == self.mx_host]
        return sc.SMTP_RECEIVERS[receiver]

    def expected(self, generation: str) -> Expected:
        known = KNOWN_DIFFERENCES.get((generation, self.domain))
        if known:
            return known
        if self.result_type:
            return Expected({self.policy_type: (0, 1)}, {self.result_type: 1})
        return Expected({self.policy_type: (1, 0)}, {})


CASES = (
    Case("rpt-e2e-enforce.example", SECURE, True, "sts"),
    Case("rpt-e2e-wrong-name.example", SECURE, False, "sts", "certificate-host-mismatch"),
    Case("rpt-e2e-expired.example", SECURE, False, "sts", "certificate-expired"),
    Case("rpt-e2e-untrusted.example", SECURE, False, "sts", "certificate-not-trusted"),
    Case("rpt-e2e-plaintext.example", SECURE, False, "sts", "starttls-not-supported", transport=SINGLE_TRANSPORT),
    Case("rpt-e2e-testing.example", NOTFOUND, True, "no-policy-found"),  # see the module comment
    Case("rpt-e2e-no-sts.example", NOTFOUND, True, "no-policy-found"),
    # Postfix got NOTFOUND and delivered; RFC 8461 sec. 6: mtastsd counts the session as failed.
    Case("rpt-e2e-fetchfail.example", FETCH_ERROR, True, "sts", "sts-policy-fetch-error"),
    Case("rpt-e2e-chroot.example", SECURE, True, "sts", transport=CHROOT_TRANSPORT),
    # MX 10 matches none of the policy's patterns, MX 20 does (see KNOWN_DIFFERENCES).
    Case("rpt-e2e-mx-skip.example", SECURE, True, "sts"),
    # Two recipients, one delivery: one session (3.7 logs a status line for each).
    Case("rpt-e2e-two-rcpt.example", SECURE, True, "sts", also_to=("other",)),
)
LAST = Case("rpt-e2e-last.example", SECURE, True, "sts")
ALL_CASES = CASES + (LAST,)

# Where the generations legitimately report differently (everything else must be equal):
KNOWN_DIFFERENCES = {
    # Postfix 3.10 classifies an MX certificate from an unknown CA itself, as validation-failure
    # with failure-reason-code "unable_to_get_local_issuer_certificate"; mtastsd's log classifier
    # (core/postfix_tls_log) maps 3.7's "untrusted issuer" to certificate-not-trusted, the RFC
    # 8460 sec. 4.3.2.1 type for "a trusted certificate authority did not sign the certificate".
    ("3.10", "rpt-e2e-untrusted.example"): Expected({"sts": (0, 1)}, {"validation-failure": 1}),
    # Postfix 3.10 (smtp_tls_enforce_sts_mx_patterns = yes) never connects to an MX host outside
    # the policy's patterns (RFC 8461 sec. 4.1), so there is no session to count; 3.7 connects,
    # completes TLS, finds the certificate outside match= ("hostname mismatch") and moves on to
    # the next MX host: a failed session, as it happened (test_mx_host_outside_the_policy).
    ("3.7", "rpt-e2e-mx-skip.example"): Expected({"sts": (1, 1)}, {"certificate-host-mismatch": 1}),
}
# Postfix 3.10 logs this for each MX host it skips (test_postfix_e2e.py, MX_SKIPPED).
MX_SKIPPED = re.compile(r"^warning: MX name '[^']+' does not match STS MX pattern for '[^']+'$")
# Fields only one source has: the log carries no sending-mta-ip nor receiving-mx-helo (3.10
#   only); failure-reason-code is Postfix's log wording (3.7) or Postfix's TLSRPT reason (3.10,
#   mostly none); for mtastsd's own sts-policy-fetch-error the log names the MX host the session
#   went to, a successful session's datagram does not. Compared: result-type, count and, for TLS
#   failures, receiving-mx-hostname and receiving-ip.
COMPARED_DETAIL_FIELDS = ("result-type", "failed-session-count", "receiving-mx-hostname", "receiving-ip")
# Postfix 3.10's own log line for each TLSRPT datagram it sends (smtp(8), TLSRPT_README "TLSRPT
# Status logging").
TLSRPT_STATUS = re.compile(r"^TLSRPT: status=(?P<status>\w+), domain=(?P<domain>[^,]+), receiving_mx=[^,]+"
                           r"(?:, failure_type=(?P<type>\w+))?")


def utc_day() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


@dataclass
class Sender:
    """One generation's Postfix and the mtastsd that answers and counts for it, the mail each
    case got, and the reports once every session is counted (settled())."""
    generation: Generation
    postfix: Postfix
    mtastsd: Mtastsd
    message_ids: dict[str, str] = field(default_factory=dict)  # domain -> Message-ID
    first_attempts: dict[str, Delivery] = field(default_factory=dict)
    _settled: Optional[dict[str, list[dict]] | str] = None
    settled_log: list[LogLine] = field(default_factory=list)  # Postfix's log when settled

    @property
    def name(self) -> str:
        return self.generation.name

    def send(self, case: Case) -> None:
        self.message_ids[case.domain] = f"<{uuid.uuid4().hex}@sender.example>"
        self.postfix.send(f"user@{case.domain}", self.message_ids[case.domain],
                          also_to=tuple(f"{local}@{case.domain}" for local in case.also_to))

    def await_first_attempt(self, case: Case) -> None:
        self.first_attempts[case.domain] = self.postfix.wait_for_attempts(self.message_ids[case.domain], 1)[0]

    def reports(self, domain: str, day: str) -> list[dict]:
        """`report show --json` entries ({rua, report_id, file_name, subject, report}); [] when
        nothing is counted."""
        result = self.mtastsd.ctl("report", "show", day, domain, "--json")
        if result.returncode == 1:
            return []
        assert result.returncode == 0, f"report show {domain}: exit {result.returncode}: {result.stderr}"
        return json.loads(result.stdout)

    def settled(self) -> dict[str, list[dict]]:
        """Every domain's reports, once LAST and every case domain are counted (awaited once;
        a timeout fails each test that asks, with what was missing)."""
        if self._settled is None:
            day = utc_day()
            try:
                wait_until(lambda: self.reports(LAST.domain, day), SETTLE_TIMEOUT, f"{LAST.domain} counted")
                wait_until(lambda: all(self.reports(case.domain, day) for case in CASES), SETTLE_TIMEOUT,
                           "a report for every domain")
                self._settled = {case.domain: self.reports(case.domain, day) for case in ALL_CASES}
                self.settled_log = self.postfix.log_lines()
            except WaitTimeout as e:
                missing = [case.domain for case in ALL_CASES if not self.reports(case.domain, day)]
                self._settled = f"Postfix {self.name}: {e}; not counted: {missing}"
        if isinstance(self._settled, str):
            pytest.fail(self._settled)
        return self._settled

    def policies(self, domain: str) -> list[dict]:
        return [p for entry in self.settled()[domain] for p in entry["report"]["policies"]]


def start_sender(rig, generation: Generation, directory: Path) -> Sender:
    """Postfix of the generation and its mtastsd: for 3.10 the libtlsrpt socket in the queue
    directory (Postfix.tlsrpt_socket: mode 0666 inside a directory only the root's postfix group
    may enter), for 3.7 its maillog_file followed."""
    directory.mkdir()
    tcp = MTASTSD_TCP if generation.root else None
    postfix = Postfix(directory / "postfix", rig.ca_file, generation, profile=PROFILES[generation.name],
                      transports=TRANSPORTS, policy_tcp=tcp)
    for case in ALL_CASES:
        if case.transport:
            postfix.route(case.domain, case.transport)
    postfix.prepare()
    # No retry of deferred mail while the test runs (a retry is another session).
    postfix.set(minimal_backoff_time="1h", maximal_backoff_time="1h")
    mtastsd_dir = directory / "mtastsd"
    listen = [{"unix": str(mtastsd_dir / "socketmap.sock"), "mode": "0600"}]
    if generation.tlsrpt:
        listen.append({"tcp": tcp})
        tlsrpt = {**ORIGIN, "socket": str(postfix.tlsrpt_socket), "socket_mode": "0666"}
    else:
        listen.append({"unix": str(postfix.policy_socket), "group": "postfix", "mode": "0660"})
        tlsrpt = {**ORIGIN, "postfix_log": str(postfix.maillog), "postfix_log_profile": PROFILES[generation.name]}
    mtastsd = Mtastsd(rig, mtastsd_dir, {"listen": listen, "tlsrpt": tlsrpt}, tcp=tcp)
    Mtastsd.running.append(mtastsd)
    try:
        mtastsd.start()  # before Postfix: its first log lines are read too
        postfix.start()
    except BaseException:
        postfix.stop()
        mtastsd.stop()
        Mtastsd.running.remove(mtastsd)
        raise
    return Sender(generation, postfix, mtastsd)


def stop_sender(sender: Sender) -> None:
    sender.postfix.stop()
    status = sender.mtastsd.stop()
    Mtastsd.running.remove(sender.mtastsd)
    assert status in (0, None), f"mtastsd ({sender.name}) exited with {status} on SIGTERM"


def await_answer(sender: Sender, case: Case) -> None:
    mtastsd, profile = sender.mtastsd, PROFILES[sender.name]
    if case.answer == SECURE:  # 3.10's profile adds the TLSRPT attributes
        expected = sc.secure_answer(case.domain)
        mtastsd.wait_for_answer(case.domain, lambda reply: reply.startswith(expected), name=profile)
    else:
        mtastsd.wait_for_answer(case.domain, lambda reply: reply.startswith("NOTFOUND"), name=profile)
    if case.answer == FETCH_ERROR:
        mtastsd.wait_for_entry(case.domain, lambda e: e["failure"] == "sts-policy-fetch-error",
                               what=f"the failed policy fetch of {case.domain}")


@pytest.fixture(scope="module")
def senders(rig, request, tmp_path_factory) -> dict[str, Sender | str]:
    """Both generations started side by side and the same mail sent through both; a generation
    this machine cannot have is the reason why (the 3.10 root: conftest.py's loud skip)."""
    directory = tmp_path_factory.mktemp("tlsrpt-e2e")
    try:
        use_rig_resolver(rig.dns.unbound_address, directory)
    except OSError as e:
        pytest.skip(f"cannot point /etc/resolv.conf at the rig's unbound ({e}); run tests/integration/run")
    found: dict[str, Sender | str] = {}
    generations = {"3.7": HOST_3_7}
    try:
        generations["3.10"] = trixie_3_10(request.getfixturevalue("trixie_root"), tlsrpt=True)
    except pytest.skip.Exception as e:
        found["3.10"] = str(e)
    # Finalizers run last in, first out, also when a later step here fails.
    receivers = Receivers(directory / "receivers", rig).start()
    request.addfinalizer(receivers.stop)
    for name, generation in generations.items():
        found[name] = start_sender(rig, generation, directory / name)
        request.addfinalizer(lambda sender=found[name]: stop_sender(sender))
    running = [s for s in found.values() if isinstance(s, Sender)]
    for sender in running:
        for case in ALL_CASES:
            await_answer(sender, case)
    for case in CASES:
        for sender in running:
            sender.send(case)
    for case in CASES:
        for sender in running:
            sender.await_first_attempt(case)
    for sender in running:  # the last session: see the module comment
        sender.send(LAST)
    for sender in running:
        sender.await_first_attempt(LAST)
    return found


@pytest.fixture(params=GENERATIONS)
def sender(request, senders) -> Sender:
    found = senders[request.param]
    if isinstance(found, str):
        pytest.skip(found)
    return found


# ---- what Postfix did ----------------------------------------------------------------------------

def test_postfix_delivers_or_defers_as_the_policy_says(sender):
    """The traffic the counts are about: each mail's first attempt went to its domain's MX and
    was sent or deferred as the answer demands; Postfix logged no warning but 3.10's MX skip (a
    TLSRPT socket it cannot write to would show here)."""
    outcome = {domain: (d.status, d.relay, d.service) for domain, d in sender.first_attempts.items()}
    assert outcome == {case.domain: ("sent" if case.delivered else "deferred", f"{case.mx_host}[{case.mx_address}]:25",
                                     case.transport) for case in ALL_CASES}
    warnings = [line.text for line in sender.postfix.log_lines()
                if line.text.startswith(("warning:", "error:", "fatal:", "panic:"))
                and not (sender.name == "3.10" and MX_SKIPPED.match(line.text))]
    assert warnings == []


# ---- what mtastsd counted ------------------------------------------------------------------------

def summary_counts(policies: list[dict]) -> dict[str, tuple[int, int]]:
    return {p["policy"]["policy-type"]: (p["summary"]["total-successful-session-count"],
                                         p["summary"]["total-failure-session-count"]) for p in policies}


def result_type_counts(policies: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in policies:
        for detail in p["failure-details"]:
            counts[detail["result-type"]] = counts.get(detail["result-type"], 0) + detail["failed-session-count"]
    return counts


def test_each_session_counted_once_under_its_policy_type(sender):
    counted = {case.domain: summary_counts(sender.policies(case.domain)) for case in ALL_CASES}
    assert counted == {case.domain: case.expected(sender.name).counts for case in ALL_CASES}


def test_failed_sessions_have_their_result_type(sender):
    types = {case.domain: result_type_counts(sender.policies(case.domain)) for case in ALL_CASES}
    assert types == {case.domain: case.expected(sender.name).result_types for case in ALL_CASES}


def test_failure_details_name_the_mx_host_of_the_session(sender):
    """The TLS failures name the MX host and address the session went to; 3.10 also gives the
    sending address and the MX's EHLO reply (not in 3.7's log), 3.7 Postfix's logged reason."""
    for case in CASES:
        if case.answer != SECURE or not case.result_type:
            continue
        [policy] = sender.policies(case.domain)
        [detail] = policy["failure-details"]
        assert (detail["receiving-mx-hostname"], detail["receiving-ip"]) == (case.mx_host, case.mx_address), detail
        if sender.name == "3.10":
            [(_host, receiver)] = sc.BY_DOMAIN[case.domain].mx
            assert detail["sending-mta-ip"] == "127.0.0.1", detail
            assert detail["receiving-mx-helo"].startswith(f"250-{receiver}.receiver.example\r\n"), detail
        else:
            assert "sending-mta-ip" not in detail and "receiving-mx-helo" not in detail, detail
            assert detail["failure-reason-code"], detail
    [wrong_name] = sender.policies("rpt-e2e-wrong-name.example")[0]["failure-details"]
    assert WRONG_NAME not in json.dumps(wrong_name)  # the MX host, not the certificate's name
    # mtastsd's own failure carries its fetch error as the reason.
    [fetch] = sender.policies("rpt-e2e-fetchfail.example")[0]["failure-details"]
    assert fetch["failure-reason-code"] == "HTTP status 404", fetch


def test_policies_are_the_cached_ones(sender):
    """sts sessions name the domain's policy (its lines and mx patterns: Postfix 3.10 passes on
    what mtastsd answered, for 3.7 mtastsd takes them from its cache); a policy that could not be
    fetched is named without them; no-policy-found carries neither."""
    for case in ALL_CASES:
        [policy] = sender.policies(case.domain)
        expected = {"policy-type": case.policy_type, "policy-domain": case.domain}
        if case.answer == SECURE:
            body = sc.BY_DOMAIN[case.domain].policy
            expected.update({"policy-string": body.splitlines(),
                             "mx-host": [line.split(": ", 1)[1] for line in body.splitlines()
                                         if line.startswith("mx: ")]})
        assert policy["policy"] == expected, case.domain


def test_reports_are_addressed_to_the_tlsrpt_record(sender):
    for case in ALL_CASES:
        [entry] = sender.settled()[case.domain]
        assert entry["rua"] == [f"mailto:tlsrpt@{case.domain}"], entry
        assert entry["report"]["organization-name"] == ORIGIN["organization_name"]


def test_reports_match_the_rfc_8460_schema(sender):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    problems = [f"{domain}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
                for domain, entries in sender.settled().items() for entry in entries
                for error in validator.iter_errors(entry["report"])]
    assert problems == []
    assert len(sender.settled()) == len(ALL_CASES)


# ---- Postfix 3.10's own account ------------------------------------------------------------------

def test_counts_match_what_postfix_310_says_it_reported(senders):
    """Postfix 3.10 logs each datagram it sends ("TLSRPT: status=..., domain=..., failure_type=...").
    mtastsd counted exactly those, except where its own policy state overrides Postfix: the
    session to the domain whose policy cannot be fetched (Postfix saw NOTFOUND, a success)."""
    sender = senders["3.10"]
    if isinstance(sender, str):
        pytest.skip(sender)
    sender.settled()
    reported: dict[str, list[tuple[str, Optional[str]]]] = {}
    for line in sender.settled_log:
        m = TLSRPT_STATUS.match(line.text)
        if m:
            failure = m["type"].replace("_", "-") if m["type"] else None
            reported.setdefault(m["domain"], []).append((m["status"], failure))
    expected = {}
    for case in ALL_CASES:
        if case.answer == FETCH_ERROR:
            expected[case.domain] = [("success", None)]
        else:
            [result_type] = case.expected("3.10").result_types or [None]
            expected[case.domain] = [("failure", result_type) if result_type else ("success", None)]
    assert reported == expected


# ---- the two generations -------------------------------------------------------------------------

def comparable(policies: list[dict]) -> list[dict]:
    """The policies as both sources can give them (KNOWN_DIFFERENCES, COMPARED_DETAIL_FIELDS)."""
    out = []
    for p in policies:
        details = []
        for detail in p["failure-details"]:
            fields = COMPARED_DETAIL_FIELDS if detail["result-type"] != "sts-policy-fetch-error" else \
                ("result-type", "failed-session-count")
            details.append({k: detail.get(k) for k in fields})
        out.append({"policy": p["policy"], "summary": p["summary"], "failure-details": details})
    return out


def test_both_generations_give_the_same_reports(senders):
    """Equal reports, up to the fields only one source has; where the counts or types differ
    (KNOWN_DIFFERENCES, each pinned down by the tests above), the same policy."""
    if any(isinstance(s, str) for s in senders.values()):
        pytest.skip(next(s for s in senders.values() if isinstance(s, str)))
    old, new = senders["3.7"], senders["3.10"]
    differing = {}
    for case in ALL_CASES:
        a, b = comparable(old.policies(case.domain)), comparable(new.policies(case.domain))
        if any((generation, case.domain) in KNOWN_DIFFERENCES for generation in GENERATIONS):
            a, b = [p["policy"] for p in a], [p["policy"] for p in b]
        if a != b:
            differing[case.domain] = {"3.7": a, "3.10": b}
    assert differing == {}


def test_mx_host_outside_the_policy(sender):
    """rpt-e2e-mx-skip.example: the preferred MX host matches none of the policy's patterns.
    3.10 skips it without a connection (and logs so); 3.7 tries it and reports that failed
    session, naming that host, beside the successful one to the matching host."""
    domain = "rpt-e2e-mx-skip.example"
    (rogue, bystander), (_matching, _good) = sc.BY_DOMAIN[domain].mx
    [policy] = sender.policies(domain)
    if sender.name == "3.10":
        assert policy["failure-details"] == []
        assert any(MX_SKIPPED.match(line.text) and rogue in line.text for line in sender.postfix.log_lines())
    else:
        [detail] = policy["failure-details"]
        assert (detail["receiving-mx-hostname"], detail["receiving-ip"]) == (rogue, sc.SMTP_RECEIVERS[bystander])
        assert "hostname mismatch" in detail["failure-reason-code"], detail


# ---- retries -------------------------------------------------------------------------------------

def test_a_retried_deferral_is_another_session(sender):
    """postqueue -f: each deferred mail is tried again at once; the plaintext MX's by the same
    smtp(8) process as before (SINGLE_TRANSPORT), whose log has no TLS line between the two
    sessions: only the recipient named again tells them apart. Each retry is one more failed
    session of its kind; nothing else changes. Sends more mail: compares with counts of its own."""
    before = sender.settled()
    day = utc_day()
    sender.postfix.flush()
    deferred = [case for case in CASES if not case.delivered]
    for case in deferred:
        sender.postfix.wait_for_attempts(sender.message_ids[case.domain], 2)
    plaintext = sender.postfix.deliveries(sender.postfix.queue_id(sender.message_ids["rpt-e2e-plaintext.example"]))
    assert [attempt.service for attempt in plaintext] == [SINGLE_TRANSPORT] * 2
    barrier = f"<{uuid.uuid4().hex}@sender.example>"  # see the module comment
    sender.postfix.send(f"user@{LAST.domain}", barrier)
    sender.postfix.wait_for_attempts(barrier, 1)

    def counts(domain: str) -> dict[str, tuple[int, int]]:
        return summary_counts([p for entry in sender.reports(domain, day) for p in entry["report"]["policies"]])
    wait_until(lambda: counts(LAST.domain) == {"sts": (2, 0)}, SETTLE_TIMEOUT, f"{LAST.domain} counted twice")
    retried = {case.domain: {policy_type: (ok, 2 * failed) for policy_type, (ok, failed)
                             in case.expected(sender.name).counts.items()} for case in deferred}
    seen: dict[str, dict[str, tuple[int, int]]] = {}

    def retries_counted() -> bool:
        seen.update({domain: counts(domain) for domain in retried})
        return seen == retried
    try:
        wait_until(retries_counted, SETTLE_TIMEOUT, "the retries counted")
    except WaitTimeout as e:
        raise AssertionError(f"{e}: counted {seen}, expected {retried}") from None
    for case in CASES:
        policies = [p for entry in sender.reports(case.domain, day) for p in entry["report"]["policies"]]
        if case in deferred:
            doubled = {t: 2 * n for t, n in case.expected(sender.name).result_types.items()}
            assert result_type_counts(policies) == doubled, case.domain
        else:
            assert policies == [p for entry in before[case.domain] for p in entry["report"]["policies"]], case.domain
