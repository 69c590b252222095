"""The socketmap side (Postfix socketmap_table(5)): both output dialects, key normalisation,
map names, malformed input, pipelining and many concurrent connections."""
import selectors
import socket
import time

import pytest

import scenarios as sc
from rig.socketmap import SocketmapClient, netstring

SECURE = sc.secure_answer("valid.example")
TCP_LISTEN = ("127.0.0.1", 8461)


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    instance = start_mtastsd(tcp=f"{TCP_LISTEN[0]}:{TCP_LISTEN[1]}")
    assert instance.lookup("valid.example") == SECURE  # warm the cache for the tests below
    return instance


def test_postfix_dialect(mtastsd):
    assert mtastsd.lookup("valid.example", name="default") == SECURE


def test_tcp_listener(mtastsd):
    with SocketmapClient(TCP_LISTEN) as client:
        assert client.lookup("valid.example") == SECURE
        assert client.lookup("no-record.example") == "NOTFOUND "


def test_postfix_tlsrpt_dialect(mtastsd):
    reply = mtastsd.lookup("valid.example", name="tlsrpt")
    assert reply.startswith(SECURE + " "), reply
    rest = reply[len(SECURE):]
    for attribute in ("policy_type=sts", "policy_domain=valid.example", "mx_host_pattern=mail.valid.example",
                      "mx_host_pattern=*.mx.valid.example"):
        assert f" {attribute} " in rest + " ", reply
    body_lines = sc.enforce("valid.example").splitlines()
    for line in body_lines:
        assert f"{{ policy_string = {line} }}" in rest, reply
    assert rest.count("{ policy_string =") == len(body_lines), reply


def test_notfound_in_tlsrpt_dialect(mtastsd):
    assert mtastsd.lookup("no-record.example", name="tlsrpt") == "NOTFOUND "


@pytest.mark.parametrize("key", ["[valid.example]:587", "[valid.example]", "valid.example:25", "VALID.Example",
                                 "valid.example.", "[VALID.EXAMPLE.]:25"])
def test_key_normalisation(mtastsd, key):
    assert mtastsd.lookup(key) == SECURE


def test_utf8_key_is_looked_up_as_a_label(mtastsd):
    assert mtastsd.lookup("bücher.example") == sc.secure_answer("xn--bcher-kva.example")


@pytest.mark.parametrize("key", [".parent-probe.example", ".PARENT-PROBE.example.", ".example"])
def test_parent_domain_probes_are_not_resolved(mtastsd, rig, key):
    """Postfix asks ".parent" after NOTFOUND; MTA-STS has no parent inheritance (RFC 8461 sec. 4)."""
    queries = rig.dns.unbound_query_count("_mta-sts.parent-probe.example", "TXT")
    start = time.monotonic()
    assert mtastsd.lookup(key) == "NOTFOUND "
    assert time.monotonic() - start < 0.5
    assert rig.dns.unbound_query_count("_mta-sts.parent-probe.example", "TXT") == queries
    assert mtastsd.cache_show("parent-probe.example") is None


@pytest.mark.parametrize("key,name", [("[192.0.2.1]", "192.0.2.1"), ("[192.0.2.1]:25", "192.0.2.1"),
                                      ("[IPv6:2001:db8::1]", "2001:db8::1")])
def test_ip_literals_are_not_resolved(mtastsd, rig, key, name):
    start = time.monotonic()
    assert mtastsd.lookup(key) == "NOTFOUND "
    assert time.monotonic() - start < 0.5
    log = (rig.dns.dir / "unbound.log").read_text()
    assert f"_mta-sts.{name}" not in log.lower() and "_mta-sts.[" not in log.lower()


def test_unknown_map_name_uses_default_profile(mtastsd):
    assert mtastsd.lookup("valid.example", name="no-such-profile") == SECURE
    assert mtastsd.lookup("testing.example", name="no-such-profile") == "NOTFOUND "


@pytest.mark.parametrize("garbage", [
    b"abc:default valid.example,",         # length not a number
    b"21:default valid.example;",          # wrong terminator
    b"99999999999:",                       # oversized length prefix
    b"10001:" + b"x" * 10001 + b",",       # longer than Postfix's 10000-byte query limit
    b":default valid.example,",            # empty length
])
def test_malformed_request_closes_only_that_connection(mtastsd, garbage):
    with SocketmapClient(mtastsd.socket, timeout=5) as bystander, SocketmapClient(mtastsd.socket, timeout=5) as bad:
        assert bystander.lookup("valid.example") == SECURE
        bad.send_raw(garbage)
        assert bad.closed_by_peer()
        assert bystander.lookup("valid.example") == SECURE  # an open connection keeps working
    assert mtastsd.lookup("valid.example") == SECURE        # and new ones are accepted


def test_request_at_the_size_limit_is_answered(mtastsd):
    with SocketmapClient(mtastsd.socket, timeout=5) as client:
        key = "a" * (10000 - len("default "))
        reply = client.lookup(key)
        assert reply.split(" ", 1)[0] in ("NOTFOUND", "PERM", "TEMP"), reply[:100]
        assert client.lookup("valid.example") == SECURE


def test_pipelined_requests_answered_in_order(mtastsd):
    mtastsd.lookup("split.example")
    with SocketmapClient(mtastsd.socket) as client:
        client.send_raw(b"".join(netstring(f"{name} {key}".encode()) for name, key in [
            ("default", "valid.example"), ("default", "no-record.example"), ("default", "split.example"),
            ("testing-enforced", "valid.example")]))
        assert [client.read_reply() for _ in range(4)] == [
            SECURE, "NOTFOUND ", sc.secure_answer("split.example"), SECURE]


def test_a_thousand_concurrent_connections(mtastsd):
    count = 1000
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sockets.append(s)
            s.settimeout(10)
            s.connect(str(mtastsd.socket))
        request = netstring(b"default valid.example")
        for s in sockets:
            s.sendall(request)
        expected = netstring(SECURE.encode())
        received = {s.fileno(): b"" for s in sockets}
        selector = selectors.DefaultSelector()
        for s in sockets:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        pending = count
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                data = key.fileobj.recv(4096)
                received[key.fileobj.fileno()] += data
                if not data or len(received[key.fileobj.fileno()]) >= len(expected):
                    selector.unregister(key.fileobj)
                    pending -= 1
        selector.close()
        assert sum(1 for r in received.values() if r == expected) == count
    finally:
        for s in sockets:
            s.close()


def test_idle_connections_are_closed(start_mtastsd):
    instance = start_mtastsd({"server": {"idle_timeout": "1s"}}, name="idle")
    with SocketmapClient(instance.socket, timeout=10) as client:
        assert client.lookup("no-record.example") == "NOTFOUND "
        start = time.monotonic()
        assert client.closed_by_peer()
        assert 0.9 <= time.monotonic() - start < 5
