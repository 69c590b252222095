"""The socketmap servers under load, each a direct child in the foreground, stopped by PID
(rig/procs.Daemon), listening on a unix socket:

- mtastsd: rig/mtastsd.Mtastsd with the rig's resolver, trust anchor and CA, otherwise the
  defaults a deployment has, except that no background TXT check falls inside the run
  (cache.id_check_interval 1h) and the log level is info (the rig's debug writes a line per lookup).
- the peer: Debian's postfix-mta-sts-resolver (mta-sts-daemon), with its own YAML file: a unix
  socket (its `path` key), its in-memory cache (the fastest of its backends; Debian's shipped
  /etc/mta-sts-daemon.yml uses sqlite), and cache_grace 1h so that its hits are hits for the whole
  run (by default an entry older than 60 s is re-checked with a TXT query before answering). It
  resolves with aiodns (c-ares), which reads /etc/resolv.conf: the namespace's file naming the
  rig's unbound. It verifies TLS with Python's default context, which reads SSL_CERT_FILE: the
  rig's CA. It caches no "no policy" answer: each such lookup asks the resolver.
- the floor: netstring_echo, one fixed reply per request.

pin: a command prefix (taskset) that puts the server on its own CPU."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Optional, Sequence

from rig.mtastsd import Mtastsd
from rig.procs import Daemon, run, unix_accepts

PEER_BIN = "/usr/bin/mta-sts-daemon"
MAP_NAME = "default"

MTASTSD_OVERRIDES = {
    "log_level": "info",
    "cache": {"id_check_interval": "1h"},
    # The rig's instances use shorter deadlines for their tests; these are mtastsd's defaults.
    "dns": {"timeout": "10s"},
    "fetch": {"timeout": "60s"},
    "lookup": {"cold_budget": "3s", "reply_deadline": "10s"},
}


def _without_proxies(env: dict[str, str]) -> dict[str, str]:
    """aiohttp honours *_proxy variables; nothing may leave the namespace through one."""
    return {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}


class MtastsdTarget:
    name = "mtastsd"

    def __init__(self, world, directory: Path, pin: Sequence[str] = (), overrides: Optional[dict] = None):
        self.instance = Mtastsd(world, directory, {**MTASTSD_OVERRIDES, **(overrides or {})}, wrapper=pin)

    def start(self) -> "MtastsdTarget":
        self.instance.start()
        return self

    @property
    def pid(self) -> int:
        return self.instance.process.pid

    @property
    def socket(self) -> Path:
        return self.instance.socket

    @property
    def target(self) -> str:
        return f"unix:{self.socket}"

    def stop(self) -> Optional[int]:
        return self.instance.stop()

    def log(self) -> str:
        return self.instance.log()


class DaemonTarget:
    """A server run as a rig Daemon listening on self.socket (the peer, the floor)."""
    ready_timeout = 10.0

    def start(self):
        self.process.start()
        self.process.wait_ready(lambda: unix_accepts(self.socket), timeout=self.ready_timeout)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def target(self) -> str:
        return f"unix:{self.socket}"

    def stop(self) -> Optional[int]:
        return self.process.stop()

    def log(self) -> str:
        return self.process.log()


class PeerTarget(DaemonTarget):
    name = "peer"
    ready_timeout = 20.0

    def __init__(self, directory: Path, ca_file: Path, pin: Sequence[str] = (), cache: str = "internal"):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "peer.sock"
        cache_options = ({"cache_size": 100000} if cache == "internal" else {"filename": str(self.dir / "cache.db")})
        config = {
            "path": str(self.socket),
            "mode": 0o600,
            "shutdown_timeout": 2,
            "cache_grace": 3600,
            "cache": {"type": cache, "options": cache_options},
            "proactive_policy_fetching": {"enabled": False},
            "default_zone": {"strict_testing": False, "timeout": 4, "require_sni": True},
        }
        self.config_file = self.dir / "mta-sts-daemon.yml"
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
        env = _without_proxies(dict(os.environ))
        env["SSL_CERT_FILE"] = str(ca_file)
        self.process = Daemon("mta-sts-daemon", [*pin, PEER_BIN, "-c", str(self.config_file), "-v", "info"],
                              self.dir / "mta-sts-daemon.log", env=env)

    def uvloop(self) -> bool:
        """Whether it runs on uvloop (python3-uvloop, a Recommends of the package) or asyncio's loop."""
        return "uvloop enabled" in self.log()


def peer_version() -> str:
    result = run(["dpkg-query", "-W", "-f", "${Version}", "postfix-mta-sts-resolver"], check=False)
    return result.stdout.strip() or "unknown"


class FloorTarget(DaemonTarget):
    name = "floor"

    def __init__(self, binary: str, directory: Path, reply: str, tag: str, pin: Sequence[str] = ()):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / f"floor-{tag}.sock"
        self.reply = reply
        self.process = Daemon(f"netstring_echo ({tag})",
                              [*pin, binary, "--listen", f"unix:{self.socket}", "--reply", reply],
                              self.dir / f"floor-{tag}.log")


def same_policy_answer(mtastsd_reply: str, peer_reply: str) -> bool:
    """The peer lists the match patterns in set order (random per process): compare as sets."""
    def parts(reply: str):
        m = re.fullmatch(r"OK secure match=(\S+)( servername=hostname)?", reply)
        return (set(m.group(1).split(":")), m.group(2)) if m else reply.strip()
    return parts(mtastsd_reply) == parts(peer_reply)
