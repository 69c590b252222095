"""Real Postfix, end to end (issue #3), in both generations (fixture `generation`):
- Debian 12's Postfix 3.7 on this machine, smtp_tls_policy_maps asking mtastsd's profile
  "default" (dialect "postfix") through a socket inside its queue directory;
- Debian 13's Postfix 3.10 in the cached trixie root (rig/trixie.py), asking profile "tlsrpt"
  (dialect "postfix-tlsrpt": policy_type, policy_domain, mx_host_pattern, { policy_string = ... })
  over TCP loopback, with smtp_tls_enforce_sts_mx_patterns at its default (yes) and TLS-RPT
  collection off (smtp_tlsrpt_enable = no until issue #4). Skipped loudly, with the reason, where
  this machine cannot have the root.
Both send real mail (sendmail) to the scenario domains with smtp_dns_support_level = dnssec and
the rig's validating unbound as resolver. Every verdict is read from what Postfix itself did (its
log and `postqueue -j`) and from what the receiving SMTP servers recorded
(rig/smtp_receiver.py), never from mtastsd's answer alone. After every test, the Postfix log lines
it caused hold no warning but the expected ones (no rejected policy attribute, no invalid policy).

Each test first waits until mtastsd answers its domain as expected (the policy is cached), so
the test is about what Postfix does with that answer, not about the first-contact cold budget.
One Postfix instance and one mtastsd per generation serve the whole module; the receivers serve
both generations, one after the other (Receivers.mark()).

A few domains go through smtp(8) services of their own (transport_maps): one chrooted as on
Debian, one whose map names a socket nobody listens on, and for DANE (RFC 8461 sec. 2: MTA-STS
must not override DANE) one whose map asks a profile with `dane = true` ("dane", or for 3.10
"tlsrpt-dane" with the TLSRPT dialect). Where the mtastsd under test does not accept that key,
the DANE tests are skipped and say so."""
from __future__ import annotations

import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

import scenarios as sc
from rig.mtastsd import Mtastsd, binary
from rig.postfix import HOST_3_7, Generation, Postfix, SmtpService, file_identity, trixie_3_10
from rig.procs import wait_until
from rig.receivers import Receivers, certificate_names, spki_sha256
from rig.resolver import use_rig_resolver

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/postfix").exists(),
                                reason="Postfix is not installed (apt-get install postfix; see scripts/lib.sh)")

GENERATIONS = ("3.7", "3.10")
# The mtastsd profiles each generation asks: main.cf's map, and the DANE service's.
PROFILES = {"3.7": ("default", "dane"), "3.10": ("tlsrpt", "tlsrpt-dane")}
# Postfix 3.10 reaches mtastsd here (the root's postfix group is not this host's, see rig/postfix.py).
MTASTSD_TCP = "127.0.0.1:8462"
DANE_TRANSPORT = "smtp-dane"
DANE_DOMAINS = ("pf-dane.example", "pf-dane-mismatch.example")
# The DANE service also logs the TLSA records it uses and which one matched (tls_log_mask names).
DANE_LOGLEVEL = {"smtp_tls_loglevel": "1,certmatch,dane"}
# Debian's packaged master.cf runs smtp(8) chrooted; this service does too, with the same map.
CHROOT_TRANSPORT = "smtp-chroot"
CHROOT_DOMAIN = "pf-chroot.example"
# A service whose map names a socket nobody listens on: mtastsd stopped or not yet started.
UNREACHABLE_TRANSPORT = "smtp-unreachable"
UNREACHABLE_DOMAIN = "pf-unreachable.example"
UNREACHABLE_MAP = "socketmap:unix:mtastsd/nobody-listens.sock:default"
# Postfix's smtp_tls_policy_maps deferral reasons (smtp_proto.c) under "secure".
NOT_VERIFIED = "Server certificate not verified"
TLS_NOT_OFFERED = "TLS is required, but was not offered by host"
# Postfix's deferral reason when no MX host was left to try (smtp_connect.c).
NO_MX_LEFT = "server unavailable or unable to receive mail"
# Postfix 3.10.5+ with smtp_tls_enforce_sts_mx_patterns = yes skips an MX host that matches none
# of the policy's mx_host_pattern values and logs this (smtp_tls_policy.c, a warning since the
# change of 20251024 in Postfix's HISTORY; seen in Debian 13's 3.10.13).
MX_SKIPPED = "warning: MX name '{host}' does not match STS MX pattern for '{domain}'"


@dataclass
class Mail:
    recipient: str
    message_id: str


