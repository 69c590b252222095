"""The receiving SMTP servers of the scenario table (scenarios.SMTP_RECEIVERS): one
smtp_receiver.py per kind on its own loopback address, port 25, each a direct child process.
Certificates come from the rig's throwaway PKI: a server's certificate covers every MX host name
the scenarios point at it, except where being wrong is the point (wrong name, expired, rogue CA).
Tests read what each server recorded (rig/smtp_receiver.py describes the records)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Optional

from .procs import Daemon, tcp_accepts

import scenarios as sc

SMTP_PORT = 25
WRONG_NAME = "mx.someone-else.example"  # the only name in the "wrong-name" certificate


def spki_sha256(cert: Path) -> str:
    """Hex SHA-256 of the certificate's SubjectPublicKeyInfo (DER): the data of a TLSA "3 1 1"
    record (RFC 6698 sec. 2.1: selector 1 = SPKI, matching type 1 = SHA-256)."""
    pem = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"], capture_output=True,
                         check=True, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, capture_output=True,
                         check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


def certificate_names(cert: Path) -> list[str]:
    """The DNS names in the certificate's subjectAltName."""
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return [field.strip().removeprefix("DNS:") for line in out.splitlines()[1:] for field in line.split(",")
            if field.strip().startswith("DNS:")]


class Receivers:
    def __init__(self, directory: Path, rig, record_commands: bool = False):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rig = rig
        self.record_commands = record_commands  # also record every SMTP command (smtp_receiver.py)
        self.servers: dict[str, Daemon] = {}
        self.certs: dict[str, Path] = {}
        self.seen: dict[str, int] = {}  # records per kind to pass over (mark())

    def mx_hosts(self, kind: str) -> list[str]:
        return sorted({host for s in sc.SCENARIOS for host, receiver in s.mx if receiver == kind})

    def _certificate(self, kind: str) -> Optional[tuple[Path, Path]]:
        if kind == "plaintext":
            return None
        now = dt.datetime.now(dt.timezone.utc)
        names = self.mx_hosts(kind) or [f"{kind}.receiver.example"]
        if kind == "wrong-name":
            return self.rig.ca.issue("smtp-wrong-name", [WRONG_NAME])
        if kind == "expired":
            return self.rig.ca.issue("smtp-expired", names, not_before=now - dt.timedelta(days=60),
                                     not_after=now - dt.timedelta(days=30))
        if kind == "untrusted":
            return self.rig.rogue_ca.issue("smtp-untrusted", names)
        return self.rig.ca.issue(f"smtp-{kind}", names)

    def start(self) -> "Receivers":
        try:
            for kind, address in sc.SMTP_RECEIVERS.items():
                pair = self._certificate(kind)
                config = {"address": address, "port": SMTP_PORT, "hostname": f"{kind}.receiver.example",
                          "record": str(self.record_path(kind)), "record_commands": self.record_commands}
                if pair:
                    self.certs[kind] = pair[0]
                    config.update(cert=str(pair[0]), key=str(pair[1]))
                config_path = self.dir / f"{kind}.json"
                config_path.write_text(json.dumps(config))
                script = Path(__file__).with_name("smtp_receiver.py")
                self.servers[kind] = Daemon(f"smtp-{kind}", ["/usr/bin/python3", str(script), str(config_path)],
                                            self.dir / f"{kind}.log").start()
            for kind, server in self.servers.items():
                server.wait_ready(lambda: tcp_accepts(sc.SMTP_RECEIVERS[kind], SMTP_PORT))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def record_path(self, kind: str) -> Path:
        return self.dir / f"{kind}.jsonl"

    def _all_records(self, kind: str) -> list[dict]:
        try:
            text = self.record_path(kind).read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def records(self, kind: str) -> list[dict]:
        """What the server recorded since the last mark()."""
        return self._all_records(kind)[self.seen.get(kind, 0):]

    def mark(self) -> None:
        """From now on records() and what is built on it show only what comes after this call
        (one sender after another uses the same servers)."""
        self.seen = {kind: len(self._all_records(kind)) for kind in self.servers}

    def messages_for(self, recipient: str) -> list[dict]:
        """Every message any receiver accepted for this recipient, each with its receiver kind."""
        return [dict(record, receiver=kind) for kind in self.servers for record in self.records(kind)
                if record["event"] == "message" and recipient in record["to"]]

    def handshakes(self, kind: str) -> list[dict]:
        return [r for r in self.records(kind) if r["event"] == "starttls"]

    def connections(self, kind: str) -> list[dict]:
        return [r for r in self.records(kind) if r["event"] == "connect"]
