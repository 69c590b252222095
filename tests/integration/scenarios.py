"""The declarative scenario table: one entry per test domain, holding its DNS records, the
policy body served at https://mta-sts.<domain>/.well-known/mta-sts.txt and how that server
behaves. The rig builds the signed zones, the nginx configuration and the misbehaving server's
configuration from this table alone; later issues (DANE, TLS-RPT, MX validation) add domains
and `records` here.

All domains live under the TLD ".example" (not ".test": unbound and libunbound answer NXDOMAIN
for ".test" by default, RFC 6761) inside the test root zone ".", except those in the
delegated child zones of ZONES (used where a zone-wide value such as the SOA negative TTL must
differ). Records default to a TTL of 1 s so that changes made by a test are seen at once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

# Where the servers listen (127.0.0.0/8 is all on lo inside the namespace).
NSD_ADDRESS = "127.0.0.2"
UNBOUND_ADDRESS = "127.0.0.3"
NGINX_ADDRESS = "127.0.1.1"
MISBEHAVING_ADDRESS = "127.0.1.2"       # TLS server that misbehaves after the handshake
TCP_BLACKHOLE_ADDRESS = "127.0.1.3"     # accepts TCP, never starts TLS
RENEGOTIATING_ADDRESS = "127.0.1.4"     # TLS 1.2 server that asks the client to renegotiate
CANARY_ADDRESS = "127.0.1.5"            # logs every TCP connection: where nothing may connect

# Zone name -> negative TTL (SOA TTL and MINIMUM, RFC 2308 sec. 5). "." must come first.
ZONES = {
    ".": 1,
    "longneg.example.": 86400,
    "midneg.example.": 300,
}

# A server behaviour names who serves mta-sts.<domain> and how:
#   nginx            200 with the body and content_type (404 if policy is None)
#   nginx-redirect   301 to another domain's policy URL (RFC 8461 sec. 3.3: must not be followed)
#   nginx-wrong-name certificate for a name other than mta-sts.<domain>
#   nginx-untrusted  certificate from a CA that is not in mtastsd's fetch.ca_file
#   nginx-expired    certificate whose validity ended in the past
#   hang             TLS handshake done, request read, never answered
#   trickle          200 headers (Content-Length 1000), then one body byte every 200 ms
#   delay:N          answers the policy normally after N seconds
#   chunked          200 with the body in chunks (Transfer-Encoding: chunked)
#   truncated        Content-Length of the body, half the body, then the connection closes
#   tcp-hang         TCP accepted, TLS never started
#   renegotiate      after the request, a TLS 1.2 HelloRequest; the policy only after a renegotiation
#   canary           TCP accepted, logged and closed (the canary address)
#   endless ... redirect-internal   hostile servers (test_hostile_servers.py), rig/misbehaving_https.py
NGINX_BEHAVIOURS = {"nginx", "nginx-redirect", "nginx-wrong-name", "nginx-untrusted", "nginx-expired"}

TxtRecord = Union[str, tuple]  # one string, or several character-strings of one record


@dataclass(frozen=True)
class Scenario:
    domain: str
    txt: tuple[TxtRecord, ...] = ()       # TXT RRs at _mta-sts.<domain>
    txt_cname: Optional[str] = None       # instead of txt: _mta-sts.<domain> is a CNAME to this
    policy: Optional[str] = None          # body served (None: none, i.e. 404 from nginx)
    server: str = "nginx"
    content_type: str = "text/plain"
    records: tuple[tuple[str, str, str], ...] = ()  # extra (owner, type, rdata) RRs, zone-file syntax
    mta_sts_host: bool = True             # publish an A record for mta-sts.<domain>
    # (MX host, SMTP_RECEIVERS key), most preferred first: "<domain> MX 10*n <host>", "<host> A <addr>"
    mx: tuple[tuple[str, str], ...] = ()

    @property
    def server_address(self) -> str:
        if self.server in NGINX_BEHAVIOURS:
            return NGINX_ADDRESS
        if self.server == "tcp-hang":
            return TCP_BLACKHOLE_ADDRESS
        if self.server == "renegotiate":
            return RENEGOTIATING_ADDRESS
        if self.server == "canary":
            return CANARY_ADDRESS
        return MISBEHAVING_ADDRESS


def policy(mode: str = "enforce", mx: tuple[str, ...] = (), max_age: int = 86400, eol: str = "\n",
           extra: tuple[str, ...] = (), version: str = "STSv1") -> str:
    lines = [f"version: {version}", f"mode: {mode}"]
    lines += [f"mx: {m}" for m in mx]
    lines += [f"max_age: {max_age}"]
    lines += list(extra)
    return eol.join(lines) + eol


def enforce(domain: str, **kw) -> str:
    """The usual enforce policy of a scenario domain: one exact MX name and one wildcard."""
    return policy("enforce", (f"mail.{domain}", f"*.mx.{domain}"), **kw)


def secure_answer(domain: str) -> str:
    """mtastsd's postfix-dialect reply for enforce(domain)."""
    return f"OK secure match=mail.{domain}:.mx.{domain} servername=hostname"


