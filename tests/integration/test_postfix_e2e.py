"""Real Postfix, end to end (issue #3): Debian 12's Postfix 3.7 sends real mail (sendmail) to the
scenario domains with smtp_tls_policy_maps pointing at mtastsd (profile "default", dialect
"postfix"), smtp_dns_support_level = dnssec and the rig's validating unbound as its resolver.
Every verdict is read from what Postfix itself did (its log and `postqueue -j`) and from what the
receiving SMTP servers recorded (rig/smtp_receiver.py), never from mtastsd's answer alone.

Each test first waits until mtastsd answers its domain as expected (the policy is cached), so
the test is about what Postfix does with that answer, not about the first-contact cold budget.

A few domains go through smtp(8) services of their own (transport_maps): one chrooted as on
Debian, one whose map names a socket nobody listens on, and for DANE (RFC 8461 sec. 2: MTA-STS
must not override DANE) one whose map asks mtastsd's profile "dane" (profile key `dane = true`).
Where the mtastsd under test does not accept that key, the DANE tests are skipped and say so."""
from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

import scenarios as sc
from rig.mtastsd import Mtastsd, binary
from rig.postfix import Postfix, SmtpService, policy_map
from rig.procs import wait_until
from rig.receivers import Receivers, certificate_names, spki_sha256
from rig.resolver import use_rig_resolver

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/postfix").exists(),
                                reason="Postfix is not installed (apt-get install postfix; see scripts/lib.sh)")

DANE_PROFILE = "dane"
DANE_TRANSPORT = "smtp-dane"
DANE_DOMAINS = ("pf-dane.example", "pf-dane-mismatch.example")
# The DANE service also logs the TLSA records it uses and which one matched (tls_log_mask names).
DANE_SERVICE = SmtpService({"smtp_tls_policy_maps": policy_map(DANE_PROFILE), "smtp_tls_loglevel": "1,certmatch,dane"})
# Debian's packaged master.cf runs smtp(8) chrooted; this service does too, with the same map.
CHROOT_TRANSPORT = "smtp-chroot"
CHROOT_DOMAIN = "pf-chroot.example"
# A service whose map names a socket nobody listens on: mtastsd stopped or not yet started.
UNREACHABLE_TRANSPORT = "smtp-unreachable"
UNREACHABLE_DOMAIN = "pf-unreachable.example"
UNREACHABLE_SERVICE = SmtpService({"smtp_tls_policy_maps": "socketmap:unix:mtastsd/nobody-listens.sock:default"})
# Postfix's smtp_tls_policy_maps deferral reasons (smtp_proto.c) under "secure".
NOT_VERIFIED = "Server certificate not verified"
TLS_NOT_OFFERED = "TLS is required, but was not offered by host"


@dataclass
class Mail:
    recipient: str
    message_id: str


@dataclass
class World:
    postfix: Postfix
    receivers: Receivers
    mtastsd: Mtastsd
    dane_unsupported: Optional[str]  # why the DANE tests cannot run, or None

    def send(self, domain: str) -> Mail:
        mail = Mail(f"user@{domain}", f"<{uuid.uuid4().hex}@sender.example>")
        self.postfix.send(mail.recipient, mail.message_id)
        return mail


def dane_unsupported_reason(tmp_path: Path) -> Optional[str]:
    """None if this mtastsd accepts `[profiles.X] dane = true`, else the reason to skip."""
    probe = tmp_path / "dane-probe.toml"
    probe.write_text(f"[profiles.{DANE_PROFILE}]\ndane = true\n")
    result = subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "--check-config", "-c", str(probe)],
                            capture_output=True, text=True, timeout=30)
    if result.returncode == 0:
        return None
    return ("mtastsd does not support the profile key `dane` yet (--check-config: "
            f"{result.stderr.strip() or result.stdout.strip()}); re-run after DANE is merged")


@pytest.fixture(scope="module")
def world(rig, tmp_path_factory):
    directory = tmp_path_factory.mktemp("postfix-e2e")
    try:
        use_rig_resolver(rig.dns.unbound_address, directory)
    except OSError as e:
        pytest.skip(f"cannot point /etc/resolv.conf at the rig's unbound ({e}); run tests/integration/run")
    dane_unsupported = dane_unsupported_reason(directory)

    receivers = Receivers(directory / "receivers", rig).start()
    transports = {CHROOT_TRANSPORT: SmtpService(chroot=True), UNREACHABLE_TRANSPORT: UNREACHABLE_SERVICE}
    if not dane_unsupported:
        transports[DANE_TRANSPORT] = DANE_SERVICE
    postfix = Postfix(directory / "postfix", rig.ca_file, transports=transports)
    postfix.route(CHROOT_DOMAIN, CHROOT_TRANSPORT)
    postfix.route(UNREACHABLE_DOMAIN, UNREACHABLE_TRANSPORT)
    mtastsd = None
    try:
        if not dane_unsupported:
            for domain in DANE_DOMAINS:
                postfix.route(domain, DANE_TRANSPORT)
            rig.dns.set_records(tlsa_owner("pf-dane.example"), "TLSA", [dane_ee_record(receivers)])
        postfix.prepare()
        # mtastsd before Postfix, on a socket inside Postfix's queue directory (as for a chrooted
        # smtp(8)); the second listener is the one tests look up through.
        mtastsd_dir = tmp_path_factory.mktemp("mtastsd-postfix")
        overrides = {"listen": [{"unix": str(mtastsd_dir / "socketmap.sock"), "mode": "0600"},
                                {"unix": str(postfix.policy_socket), "group": "postfix", "mode": "0660"}]}
        if not dane_unsupported:
            overrides["profiles"] = {DANE_PROFILE: {"dane": True}}
        mtastsd = Mtastsd(rig, mtastsd_dir, overrides)
        assert mtastsd.socket == mtastsd_dir / "socketmap.sock"
        Mtastsd.running.append(mtastsd)
        mtastsd.start()
        postfix.start()
        yield World(postfix, receivers, mtastsd, dane_unsupported)
    finally:
        postfix.stop()
        if mtastsd is not None:
            status = mtastsd.stop()
            Mtastsd.running.remove(mtastsd)
            assert status in (0, None), f"mtastsd exited with {status} on SIGTERM"
        receivers.stop()


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


