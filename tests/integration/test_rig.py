"""Checks of the rig itself, independent of mtastsd: the DNS really validates (ad flag through
unbound), bogus data is refused, record changes become visible, and each web-server behaviour
of the scenario table is what the table claims."""
from __future__ import annotations

import ctypes
import socket
import ssl
import time

import pytest

import scenarios as sc
from rig import dns
from rig.web import POLICY_PATH


def test_namespace_has_only_loopback():
    import subprocess
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [l.split(":")[1].strip() for l in links] == ["lo"]
    routes = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True).stdout
    assert routes.strip() == ""


def test_validating_resolver_sets_ad_flag(rig):
    answer = dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.valid.example", "TXT")
    assert answer.status == "NOERROR"
    assert "ad" in answer.flags, answer.text
    assert any('"v=STSv1; id=valid1;"' in rr for rr in answer.answer)


def test_split_record_has_two_character_strings(rig):
    answer = dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.split.example", "TXT")
    assert "ad" in answer.flags
    assert any('"v=STSv1; " "id=split1;"' in rr for rr in answer.answer), answer.answer


def test_nxdomain_is_validated_in_root_and_child_zone(rig):
    for name, ttl in (("_mta-sts.no-record.example", 1), ("_mta-sts.x.longneg.example", 86400),
                      ("_mta-sts.x.midneg.example", 300)):
        answer = dns.dig(sc.UNBOUND_ADDRESS, name, "TXT")
        assert answer.status == "NXDOMAIN", answer.text
        assert "ad" in answer.flags, answer.text
        soa = answer.records("SOA", "authority")
        assert soa and int(soa[0][1]) <= ttl and int(soa[0][-1]) == ttl, answer.text


def test_cname_is_followed_and_secure(rig):
    answer = dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.cname.example", "TXT")
    assert "ad" in answer.flags
    assert any("CNAME" in rr for rr in answer.answer) and any("id=cname1" in rr for rr in answer.answer)


def test_tampered_zone_is_bogus(rig):
    """Without the right signatures unbound must answer SERVFAIL: validation is really on."""
    zone = rig.dns.zones["."]
    signed = zone.signed.read_text()
    tampered = signed.replace('"v=STSv1; id=rig1;"', '"v=STSv1; id=evil1;"')
    assert tampered != signed
    zone.signed.write_text(tampered)
    try:
        import subprocess
        subprocess.run(["nsd-control", "-c", str(rig.dns.nsd_conf), "reload", "."], check=True, capture_output=True)
        from rig.procs import wait_until
        wait_until(lambda: any("evil1" in rr for rr in
                               dns.dig(sc.NSD_ADDRESS, "_mta-sts.rig-mutable.example", "TXT", dnssec=False).answer),
                   10, "nsd to serve the tampered record")
        rig.dns.flush_resolver()
        answer = dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.rig-mutable.example", "TXT")
        assert answer.status == "SERVFAIL", answer.text
    finally:
        rig.dns.set_txt("_mta-sts.rig-mutable.example", ["v=STSv1; id=rig1;"])  # re-signs and reloads
    assert "ad" in dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.rig-mutable.example", "TXT").flags


def test_record_change_visible_through_resolver(rig):
    rig.dns.set_txt("_mta-sts.rig-mutable.example", ["v=STSv1; id=rig2;"])
    try:
        answer = dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.rig-mutable.example", "TXT")
        assert "ad" in answer.flags and any("id=rig2" in rr for rr in answer.answer), answer.text
        rig.dns.set_records("_mta-sts.rig-mutable.example", "TXT", [])
        answer = dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.rig-mutable.example", "TXT")
        assert answer.status == "NXDOMAIN" and "ad" in answer.flags, answer.text
    finally:
        rig.dns.set_txt("_mta-sts.rig-mutable.example", ["v=STSv1; id=rig1;"])


def test_unbound_logs_queries(rig):
    before = rig.dns.unbound_query_count("_mta-sts.valid.example", "TXT")
    dns.dig(sc.UNBOUND_ADDRESS, "_mta-sts.valid.example", "TXT")
    from rig.procs import wait_until
    wait_until(lambda: rig.dns.unbound_query_count("_mta-sts.valid.example", "TXT") == before + 1, 5,
               "unbound to log the query")


# ---- web servers ----