def _std(domain: str, id_: str, **kw) -> Scenario:
    """A domain with one valid TXT record and the usual enforce policy."""
    kw.setdefault("policy", enforce(domain))
    return Scenario(domain, txt=(f"v=STSv1; id={id_};",), **kw)


SCENARIOS: list[Scenario] = [
    # --- rig self-checks (never used by mtastsd tests) ---
    _std("rig-mutable.example", "rig1"),

    # --- RFC 8461 sec. 3.1: TXT record rules ---
    _std("valid.example", "valid1"),
    Scenario("two-records.example", txt=("v=STSv1; id=first1;", "v=STSv1; id=second2;"),
             policy=enforce("two-records.example")),
    Scenario("bad-id.example", txt=("v=STSv1; id=bad_id!;",), policy=enforce("bad-id.example")),
    Scenario("long-id.example", txt=("v=STSv1; id=" + "a" * 33 + ";",), policy=enforce("long-id.example")),
    Scenario("split.example", txt=(("v=STSv1; ", "id=split1;"),), policy=enforce("split.example")),
    Scenario("cname.example", txt_cname="sts-record.elsewhere.example", policy=enforce("cname.example"),
             records=(("sts-record.elsewhere.example", "TXT", '"v=STSv1; id=cname1;"'),)),
    Scenario("other-txt.example", txt=("v=spf1 -all", "v=STSv10; id=notme;", "site-verification=abc123",
                                    "v=STSv1; id=other1; ext=ignored;"),
             policy=enforce("other-txt.example")),
    Scenario("no-record.example"),  # nothing at all: NXDOMAIN for _mta-sts
    Scenario("nodata.example", records=(("_mta-sts.nodata.example", "A", "192.0.2.1"),)),  # NODATA for TXT

    # --- RFC 8461 sec. 3.2: policy body rules ---
    _std("crlf.example", "crlf1", policy=enforce("crlf.example", eol="\r\n")),
    _std("dupkey.example", "dup1", policy=enforce("dupkey.example", extra=("mode: testing", "max_age: 1"))),
    _std("unknown-keys.example", "unk1", policy=enforce("unknown-keys.example", extra=("color: blue", "x-ext: 1"))),
    _std("enforce-no-mx.example", "nomx1", policy=policy("enforce", ())),
    _std("max-age-big.example", "big1", policy=enforce("max-age-big.example", max_age=31557601)),
    _std("max-age-limit.example", "lim1", policy=enforce("max-age-limit.example", max_age=31557600)),
    _std("bad-wildcard.example", "wild1", policy=policy("enforce", ("mail.*.bad-wildcard.example",))),
    _std("bad-version.example", "ver1", policy=enforce("bad-version.example", version="STSv2")),
    _std("testing.example", "testing1", policy=policy("testing", ("mail.testing.example", "*.mx.testing.example"))),
    _std("none.example", "none1", policy=policy("none", ())),

    # --- RFC 8461 sec. 3.3: fetch rules ---
    _std("redirect.example", "redir1", server="nginx-redirect"),
    _std("notfound404.example", "nf1", policy=None),
    _std("wrong-ctype.example", "ct1", content_type="text/html"),
    _std("charset.example", "cs1", content_type="text/plain; charset=utf-8"),
    # Valid policy padded past 64 KiB with an ignorable key: only the size cap rejects it.
    _std("huge.example", "huge1", policy=enforce("huge.example", extra=("x-padding: " + "p" * 70000,))),
    _std("wrong-name.example", "wn1", server="nginx-wrong-name"),
    _std("untrusted.example", "ut1", server="nginx-untrusted"),
    _std("expired.example", "exp1", server="nginx-expired"),
    _std("hang.example", "hang1", server="hang"),
    _std("trickle.example", "trickle1", server="trickle"),
    _std("tcp-hang.example", "tcphang1", server="tcp-hang"),
    _std("no-host.example", "nohost1", mta_sts_host=False),  # mta-sts.<domain> does not resolve
    _std("chunked.example", "chunk1", server="chunked"),
    _std("truncated.example", "trunc1", server="truncated"),

    # --- RFC 8461 sec. 3.3, 5.1: cache behaviour (each test mutates only its own domain) ---
    _std("idchange.example", "old1"),
    _std("sameid.example", "same1"),
    _std("downgrade.example", "dg1"),
    _std("vanish.example", "van1"),
    _std("persist.example", "per1"),
    _std("singleflight.example", "sf1", server="delay:1.5"),
    _std("coldbudget.example", "cb1", server="delay:3"),
    Scenario("x.longneg.example"),  # NXDOMAIN, negative TTL 86400 s (unbound passes on at most 3600)
    Scenario("x.midneg.example"),   # NXDOMAIN in a zone whose negative TTL is 300 s

    # --- background maintenance and damaged state (test_maintenance.py) ---
    _std("refresh.example", "refresh1", policy=enforce("refresh.example", max_age=4)),
    _std("corrupt-record.example", "corrupt1"),
    _std("corrupt-file.example", "cfile1"),

    # --- socketmap / mtastsctl ---
    _std("ctl-a.example", "ctla1"),
    _std("ctl-b.example", "ctlb1"),
    _std("ctl-invalid.example", "ctli1", policy=policy("enforce", ())),
    _std("xn--bcher-kva.example", "idn1"),  # looked up as "bücher.example"
    _std("parent-probe.example", "pp1"),     # looked up only as ".parent-probe.example"
    # mtastsctl cache refresh through the daemon (test_control.py), one domain per mutating test
    _std("ctl-refresh.example", "ctlr1"),
    _std("ctl-refresh-fail.example", "ctlrf1"),
    _std("ctl-refresh-slow.example", "ctlrs1", server="delay:2"),  # the server takes 2 s to answer

    # --- log lines (test_logging.py; log-change.example's id and policy change) ---
    _std("log-file.example", "logfile1"),
    _std("log-change.example", "logold1"),
    _std("log-rotate.example", "logrot1"),
    _std("log-syslog.example", "logsys1"),
]


