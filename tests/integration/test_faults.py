"""Faults (issue 8): the daemon under kill -9, a full or failing cache disk, a dead resolver, stalled
policy servers, floods of idle, slow or oversized clients, too few descriptors and a wall clock
that jumps. After each, it must still answer correctly: a cached enforce domain from its cache
and a domain it has never seen from a fresh resolution (`assert_still_answers`).

Covered elsewhere and not repeated here: malformed netstrings (oversized length prefix among
them) close only their own connection and a thousand concurrent connections are all answered
(test_socketmap.py); idle connections are closed after idle_timeout (test_socketmap.py); an
unusable cache file is moved aside (test_maintenance.py); counts committed before a kill -9
survive it exactly (test_tlsrpt_collect.py); each stalled policy server ends within the fetch
timeout (test_fetch_rules.py)."""
from __future__ import annotations

import itertools
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import scenarios as sc
from rig import failing_disk
from rig.fake_clock import FakeClock
from rig.mtastsd import merge, to_toml
from rig.procs import wait_until
from rig.socketmap import ConnectionClosed, SocketmapClient, netstring
from test_tlsrpt_collect import ORIGIN, counts, datagram, send, tlsrpt_socket

CACHED = "valid.example"                  # an enforce domain each test caches before its fault
FRESH = iter(sc.FAULT_FRESH)              # domains no instance has seen: one per use
FAULT_RESOLVER = "127.0.9.1"              # the resolver test_dns_server_gone_and_back stops
WRITE_FAILED = "cache write failed, answers stay correct but are not cached"


def assert_still_answers(instance, rig) -> None:
    """The cached domain answered from the cache (no fetch), a never-seen domain resolved."""
    fetches = rig.web.request_count(CACHED)
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    assert rig.web.request_count(CACHED) == fetches, "the cached policy was fetched again"
    fresh = next(FRESH)
    assert instance.lookup(fresh) == sc.secure_answer(fresh)
    assert instance.cache_show(fresh)["state"] == "policy"
    assert instance.process.running()


def log_count(instance, text: str) -> int:
    return instance.log().count(text)


def rss_anon_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^RssAnon:\s+(\d+) kB", status, re.MULTILINE).group(1))


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def connections_gauge(instance) -> float:
    [sample] = [s for s in instance.ctl_json("stats") if s["name"] == "mtastsd_connections"]
    return sample["value"]