@dataclass
class Shared:
    """What both generations use: the receiving servers, and whether DANE can be tested."""
    receivers: Receivers
    dane_unsupported: Optional[str]  # why the DANE tests cannot run, or None


@dataclass
class World:
    generation: Generation
    postfix: Postfix
    receivers: Receivers
    mtastsd: Mtastsd
    dane_unsupported: Optional[str]

    @property
    def is_3_10(self) -> bool:
        return self.generation.name == "3.10"

    @property
    def profile(self) -> str:
        return PROFILES[self.generation.name][0]

    @property
    def dane_profile(self) -> str:
        return PROFILES[self.generation.name][1]

    def send(self, domain: str) -> Mail:
        mail = Mail(f"user@{domain}", f"<{uuid.uuid4().hex}@sender.example>")
        self.postfix.send(mail.recipient, mail.message_id)
        return mail

    def wait_for_secure_answer(self, domain: str) -> str:
        """Wait until mtastsd answers the enforce policy of the domain in this generation's
        dialect: the postfix-dialect answer, plus for 3.10 the TLSRPT attributes."""
        expected = sc.secure_answer(domain)
        if not self.is_3_10:
            return self.mtastsd.wait_for_answer(domain, expected)
        tlsrpt = f"{expected} policy_type=sts policy_domain={domain} "
        return self.mtastsd.wait_for_answer(domain, lambda reply: reply.startswith(tlsrpt)
                                            and "{ policy_string = mode: enforce }" in reply, name=self.profile)

    def wait_for_notfound(self, domain: str) -> str:
        return self.mtastsd.wait_for_answer(domain, lambda reply: reply.startswith("NOTFOUND"), name=self.profile)


def dane_unsupported_reason(tmp_path: Path) -> Optional[str]:
    """None if this mtastsd accepts `[profiles.X] dane = true`, else the reason to skip."""
    probe = tmp_path / "dane-probe.toml"
    probe.write_text("[profiles.dane]\ndane = true\n")
    result = subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "--check-config", "-c", str(probe)],
                            capture_output=True, text=True, timeout=30)
    if result.returncode == 0:
        return None
    return ("mtastsd does not support the profile key `dane` yet (--check-config: "
            f"{result.stderr.strip() or result.stdout.strip()}); re-run after DANE is merged")


@pytest.fixture(scope="module")
def shared(rig, tmp_path_factory):
    directory = tmp_path_factory.mktemp("postfix-e2e")
    try:
        use_rig_resolver(rig.dns.unbound_address, directory)
    except OSError as e:
        pytest.skip(f"cannot point /etc/resolv.conf at the rig's unbound ({e}); run tests/integration/run")
    dane_unsupported = dane_unsupported_reason(directory)
    receivers = Receivers(directory / "receivers", rig).start()
    try:
        if not dane_unsupported:
            rig.dns.set_records(tlsa_owner("pf-dane.example"), "TLSA", [dane_ee_record(receivers)])
        yield Shared(receivers, dane_unsupported)
    finally:
        receivers.stop()


@pytest.fixture(scope="module", params=GENERATIONS)
def generation(request) -> Generation:
    """The Postfix generation under test; 3.10 needs the trixie root (conftest.py: a loud skip)."""
    if request.param == "3.7":
        return HOST_3_7
    return trixie_3_10(request.getfixturevalue("trixie_root"))