# --- DANE (test_dane.py) ---
# RFC 7672: MX, A and TLSA records beside an enforce MTA-STS policy, so every test sees which of
# the two decides. MX hosts are mx<N>.mx.<domain> (matching the policy's "*.mx.<domain>") with
# loopback addresses nothing listens on: the DANE verdict needs no SMTP server. TLSA data is any
# well-formed digest, and each domain has its own so that a test can tamper with exactly one RRset.
# "insecure-dane.example." is an unsigned child zone delegated without DS (insecure delegation).
ZONES["insecure-dane.example."] = 1
UNSIGNED_ZONES = {"insecure-dane.example."}


def tlsa_ee(tag: str) -> str:
    """A usable record, DANE-EE(3) SPKI(1) SHA2-256(1), whose digest is `tag` (2 hex digits) x 32."""
    return f"3 1 1 {tag * 32}"


def tlsa_pkix(tag: str) -> tuple[str, ...]:
    """PKIX-TA(0) and PKIX-EE(1) records: well-formed, but not usable for SMTP (RFC 7672 sec. 3.1.3)."""
    return (f"0 0 1 {tag * 32}", f"1 1 2 {tag * 64}")


def _dane(domain: str, id_: str, tlsa: tuple[tuple[str, ...], ...], **kw) -> Scenario:
    """An enforce MTA-STS domain with one MX host per entry of tlsa (that host's TLSA rdatas)."""
    records = []
    for n, rdatas in enumerate(tlsa, start=1):
        host = f"mx{n}.mx.{domain}"
        records += [(domain, "MX", f"{10 * n} {host}."), (host, "A", f"127.0.25.{n}")]
        records += [(f"_25._tcp.{host}", "TLSA", r) for r in rdatas]
    return _std(domain, id_, records=tuple(records) + tuple(kw.pop("records", ())), **kw)