def connect(path: Path, timeout: float = 10) -> socket.socket:
    """A connection whose connect waits (at most `timeout`) while the listen backlog is full, as a
    blocking client's does; Python's connect on a socket with a timeout fails at once (EAGAIN)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(timeout), 0))
    s.connect(str(path))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 0))
    s.settimeout(timeout)
    return s


def closed_by_peer(s: socket.socket) -> bool:
    """EOF or reset already: a look that does not wait (Python waits for a socket with a timeout
    before it reads, whatever the flags), leaving any data where it is."""
    timeout = s.gettimeout()
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        s.settimeout(timeout)


def restart_with(instance, overrides: dict) -> None:
    instance.stop()
    instance.config = merge(instance.config, overrides)
    instance.config_file.write_text(to_toml(instance.config))
    instance.start()


# ---- 1. kill -9 during heavy writes ---------------------------------------------------------------

def test_kill9_during_heavy_writes_loses_nothing_acknowledged(start_mtastsd, rig):
    """Acknowledged means: a policy the daemon answered from a cold resolution (the record is
    committed before the reply is sent, daemon/lookup_service.cpp), and TLS-RPT counts that
    `mtastsctl report show` showed (committed; sessions are committed once a second, so the
    sessions of the last second before the kill may be lost: ARCHITECTURE.md "State"). Neither
    may be lost, nothing may be counted twice, and the LMDB file must be whole."""
    instance = start_mtastsd({"tlsrpt": ORIGIN, "fetch": {"timeout": "3s"}, "lookup": {"cold_budget": "4s"}},
                             name="kill9")
    # Every scenario domain with a TXT record: cold resolutions that each write a record, some
    # of them held up by stalled servers so that writes are in flight when the kill comes.
    domains = [CACHED] + [s.domain for s in sc.SCENARIOS if s.txt and s.domain != CACHED
                          and not s.domain.startswith(("fault-", "rig-"))]
    answers: dict[str, str] = {}
    queue = list(reversed(domains))
    lock, stop = threading.Lock(), threading.Event()

    def look_up():
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                domain = queue.pop()
            try:
                reply = instance.lookup(domain, timeout=20)
            except (OSError, ConnectionClosed, ValueError):
                return  # the kill
            with lock:
                answers[domain] = reply

    sent = [0]
    report_domain = "rpt-lib.example"

    def report_sessions():
        path = tlsrpt_socket(instance)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            message = datagram(report_domain)
            while not stop.is_set():
                try:
                    s.sendto(message, str(path))
                except OSError:
                    return  # the kill
                sent[0] += 1

    # Counting first, until a count is committed; then the lookups, killed a quarter of the way
    # through them (checked without mtastsctl, whose calls are slow in a sanitized build), so
    # that cold resolutions are surely in flight as well as counts.
    reporter = threading.Thread(target=report_sessions)
    workers = [reporter]
    reporter.start()
    try:
        wait_until(lambda: counts(instance, report_domain).get("sts", (0, 0))[0] > 0, 60, "TLS-RPT counts committed")
        committed = counts(instance, report_domain)["sts"][0]
        workers += [threading.Thread(target=look_up) for _ in range(16)]
        for w in workers[1:]:
            w.start()
        wait_until(lambda: len(answers) >= len(domains) // 4, 60, "a quarter of the domains answered")
        with lock:
            acknowledged = {d: r for d, r in answers.items() if r.startswith("OK secure")}
            in_flight = len(domains) - len(answers)
        instance.kill9()
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    assert in_flight > 0 and acknowledged, (in_flight, len(acknowledged))

    # The environment is whole: every table and every page readable by LMDB's own tools.
    data_file = instance.dir / "cache" / "cache.mdb"
    stat = subprocess.run(["mdb_stat", "-n", "-a", str(data_file)], capture_output=True, text=True)
    assert stat.returncode == 0 and "Status of policies" in stat.stdout, stat.stdout + stat.stderr
    dump = subprocess.run(["mdb_dump", "-n", "-a", str(data_file)], capture_output=True)
    assert dump.returncode == 0, dump.stderr

    instance.start()
    assert not list(data_file.parent.glob("cache.mdb.unusable-*")), "the cache was moved aside as unusable"
    listed = {e["domain"]: e for e in instance.ctl_json("cache", "list")}
    for domain, reply in acknowledged.items():
        entry = listed.get(domain)
        # "expired": a policy of a few seconds' max_age (refresh.example) ran out before the restart.
        assert entry is not None and entry["state"] in ("policy", "expired") and entry["mode"] == "enforce", \
            (domain, entry)
        assert reply.startswith("OK secure match=" + ":".join(m.removeprefix("*") for m in entry["mx"])), \
            (domain, reply, entry)
    for domain, entry in listed.items():  # nothing stored that no resolution made, every record decodes
        assert domain in domains and entry["state"] != "corrupt", entry
    after = counts(instance, report_domain)["sts"]
    assert committed <= after[0] <= sent[0] and after[1] == 0, (committed, after, sent[0])
    assert CACHED in acknowledged
    assert_still_answers(instance, rig)
    # Counting goes on on top of what survived.
    send(tlsrpt_socket(instance), [datagram(report_domain, failed=True)])
    wait_until(lambda: counts(instance, report_domain)["sts"] == (after[0], 1), 10, "the next session counted")


# ---- 2. LMDB map full ------------------------------------------------------------------------------

def fill_map(data_file: Path) -> int:
    """Beside the running daemon, as another LMDB writer would: 16 KiB records into a table of their
    own, one transaction each, until LMDB refuses one (MDB_MAP_FULL). Returns how many fitted."""
    for n in itertools.count():
        # mdb_load -T: a key line, then a value line.
        result = subprocess.run(["mdb_load", "-n", "-T", "-s", "filler", str(data_file)],
                                input=f"filler-{n}\n{'f' * 16384}\n", capture_output=True, text=True)
        if result.returncode != 0:
            assert "MDB_MAP_FULL" in result.stderr, result.stderr
            return n
        assert n < 100, "100 records of 16 KiB and the 1 MiB map is not full"


def test_full_map_answers_from_the_fetch_and_caches_again_with_room(start_mtastsd, rig):
    instance = start_mtastsd({"cache": {"map_size": "1MiB"}}, name="map-full")
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    assert fill_map(instance.dir / "cache" / "cache.mdb") > 0

    # Its record needs a dozen contiguous pages, more than the full map has: every lookup is
    # answered from its own fetch, none is cached, each failed write is logged.
    big = "fault-big.example"
    answer = "OK secure match=" + ":".join(sc.FAULT_BIG_MX) + " servername=hostname"
    fetches = rig.web.request_count(big)
    for attempt in range(1, 3):
        assert instance.lookup(big) == answer
        assert instance.cache_show(big) is None
        assert rig.web.request_count(big) == fetches + attempt
    # One line per 10 s (the second failure is summed up when the window closes, here at the stop).
    assert log_count(instance, f"{WRITE_FAILED}: {big} (map_full: ") == 1
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    assert instance.process.running()

    # A restart with a larger map: the same file, room again.
    restart_with(instance, {"cache": {"map_size": "8MiB"}})
    first_run = (instance.dir / "mtastsd.1.log").read_text()
    assert re.search(rf"{WRITE_FAILED}: 1 more, latest: {big} \(map_full: .*\(2 in total\)", first_run)
    assert instance.lookup(big) == answer
    assert instance.cache_show(big)["policy_id"] == "big1"
    assert_still_answers(instance, rig)


# ---- 3. the state directory's disk turns read-only -----------------------------------------------

def test_state_directory_on_a_disk_turning_read_only(start_mtastsd, rig, tmp_path_factory):
    """The disk under state_dir turns read-only while the daemon runs (rig/failing_disk.py): every
    LMDB write fails from then on, reads go on. Lookups are answered (cached ones from the cache,
    new ones from their fetch), lost writes and sessions are logged, the once-a-second sync's
    failure once, not every second."""
    reason = failing_disk.unavailable()
    if reason:
        pytest.skip(f"no failing disk here: {reason}")
    base = tmp_path_factory.mktemp("failing-disk")
    disk = failing_disk.FailingDisk(base / "ext4.img", base / "state")
    instance = None
    try:
        disk.mount()
        # runtime_dir (sockets) and the log stay off the disk; state_dir (the cache) is on it.
        instance = start_mtastsd({"state_dir": str(disk.mountpoint), "tlsrpt": ORIGIN}, name="read-only")
        assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
        report_domain = "rpt-lib.example"
        send(tlsrpt_socket(instance), [datagram(report_domain)])
        wait_until(lambda: counts(instance, report_domain) == {"sts": (1, 0)}, 10, "the first session counted")

        disk.fail()
        fresh = next(FRESH)
        assert instance.lookup(fresh) == sc.secure_answer(fresh)  # from its fetch: the write fails
        assert f"{WRITE_FAILED}: {fresh} (io: " in instance.log()
        for _ in range(100):  # each retries the id check, whose write fails: still that one line
            assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
        assert log_count(instance, WRITE_FAILED) == 1
        for lost in (1, 2):  # two commits a second apart, both refused
            send(tlsrpt_socket(instance), [datagram(report_domain)])
            wait_until(lambda: log_count(instance, "TLS-RPT: 1 session(s) not counted") == lost, 10,
                       f"lost session {lost} logged")
        assert log_count(instance, "sync failed") == 1
        # Reads go on: the cached policy is served from the cache, without a fetch.
        fetches = rig.web.request_count(CACHED)
        assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
        assert instance.lookup(fresh) == sc.secure_answer(fresh)
        assert rig.web.request_count(CACHED) == fetches
        assert instance.cache_show(CACHED)["state"] == "policy"  # mtastsctl reads it too
        assert instance.process.running()
        assert instance.stop() == 0
    finally:
        if instance:
            instance.stop()
        disk.remove()


# ---- 4. DNS server gone ----------------------------------------------------------------------------

DNS_TIMEOUT, COLD_BUDGET = 1.0, 2.0


def timed_lookup(instance, domain: str) -> tuple[str, float]:
    start = time.monotonic()
    reply = instance.lookup(domain)
    return reply, time.monotonic() - start


def test_dns_server_gone_and_back(start_mtastsd, rig, tmp_path_factory):
    """The instance's resolver (its own unbound, the rig's stays up) first freezes (SIGSTOP: the
    port is there, nothing answers), then is gone (nothing listens). A cached policy is served from
    the cache at once; a new domain is answered NOTFOUND within the DNS timeout (a DNS error caches
    "no policy" for dns_error_retry, core/cache_rules), never TEMP, never a hang. Back, both resolve."""
    directory = tmp_path_factory.mktemp("fault-resolver")
    resolver = rig.dns.start_resolver(FAULT_RESOLVER, directory)
    try:
        instance = start_mtastsd({"dns": {"forwarders": [FAULT_RESOLVER], "timeout": f"{DNS_TIMEOUT:g}s"},
                                  "lookup": {"cold_budget": f"{COLD_BUDGET:g}s"},
                                  "cache": {"dns_error_retry": "1s"}}, name="dns-gone")
        assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
        tried = []
        for fault in (signal.SIGSTOP, signal.SIGKILL):
            os.kill(resolver.pid, fault)
            tried.append(next(FRESH))
            reply, took = timed_lookup(instance, tried[-1])
            assert reply == "NOTFOUND " and took < COLD_BUDGET + 0.5, (fault, reply, took)
            assert f"{tried[-1]}: policy discovery failed: TXT _mta-sts.{tried[-1]}: timeout" in instance.log()
            reply, took = timed_lookup(instance, CACHED)
            assert reply == sc.secure_answer(CACHED) and took < 0.5, (fault, reply, took)
        resolver.proc.wait(5)

        resolver = rig.dns.start_resolver(FAULT_RESOLVER, directory)
        for domain in tried:  # libunbound keeps a SERVFAIL for 5 s, then each resolves
            instance.wait_for_answer(domain, sc.secure_answer(domain), timeout=30)
        assert_still_answers(instance, rig)
    finally:
        if resolver.running():
            os.kill(resolver.pid, signal.SIGCONT)  # a stopped process does not act on SIGTERM
        resolver.stop()


# ---- 5. a policy server that accepts and never answers ---------------------------------------------

def test_stalled_policy_servers_do_not_hold_up_other_lookups(start_mtastsd, rig):
    """test_fetch_rules.py bounds each stalled server by the fetch timeout; here: meanwhile the
    daemon serves everyone else at once."""
    instance = start_mtastsd({"fetch": {"timeout": "4s"}, "lookup": {"cold_budget": "8s"}}, name="stalled")
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    stalled = ["hang.example", "trickle.example", "tcp-hang.example"]
    replies: dict[str, str] = {}
    before = {d: rig.web.request_count(d) for d in stalled}
    threads = [threading.Thread(target=lambda d=d: replies.__setitem__(d, instance.lookup(d))) for d in stalled]
    for t in threads:
        t.start()
    try:
        # (tcp-hang.example's server never gets as far as a request)
        wait_until(lambda: all(rig.web.request_count(d) > before[d] for d in stalled[:2]), 5,
                   "the stalled fetches to start")
        start = time.monotonic()
        for _ in range(20):
            assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
        fresh = next(FRESH)
        assert instance.lookup(fresh) == sc.secure_answer(fresh)
        took = time.monotonic() - start
        assert not replies and took < 2, (replies, took)  # all answered while the stalled ones still wait
    finally:
        for t in threads:
            t.join(15)
    assert replies == {d: "NOTFOUND " for d in stalled}
    assert_still_answers(instance, rig)


# ---- 6. 10,000 idle connections --------------------------------------------------------------------

def test_ten_thousand_idle_connections(start_mtastsd, rig):
    """max_connections (default 4096) are held; every connection beyond is closed at once with a
    log line (at most one per 10 s); the held ones keep working; once the flood goes, all is as before."""
    limit, clients = 4096, 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # conftest.py raised it
    if soft < clients + 100:
        pytest.skip(f"this process may open {soft} files, fewer than {clients} connections need")
    instance = start_mtastsd({"server": {"max_connections": limit}}, name="idle-flood")
    first = connect(instance.socket)
    assert SocketmapClient.over(first).lookup(CACHED) == sc.secure_answer(CACHED)
    flood: list[socket.socket] = []
    try:
        for _ in range(clients - 1):
            flood.append(connect(instance.socket))
        wait_until(lambda: sum(1 for s in flood if closed_by_peer(s)) == clients - limit, 30,
                   "the connections beyond the limit to be closed")
        held = [s for s in flood if not closed_by_peer(s)]
        assert len(held) == limit - 1 and connections_gauge(instance) == limit
        assert log_count(instance, f"connection limit {limit} reached; closing new connections") == 1
        # The held connections work, the first and the last of them.
        for s in (first, held[0], held[-1]):
            assert SocketmapClient.over(s).lookup(CACHED) == sc.secure_answer(CACHED)
    finally:
        for s in flood:
            s.close()
        first.close()
    wait_until(lambda: connections_gauge(instance) == 0, 30, "every connection closed by the daemon too")
    assert_still_answers(instance, rig)


# ---- 7. slowloris ------------------------------------------------------------------------------------

IDLE_TIMEOUT = 1.0
TRICKLE_PACE = 0.3  # a byte this often: well inside idle_timeout, so each byte would reset a per-read timer


def test_slowloris_clients_are_bounded_by_the_idle_timeout(start_mtastsd, rig):
    """A request must be complete within idle_timeout of the connection (or of the previous reply),
    however its bytes trickle in; a request that stops half-way is closed the same; a client sending
    whole requests is unaffected meanwhile."""
    instance = start_mtastsd({"server": {"idle_timeout": f"{IDLE_TIMEOUT:g}s"}}, name="slowloris")
    request = netstring(f"default {CACHED}".encode())
    with SocketmapClient(instance.socket, timeout=5) as bystander:
        assert bystander.lookup(CACHED) == sc.secure_answer(CACHED)
        opened = time.monotonic()
        tricklers = [connect(instance.socket) for _ in range(50)]
        halted = [connect(instance.socket) for _ in range(50)]
        for s in halted:
            s.sendall(request[:10])
        closed_after: dict[socket.socket, float] = {}
        try:
            for offset in range(len(request)):
                for s in tricklers:
                    if s not in closed_after:
                        try:
                            s.send(request[offset:offset + 1])
                        except OSError:
                            pass  # closed: seen below
                for s in tricklers + halted:
                    if s not in closed_after and closed_by_peer(s):
                        closed_after[s] = time.monotonic() - opened
                assert bystander.lookup(CACHED) == sc.secure_answer(CACHED)
                if len(closed_after) == len(tricklers) + len(halted):
                    break
                time.sleep(TRICKLE_PACE)  # the client's pace, not a wait for the daemon
            # Each closed without a reply (closed_by_peer saw EOF, not data), within the deadline.
            assert len(closed_after) == len(tricklers) + len(halted), \
                f"{len(tricklers) + len(halted) - len(closed_after)} slow clients still open after the whole request"
            times = sorted(closed_after.values())
            assert IDLE_TIMEOUT * 0.9 <= times[0] and times[-1] < IDLE_TIMEOUT + 1.5, times
        finally:
            for s in tricklers + halted:
                s.close()
    assert_still_answers(instance, rig)


# ---- 8. 100 MB length prefixes -----------------------------------------------------------------------

def test_huge_length_prefixes_are_refused_at_once_without_memory_growth(start_mtastsd, rig):
    """test_socketmap.py closes an oversized length prefix; here 24 clients at once try to push
    100 MB behind theirs (or endless length digits, or bytes that are no length at all): each is
    closed after at most what the socket buffers hold, and the daemon's heap does not grow."""
    instance = start_mtastsd(name="huge-prefix")
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    pid = instance.process.pid
    rss_before = rss_anon_kib(pid)
    variants = [(b"100000000:", b"x" * 65536), (b"", b"9" * 65536), (b"", b"\x00" * 65536)]
    results: list[tuple[int, float]] = []

    def push(prefix: bytes, chunk: bytes) -> None:
        sent, start = 0, time.monotonic()
        with connect(instance.socket, timeout=10) as s:
            try:
                s.sendall(prefix)
                while sent < 100_000_000:
                    s.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
        results.append((sent, time.monotonic() - start))

    threads = [threading.Thread(target=push, args=variants[n % len(variants)]) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 24
    assert max(sent for sent, _ in results) < 4 << 20 and max(took for _, took in results) < 2, results
    growth = rss_anon_kib(pid) - rss_before
    assert growth < 4096, f"RssAnon grew by {growth} KiB"
    assert_still_answers(instance, rig)


# ---- 9. out of descriptors -----------------------------------------------------------------------------

NOFILE = 64
FAULT_SECONDS = 1.0  # how long descriptors stay short: ten accept retries (daemon/accept_next.hpp)


def test_descriptor_limit_reached_accept_recovers(start_mtastsd, rig):
    """With RLIMIT_NOFILE at 64, connections beyond what the daemon can hold wait in the listen
    backlog while the accept is retried; the accepted ones keep working; once descriptors are free
    again the waiting ones are served and new ones accepted. Logged: the low limit at start, and
    the run of failed accepts once when it starts and once when it ends, not once per retry."""
    instance = start_mtastsd(name="fd-limit", wrapper=("prlimit", f"--nofile={NOFILE}:{NOFILE}", "--"))
    pid = instance.process.pid
    assert f"the open files limit is {NOFILE}, below the" in instance.log()
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    held = [connect(instance.socket) for _ in range(NOFILE - open_descriptors(pid) + 16)]
    try:
        wait_until(lambda: "socketmap: accept failed: Too many open files" in instance.log(), 10,
                   "the accept to fail for want of descriptors")
        assert open_descriptors(pid) == NOFILE
        assert SocketmapClient.over(held[0]).lookup(CACHED) == sc.secure_answer(CACHED)
        waiting = SocketmapClient.over(held[-1])  # connected, in the backlog, not accepted
        waiting.send_request("default", CACHED)
        time.sleep(FAULT_SECONDS)  # the fault's duration, not a wait for the daemon
        for s in held[:-1]:
            s.close()
        assert waiting.read_reply() == sc.secure_answer(CACHED)  # accepted and served now
    finally:
        for s in held:
            s.close()
    assert log_count(instance, "socketmap: accept failed") == 1
    [again] = re.findall(r"socketmap: accepting again after (\d+) failed attempt\(s\)", instance.log())
    assert int(again) >= FAULT_SECONDS / 0.1 - 2, again
    assert_still_answers(instance, rig)


# ---- 10. the wall clock jumps ------------------------------------------------------------------------

def daemon_clock_offset(instance) -> float:
    """How far the daemon's wall clock is from the real one: its newest log line's time stamp."""
    lines = [line for line in instance.log().splitlines() if re.match(r"\d{4}-\d\d-\d\dT", line)]
    stamp = time.strptime(lines[-1][:19], "%Y-%m-%dT%H:%M:%S")  # local time, as spdlog writes it
    return time.mktime(stamp) - time.time()


def test_wall_clock_jumps(start_mtastsd, rig, tmp_path):
    """Forward past max_age: the expired policy is fetched again. Back (NTP putting right a clock
    that ran ahead): cached policies are still served, and what the records time from the future
    (id checks, "no policy" answers) is checked at once, not a jump's length later; the uptime
    stays positive. The jump back ends at the real time: the rig's CA is no older than the rig."""
    clock = FakeClock(tmp_path / "fake-clock")
    instance = start_mtastsd(name="clock", env=clock.env())
    domain, negative = "fault-clock.example", "no-record.example"  # max_age 3600; NXDOMAIN
    assert instance.lookup(CACHED) == sc.secure_answer(CACHED)
    assert instance.lookup(domain) == sc.secure_answer(domain)
    first = instance.cache_show(domain)
    fetches = rig.web.request_count(domain)

    ahead = 2 * 3600
    clock.set_offset(ahead)
    entry = instance.wait_for_entry(domain, lambda e: e["fetched_at"] >= first["fetched_at"] + ahead, 10,
                                    "a fetch after the jump forward", lookup_first=True)
    assert entry["valid_until"] == entry["fetched_at"] + 3600 and entry["state"] == "policy", entry
    assert rig.web.request_count(domain) > fetches
    assert instance.lookup(domain) == sc.secure_answer(domain)
    # max_age a day: still valid; its id checked (id_check_interval 1 s) at the fake time.
    in_the_future = lambda e: e["last_id_check"] > time.time() + ahead / 2  # noqa: E731
    instance.wait_for_entry(CACHED, in_the_future, 10, "an id check ahead", lookup_first=True)
    assert instance.lookup(negative) == "NOTFOUND "  # "no policy" until the fake now + 60 s
    assert in_the_future(instance.cache_show(negative))

    clock.set_offset(0)  # two hours back: everything written so far lies in the future
    fetches = rig.web.request_count(domain)
    wait_until(lambda: instance.lookup(CACHED) and abs(daemon_clock_offset(instance)) < 600, 10,
               "the daemon to see the jump back")
    assert instance.lookup(domain) == sc.secure_answer(domain)
    assert rig.web.request_count(domain) == fetches  # served from the cache
    checked_again = lambda e: e["last_id_check"] < time.time() + 600  # noqa: E731
    instance.wait_for_entry(CACHED, checked_again, 10, "the id check of a policy checked 'in the future'",
                            lookup_first=True)
    instance.wait_for_entry(negative, checked_again, 10, "a 'no policy' from the future checked again",
                            lookup_first=True)
    assert instance.lookup(negative) == "NOTFOUND "
    status = instance.ctl_json("status")
    assert 0 <= status["uptime_seconds"] < 600, status
    assert_still_answers(instance, rig)