def https_get(rig, domain: str, verify: bool = True, timeout: float = 5.0):
    """GET the policy URL of domain at the address DNS gives; returns (status, headers, body)."""
    scenario = sc.BY_DOMAIN[domain]
    context = ssl.create_default_context(cafile=str(rig.ca_file))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    host = f"mta-sts.{domain}"
    with socket.create_connection((scenario.server_address, 443), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(f"GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_policy_host_resolves_securely(rig):
    answer = dns.dig(sc.UNBOUND_ADDRESS, "mta-sts.valid.example", "A")
    assert "ad" in answer.flags and any(sc.NGINX_ADDRESS in rr for rr in answer.answer)


def test_nginx_serves_policy(rig):
    before = rig.web.request_count("valid.example")
    status, headers, body = https_get(rig, "valid.example")
    assert (status, headers["content-type"]) == (200, "text/plain")
    assert body.decode() == sc.enforce("valid.example")
    from rig.procs import wait_until
    wait_until(lambda: rig.web.request_count("valid.example") == before + 1, 5, "access log line")


@pytest.mark.parametrize("domain,status,content_type", [
    ("charset.example", 200, "text/plain; charset=utf-8"),
    ("wrong-ctype.example", 200, "text/html"),
    ("notfound404.example", 404, None),
    ("redirect.example", 301, None),
])
def test_nginx_behaviours(rig, domain, status, content_type):
    got_status, headers, body = https_get(rig, domain)
    assert got_status == status
    if content_type:
        assert headers["content-type"] == content_type
    if status == 301:
        assert headers["location"] == f"https://mta-sts.valid.example{POLICY_PATH}"


@pytest.mark.parametrize("domain", [s.domain for s in sc.SCENARIOS if s.server == "nginx" and s.txt])
def test_every_nginx_domain_serves_its_table_entry(rig, domain):
    scenario = sc.BY_DOMAIN[domain]
    status, headers, body = https_get(rig, domain)
    if scenario.policy is None:
        assert status == 404
    else:
        assert (status, headers["content-type"], body.decode()) == (200, scenario.content_type, scenario.policy)


def test_huge_policy_exceeds_64k(rig):
    status, _, body = https_get(rig, "huge.example")
    assert status == 200 and len(body) > 65536


@pytest.mark.parametrize("domain,reason", [
    ("wrong-name.example", "Hostname mismatch"),
    ("untrusted.example", "unable to get local issuer certificate"),
    ("expired.example", "certificate has expired"),
])
def test_bad_certificates_fail_verification(rig, domain, reason):
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        https_get(rig, domain)
    status, _, _ = https_get(rig, domain, verify=False)
    assert status == 200  # only the certificate is wrong


def test_delay_server_answers_after_delay(rig):
    start = time.monotonic()
    status, _, body = https_get(rig, "singleflight.example")
    assert status == 200 and body.decode() == sc.enforce("singleflight.example")
    assert time.monotonic() - start >= 1.4


def test_chunked_server_sends_chunks(rig):
    status, headers, body = https_get(rig, "chunked.example")
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert body.startswith(b"7\r\nversion") and body.endswith(b"0\r\n\r\n")


def test_truncated_server_sends_half(rig):
    status, headers, body = https_get(rig, "truncated.example")
    assert status == 200 and len(body) == int(headers["content-length"]) // 2


def test_hang_server_never_answers(rig):
    with pytest.raises(TimeoutError):
        https_get(rig, "hang.example", timeout=1.0)


def test_trickle_server_trickles(rig):
    scenario = sc.BY_DOMAIN["trickle.example"]
    context = ssl.create_default_context(cafile=str(rig.ca_file))
    with socket.create_connection((scenario.server_address, 443), timeout=3) as raw:
        with context.wrap_socket(raw, server_hostname="mta-sts.trickle.example") as tls:
            tls.sendall(f"GET {POLICY_PATH} HTTP/1.1\r\nHost: mta-sts.trickle.example\r\n\r\n".encode())
            data = b""
            while data.count(b"x") < 3:
                data += tls.recv(4096)
    assert data.startswith(b"HTTP/1.1 200 OK")


def test_tcp_hang_never_handshakes(rig):
    context = ssl.create_default_context(cafile=str(rig.ca_file))
    with socket.create_connection((sc.TCP_BLACKHOLE_ADDRESS, 443), timeout=1.0) as raw:
        with pytest.raises((TimeoutError, socket.timeout)):
            context.wrap_socket(raw, server_hostname="mta-sts.tcp-hang.example")


# ---- libunbound, the resolver library inside mtastsd ----

class _UbResult(ctypes.Structure):
    _fields_ = [("qname", ctypes.c_char_p), ("qtype", ctypes.c_int), ("qclass", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.c_char_p)), ("len", ctypes.POINTER(ctypes.c_int)),
                ("canonname", ctypes.c_char_p), ("rcode", ctypes.c_int), ("answer_packet", ctypes.c_void_p),
                ("answer_len", ctypes.c_int), ("havedata", ctypes.c_int), ("nxdomain", ctypes.c_int),
                ("secure", ctypes.c_int), ("bogus", ctypes.c_int), ("why_bogus", ctypes.c_char_p),
                ("was_ratelimited", ctypes.c_int), ("ttl", ctypes.c_int)]


def libunbound_resolve(rig, name: str, rrtype: int, options: dict[str, str]) -> dict:
    lib = ctypes.CDLL("libunbound.so.8")
    lib.ub_ctx_create.restype = ctypes.c_void_p
    ctx = lib.ub_ctx_create()
    try:
        for option, value in options.items():
            assert lib.ub_ctx_set_option(ctypes.c_void_p(ctx), option.encode(), value.encode()) == 0
        assert lib.ub_ctx_set_fwd(ctypes.c_void_p(ctx), sc.UNBOUND_ADDRESS.encode()) == 0
        assert lib.ub_ctx_add_ta_file(ctypes.c_void_p(ctx), str(rig.dns.anchor_file).encode()) == 0
        result = ctypes.POINTER(_UbResult)()
        rc = lib.ub_resolve(ctypes.c_void_p(ctx), name.encode(), rrtype, 1, ctypes.byref(result))
        assert rc == 0, rc
        r = result.contents
        out = {"rcode": r.rcode, "havedata": r.havedata, "nxdomain": r.nxdomain, "secure": r.secure,
               "bogus": r.bogus, "ttl": r.ttl}
        lib.ub_resolve_free(result)
        return out
    finally:
        lib.ub_ctx_delete(ctypes.c_void_p(ctx))


def test_libunbound_validates_through_the_rig(rig):
    """What mtastsd does: forward to unbound (on loopback) with the test root's anchor file."""
    r = libunbound_resolve(rig, "_mta-sts.valid.example", 16, {})
    assert (r["havedata"], r["secure"], r["bogus"]) == (1, 1, 0), r
    r = libunbound_resolve(rig, "_mta-sts.no-record.example", 16, {})
    assert (r["nxdomain"], r["secure"]) == (1, 1), r
