"""Prometheus metrics over HTTP (issue 6): an mtastsd of its own with [metrics] listen on
loopback; socketmap lookups, a policy fetch that fails and TLS-RPT datagrams move the
counters a scrape of /metrics shows (http.client); other paths are 404, other methods 405;
a client that sends half a request header is cut off at the connection deadline
(MetricsServerLimits: 10 s) while /metrics keeps answering."""
from __future__ import annotations

import http.client
import json
import re
import socket
import time

import pytest

import scenarios as sc
from rig.procs import tcp_accepts, wait_until

METRICS = ("127.0.0.1", 9461)
DEADLINE = 10.0  # the metrics server's per-connection deadline (daemon/metrics_server.hpp)
SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-z_]+)="([^"]*)"')

Key = tuple[str, frozenset]


@pytest.fixture(scope="module")
def mtastsd(start_mtastsd):
    instance = start_mtastsd({"metrics": {"listen": f"{METRICS[0]}:{METRICS[1]}"}}, name="metrics")
    wait_until(lambda: tcp_accepts(*METRICS), 10, "the metrics listener")
    return instance


def get(path: str = "/metrics", method: str = "GET", body: bytes | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*METRICS, timeout=5)
    connection.request(method, path, body=body)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def scrape() -> dict[Key, float]:
    """{(name, labels): value} of one GET /metrics."""
    response = get()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain; version=0.0.4"
    samples = {}
    for line in response.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = frozenset(LABEL.findall(match.group(2) or ""))
        samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


def moved(before: dict[Key, float], after: dict[Key, float]) -> dict[Key, float]:
    """The counters (and histogram counts) that changed, by how much."""
    return {k: after[k] - before.get(k, 0.0) for k in after
            if k[0].endswith(("_total", "_count")) and after[k] != before.get(k, 0.0)}


def build_info(samples: dict[Key, float]) -> dict[str, str]:
    """The labels of the one mtastsd_build_info sample, whose value is 1."""
    [(labels, value)] = [(dict(k[1]), v) for k, v in samples.items() if k[0] == "mtastsd_build_info"]
    assert value == 1
    return labels


def test_static_families(mtastsd):
    samples = scrape()
    assert re.fullmatch(r"\d+\.\d+\.\d+", build_info(samples)["version"])
    assert abs(samples[key("mtastsd_start_time_seconds")] - time.time()) < 600


def test_lookups_fetches_and_cache_use_are_counted(mtastsd):
    before = scrape()
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")  # cold: resolved, fetched
    assert mtastsd.lookup("valid.example") == sc.secure_answer("valid.example")  # from the cache
    assert mtastsd.lookup("no-record.example") == "NOTFOUND "                     # cold: no policy
    assert mtastsd.lookup("untrusted.example") == "NOTFOUND "                     # cold: fetch fails
    assert mtastsd.lookup("no-record.example", name="tlsrpt") == "NOTFOUND "      # cached "no policy"
    after = scrape()
    assert moved(before, after) == {
        key("mtastsd_lookups_total", profile="default", answer="secure"): 2,
        key("mtastsd_lookups_total", profile="default", answer="notfound"): 2,
        key("mtastsd_lookups_total", profile="tlsrpt", answer="notfound"): 1,
        key("mtastsd_lookup_duration_seconds_count"): 5,
        key("mtastsd_cache_hits_total"): 2,
        key("mtastsd_cache_misses_total"): 3,
        key("mtastsd_policy_fetches_total", outcome="ok"): 1,
        key("mtastsd_policy_fetches_total", outcome="sts-webpki-invalid"): 1,
    }
    assert after[key("mtastsd_lookup_duration_seconds_sum")] > before[key("mtastsd_lookup_duration_seconds_sum")]
    # A new profile's series appear at its first lookup, all answers at once.
    assert after[key("mtastsd_lookups_total", profile="tlsrpt", answer="secure")] == 0
    # The cache hit took less than the cold lookups: at least one lookup fell in the 1 ms bucket.
    assert after[key("mtastsd_lookup_duration_seconds_bucket", le="0.001")] > \
        before[key("mtastsd_lookup_duration_seconds_bucket", le="0.001")]
    assert after[key("mtastsd_lookup_duration_seconds_bucket", le="+Inf")] == \
        after[key("mtastsd_lookup_duration_seconds_count")]
    # Set once a second by the daemon: the three domains now cached.
    wait_until(lambda: scrape()[key("mtastsd_cache_entries")] == 3, 5, "mtastsd_cache_entries to be 3")


def test_open_connections_gauge(mtastsd):
    assert scrape()[key("mtastsd_connections")] == 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as held:
        held.connect(str(mtastsd.socket))
        wait_until(lambda: scrape()[key("mtastsd_connections")] == 1, 5, "mtastsd_connections to be 1")
    wait_until(lambda: scrape()[key("mtastsd_connections")] == 0, 5, "mtastsd_connections to be 0 again")


def test_tlsrpt_datagrams_are_counted(mtastsd):
    before = scrape()
    good = {"dpv": "1", "d": "metrics.example", "pr": sc.tlsrpt_record("metrics.example"),
            "policies": [{"policy-type": 9, "t": 0, "f": 0}]}
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for datagram in (json.dumps(good).encode(), b"not json", json.dumps(good).encode()):
            s.sendto(datagram, str(mtastsd.dir / "tlsrpt.sock"))
    accepted = key("mtastsd_tlsrpt_datagrams_total", result="accepted")
    rejected = key("mtastsd_tlsrpt_datagrams_total", result="rejected")

    def counted():
        after = scrape()
        return after[accepted] - before[accepted] == 2 and after[rejected] - before[rejected] == 1
    wait_until(counted, 5, "two datagrams accepted and one rejected")


def test_other_paths_are_404(mtastsd):
    for path in ("/", "/metrics/", "/favicon.ico"):
        assert get(path).status == 404, path


def test_other_methods_are_405(mtastsd):
    response = get(method="DELETE")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"
    assert get(method="POST", body=b"x=1").status == 413  # a body is refused before the method is looked at


def test_head(mtastsd):
    response = get(method="HEAD")
    assert response.status == 200
    assert response.body == b""
    assert int(response.getheader("Content-Length")) > 0


def test_slow_client_is_cut_off_at_the_deadline(mtastsd):
    with socket.create_connection(METRICS, timeout=DEADLINE + 5) as slow:
        connected = time.monotonic()
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag")
        for _ in range(3):  # while it waits, scrapes are answered
            build_info(scrape())
        assert slow.recv(4096) == b""  # closed without an answer
        waited = time.monotonic() - connected
    assert DEADLINE - 0.5 <= waited < DEADLINE + 3, waited
    build_info(scrape())