@pytest.fixture(scope="module")
def world(rig, shared, generation, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"postfix-{generation.name}")
    profile, dane_profile = PROFILES[generation.name]
    tcp = MTASTSD_TCP if generation.root else None
    transports = {CHROOT_TRANSPORT: SmtpService(chroot=True),
                  UNREACHABLE_TRANSPORT: SmtpService({"smtp_tls_policy_maps": UNREACHABLE_MAP})}
    if not shared.dane_unsupported:
        transports[DANE_TRANSPORT] = SmtpService(DANE_LOGLEVEL, profile=dane_profile)
    postfix = Postfix(directory / "postfix", rig.ca_file, generation, profile=profile, transports=transports,
                      policy_tcp=tcp)
    postfix.route(CHROOT_DOMAIN, CHROOT_TRANSPORT)
    postfix.route(UNREACHABLE_DOMAIN, UNREACHABLE_TRANSPORT)
    if not shared.dane_unsupported:
        for domain in DANE_DOMAINS:
            postfix.route(domain, DANE_TRANSPORT)
    mtastsd = None
    try:
        postfix.prepare()
        # mtastsd before Postfix: for 3.7 on a socket inside Postfix's queue directory (as for a
        # chrooted smtp(8)), for 3.10 on TCP loopback; the first listener is the one tests look
        # up through.
        mtastsd_dir = tmp_path_factory.mktemp(f"mtastsd-postfix-{generation.name}")
        listen = [{"unix": str(mtastsd_dir / "socketmap.sock"), "mode": "0600"}]
        listen.append({"tcp": tcp} if tcp else {"unix": str(postfix.policy_socket), "group": "postfix", "mode": "0660"})
        overrides = {"listen": listen}
        if not shared.dane_unsupported:
            overrides["profiles"] = {"dane": {"dane": True},
                                     "tlsrpt-dane": {"dialect": "postfix-tlsrpt", "dane": True}}
        mtastsd = Mtastsd(rig, mtastsd_dir, overrides, tcp=tcp)
        assert mtastsd.socket == mtastsd_dir / "socketmap.sock"
        Mtastsd.running.append(mtastsd)
        mtastsd.start()
        shared.receivers.mark()  # what the other generation's Postfix made them record is past
        postfix.start()
        yield World(generation, postfix, shared.receivers, mtastsd, shared.dane_unsupported)
    finally:
        postfix.stop()
        if mtastsd is not None:
            status = mtastsd.stop()
            Mtastsd.running.remove(mtastsd)
            assert status in (0, None), f"mtastsd exited with {status} on SIGTERM"


def expected_warning(world: World, line: str) -> bool:
    """Warnings some scenarios cause on purpose: the map nobody listens on, and (3.10) an MX
    host skipped for matching no policy pattern."""
    if UNREACHABLE_DOMAIN in line or "nobody-listens.sock" in line:
        return True
    return world.is_3_10 and re.search(MX_SKIPPED.format(host="[^']+", domain="[^']+"), line) is not None


@pytest.fixture(autouse=True)
def no_unexpected_postfix_warnings(world):
    """The log lines a test causes hold no warning but the expected ones: in particular 3.10
    accepts the TLSRPT attributes and "{ policy_string = ... }" (a rejected attribute logs
    "invalid attribute name" or "... TLS policy ..." and defers), and 3.7 the plain dialect."""
    before = len(world.postfix.log_lines())
    yield
    warnings = [f"postfix/{line.program}: {line.text}" for line in world.postfix.log_lines()[before:]
                if line.text.startswith(("warning:", "error:", "fatal:", "panic:"))]
    unexpected = [line for line in warnings if not expected_warning(world, line)]
    assert unexpected == [], f"Postfix {world.generation.name} logged unexpected warnings: {unexpected}"


def tlsa_owner(domain: str) -> str:
    return f"_25._tcp.{mx_host(domain)}"


def dane_ee_record(receivers: Receivers) -> str:
    """RFC 7671 "3 1 1" (DANE-EE, SubjectPublicKeyInfo, SHA-256) for pf-dane.example's MX."""
    [(_host, kind)] = sc.BY_DOMAIN["pf-dane.example"].mx
    return f"3 1 1 {spki_sha256(receivers.certs[kind])}"


def mx_host(domain: str) -> str:
    [(host, _receiver)] = sc.BY_DOMAIN[domain].mx
    return host


def relay_of(domain: str) -> str:
    [(host, receiver)] = sc.BY_DOMAIN[domain].mx
    return f"{host}[{sc.SMTP_RECEIVERS[receiver]}]:25"


def host_lines(world: World, domain: str) -> list[str]:
    """smtp(8) log lines about the domain's MX host."""
    return world.postfix.smtp_lines(f"{mx_host(domain)}[")


def tls_summaries(world: World, domain: str) -> list[str]:
    """Postfix's "<Trust> TLS connection established to HOST[ADDR]:25: ..." lines for the MX."""
    return [line for line in host_lines(world, domain) if " TLS connection established to " in line]


def verification_failures(world: World, domain: str) -> list[str]:
    return [line for line in host_lines(world, domain) if "certificate verification failed for" in line]


def log_tail(world: World) -> str:
    return "Postfix log tail:\n" + "\n".join(world.postfix.log().splitlines()[-40:])


