"""mtastsd and mtastsctl under test: a generated TOML configuration (contract:
daemon-interface), the daemon as a direct child in the foreground, and helpers for socketmap
lookups and `mtastsctl` calls against the same state directory."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .procs import Daemon, tcp_accepts, unix_accepts, wait_until
from .socketmap import lookup as socketmap_lookup

REPO = Path(__file__).resolve().parents[3]


def binary(env_name: str, default: str) -> str:
    path = os.environ.get(env_name) or str(REPO / "build" / default)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{env_name}: {path} is not an executable (build it, or set {env_name})")
    return path


def env_for_memory_measurement() -> dict[str, str]:
    """Environment for an mtastsd whose memory a test measures. In an AddressSanitizer build
    (scripts/test) freed memory waits in ASan's quarantine (256 MiB) to catch use after free, so
    churn would count as growth: turned off there, the other checks stay."""
    daemon = binary("MTASTSD_BIN", "mtastsd")
    linked = subprocess.run(["readelf", "-d", daemon], capture_output=True, text=True, check=True).stdout
    if "libasan.so" not in linked:
        return {}
    return {"ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {v!r}")


def to_toml(config: dict) -> str:
    """Top-level scalars, [tables], [tables.sub] one level deep, and [[arrays of tables]]."""
    out, tables = [], []
    for key, value in config.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                out.append(f"\n[[{key}]]")
                out += [f"{k} = {toml_value(v)}" for k, v in item.items()]
        else:
            out.insert(0, f"{key} = {toml_value(value)}")
    for key, table in tables:
        subtables = [(k, v) for k, v in table.items() if isinstance(v, dict)]
        out.append(f"\n[{key}]")
        out += [f"{k} = {toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
        for sub, values in subtables:
            out.append(f"\n[{key}.{sub}]")
            out += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(out) + "\n"


def merge(base: dict, overrides: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


class Mtastsd:
    """One mtastsd instance with its own state directory (cache and socket)."""

    running: list["Mtastsd"] = []  # instances of the current module, for failure reports

    def __init__(self, rig, directory: Path, overrides: Optional[dict] = None, tcp: Optional[str] = None,
                 env: Optional[dict[str, str]] = None, wrapper: Sequence[str] = ()):
        """tcp: also listen on this loopback "address:port" (the unix socket is always there).
        env: variables added to the environment of mtastsd and of every mtastsctl call, e.g. a fake
        clock's (rig/fake_clock.py), so that both see the same "now".
        wrapper: a command mtastsd runs under (e.g. in a mount namespace of its own); it must exec
        mtastsd, its arguments, so that mtastsd stays the direct child with the PID started."""
        self.wrapper = list(wrapper)
        self.rig = rig
        self.env = {**os.environ, **env} if env else None
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "socketmap.sock"
        base = {
            "state_dir": str(self.dir),
            "runtime_dir": str(self.dir),
            "log_level": "debug",
            "listen": [{"unix": str(self.socket), "mode": "0600"}],
            "cache": {"id_check_interval": "1s"},
            "dns": {"forwarders": [rig.dns.unbound_address], "trust_anchor_file": str(rig.dns.anchor_file),
                    "timeout": "5s"},
            # Every policy host of the rig is on 127.0.0.0/8, which mtastsd refuses by default.
            "fetch": {"ca_file": str(rig.ca_file), "timeout": "10s", "refuse_special_addresses": False},
            "lookup": {"cold_budget": "8s", "reply_deadline": "10s"},
            # The MX validation of testing-mode domains (issue 5) connects to the receivers and
            # changes those domains' TLS-RPT counts; test_testing_validation.py turns it on, the
            # other modules see Postfix's own view. The EHLO name is fixed, whatever the host's.
            "mx_validation": {"enabled": False, "helo_name": "sender.example"},
            # The rig's https report receivers are on loopback too.
            "tlsrpt": {"https_refuse_special_addresses": False},
            "profiles": {"tlsrpt": {"dialect": "postfix-tlsrpt"},
                         "testing-enforced": {"testing": "enforce"}},
        }
        if tcp:
            base["listen"].append({"tcp": tcp})
        self.tcp = tcp
        self.config = merge(base, overrides or {})
        self.config_file = self.dir / "mtastsd.toml"
        self.config_file.write_text(to_toml(self.config))
        self.daemon_bin = binary("MTASTSD_BIN", "mtastsd")
        self.ctl_bin = binary("MTASTSCTL_BIN", "mtastsctl")
        self.process: Optional[Daemon] = None
        self.starts = 0

    # ---- the daemon ----
    def start(self) -> "Mtastsd":
        self.starts += 1
        self.process = Daemon("mtastsd", [*self.wrapper, self.daemon_bin, "-c", str(self.config_file)],
                              self.dir / f"mtastsd.{self.starts}.log", env=self.env).start()
        self.process.wait_ready(lambda: unix_accepts(self.socket) and self._tcp_ready(), timeout=20)
        return self

    def _tcp_ready(self) -> bool:
        if not self.tcp:
            return True
        host, port = self.tcp.rsplit(":", 1)
        return tcp_accepts(host, int(port))

    def stop(self) -> Optional[int]:
        return self.process.stop() if self.process else None

    def kill9(self) -> None:
        self.process.kill9()

    def log(self) -> str:
        return self.process.log() if self.process else ""

    # ---- socketmap ----
    def lookup(self, key: str, name: str = "default", timeout: float = 15.0) -> str:
        return socketmap_lookup(self.socket, key, name, timeout)

    def wait_for_answer(self, key: str, expected: str | Callable[[str], bool], timeout: float = 15.0,
                        name: str = "default") -> str:
        """Repeat the lookup until its reply is `expected` (or satisfies it)."""
        check = expected if callable(expected) else (lambda reply: reply == expected)
        replies = []

        def attempt():
            reply = self.lookup(key, name)
            replies.append(reply)
            return reply if check(reply) else None
        try:
            return wait_until(attempt, timeout, f"answer for {key!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}; last replies: {replies[-3:]}") from None

    # ---- mtastsctl ----
    def ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run([self.ctl_bin, "-c", str(self.config_file), *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def ctl_json(self, *args: str, expect_rc: int | tuple = 0, timeout: float = 30.0) -> Any:
        result = self.ctl(*args, "--json", timeout=timeout)
        codes = expect_rc if isinstance(expect_rc, tuple) else (expect_rc,)
        assert result.returncode in codes, (f"mtastsctl {' '.join(args)}: exit {result.returncode}\n"
                                            f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return json.loads(result.stdout)

    def cache_show(self, domain: str) -> Optional[dict]:
        """The cache entry as mtastsctl shows it, or None if the domain is not cached."""
        result = self.ctl("cache", "show", domain, "--json")
        if result.returncode == 1 and not result.stdout.strip():
            return None
        assert result.returncode == 0, f"cache show {domain}: exit {result.returncode}: {result.stderr}"
        return json.loads(result.stdout)

    def wait_for_entry(self, domain: str, condition: Callable[[dict], bool], timeout: float = 15.0,
                       what: str = "", lookup_first: bool = False) -> dict:
        """Poll `cache show` until condition(entry) holds. lookup_first: look the domain up before
        each poll, since a cache hit older than id_check_interval is what starts a TXT check."""
        seen = []

        def attempt():
            if lookup_first:
                self.lookup(domain)
            entry = self.cache_show(domain)
            seen.append(entry)
            return entry if entry is not None and condition(entry) else None
        try:
            return wait_until(attempt, timeout, what or f"cache entry of {domain}")
        except AssertionError as e:
            raise AssertionError(f"{e}; last entry: {seen[-1] if seen else None}") from None


def now() -> int:
    return int(time.time())
