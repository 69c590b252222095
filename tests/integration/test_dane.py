"""DANE precedence (RFC 8461 sec. 2: MTA-STS must not override DANE; RFC 7672 sec. 2.2): in a
profile with dane = true, a domain whose DNSSEC-signed MX hosts all have usable TLSA records is
answered "dane-only", one where only some have them "dane"; without usable TLSA records (none,
PKIX usages only, an unsigned zone) the MTA-STS answer stands; DNSSEC-bogus data means TEMP,
never a silent fall-back. Every scenario domain also publishes an enforce MTA-STS policy, so each
test shows which of the two decided. The verdict is cached and shown by mtastsctl."""
import re
import subprocess

import pytest

import scenarios as sc
from rig import dns
from rig.mtastsd import Mtastsd, binary
from rig.procs import wait_until

DANE = "dane"  # the profile (socketmap map name) with dane = true
DANE_TTL_MIN = 600  # records have TTL 1 s, so verdicts live this long (and are not refreshed during the tests)


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    return start_mtastsd({"cache": {"dane_ttl_min": DANE_TTL_MIN}, "profiles": {DANE: {"dane": True}}})


# ---- the rig: what the verdicts below rest on ----

def test_rig_signed_mx_and_tlsa_validate(rig):
    for name, rtype in (("dane-all.example", "MX"), ("_25._tcp.mx1.mx.dane-all.example", "TLSA")):
        answer = dns.dig(sc.UNBOUND_ADDRESS, name, rtype)
        assert answer.status == "NOERROR" and "ad" in answer.flags and answer.records(rtype), answer.text


def test_rig_unsigned_child_zone_is_insecure(rig):
    for name, rtype in (("insecure-dane.example", "MX"), ("_25._tcp.mx1.mx.insecure-dane.example", "TLSA")):
        answer = dns.dig(sc.UNBOUND_ADDRESS, name, rtype)
        assert answer.status == "NOERROR" and answer.records(rtype), answer.text
        assert "ad" not in answer.flags, answer.text


# ---- verdicts ----

@pytest.mark.parametrize("domain,expected", [
    ("dane-all.example", "OK dane-only"),       # both MX hosts have usable TLSA records
    ("dane-implicit.example", "OK dane-only"),  # no MX: the domain itself, with usable TLSA
    ("dane-some.example", "OK dane"),            # one of two
])
def test_usable_tlsa_overrides_mta_sts(mtastsd, domain, expected):
    assert mtastsd.lookup(domain, name=DANE) == expected


@pytest.mark.parametrize("domain", [
    "dane-none.example",           # secure MX, no TLSA records at all
    "dane-pkix.example",           # only PKIX-TA/PKIX-EE records: unusable for SMTP
    "insecure-dane.example",       # MX and TLSA in an unsigned zone
    "dane-insecure-host.example",  # signed MX, but its host's TLSA records are in the unsigned zone
])
def test_without_usable_secure_tlsa_mta_sts_decides(mtastsd, domain):
    assert mtastsd.lookup(domain, name=DANE) == sc.secure_answer(domain)
    assert mtastsd.cache_show(domain)["dane"]["verdict"] == "not_applicable"


@pytest.mark.parametrize("key", ["[dane-all.example]", "[dane-all.example]:587", "dane-all.example:25"])
def test_relay_keys_are_left_to_mta_sts(mtastsd, key):
    # Not routed by MX to port 25 (RFC 7672 sec. 2.2.2): no verdict is made for these keys.
    assert mtastsd.lookup(key, name=DANE) == sc.secure_answer("dane-all.example")


def test_profile_without_dane_answers_mta_sts_for_a_dane_domain(mtastsd):
    assert mtastsd.lookup("dane-all.example", name=DANE) == "OK dane-only"
    # Same daemon and cache, a profile without dane: MTA-STS as before.
    assert mtastsd.lookup("dane-all.example") == sc.secure_answer("dane-all.example")
    assert mtastsd.lookup("dane-all.example", name="tlsrpt").startswith("OK secure match=")