def assert_delivered(world: World, mail: Mail, domain: str, tls: bool) -> dict:
    """The single attempt was `sent` to the domain's MX, the message left the queue, and exactly
    that receiver got it once (over TLS or not). Returns the receiver's record."""
    [attempt] = world.postfix.wait_for_attempts(mail.message_id, 1)
    assert attempt.status == "sent" and attempt.relay == relay_of(domain), f"{attempt}\n{log_tail(world)}"
    assert world.postfix.queued(attempt.qid) is None
    [received] = world.receivers.messages_for(mail.recipient)
    [(_host, receiver)] = sc.BY_DOMAIN[domain].mx
    assert received["receiver"] == receiver and received["message_id"] == mail.message_id, received
    assert received["tls"] is tls, received
    return received


def assert_deferred_on_every_attempt(world: World, mail: Mail, domain: str, reason: str,
                                     relay: Optional[str] = None) -> None:
    """Deferred with `reason` by the domain's MX (or the given relay, "none" when Postfix contacted
    no MX), deferred again on a forced retry (postqueue -f), the message still in the deferred
    queue, and the receiver never got it, neither over TLS nor in plaintext."""
    [first] = world.postfix.wait_for_attempts(mail.message_id, 1)
    assert first.status == "deferred" and reason in first.reason, f"{first}\n{log_tail(world)}"
    assert first.relay == (relay or relay_of(domain)), first
    world.postfix.flush()
    second = world.postfix.wait_for_attempts(mail.message_id, 2)[1]
    assert second.status == "deferred" and reason in second.reason, f"{second}\n{log_tail(world)}"
    queued = world.postfix.queued(first.qid)
    assert queued is not None and queued["queue_name"] == "deferred", queued
    [recipient] = queued["recipients"]
    assert recipient["address"] == mail.recipient and reason in recipient["delay_reason"], recipient
    assert world.receivers.messages_for(mail.recipient) == []


def services_used(world: World, mail: Mail) -> set[Optional[str]]:
    """The master.cf services that made the delivery attempts (None: plain smtp)."""
    return {attempt.service for attempt in world.postfix.deliveries(world.postfix.queue_id(mail.message_id))}


def wait_for_handshakes(world: World, kind: str, host: str, count: int) -> None:
    """The receiver recorded `count` TLS handshakes whose SNI was host (the record is written
    when the handshake completes, which may be just after Postfix has logged its verdict)."""
    wait_until(lambda: len([h for h in world.receivers.handshakes(kind) if h["sni"] == host]) >= count, 10,
               f"{count} TLS handshakes with {kind} for {host}")


# ---- MTA-STS enforce ----

def test_enforce_good_mx_is_delivered_over_verified_tls(world):
    domain = "pf-enforce.example"
    world.wait_for_secure_answer(domain)
    mail = world.send(domain)
    received = assert_delivered(world, mail, domain, tls=True)
    assert services_used(world, mail) == {None}
    summaries = tls_summaries(world, domain)
    assert summaries and all(line.startswith(f"Verified TLS connection established to {relay_of(domain)}: ")
                             for line in summaries), summaries
    # servername=hostname: the SNI is the MX host name (RFC 8461 sec. 4.2 wants it).
    assert received["sni"] == mx_host(domain), received


@pytest.mark.parametrize("domain, evidence", [
    ("pf-wrong-name.example", "hostname mismatch"),
    ("pf-expired.example", "certificate has expired"),
    ("pf-untrusted.example", "untrusted issuer /CN=untrusted test CA"),
])
def test_enforce_bad_certificate_is_deferred_never_sent(world, domain, evidence):
    world.wait_for_secure_answer(domain)
    mail = world.send(domain)
    assert_deferred_on_every_attempt(world, mail, domain, NOT_VERIFIED)
    failures = verification_failures(world, domain)
    assert len(failures) >= 2 and all(evidence in line for line in failures), host_lines(world, domain)
    # Postfix did complete TLS with the MX on both attempts: it is the certificate that failed.
    [(host, kind)] = sc.BY_DOMAIN[domain].mx
    wait_for_handshakes(world, kind, host, 2)


def test_enforce_mx_without_starttls_is_deferred_never_sent_in_plaintext(world):
    domain = "pf-plaintext.example"
    world.wait_for_secure_answer(domain)
    mail = world.send(domain)
    assert_deferred_on_every_attempt(world, mail, domain, TLS_NOT_OFFERED)
    assert tls_summaries(world, domain) == []