SCENARIOS += [
    _dane("dane-all.example", "daneall1", ((tlsa_ee("a1"),), (tlsa_ee("a2"), tlsa_pkix("a3")[0]))),
    _dane("dane-some.example", "danesome1", ((tlsa_ee("b1"),), ())),
    _dane("dane-none.example", "danenone1", ((), ())),
    _dane("dane-pkix.example", "danepkix1", (tlsa_pkix("c1"),)),
    _dane("insecure-dane.example", "insecure1", ((tlsa_ee("d1"),),)),  # in the unsigned zone
    # Secure MX whose host lives in the unsigned zone: its TLSA records are insecure.
    _std("dane-insecure-host.example", "insecurehost1",
         records=(("dane-insecure-host.example", "MX", "10 mx1.mx.insecure-dane.example."),)),
    # No MX: the domain itself is the implicit MX (RFC 5321 sec. 5.1).
    _std("dane-implicit.example", "implicit1",
         records=(("dane-implicit.example", "A", "127.0.25.9"),
                  ("_25._tcp.dane-implicit.example", "TLSA", tlsa_ee("e1")))),
    # Tampered with by test_dane.py (signatures no longer match: DNSSEC-bogus).
    _dane("dane-bogus-tlsa.example", "bogustlsa1", ((tlsa_ee("f1"),),)),
    _dane("dane-bogus-mx.example", "bogusmx1", ((tlsa_ee("f2"),),)),
    # Looked up only by the instance with cold_budget 0.
    _dane("dane-cold.example", "danecold1", ((tlsa_ee("f3"),),)),
]

# --- Postfix end to end (test_postfix_e2e.py) ---
# Receiving SMTP servers (rig/smtp_receiver.py, port 25), one per kind. Each certificate covers the
# MX host names that point at its server (rig/receivers.py).
SMTP_RECEIVERS = {
    "good": "127.0.3.1",        # STARTTLS, rig CA, valid for its MX host names
    "wrong-name": "127.0.3.2",  # STARTTLS, rig CA, but for another name
    "expired": "127.0.3.3",     # STARTTLS, rig CA, validity ended in the past
    "untrusted": "127.0.3.4",   # STARTTLS, from a CA nobody trusts
    "plaintext": "127.0.3.5",   # does not offer STARTTLS
    "bystander": "127.0.3.6",   # like "good", for MX hosts a sender must not contact at all
}
TLSA_MISMATCH = "3 1 1 " + "0" * 64  # a well-formed DANE-EE SPKI SHA-256 association no key has


def _mail(domain: str, id_: str, receiver: str, mx_host: str = "", **kw) -> Scenario:
    """A domain with the usual enforce policy whose one MX host (mail.<domain> unless given) is
    served by the receiver of that kind."""
    return _std(domain, id_, mx=((mx_host or f"mail.{domain}", receiver),), **kw)


SCENARIOS += [
    _mail("pf-enforce.example", "pfenf1", "good"),
    _mail("pf-wrong-name.example", "pfwn1", "wrong-name"),
    _mail("pf-expired.example", "pfexp1", "expired"),
    _mail("pf-untrusted.example", "pfut1", "untrusted"),
    _mail("pf-plaintext.example", "pfpt1", "plaintext"),
    _mail("pf-testing.example", "pftest1", "untrusted", policy=policy("testing", ("mail.pf-testing.example",))),
    Scenario("pf-no-sts.example", mx=(("mail.pf-no-sts.example", "plaintext"),)),
    # Delivered by a chrooted smtp(8), which reaches mtastsd's socket inside the queue directory.
    _mail("pf-chroot.example", "pfchroot1", "good"),
    # Delivered by an smtp(8) whose map names a socket nobody listens on (mtastsd down).
    _mail("pf-unreachable.example", "pfunr1", "good"),
    # The MX host matches none of the policy's patterns; its certificate is valid for its own name.
    _mail("pf-mx-mismatch.example", "pfmm1", "good", mx_host="rogue.pf-mx-mismatch.example"),
    # Two MX hosts: the preferred one (MX 10) matches none of the policy's patterns but has a
    # trusted certificate for its own name and a receiver of its own; the other (MX 20) matches.
    _std("pf-mx-skip.example", "pfskip1",
         mx=(("rogue.pf-mx-skip.example", "bystander"), ("mail.pf-mx-skip.example", "good"))),
    # DANE. pf-dane.example's MX has a certificate no CA vouches for, so only DANE can verify it;
    # its TLSA record is published by the test (the key is made at test time).
    # pf-dane-mismatch.example's MTA-STS policy alone would accept its MX, its TLSA record does not.
    _mail("pf-dane.example", "pfdane1", "untrusted"),
    _mail("pf-dane-mismatch.example", "pfdm1", "good",
          records=(("_25._tcp.mail.pf-dane-mismatch.example", "TLSA", TLSA_MISMATCH),)),
]
# --- end of Postfix end to end ---

