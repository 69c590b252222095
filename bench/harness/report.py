"""The report: the machine, the main table (markdown, printed and put into bench/README.md), the
scale results, and the raw JSON in bench/results/<date>.json (one file per day: a later run of
the same part replaces that part, the other part is kept)."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
TARGETS = ("mtastsd", "peer", "floor")
WORKLOAD_TITLES = {"enforce": "cache hit, enforce policy", "nopolicy": "cache hit, no policy"}


def build_type(build_dir: Path) -> str:
    """CMAKE_BUILD_TYPE of the build directory a binary came from ("unknown" without its cache)."""
    try:
        found = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", (build_dir / "CMakeCache.txt").read_text(), re.MULTILINE)
    except OSError:
        return "unknown"
    return found.group(1) if found else "unknown"


def machine(mtastsd_build_dir: Path, tools_build_dir: Path) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        debian = Path("/etc/debian_version").read_text().strip()
    except OSError:
        debian = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "debian": debian,
            "build_type": build_type(mtastsd_build_dir), "build_dir": str(mtastsd_build_dir),
            "tools_build_type": build_type(tools_build_dir), "tools_build_dir": str(tools_build_dir)}


def today() -> str:
    return dt.date.today().isoformat()


def save(part: str, data: dict, date: Optional[str] = None) -> Path:
    """Write data as `part` ("table" or "scale") of the day's results file; returns its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{date or today()}.json"
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        existing = {}
    existing[part] = data
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    return path


def nonzero(counts: dict) -> dict:
    return {k: v for k, v in counts.items() if v}


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def _cell(run: Optional[dict]) -> tuple[str, str]:
    if not run:
        return "-", "-"
    latency = f"{run['p50_us']:.0f} / {run['p99_us']:.0f} / {run['p999_us']:.0f}"
    extra = f" ({run['errors']} err)" if run.get("errors") else ""
    return f"{run['rps']:.0f}{extra}", latency


def table_markdown(table: dict) -> str:
    """One row per workload and connection count: requests/s and p50/p99/p99.9 (µs) per target,
    and the ratios of the requests/s."""
    head = ("| workload | conns | mtastsd rps | mtastsd µs p50/p99/p99.9 | peer rps | peer µs p50/p99/p99.9 "
            "| floor rps | floor µs p50/p99/p99.9 | mtastsd/peer | mtastsd/floor |")
    lines = [head, "|" + "---|" * 10]
    for workload, by_conns in table["runs"].items():
        for conns, runs in sorted(by_conns.items(), key=lambda kv: int(kv[0])):
            cells = []
            for target in TARGETS:
                cells += _cell(runs.get(target))
            rps = {t: (runs.get(t) or {}).get("rps") for t in TARGETS}
            lines.append(f"| {WORKLOAD_TITLES.get(workload, workload)} | {conns} | " + " | ".join(cells) +
                         f" | {_ratio(rps['mtastsd'], rps['peer'])} | {_ratio(rps['mtastsd'], rps['floor'])} |")
    return "\n".join(lines)


def _mib(kib: Optional[int]) -> str:
    return f"{kib / 1024:.1f} MiB" if kib is not None else "-"


def scale_markdown(scale: dict) -> str:
    out = []
    big = scale.get("policies_100k")
    if big:
        mem = big["memory_after"]
        out.append(f"**{big['count']} cached policies** (written by bench_fill_cache in {big['fill_s']} s, "
                   f"LMDB file {_mib(big['cache_file_kib'])}):")
        out.append("")
        out.append(f"- RSS after the lookups: VmRSS {_mib(mem.get('VmRSS_kib'))} = RssAnon "
                   f"{_mib(mem.get('RssAnon_kib'))} + RssFile {_mib(mem.get('RssFile_kib'))} + RssShmem "
                   f"{_mib(mem.get('RssShmem_kib'))}; peak (VmHWM) {_mib(mem.get('VmHWM_kib'))}; "
                   f"at start {_mib(big['memory_at_start'].get('VmRSS_kib'))}")
        for run in big["runs"]:
            out.append(f"- random keys, {run['connections']} connection(s): {run['rps']:.0f} rps, p50/p99/p99.9 "
                       f"{run['p50_us']:.0f} / {run['p99_us']:.0f} / {run['p999_us']:.0f} µs, replies {nonzero(run['replies'])}, "
                       f"errors {run['errors']}")
    cold = scale.get("cold")
    if cold:
        if out:
            out.append("")
        out.append(f"**{cold['domains']} cold domains at once** (rig set-up with their zone entries and policies: "
                   f"{cold['setup']['total_s']:.1f} s, of which DNS keys, signing and start {cold['setup']['dns_s']:.1f} s):")
        out.append("")
        out.append(f"- all answered after {cold['all_answered_s']} s, all cached after {cold['all_cached_s']} s; "
                   f"reply latency p50 {cold['reply_p50_ms']} ms, p99 {cold['reply_p99_ms']} ms, "
                   f"max {cold['reply_max_ms']} ms")
        out.append(f"- replies {cold['replies']}, connection errors {cold['errors']}, fetch outcomes "
                   f"{cold['fetch_outcomes']}; after the run {cold['verified_ok']} of {cold['domains']} "
                   f"answer OK from the cache")
        out.append(f"- peak RSS (VmHWM) {_mib(cold['memory_after'].get('VmHWM_kib'))}, "
                   f"peak open descriptors {cold['peak_open_fds']} (limit {cold['fd_limit']}), "
                   f"lines logged at warning or above during the run {cold['log_warnings']}")
    return "\n".join(out)


def _others(part: dict) -> str:
    share = part.get("other_cpu_share")
    if share is None:
        return "other processes' CPU use not recorded"
    return f"other processes on the machine used {share:.0%} of its CPU time meanwhile"


def results_section(day: dict) -> str:
    """The "## Results" section of bench/README.md from one day's results file."""
    first = day.get("table") or day.get("scale")
    m = first["machine"]
    lines = ["## Results", "",
             f"Run on {first['date']}: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Debian {m['debian']}; "
             f"build type: mtastsd {m['build_type']}, bench tools {m.get('tools_build_type', 'unknown')}.", ""]
    table = day.get("table")
    if table:
        s = table["settings"]
        peer = table["peer"]
        lines += [f"Main table: {s['duration_s']:g} s per run after {s['warmup_s']:g} s warm-up, "
                  f"{s['policy_domains']} enforce domains and {s['nopolicy_domains']} without policy, keys round-robin; "
                  f"servers {'pinned to CPU ' + s['server_cpu'] if s.get('server_cpu') else 'not pinned'}, "
                  f"socketmap_load {'on CPU ' + s['load_cpu'] if s.get('load_cpu') else 'not pinned'}. "
                  f"Peer: postfix-mta-sts-resolver {peer['version']}, {peer['cache']} cache, "
                  f"{'uvloop' if peer['uvloop'] else 'asyncio event loop'}. "
                  f"Whole run {table['elapsed_s']:.0f} s; {_others(table)}.", "",
                  table_markdown(table), ""]
    scale = day.get("scale")
    if scale:
        lines += ["### Scale", "", f"Whole run {scale['elapsed_s']:.0f} s; {_others(scale)}.", "",
                  scale_markdown(scale), ""]
    return "\n".join(lines)


def update_readme(day: dict) -> None:
    """Replace the "## Results" section (up to the next "## " heading or the end) of bench/README.md."""
    text = README.read_text()
    section = results_section(day)
    pattern = re.compile(r"^## Results\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)