def assert_deferred_on_every_attempt(world: World, mail: Mail, domain: str, reason: str) -> None:
    """Deferred with `reason`, deferred again on a forced retry (postqueue -f), the message still
    in the deferred queue, and the receiver never got it, neither over TLS nor in plaintext."""
    [first] = world.postfix.wait_for_attempts(mail.message_id, 1)
    assert first.status == "deferred" and reason in first.reason, f"{first}\n{log_tail(world)}"
    assert first.relay == relay_of(domain), first
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
    world.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
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
    world.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
    mail = world.send(domain)
    assert_deferred_on_every_attempt(world, mail, domain, NOT_VERIFIED)
    failures = verification_failures(world, domain)
    assert len(failures) >= 2 and all(evidence in line for line in failures), host_lines(world, domain)
    # Postfix did complete TLS with the MX on both attempts: it is the certificate that failed.
    [(host, kind)] = sc.BY_DOMAIN[domain].mx
    wait_for_handshakes(world, kind, host, 2)


def test_enforce_mx_without_starttls_is_deferred_never_sent_in_plaintext(world):
    domain = "pf-plaintext.example"
    world.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
    mail = world.send(domain)
    assert_deferred_on_every_attempt(world, mail, domain, TLS_NOT_OFFERED)
    assert tls_summaries(world, domain) == []


def test_enforce_mx_outside_the_policy_patterns_is_deferred(world):
    """Postfix 3.7 checks the certificate against the match= names (the policy's mx patterns):
    a trusted certificate valid for the MX's own name is not enough."""
    domain = "pf-mx-mismatch.example"
    [(host, kind)] = sc.BY_DOMAIN[domain].mx
    assert host in certificate_names(world.receivers.certs[kind])
    world.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
    mail = world.send(domain)
    assert_deferred_on_every_attempt(world, mail, domain, NOT_VERIFIED)
    failures = verification_failures(world, domain)
    assert failures and all("hostname mismatch" in line for line in failures), host_lines(world, domain)


def test_chrooted_smtp_reaches_mtastsd_inside_the_queue_directory(world):
    """The socket path in the map is relative to the queue directory, so a chrooted smtp(8)
    (Debian's default) gets the secure answer too: delivered over verified TLS, not merely
    opportunistic TLS (which a failed lookup would defer, and NOTFOUND would log as Trusted)."""
    domain = CHROOT_DOMAIN
    world.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
    mail = world.send(domain)
    received = assert_delivered(world, mail, domain, tls=True)
    assert services_used(world, mail) == {CHROOT_TRANSPORT}
    # The smtp(8) process that delivered it idles, chrooted, for the next job.
    assert world.postfix.service_roots(CHROOT_TRANSPORT) == {str(world.postfix.queue_dir)}
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
    world.mtastsd.wait_for_answer(domain, lambda reply: reply.startswith("NOTFOUND"))
    mail = world.send(domain)
    assert_delivered(world, mail, domain, tls=True)
    summaries = tls_summaries(world, domain)
    assert summaries and all(line.startswith("Untrusted TLS connection established") for line in summaries), summaries


def test_domain_without_mta_sts_is_delivered_opportunistically(world):
    domain = "pf-no-sts.example"
    world.mtastsd.wait_for_answer(domain, lambda reply: reply.startswith("NOTFOUND"))
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
    dane.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
    dane.mtastsd.wait_for_answer(domain, "OK dane-only", name=DANE_PROFILE)
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
    dane.mtastsd.wait_for_answer(domain, sc.secure_answer(domain))
    dane.mtastsd.wait_for_answer(domain, "OK dane-only", name=DANE_PROFILE)
    mail = dane.send(domain)
    assert_deferred_on_every_attempt(dane, mail, domain, NOT_VERIFIED)
    assert services_used(dane, mail) == {DANE_TRANSPORT}
    assert dane.postfix.smtp_lines(f"DNSSEC-signed TLSA record: {tlsa_owner(domain)}: {sc.TLSA_MISMATCH}")
    failures = verification_failures(dane, domain)
    assert failures and all("no matching DANE TLSA records" in line for line in failures), host_lines(dane, domain)
    # Postfix did complete TLS with the MX: it is the TLSA association that failed.
    [(host, kind)] = sc.BY_DOMAIN[domain].mx
    wait_for_handshakes(dane, kind, host, 2)