# --- TLS-RPT collection (test_tlsrpt_collect.py) ---
def tlsrpt_record(domain: str) -> str:
    """The TLSRPT record (RFC 8460 sec. 3) the TLS-RPT domains publish at _smtp._tls.<domain>."""
    return f"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"


def _with_tlsrpt(domain: str) -> tuple[tuple[str, str, str], ...]:
    return ((f"_smtp._tls.{domain}", "TXT", f'"{tlsrpt_record(domain)}"'),)


SCENARIOS += [
    # Sessions from datagrams carry their record: no DNS needed beyond this one.
    Scenario("rpt-lib.example", records=_with_tlsrpt("rpt-lib.example")),
    # Postfix 3.7 log sessions: an enforce policy and a TLSRPT record ...
    _std("rpt-log.example", "rptlog1", records=_with_tlsrpt("rpt-log.example")),
    # ... a TLSRPT record without MTA-STS (no-policy-found) ...
    Scenario("rpt-log-nosts.example", records=_with_tlsrpt("rpt-log-nosts.example")),
    # ... and MTA-STS without a TLSRPT record: nobody to report to.
    _std("rpt-log-norpt.example", "rptnorpt1"),
    # A valid TXT record whose policy is not there (404): RFC 8461 sec. 6, every session fails
    # with sts-policy-fetch-error. One domain per session source.
    _std("rpt-fetchfail.example", "rptff1", policy=None, records=_with_tlsrpt("rpt-fetchfail.example")),
    _std("rpt-log-fetchfail.example", "rptlff1", policy=None, records=_with_tlsrpt("rpt-log-fetchfail.example")),
]
# --- end of TLS-RPT collection ---

# --- TLS-RPT end to end (test_tlsrpt_e2e.py) ---
# Real Postfix (3.7: its log; 3.10: libtlsrpt datagrams) delivering to these domains, each with a
# TLSRPT record, one MX host mail.<domain> served by the receiver named, and the usual enforce
# policy unless said otherwise. One domain per outcome, so that each report holds one kind.
def _reported(domain: str, id_: str, receiver: str, **kw) -> Scenario:
    return _mail(domain, id_, receiver, records=_with_tlsrpt(domain), **kw)


SCENARIOS += [
    _reported("rpt-e2e-enforce.example", "rpte2eenf1", "good"),
    _reported("rpt-e2e-wrong-name.example", "rpte2ewn1", "wrong-name"),
    _reported("rpt-e2e-expired.example", "rpte2eexp1", "expired"),
    _reported("rpt-e2e-untrusted.example", "rpte2eut1", "untrusted"),
    _reported("rpt-e2e-plaintext.example", "rpte2ept1", "plaintext"),
    # mode testing: answered NOTFOUND, delivered to an MX nobody trusts.
    _reported("rpt-e2e-testing.example", "rpte2etest1", "untrusted",
              policy=policy("testing", ("mail.rpt-e2e-testing.example",))),
    # A valid TXT record whose policy is a 404 (RFC 8461 sec. 6: sts-policy-fetch-error).
    _reported("rpt-e2e-fetchfail.example", "rpte2eff1", "good", policy=None),
    # Delivered by a chrooted smtp(8), as Debian runs it.
    _reported("rpt-e2e-chroot.example", "rpte2echr1", "good"),
    # The last mail of the test goes here: once its session is counted, so is every earlier one.
    _reported("rpt-e2e-last.example", "rpte2elast1", "good"),
    # Two MX hosts: the preferred one (MX 10) matches none of the policy's patterns, with a
    # trusted certificate for its own name and a receiver of its own; the other (MX 20) matches.
    Scenario("rpt-e2e-mx-skip.example", txt=("v=STSv1; id=rpte2eskip1;",), policy=enforce("rpt-e2e-mx-skip.example"),
             mx=(("rogue.rpt-e2e-mx-skip.example", "bystander"), ("mail.rpt-e2e-mx-skip.example", "good")),
             records=_with_tlsrpt("rpt-e2e-mx-skip.example")),
    # One message to two recipients of the domain: one session.
    _reported("rpt-e2e-two-rcpt.example", "rpte2e2rcpt1", "good"),
    # No MTA-STS at all, an MX with a trusted certificate.
    Scenario("rpt-e2e-no-sts.example", mx=(("mail.rpt-e2e-no-sts.example", "good"),),
             records=_with_tlsrpt("rpt-e2e-no-sts.example")),
]
# --- end of TLS-RPT end to end ---

