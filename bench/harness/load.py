"""Load and measurements: socketmap_load runs (its contract: bench/README.md), the lookups that
warm a server's cache, readings of /proc (memory, open descriptors, CPU time) and the cold run's
driver (one connection and one request per domain, all at once).

Nothing here asserts a number: results are returned for the report."""
from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional, Sequence

from rig import socketmap

MAP_NAME = "default"
WARM_CONCURRENCY = 32
PROC_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")


# ---- socketmap_load ----
def socketmap_load(binary: str, target: str, connections: int, duration: float, warmup: float, keys_file: Path,
                   pin: Sequence[str] = (), server_pid: Optional[int] = None) -> dict:
    """One run; its JSON object, plus the server's CPU time over the run (warm-up included)."""
    argv = [*pin, binary, "--target", target, "--connections", str(connections), "--duration", f"{duration:g}",
            "--warmup", f"{warmup:g}", "--map", MAP_NAME, "--keys-file", str(keys_file), "--json"]
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + warmup + 120)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"socketmap_load exited with {result.returncode}: {' '.join(argv)}\n{result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    if data.get("errors"):
        data["stderr"] = result.stderr[-2000:]  # socketmap_load describes its first failures there
    if server_pid:
        cpu = cpu_seconds(server_pid) - cpu_before
        data["server_cpu_s"] = round(cpu, 3)
        data["server_cpu_share"] = round(cpu / wall, 3)  # of one core, over warm-up and measurement
    return data


# ---- cache warm-up ----
def lookups(address: Path, domains: Sequence[str], concurrency: int = WARM_CONCURRENCY) -> dict[str, str]:
    """One lookup per domain, `concurrency` at a time, each on its own connection; the reply, or
    "error: ..." for a failed exchange."""
    def one(domain: str) -> str:
        try:
            return socketmap.lookup(address, domain, MAP_NAME, timeout=30)
        except (OSError, ValueError, socketmap.ConnectionClosed) as e:
            return f"error: {e!r}"
    with ThreadPoolExecutor(concurrency) as pool:
        return dict(zip(domains, pool.map(one, domains)))


def warm(address: Path, expected: dict[str, str], timeout: float = 120.0,
         same: Callable[[str, str], bool] = lambda a, b: a == b) -> dict:
    """Look every domain up until its reply is the expected one (a cold lookup may first be
    answered TEMP while its resolution goes on), then once more: those replies come from the
    cache. Returns counts, time taken, and the domains whose reply never matched."""
    started = time.monotonic()
    pending = list(expected)
    rounds = 0
    while pending and time.monotonic() - started < timeout:
        rounds += 1
        replies = lookups(address, pending)
        pending = [d for d, r in replies.items() if not same(expected[d], r)]
        if pending:
            time.sleep(0.2)  # a retry interval, not a synchronisation: resolutions finish on their own
    warm_s = time.monotonic() - started
    final = lookups(address, list(expected))
    wrong = {d: r for d, r in final.items() if not same(expected[d], r)}
    return {"domains": len(expected), "warm_s": round(warm_s, 2), "rounds": rounds, "mismatches": len(wrong),
            "mismatch_examples": dict(list(wrong.items())[:5]), "replies": final}


# ---- /proc ----
def memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS), RssAnon, RssFile, RssShmem, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in PROC_FIELDS:
                out[key + "_kib"] = int(value.split()[0])
    return out


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OtherCpu:
    """How much CPU the rest of the machine used while a part ran: the busy time of all CPUs
    (/proc/stat, hypervisor steal included) minus this process's and its reaped descendants'
    (every server is stopped and reaped before share() is asked). Other work on the machine
    slows every server measured; this says how much there was."""

    def __init__(self):
        self.started = (time.monotonic(), self._machine_busy(), self._ours())

    @staticmethod
    def _machine_busy() -> float:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _ours() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def share(self) -> float:
        """Other processes' CPU time over the part, as a share of all CPUs' time (0 = none)."""
        wall = time.monotonic() - self.started[0]
        others = (self._machine_busy() - self.started[1]) - (self._ours() - self.started[2])
        return round(max(others, 0.0) / (wall * (os.cpu_count() or 1)), 3)


# ---- the cold run ----
async def _exchange(path: Path, domain: str) -> str:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(socketmap.netstring(f"{MAP_NAME} {domain}".encode()))
        await writer.drain()
        length = int((await reader.readuntil(b":"))[:-1])
        data = await reader.readexactly(length + 1)
        if data[-1:] != b",":
            raise ValueError("reply netstring not terminated by ','")
        return data[:-1].decode()
    finally:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def cold_run(socket_path: Path, domains: Sequence[str], pid: int, cached_count: Callable[[], Optional[int]],
             timeout: float = 180.0, sample_interval: float = 0.02) -> dict:
    """Send one lookup for every domain at once, each on its own connection, and wait until the
    daemon's cache holds an entry for each (cached_count() >= len(domains)). Meanwhile sample the
    daemon's open descriptors; its peak RSS is the kernel's VmHWM."""
    async def main() -> dict:
        samples = {"fds": 0, "rss_kib": 0}
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                try:
                    samples["fds"] = max(samples["fds"], open_fds(pid))
                    samples["rss_kib"] = max(samples["rss_kib"], memory(pid)["VmRSS_kib"])
                except OSError:
                    pass
                await asyncio.sleep(sample_interval)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        latencies: list[float] = []
        replies: dict[str, int] = {}
        errors: list[str] = []

        async def one(domain: str) -> None:
            t0 = time.monotonic()
            try:
                reply = await asyncio.wait_for(_exchange(socket_path, domain), 60)
            except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                errors.append(f"{domain}: {e!r}")
                return
            latencies.append(time.monotonic() - t0)
            kind = reply.split(" ", 1)[0]
            replies[kind] = replies.get(kind, 0) + 1

        await asyncio.gather(*(one(d) for d in domains))
        answered_s = time.monotonic() - started
        cached_s = None
        while time.monotonic() - started < timeout:
            count = await asyncio.to_thread(cached_count)
            if count is not None and count >= len(domains):
                cached_s = time.monotonic() - started
                break
            await asyncio.sleep(0.05)
        done.set()
        await sampler
        latencies.sort()
        return {"domains": len(domains), "all_answered_s": round(answered_s, 3),
                "all_cached_s": round(cached_s, 3) if cached_s is not None else None,
                "replies": replies, "errors": len(errors), "error_examples": errors[:5],
                "reply_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                "reply_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "reply_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
                "peak_open_fds": samples["fds"], "sampled_peak_rss_kib": samples["rss_kib"]}

    return asyncio.run(main())