def test_enforce_mx_outside_the_policy_patterns_is_deferred(world):
    """The only MX host matches none of the policy's mx patterns; its certificate is trusted and
    valid for its own name. 3.7 connects and checks the certificate against the match= names (the
    patterns): not verified. 3.10 (smtp_tls_enforce_sts_mx_patterns = yes, RFC 8461 sec. 4.1)
    does not connect at all: it logs the skip and, with no MX host left, defers (relay=none)."""
    domain = "pf-mx-mismatch.example"
    [(host, kind)] = sc.BY_DOMAIN[domain].mx
    assert host in certificate_names(world.receivers.certs[kind])
    world.wait_for_secure_answer(domain)
    mail = world.send(domain)
    if world.is_3_10:
        assert_deferred_on_every_attempt(world, mail, domain, NO_MX_LEFT, relay="none")
        skipped = world.postfix.smtp_lines(MX_SKIPPED.format(host=host, domain=domain))
        assert len(skipped) >= 2, host_lines(world, domain)  # once per attempt
        assert host_lines(world, domain) == []  # no connection, no TLS line about HOST[ADDR]
        assert [h for h in world.receivers.handshakes(kind) if h["sni"] == host] == []
    else:
        assert_deferred_on_every_attempt(world, mail, domain, NOT_VERIFIED)
        failures = verification_failures(world, domain)
        assert failures and all("hostname mismatch" in line for line in failures), host_lines(world, domain)


def test_preferred_mx_outside_the_policy_patterns(world):
    """pf-mx-skip.example: MX 10 rogue.pf-mx-skip.example matches none of the policy's patterns
    (a trusted certificate for its own name, its own receiver "bystander"); MX 20
    mail.pf-mx-skip.example matches. Either generation delivers to the matching host in one
    attempt, and the rogue host never gets the message; they differ in whether it is contacted:
    - 3.10 (smtp_tls_enforce_sts_mx_patterns = yes) skips it without connecting, logging
      "warning: MX name 'rogue...' does not match STS MX pattern for 'pf-mx-skip.example'";
    - 3.7 (observed) connects to it first, completes TLS (SNI = its name), finds the certificate
      matches no match= name ("hostname mismatch", "Server certificate not verified") and moves
      on to the next MX host within the same delivery attempt."""
    domain = "pf-mx-skip.example"
    (rogue, bystander), (matching, kind) = sc.BY_DOMAIN[domain].mx
    assert rogue in certificate_names(world.receivers.certs[bystander])
    world.wait_for_secure_answer(domain)
    mail = world.send(domain)
    [attempt] = world.postfix.wait_for_attempts(mail.message_id, 1)
    relay = f"{matching}[{sc.SMTP_RECEIVERS[kind]}]:25"
    assert (attempt.status, attempt.relay) == ("sent", relay), f"{attempt}\n{log_tail(world)}"
    [received] = world.receivers.messages_for(mail.recipient)
    assert (received["receiver"], received["tls"], received["sni"]) == (kind, True, matching), received
    assert world.postfix.smtp_lines(f"Verified TLS connection established to {relay}: ")
    rogue_lines = world.postfix.smtp_lines(f"{rogue}[")
    if world.is_3_10:
        assert world.postfix.postconf("smtp_tls_enforce_sts_mx_patterns") == "yes"  # the default
        assert world.postfix.smtp_lines(MX_SKIPPED.format(host=rogue, domain=domain)), log_tail(world)
        assert rogue_lines == []
        assert world.receivers.records(bystander) == []  # not even a TCP connection
    else:
        assert any("certificate verification failed for" in line and "hostname mismatch" in line
                   for line in rogue_lines), rogue_lines
        wait_for_handshakes(world, bystander, rogue, 1)
        assert [r["event"] for r in world.receivers.records(bystander)] == ["connect", "starttls"]


def test_chrooted_smtp_reaches_mtastsd(world):
    """A chrooted smtp(8) (Debian's default) gets the secure answer too: for 3.7 through the
    socket path in the map, which is relative to the queue directory; for 3.10 over TCP loopback.
    Delivered over verified TLS, not merely opportunistic TLS (which a failed lookup would
    defer, and NOTFOUND would log as Trusted)."""
    domain = CHROOT_DOMAIN
    world.wait_for_secure_answer(domain)
    mail = world.send(domain)
    received = assert_delivered(world, mail, domain, tls=True)
    assert services_used(world, mail) == {CHROOT_TRANSPORT}
    # The smtp(8) process that delivered it idles, chrooted, for the next job.
    assert world.postfix.service_roots(CHROOT_TRANSPORT) == {file_identity(world.postfix.queue_dir)}
    summaries = tls_summaries(world, domain)
    assert summaries and all(line.startswith(f"Verified TLS connection established to {relay_of(domain)}: ")
                             for line in summaries), summaries
    assert received["sni"] == mx_host(domain), received