# --- testing mode: mtastsd's own MX validation (test_testing_validation.py) ---
# Domains whose policy is mode testing, each publishing a TLSRPT record, with MX hosts served by
# the receiver of one kind: what enforce would refuse, mtastsd's validation finds and the
# domain's report shows. One domain per fault and per session source, so each report is exact.
def _testing(domain: str, id_: str, mx: tuple[tuple[str, str], ...]) -> Scenario:
    return Scenario(domain, txt=(f"v=STSv1; id={id_};",),
                    policy=policy("testing", (f"mail.{domain}", f"*.mx.{domain}")), mx=mx,
                    records=_with_tlsrpt(domain))


def _testing_one_mx(domain: str, id_: str, receiver: str) -> Scenario:
    return _testing(domain, id_, ((f"mail.{domain}", receiver),))


TESTING_RESULTS = {  # receiver kind -> what the validation finds (RFC 8460 result type, or "ok")
    "good": "ok",
    "wrong-name": "certificate-host-mismatch",
    "expired": "certificate-expired",
    "untrusted": "certificate-not-trusted",
    "plaintext": "starttls-not-supported",
}
SCENARIOS += [_testing_one_mx(f"tst-{kind}.example", f"tst{n}", kind) for n, kind in enumerate(TESTING_RESULTS)]
SCENARIOS += [
    # The only MX host matches none of the policy's patterns (its certificate is fine for its name).
    _testing("tst-mx-mismatch.example", "tstmm1", (("rogue.tst-mx-mismatch.example", "good"),)),
    # MX 10 has a good certificate, MX 20 an expired one.
    _testing("tst-two-mx.example", "tsttwo1", (("mail.tst-two-mx.example", "good"),
                                              ("b.mx.tst-two-mx.example", "expired"))),
    # Sessions from a real Postfix 3.7's log.
    _testing_one_mx("tst-log-good.example", "tstlg1", "good"),
    _testing_one_mx("tst-log-untrusted.example", "tstlu1", "untrusted"),
    # No session source at all: the validations are the sessions (count_as_sessions).
    _testing("tst-count.example", "tstcnt1", (("mail.tst-count.example", "good"),
                                             ("b.mx.tst-count.example", "plaintext"))),
]
# --- end of testing mode ---

# --- TLS-RPT report schedule (test_report_schedule.py) ---
# Report domains whose TLSRPT record names a mailbox (handed to the test's SMTP relay, whatever the
# mailbox's domain) and an https endpoint (the test's HTTPS receiver, one path per domain).
# One domain per test, so that each test's reports and receiver rules are its own.
SCHEDULE_RELAY_ADDRESS = "127.0.7.1"
SCHEDULE_HTTPS_ADDRESS = "127.0.7.2"
SCHEDULE_HTTPS_HOST = "reports.rpt-sched.example"
SCHEDULE_DOMAINS = ("rpt-sched-ok.example", "rpt-sched-retry.example", "rpt-sched-crash.example",
                    "rpt-sched-fail.example", "rpt-sched-hold.example", "rpt-sched-wait.example")


def schedule_tlsrpt_record(domain: str) -> str:
    return f"v=TLSRPTv1; rua=mailto:tlsrpt@{domain},https://{SCHEDULE_HTTPS_HOST}/{domain}"


SCENARIOS += [Scenario(d, records=((f"_smtp._tls.{d}", "TXT", f'"{schedule_tlsrpt_record(d)}"'),))
              for d in SCHEDULE_DOMAINS]
SCENARIOS += [Scenario("rpt-sched.example", records=((SCHEDULE_HTTPS_HOST, "A", SCHEDULE_HTTPS_ADDRESS),))]
# --- end of TLS-RPT report schedule ---