def test_verdict_is_cached_for_the_clamped_ttl(mtastsd, rig):
    domain = "dane-some.example"
    assert mtastsd.lookup(domain, name=DANE) == "OK dane"
    entry = mtastsd.cache_show(domain)["dane"]
    queries = rig.dns.unbound_query_count(domain, "MX")
    for _ in range(3):
        assert mtastsd.lookup(domain, name=DANE) == "OK dane"
    assert rig.dns.unbound_query_count(domain, "MX") == queries  # answered from the cache
    # Records have TTL 1 s; cache.dane_ttl_min is the floor.
    assert entry["valid_until"] - entry["checked_at"] == DANE_TTL_MIN


# ---- DNSSEC failures: TEMP, never a downgrade to MTA-STS ----

def tamper(rig, owner: str, rtype: str, edit) -> None:
    """Change the rdata of one RRset in the signed root zone without re-signing it."""
    zone = rig.dns.zones["."]
    lines, changed = [], 0
    for line in zone.signed.read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[0] == dns.fqdn(owner) and fields[3] == rtype:
            line, changed = "\t".join(fields[:4] + [edit(" ".join(fields[4:]))]), changed + 1
        lines.append(line)
    assert changed, f"no {rtype} record at {owner} in {zone.signed}"
    zone.signed.write_text("\n".join(lines) + "\n")
    subprocess.run(["nsd-control", "-c", str(rig.dns.nsd_conf), "reload", "."], check=True, capture_output=True)
    wait_until(lambda: served(owner, rtype) == [edit(r) for r in rig.dns.records[(dns.fqdn(owner), rtype)]],
               10, f"nsd to serve the tampered {rtype} at {owner}")
    rig.dns.flush_resolver()


def served(owner: str, rtype: str) -> list[str]:
    """rdata as nsd serves it, normalised to the zone-file text (dig splits and upper-cases hex)."""
    rdatas = [" ".join(rr[4:]) for rr in dns.dig(sc.NSD_ADDRESS, owner, rtype, dnssec=False).records(rtype)]
    if rtype == "TLSA":
        rdatas = [" ".join(r.split()[:3] + ["".join(r.split()[3:]).lower()]) for r in rdatas]
    return rdatas


def other_digest(rdata: str) -> str:
    """The same TLSA record with its last hex digit changed."""
    head, last = rdata[:-1], rdata[-1]
    return head + ("0" if last != "0" else "1")


def other_preference(rdata: str) -> str:
    preference, host = rdata.split()
    return f"{int(preference) + 1} {host}"


@pytest.mark.parametrize("domain,owner,rtype,edit,reason", [
    ("dane-bogus-tlsa.example", "_25._tcp.mx1.mx.dane-bogus-tlsa.example", "TLSA", other_digest,
     "TLSA records of mx1.mx.dane-bogus-tlsa.example are DNSSEC-bogus"),
    ("dane-bogus-mx.example", "dane-bogus-mx.example", "MX", other_preference, "MX records are DNSSEC-bogus"),
])
def test_bogus_dnssec_answers_temp(mtastsd, rig, domain, owner, rtype, edit, reason):
    original = list(rig.dns.records[(dns.fqdn(owner), rtype)])
    tamper(rig, owner, rtype, edit)
    try:
        reply = mtastsd.lookup(domain, name=DANE)
    finally:
        rig.dns.set_records(owner, rtype, original)  # re-signs and reloads
    # mtastsd's own libunbound validates (the rig's resolver passes the data on), hence "bogus".
    assert reply == f"TEMP DANE: {reason}"
    entry = mtastsd.cache_show(domain)["dane"]
    assert (entry["verdict"], entry["reason"]) == ("temp_error", reason)
    assert f"{domain}: DANE status unknown, answering TEMP for 60s: {reason}" in mtastsd.log()
    # A profile without dane is not affected: its answer is the MTA-STS one.
    assert mtastsd.lookup(domain) == sc.secure_answer(domain)


