"""Hostile policy servers (issue 8): a policy host that never stops sending, sends one byte too
many, abuses chunked transfer coding, asks to renegotiate TLS, redirects inward, or sits at a
special-purpose address. For each: the failure mtastsd records (the RFC 8460 sec. 4.3.2.1 result
type and its detail, in the cache and the log), the answer it gives (NOTFOUND: no valid policy,
RFC 8461 sec. 5), a bound in time (the fetch timeout, here 2 s) and in memory (the daemon's peak
RSS), and that the daemon keeps answering other lookups meanwhile.
Complements test_fetch_rules.py: a redirect to another policy URL not followed, a chunked
policy accepted, a 70 KB body refused, stalled servers bounded by the fetch timeout."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import scenarios as sc
from rig.mtastsd import env_for_memory_measurement
from rig.procs import wait_until

FETCH_TIMEOUT = 2.0
# Time beyond the fetch timeout a lookup may take: its DNS queries and the scheduling of a loaded
# 2-core machine (as test_fetch_rules.py allows).
TIMEOUT_MARGIN = 3.0
# Peak RSS growth during one attack. A capped fetch holds at most the 64 KiB body (RFC 8461
# sec. 3.3), the 8 KiB read buffer (policy_fetcher.cpp) and OpenSSL's record buffers (2 x 16 KiB,
# RFC 8446 sec. 5.1): about 150 KiB. The limit leaves room for the allocator and the log, and is
# far below what an uncapped read holds: before the read buffer had a cap, an endless chunk-size
# line or trailer grew the daemon by 64 to 80 MiB in these 2 s (and would for the whole default
# 60 s timeout).
PEAK_GROWTH_LIMIT = 8 * 1024 * 1024
LIMIT = sc.POLICY_SIZE_LIMIT
VALID = "valid.example"
NO_POLICY = "no-record.example"


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    """Policy hosts at special-purpose addresses allowed, as the rig needs (its hosts are on
    127.0.0.0/8). The cold budget exceeds the fetch timeout: each lookup waits for the outcome."""
    instance = start_mtastsd({"fetch": {"timeout": "2s"}, "lookup": {"cold_budget": "8s"}},
                             env=env_for_memory_measurement())
    assert instance.lookup(VALID) == sc.secure_answer(VALID)  # DNS, TLS and the cache warmed up
    return instance


@pytest.fixture(scope="module")
def refusing(start_mtastsd):
    """The default: special-purpose addresses refused. Every policy host of the rig is on one, so
    the lookup it answers meanwhile is of a domain without MTA-STS (cached "no policy")."""
    instance = start_mtastsd({"fetch": {"timeout": "2s", "refuse_special_addresses": True},
                              "lookup": {"cold_budget": "8s"}}, name="refusing")
    assert instance.lookup(NO_POLICY) == "NOTFOUND "
    return instance


@dataclass
class Attack:
    reply: str           # the socketmap answer to the attacked domain's lookup
    elapsed: float       # seconds that lookup took
    peak_growth: int     # bytes: the daemon's peak RSS during the attack over its RSS before
    entry: dict          # `mtastsctl cache show` of the attacked domain
    log_line: str        # the daemon's "policy fetch failed" line for it ("" if none)
    other_reply: str     # a lookup of another domain made while the attack ran (or just after it)
    other_expected: str


def rss_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE).group(1))


def attack(mtastsd, rig, domain: str, other: tuple[str, str] = (VALID, sc.secure_answer(VALID))) -> Attack:
    """Look domain up once (a cold lookup: one fetch from its hostile server), measuring time and
    the daemon's peak RSS; once the server has the request, look `other` (domain, expected answer)
    up too."""
    pid = mtastsd.process.pid
    requests = rig.web.request_count(domain)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS (proc(5))
    before = rss_kib(pid, "VmRSS")
    result: dict = {}

    def look_up():
        start = time.monotonic()
        result["reply"] = mtastsd.lookup(domain, timeout=FETCH_TIMEOUT + TIMEOUT_MARGIN + 10)
        result["elapsed"] = time.monotonic() - start
    worker = threading.Thread(target=look_up)
    worker.start()
    try:
        wait_until(lambda: rig.web.request_count(domain) > requests or "reply" in result, 10,
                   f"the request for {domain} (or its answer)")
        other_reply = mtastsd.lookup(other[0], timeout=2)
    finally:
        worker.join()
    peak = rss_kib(pid, "VmHWM")
    entry = mtastsd.cache_show(domain)
    lines = [line for line in mtastsd.log().splitlines() if f"{domain}: policy fetch failed" in line]
    return Attack(result["reply"], result["elapsed"], (peak - before) * 1024, entry or {},
                  lines[-1] if lines else "", other_reply, other[1])


def assert_refused(a: Attack, detail: str | re.Pattern, by_deadline: bool = False) -> None:
    """The fetch failed with sts-policy-fetch-error and `detail`, recorded and logged; bounded in
    time (by the size caps, before the deadline, unless by_deadline) and memory; the other lookup
    was answered."""
    assert a.reply == "NOTFOUND ", a
    assert a.entry.get("failure") == "sts-policy-fetch-error", a.entry
    recorded = a.entry["failure_detail"]
    assert (re.search(detail, recorded) if isinstance(detail, re.Pattern) else detail in recorded), recorded
    assert recorded in a.log_line, a.log_line
    if by_deadline:
        assert FETCH_TIMEOUT * 0.9 <= a.elapsed < FETCH_TIMEOUT + TIMEOUT_MARGIN, a
    else:
        assert "timeout" not in recorded, recorded
        assert a.elapsed < FETCH_TIMEOUT + TIMEOUT_MARGIN, a
    assert a.peak_growth < PEAK_GROWTH_LIMIT, f"peak RSS grew by {a.peak_growth} bytes"
    assert a.other_reply == a.other_expected, a


BODY_TOO_LARGE = f"body exceeds {LIMIT} bytes"
LINE_TOO_LONG = "a chunk-size line or the trailer exceeds 8192 bytes"


# ---- 1. endless bodies ------------------------------------------------------------------------

@pytest.mark.parametrize("domain", [
    "hostile-endless.example",          # no Content-Length: the body would end with the connection
    "hostile-endless-length.example",   # Content-Length: 10^12, refused before any body is read
])
def test_endless_body_is_cut_at_the_size_limit(mtastsd, rig, domain):
    assert_refused(attack(mtastsd, rig, domain), BODY_TOO_LARGE)


def test_content_length_past_64_bits_is_refused(mtastsd, rig):
    assert_refused(attack(mtastsd, rig, "hostile-length-overflow.example"), "bad Content-Length")


# ---- 2. the size limit, exactly ---------------------------------------------------------------

@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_policy_of_exactly_64_kib_is_accepted(mtastsd, rig, framing):
    """RFC 8461 sec. 3.3: policy hosts "SHOULD respond ... within that ... size limit" of 64
    kilobytes: a body of exactly 65536 bytes is within it."""
    domain = f"hostile-64k-{framing}.example"
    a = attack(mtastsd, rig, domain)
    assert a.reply == sc.secure_answer(domain), a
    assert a.entry["state"] == "policy" and a.entry["failure"] is None, a.entry
    assert a.peak_growth < PEAK_GROWTH_LIMIT, a


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_policy_one_byte_over_64_kib_is_refused(mtastsd, rig, framing):
    assert_refused(attack(mtastsd, rig, f"hostile-64k1-{framing}.example"), BODY_TOO_LARGE)


# ---- 3. chunked transfer coding tricks --------------------------------------------------------

@pytest.mark.parametrize("domain, detail", [
    ("hostile-chunk-size-overflow.example", "bad chunk"),       # 2^64: past any 64-bit counter
    ("hostile-chunk-size-endless.example", LINE_TOO_LONG),      # 000000... without end
    ("hostile-chunk-ext-endless.example", LINE_TOO_LONG),       # 1;ext=eeee... without end
    ("hostile-trailer-endless.example", LINE_TOO_LONG),         # trailer fields without end
])
def test_chunk_header_tricks_are_refused_at_the_buffer_limit(mtastsd, rig, domain, detail):
    assert_refused(attack(mtastsd, rig, domain), detail)


def test_chunks_of_little_progress_are_bounded_by_the_deadline(mtastsd, rig):
    """1-byte chunks with 4000-byte extensions as fast as the daemon reads: 64 KiB of body would
    take 260 MB. The fetch timeout ends it, or the size limit if the server is that fast."""
    a = attack(mtastsd, rig, "hostile-chunk-ext-flood.example")
    assert_refused(a, re.compile(rf"timeout after {int(FETCH_TIMEOUT * 1000)} ms reading the body|{BODY_TOO_LARGE}"),
                   by_deadline="timeout" in a.entry.get("failure_detail", ""))


def test_chunk_drip_is_bounded_by_the_deadline(mtastsd, rig):
    """A 1-byte chunk every 50 ms: always progress, never the end. Only the whole-fetch deadline
    (RFC 8461 sec. 3.3 suggests a timeout) ends it."""
    assert_refused(attack(mtastsd, rig, "hostile-chunk-drip.example"),
                   f"timeout after {int(FETCH_TIMEOUT * 1000)} ms reading the body", by_deadline=True)


# ---- 4. TLS renegotiation ---------------------------------------------------------------------

def test_rig_renegotiating_server_serves_a_willing_client(rig):
    """The rig's check that the next test can fail: a client that accepts renegotiation (Python's
    ssl, OpenSSL's default) gets the policy after a renegotiation."""
    import socket
    import ssl
    domain = "hostile-renegotiate.example"
    context = ssl.create_default_context(cafile=str(rig.ca_file))
    context.options &= ~ssl.OP_NO_RENEGOTIATION
    with socket.create_connection((sc.RENEGOTIATING_ADDRESS, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=f"mta-sts.{domain}") as tls:
            tls.sendall(f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.{domain}\r\n\r\n".encode())
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
                if received.endswith(sc.BY_DOMAIN[domain].policy.encode()):
                    break
    assert received.startswith(b"HTTP/1.1 200 OK"), received
    assert rig.web.renegotiation_events(domain)[-3:] == ["REQUEST", "RENEGOTIATION-REQUESTED", "RENEGOTIATED"]


def test_server_initiated_renegotiation_is_refused(mtastsd, rig):
    """RFC 5246 sec. 7.4.1.1: a client may answer a HelloRequest with a no_renegotiation alert.
    mtastsd does; OpenSSL's server then ends the connection, so the fetch fails."""
    domain = "hostile-renegotiate.example"
    assert_refused(attack(mtastsd, rig, domain), f"reading the response header from {sc.RENEGOTIATING_ADDRESS}:443")
    assert rig.web.renegotiation_events(domain)[-3:] == ["REQUEST", "RENEGOTIATION-REQUESTED",
                                                         "RENEGOTIATION-REFUSED"]


# ---- 5. redirects inward ----------------------------------------------------------------------

def test_redirect_to_an_internal_address_is_neither_followed_nor_logged_raw(mtastsd, rig):
    """The Location (https://127.0.1.5/steal, a tab, UTF-8 and 0xff bytes, 3000 more characters)
    is shown only printable and cut at 256 characters (io/policy_response.hpp); the canary
    listening there sees no connection."""
    canary = rig.web.canary_connections()
    a = attack(mtastsd, rig, "hostile-redirect.example")
    shown = (f"https://{sc.CANARY_ADDRESS}/steal????" + "A" * 3000)[:256] + "..."
    assert_refused(a, f"HTTP status 302: redirect to {shown} (not followed)")
    assert re.fullmatch(r"[\x20-\x7e]*", a.log_line), repr(a.log_line)
    assert rig.web.canary_connections() == canary


# ---- 6. policy hosts at special-purpose addresses --------------------------------------------

def test_special_purpose_address_is_refused_before_connecting(refusing, rig):
    domain = "special-canary.example"
    canary = rig.web.canary_connections()
    assert_refused(attack(refusing, rig, domain, (NO_POLICY, "NOTFOUND ")),
                   f"mta-sts.{domain} resolves only to special-purpose addresses, not connected to: "
                   f"{sc.CANARY_ADDRESS} (loopback, RFC 1122 sec. 3.2.1.3) (refused by fetch.refuse_special_addresses)")
    assert rig.web.canary_connections() == canary


def test_every_address_is_checked(refusing, rig):
    """Each A and AAAA record of mta-sts.<domain> is checked; none is tried."""
    a = attack(refusing, rig, "special-mixed.example", (NO_POLICY, "NOTFOUND "))
    assert_refused(a, "mta-sts.special-mixed.example resolves only to special-purpose addresses")
    for address, name in {**sc.SPECIAL_IPV4, **sc.SPECIAL_IPV6}.items():
        assert f" {address} ({name}, " in a.entry["failure_detail"], (address, a.entry["failure_detail"])


def test_special_purpose_address_is_tried_when_allowed(mtastsd, rig):
    """refuse_special_addresses = false (the rig's setting): the canary sees the connection, which
    it closes at once, so the TLS handshake fails."""
    canary = rig.web.canary_connections()
    assert_refused(attack(mtastsd, rig, "special-canary.example"), f"TLS handshake with {sc.CANARY_ADDRESS}:443")
    assert rig.web.canary_connections() == canary + 1