# --- TLS-RPT, a day of traffic (test_tlsrpt_day.py) ---
# Real Postfix mail to these report domains during one fake day; their TLSRPT records name a mailbox
# (handed to the test's SMTP relay) and an https endpoint (the test's HTTPS receiver, one path per
# domain). MX hosts: a good one; an expired certificate preferred (MX 10) before a good one (MX 20),
# both matching the policy; a wrong-name certificate (mail deferred); a good one without MTA-STS;
# under a mode testing policy, an expired certificate (mail delivered, mtastsd's MX validation says
# why enforce would have refused it).
DAY_RELAY_ADDRESS = "127.0.8.1"
DAY_HTTPS_ADDRESS = "127.0.8.2"
DAY_HTTPS_HOST = "reports.rpt-day.example"
DAY_DOMAINS = ("rpt-day-good.example", "rpt-day-mixed.example", "rpt-day-fail.example", "rpt-day-nosts.example",
               "rpt-day-testing.example")


def day_tlsrpt_record(domain: str) -> str:
    return f"v=TLSRPTv1; rua=mailto:tlsrpt@{domain},https://{DAY_HTTPS_HOST}/{domain}"


def _day_records(domain: str) -> tuple[tuple[str, str, str], ...]:
    return ((f"_smtp._tls.{domain}", "TXT", f'"{day_tlsrpt_record(domain)}"'),)


SCENARIOS += [
    _mail("rpt-day-good.example", "rptdaygood1", "good", records=_day_records("rpt-day-good.example")),
    _std("rpt-day-mixed.example", "rptdaymix1", records=_day_records("rpt-day-mixed.example"),
         mx=(("old.mx.rpt-day-mixed.example", "expired"), ("mail.rpt-day-mixed.example", "good"))),
    _mail("rpt-day-fail.example", "rptdayfail1", "wrong-name", records=_day_records("rpt-day-fail.example")),
    Scenario("rpt-day-nosts.example", mx=(("mail.rpt-day-nosts.example", "good"),),
             records=_day_records("rpt-day-nosts.example")),
    _mail("rpt-day-testing.example", "rptdaytest1", "expired", records=_day_records("rpt-day-testing.example"),
          policy=policy("testing", ("mail.rpt-day-testing.example",))),
    Scenario("rpt-day.example", records=((DAY_HTTPS_HOST, "A", DAY_HTTPS_ADDRESS),)),
]
# --- end of TLS-RPT, a day of traffic ---

# --- mtastsctl check (test_check.py) ---
# Domains set up as the MTA-STS guide says (one TXT record, an enforce policy served as text/plain,
# one MX host mail.<domain> served by a receiver with a valid certificate, a TLSRPT record), each
# with one seeded fault, so that the check must report that fault and nothing else.
def _checked(domain: str, id_: str, receiver: str = "good", **kw) -> Scenario:
    kw.setdefault("records", _with_tlsrpt(domain))
    return _mail(domain, id_, receiver, **kw)


SCENARIOS += [
    _checked("chk-good.example", "chkgood1"),
    _checked("chk-ctype.example", "chkct1", content_type="application/octet-stream"),  # the guide's example
    _checked("chk-redirect.example", "chkredir1", server="nginx-redirect"),
    _checked("chk-cert-name.example", "chkcn1", server="nginx-wrong-name"),  # mta-sts.<domain> not covered
    _checked("chk-mx-name.example", "chkmxn1", receiver="wrong-name"),
    _checked("chk-no-starttls.example", "chknotls1", receiver="plaintext"),
    # A dash in the id: not 1*32(ALPHA / DIGIT) (RFC 8461 sec. 3.1).
    Scenario("chk-bad-txt.example", txt=("v=STSv1; id=chk-bad-1;",), policy=enforce("chk-bad-txt.example"),
             mx=(("mail.chk-bad-txt.example", "good"),), records=_with_tlsrpt("chk-bad-txt.example")),
    # Its only rua URI has a scheme RFC 8460 does not define: no usable destination.
    _checked("chk-bad-tlsrpt.example", "chkrpt1",
             records=(("_smtp._tls.chk-bad-tlsrpt.example", "TXT",
                       '"v=TLSRPTv1; rua=ftp://reports.chk-bad-tlsrpt.example/"'),)),
    _checked("chk-no-tlsrpt.example", "chknorpt1", records=()),  # a warning only
    # Cached by mtastsd, then the test changes the policy file but not the id.
    _checked("chk-stale-id.example", "chkstale1"),
]
# --- end of mtastsctl check ---