def test_unreachable_mtastsd_defers_instead_of_downgrading(world):
    """A policy lookup that cannot connect is a configuration problem to Postfix: the mail waits
    in the queue; it is neither bounced nor sent opportunistically."""
    domain = UNREACHABLE_DOMAIN
    mail = world.send(domain)
    [first] = world.postfix.wait_for_attempts(mail.message_id, 1)
    # relay=none: Postfix gave up before connecting to any MX.
    assert (first.status, first.relay, first.reason) == ("deferred", "none", "client TLS configuration problem"), first
    assert world.postfix.smtp_lines(f'next-hop destination "{domain}": policy table lookup error')
    world.postfix.flush()
    second = world.postfix.wait_for_attempts(mail.message_id, 2)[1]
    assert (second.status, second.relay) == ("deferred", "none"), second
    queued = world.postfix.queued(first.qid)
    assert queued is not None and queued["queue_name"] == "deferred", queued
    assert world.receivers.messages_for(mail.recipient) == []
    assert not host_lines(world, domain)  # no connection to the MX at all


# ---- no enforcement ----

def test_testing_mode_bad_mx_is_delivered(world):
    """mode: testing is answered NOTFOUND, so Postfix stays opportunistic (may) and delivers to an
    MX whose certificate no one trusts."""
    domain = "pf-testing.example"
    world.wait_for_notfound(domain)
    mail = world.send(domain)
    assert_delivered(world, mail, domain, tls=True)
    summaries = tls_summaries(world, domain)
    assert summaries and all(line.startswith("Untrusted TLS connection established") for line in summaries), summaries


def test_domain_without_mta_sts_is_delivered_opportunistically(world):
    domain = "pf-no-sts.example"
    world.wait_for_notfound(domain)
    mail = world.send(domain)
    assert_delivered(world, mail, domain, tls=False)
    assert tls_summaries(world, domain) == []


# ---- DANE before MTA-STS (RFC 8461 sec. 2) ----

@pytest.fixture
def dane(world):
    if world.dane_unsupported:
        pytest.skip(world.dane_unsupported)
    return world


def test_dane_matching_tlsa_is_delivered_with_dane_verification(dane):
    """The MX's certificate comes from a CA no one trusts, so MTA-STS alone would defer; its
    DNSSEC-signed TLSA record matches, and DANE takes precedence (RFC 8461 sec. 2)."""
    domain = "pf-dane.example"
    dane.wait_for_secure_answer(domain)
    dane.mtastsd.wait_for_answer(domain, "OK dane-only", name=dane.dane_profile)
    mail = dane.send(domain)
    assert_delivered(dane, mail, domain, tls=True)
    assert services_used(dane, mail) == {DANE_TRANSPORT}
    association = dane_ee_record(dane.receivers).upper().removeprefix("3 1 1 ")
    lines = host_lines(dane, domain)
    assert dane.postfix.smtp_lines(f"DNSSEC-signed TLSA record: {tlsa_owner(domain)}: 3 1 1 {association}")
    assert any(f"Matched DANE EE certificate at depth 0: 3 1 1 {association}" in line for line in lines), lines
    summaries = tls_summaries(dane, domain)
    assert summaries and all(line.startswith(f"Verified TLS connection established to {relay_of(domain)}: ")
                             for line in summaries), summaries


def test_dane_mismatching_tlsa_is_deferred_although_mta_sts_would_accept(dane):
    domain = "pf-dane-mismatch.example"
    # The MTA-STS policy alone would send it: secure, and the MX's certificate is valid for it
    # (the same receiver and CA as pf-enforce.example, which is delivered).
    dane.wait_for_secure_answer(domain)
    dane.mtastsd.wait_for_answer(domain, "OK dane-only", name=dane.dane_profile)
    mail = dane.send(domain)
    assert_deferred_on_every_attempt(dane, mail, domain, NOT_VERIFIED)
    assert services_used(dane, mail) == {DANE_TRANSPORT}
    assert dane.postfix.smtp_lines(f"DNSSEC-signed TLSA record: {tlsa_owner(domain)}: {sc.TLSA_MISMATCH}")
    failures = verification_failures(dane, domain)
    assert failures and all("no matching DANE TLSA records" in line for line in failures), host_lines(dane, domain)
    # Postfix did complete TLS with the MX: it is the TLSA association that failed.
    [(host, kind)] = sc.BY_DOMAIN[domain].mx
    wait_for_handshakes(dane, kind, host, 2)