# ---- the cold budget ----

def test_cold_lookup_answers_temp_while_dane_is_resolved(start_mtastsd):
    instance = start_mtastsd({"lookup": {"cold_budget": 0}, "profiles": {DANE: {"dane": True}}}, name="dane-cold")
    assert instance.lookup("dane-cold.example", name=DANE) == "TEMP DANE lookup in progress"
    instance.wait_for_answer("dane-cold.example", "OK dane-only", name=DANE)


# ---- mtastsctl ----

def test_cache_show_has_the_dane_state(mtastsd):
    domain = "dane-some.example"
    assert mtastsd.lookup(domain, name=DANE) == "OK dane"
    dane = mtastsd.cache_show(domain)["dane"]
    assert dane["verdict"] == "dane"
    assert dane["reason"] == "1 of 2 MX hosts have usable TLSA records"
    assert dane["hosts"] == [{"host": f"mx1.mx.{domain}", "usable_tlsa": True},
                             {"host": f"mx2.mx.{domain}", "usable_tlsa": False}]
    assert dane["valid_until"] > dane["checked_at"] > 0
    text = mtastsd.ctl("cache", "show", domain)
    assert text.returncode == 0, text.stderr
    assert "DANE:           dane (1 of 2 MX hosts have usable TLSA records)" in text.stdout
    assert f"mx1.mx.{domain} (usable TLSA)" in text.stdout
    listed = mtastsd.ctl("cache", "list")
    assert re.search(rf"^{re.escape(domain)} .* dane$", listed.stdout, re.MULTILINE), listed.stdout


def test_cache_show_of_a_domain_never_checked_for_dane(mtastsd):
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")
    assert mtastsd.cache_show("valid.example")["dane"] is None


def test_query_shows_dane_steps_and_answers_per_profile(mtastsd):
    report = mtastsd.ctl_json("query", "dane-all.example", "--profile", DANE, expect_rc=0)
    assert report["answer"] == "OK dane-only"
    assert report["dane"]["verdict"] == "dane_only"
    assert [h["usable_tlsa"] for h in report["dane"]["hosts"]] == [True, True]
    steps = "\n".join(report["steps"])
    assert "MX dane-all.example: secure" in steps
    assert "TLSA _25._tcp.mx2.mx.dane-all.example: 0 0 1" in steps and "(unusable)" in steps
    # The default profile has no dane: the same checks, the MTA-STS answer.
    report = mtastsd.ctl_json("query", "dane-all.example", expect_rc=0)
    assert report["dane"]["verdict"] == "dane_only"
    assert report["answer"] == sc.secure_answer("dane-all.example")
    report = mtastsd.ctl_json("query", "insecure-dane.example", "--profile", DANE, expect_rc=0)
    assert report["dane"]["verdict"] == "not_applicable"
    assert report["answer"] == sc.secure_answer("insecure-dane.example")
    assert "MX insecure-dane.example: insecure" in "\n".join(report["steps"])


def test_query_with_unknown_profile_fails(mtastsd):
    result = mtastsd.ctl("query", "dane-all.example", "--profile", "nosuch")
    assert result.returncode == 2 and "nosuch" in result.stderr


# ---- configuration ----

def test_dane_without_trust_anchor_is_a_configuration_error(rig, tmp_path):
    instance = Mtastsd(rig, tmp_path, {"dns": {"trust_anchor_file": ""}, "profiles": {DANE: {"dane": True}}})
    result = subprocess.run([binary("MTASTSD_BIN", "mtastsd"), "--check-config", "-c", str(instance.config_file)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert re.search(rf"{re.escape(str(instance.config_file))}:\d+: profiles\.{DANE}\.dane: dane needs "
                     r"dns\.trust_anchor_file", result.stderr), result.stderr