# --- hostile policy servers (test_hostile_servers.py) ---
# Each domain's policy is valid: only the server's misbehaviour can make its fetch fail.
POLICY_SIZE_LIMIT = 64 * 1024  # RFC 8461 sec. 3.3: "a suggested maximum policy size is 64 kilobytes"
# One address per kind of special-purpose block (util/special_address), with its expected name.
SPECIAL_IPV4 = {"127.0.0.1": "loopback", "10.1.2.3": "private-use", "172.16.0.1": "private-use",
                "192.168.1.1": "private-use", "169.254.169.254": "link-local", "0.0.0.0": "unspecified",
                "100.64.0.1": "shared address space"}
SPECIAL_IPV6 = {"::1": "loopback", "fd00::1": "unique local", "fe80::1": "link-local", "::": "unspecified",
                "::ffff:127.0.0.1": "IPv4-mapped", "64:ff9b::a01:203": "NAT64 of a non-global IPv4 address"}


def padded_policy(domain: str, size: int) -> str:
    """The usual enforce policy, padded with an ignorable key (RFC 8461 sec. 3.2) to exactly size bytes."""
    head = enforce(domain) + "x-padding: "
    padded = head + "p" * (size - len(head) - 1) + "\n"
    assert len(padded.encode()) == size
    return padded


SCENARIOS += [
    _std("hostile-endless.example", "hend1", server="endless"),
    _std("hostile-endless-length.example", "hendlen1", server="endless-length"),
    _std("hostile-length-overflow.example", "hlenovf1", server="length-overflow"),
    _std("hostile-chunk-size-overflow.example", "hcsovf1", server="chunk-size-overflow"),
    _std("hostile-chunk-size-endless.example", "hcsend1", server="chunk-size-endless"),
    _std("hostile-chunk-ext-endless.example", "hcextend1", server="chunk-ext-endless"),
    _std("hostile-trailer-endless.example", "htrlend1", server="trailer-endless"),
    _std("hostile-chunk-ext-flood.example", "hcextflood1", server="chunk-ext-flood"),
    _std("hostile-chunk-drip.example", "hcdrip1", server="chunk-drip"),
    _std("hostile-renegotiate.example", "hreneg1", server="renegotiate"),
    _std("hostile-redirect.example", "hredir1", server="redirect-internal"),
    # A policy of exactly the size limit, and one byte more, in each framing of the body:
    # Content-Length (nginx), chunked, and ended by the connection's end.
    *[_std(f"hostile-{name}-{framing}.example", f"h{name}{framing}1", server=server,
           policy=padded_policy(f"hostile-{name}-{framing}.example", size))
      for name, size in (("64k", POLICY_SIZE_LIMIT), ("64k1", POLICY_SIZE_LIMIT + 1))
      for framing, server in (("length", "nginx"), ("chunked", "chunked"), ("close", "unframed"))],
    # Policy hosts at special-purpose addresses (RFC 6890): the canary, and one name with an
    # address of every kind, none of which mtastsd may try when it refuses them.
    _std("special-canary.example", "spcanary1", server="canary"),
    _std("special-mixed.example", "spmixed1", mta_sts_host=False,
         records=tuple(("mta-sts.special-mixed.example", "A", a) for a in SPECIAL_IPV4)
         + tuple(("mta-sts.special-mixed.example", "AAAA", a) for a in SPECIAL_IPV6)),
]
# --- end of hostile policy servers ---

# --- fault tests (test_faults.py) ---
# Fresh domains: each is looked up first after a fault, to show the daemon still resolves.
FAULT_FRESH = tuple(f"fault-new-{n}.example" for n in range(1, 17))
# A policy of about 45 KB (1,500 MX patterns, under the 64 KiB fetch cap): its cache record needs
# more contiguous LMDB pages than a nearly full map has left (test_faults.py, map full).
FAULT_BIG_MX = tuple(f"mx{n}.fault-big.example" for n in range(1500))
SCENARIOS += [_std(d, f"fresh{n}") for n, d in enumerate(FAULT_FRESH, start=1)]
SCENARIOS += [
    _std("fault-big.example", "big1", policy=policy("enforce", FAULT_BIG_MX)),
    # max_age one hour: the fake clock jumps past it (a day or two from real time is the rig's limit).
    _std("fault-clock.example", "clock1", policy=enforce("fault-clock.example", max_age=3600)),
]
# --- end of fault tests ---

BY_DOMAIN = {s.domain: s for s in SCENARIOS}
assert len(BY_DOMAIN) == len(SCENARIOS), "duplicate scenario domain"
