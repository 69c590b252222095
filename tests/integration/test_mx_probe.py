"""The MX probe (io::MxProbe, issue 5): one SMTP session that validates an MX host's STARTTLS and
certificate the way an MTA-STS sender must (RFC 8461 sec. 4), without sending mail. Driven by the
test-only tool tests/tools/mx_probe (MX_PROBE_BIN), which prints the result as JSON.

The receivers: the rig's MX hosts (rig/receivers.py: a good certificate, a wrong name, expired,
from an untrusted CA, no STARTTLS), started here with command recording, and a few scripted ones
of this module (rig/smtp_receiver.py's "replies"): STARTTLS offered but refused, EHLO refused,
EHLO never answered, an over-long reply line, STARTTLS "accepted" without TLS, TLS 1.1 only, a
wildcard certificate. The rig's silent TCP listener and an address nobody listens on give the
unreachable cases. Every receiver records each command it got, so each test checks the whole
dialogue: the EHLO name, QUIT at the end, never MAIL FROM."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import scenarios as sc
from rig.mtastsd import binary
from rig.procs import Daemon, tcp_accepts
from rig.receivers import SMTP_PORT, Receivers

HELO = "probe.sender.example"
# Scripted receivers: address, record kind, and what they do differently.
STARTTLS_REFUSED = "127.0.3.20"   # offers STARTTLS, answers it 454
EHLO_REFUSED = "127.0.3.21"       # answers EHLO 550
EHLO_SILENT = "127.0.3.22"        # never answers EHLO
LONG_LINE = "127.0.3.23"          # answers EHLO with a 600-octet line
STARTTLS_NO_TLS = "127.0.3.24"    # answers STARTTLS 220, then keeps talking SMTP in plain text
TLS_1_1 = "127.0.3.25"            # STARTTLS, but TLS 1.1 at most
WILDCARD = "127.0.3.26"           # STARTTLS, certificate for *.mx.probe-wildcard.example
UNUSED_ADDRESS = "127.0.3.99"     # nothing listens: connection refused
# The rig's TCP listener that accepts and never says a word (rig/misbehaving_https.py).
SILENT_ADDRESS, SILENT_PORT = sc.TCP_BLACKHOLE_ADDRESS, 443
SCRIPTED_NAME = "mail.probe-scripted.example"  # the name in the scripted receivers' certificate
# Timing: step deadlines are measured by the tool (elapsed_ms, without process start-up);
# SLACK is what an event loop on a loaded 2-core machine may add after a deadline.
SLACK_MS = 1500


@dataclass
class World:
    receivers: Receivers
    ca_file: Path
    scripted_records: dict[str, Path]  # address -> record file


def start_scripted(directory: Path, name: str, address: str, config: dict) -> tuple[Daemon, Path]:
    record = directory / f"{name}.jsonl"
    config = {"address": address, "port": SMTP_PORT, "hostname": f"{name}.receiver.example",
              "record": str(record), "record_commands": True, **config}
    config_path = directory / f"{name}.json"
    config_path.write_text(json.dumps(config))
    script = Path(__file__).parent / "rig" / "smtp_receiver.py"
    return Daemon(f"smtp-{name}", ["/usr/bin/python3", str(script), str(config_path)],
                  directory / f"{name}.log").start(), record


@pytest.fixture(scope="module")
def world(rig, tmp_path_factory):
    directory = tmp_path_factory.mktemp("mx-probe")
    cert, key = rig.ca.issue("probe-scripted", [SCRIPTED_NAME])
    wildcard_cert, wildcard_key = rig.ca.issue("probe-wildcard", ["*.mx.probe-wildcard.example"])
    tls = {"cert": str(cert), "key": str(key)}
    scripted = {
        STARTTLS_REFUSED: ("starttls-refused", {**tls, "replies": {"STARTTLS": "454 4.7.0 TLS not available"}}),
        EHLO_REFUSED: ("ehlo-refused", {**tls, "replies": {"EHLO": "550 5.7.1 not you"}}),
        EHLO_SILENT: ("ehlo-silent", {**tls, "replies": {"EHLO": ""}}),
        LONG_LINE: ("long-line", {**tls, "replies": {"EHLO": "250 " + "x" * 600}}),
        STARTTLS_NO_TLS: ("starttls-no-tls", {**tls, "replies": {"STARTTLS": "220 2.0.0 go ahead"}}),
        TLS_1_1: ("tls-1.1", {**tls, "tls_maximum_version": "TLSv1.1"}),
        WILDCARD: ("wildcard", {"cert": str(wildcard_cert), "key": str(wildcard_key)}),
    }
    receivers = Receivers(directory / "receivers", rig, record_commands=True).start()
    servers, records = [], {}
    try:
        for address, (name, config) in scripted.items():
            server, records[address] = start_scripted(directory, name, address, config)
            servers.append((server, address))
        for server, address in servers:
            server.wait_ready(lambda: tcp_accepts(address, SMTP_PORT))
        receivers.mark()  # the readiness checks' connections
        yield World(receivers, rig.ca_file, records)
    finally:
        for server, _ in servers:
            server.stop()
        receivers.stop()


def probe(w: World, mx: str, address: str, port: int = SMTP_PORT, step_ms: int = 5000,
          session_ms: int = 20000) -> dict:
    """One probe by the tool; its JSON result."""
    argv = [binary("MX_PROBE_BIN", "mx_probe"), "--mx", mx, "--address", address, "--port", str(port),
            "--helo", HELO, "--ca-file", str(w.ca_file), "--step-timeout-ms", str(step_ms),
            "--session-timeout-ms", str(session_ms)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"mx_probe failed ({p.returncode}):\n{p.stderr}"
    result = json.loads(p.stdout)
    result["stderr"] = p.stderr
    return result


def rig_records(w: World, kind: str) -> list[dict]:
    """What the rig receiver of this kind recorded since the last probe (and forget it)."""
    records = w.receivers.records(kind)
    w.receivers.mark()
    return records


def scripted_records(w: World, address: str) -> list[dict]:
    text = w.scripted_records[address].read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def dialogue(records: list[dict]) -> list[tuple[str, bool]]:
    """The commands the receiver got, each with whether it came over TLS."""
    return [(r["verb"], r["tls"]) for r in records if r["event"] == "command"]


def assert_polite(records: list[dict]) -> None:
    """Our EHLO name, QUIT last, and never a mail transaction."""
    commands = [r for r in records if r["event"] == "command"]
    assert all(r["arg"] == HELO for r in commands if r["verb"] == "EHLO"), commands
    assert not {"MAIL", "RCPT", "DATA"} & {r["verb"] for r in commands}, commands
    assert commands and commands[-1]["verb"] == "QUIT", commands
    assert not [r for r in records if r["event"] == "message"], records


VALIDATED = [("EHLO", False), ("STARTTLS", False), ("EHLO", True), ("QUIT", True)]
CERTIFICATE_REFUSED = [("EHLO", False), ("STARTTLS", False), ("QUIT", True)]


def test_good_certificate_is_validated(world):
    mx = world.receivers.mx_hosts("good")[0]
    result = probe(world, mx, sc.SMTP_RECEIVERS["good"])
    assert result["result"] == "ok", result
    assert result["helo"] == "good.receiver.example"
    assert "TLS 1.3" in result["detail"] and "CN=" in result["detail"], result["detail"]
    records = rig_records(world, "good")
    assert dialogue(records) == VALIDATED
    assert_polite(records)
    [handshake] = [r for r in records if r["event"] == "starttls"]
    assert (handshake["sni"], handshake["version"]) == (mx, "TLSv1.3")


@pytest.mark.parametrize("kind, result_type, reason", [
    ("wrong-name", "certificate-host-mismatch", "hostname mismatch"),
    ("expired", "certificate-expired", "certificate has expired"),
    ("untrusted", "certificate-not-trusted", "unable to get local issuer certificate"),
])
def test_certificate_failures_have_their_result_type(world, kind, result_type, reason):
    """The handshake completes, the verdict comes from the verify result, and the session still
    ends with QUIT (over TLS) and nothing else."""
    mx = f"mail.pf-{kind}.example"
    assert mx in world.receivers.mx_hosts(kind)
    result = probe(world, mx, sc.SMTP_RECEIVERS[kind])
    assert result["result"] == result_type, result
    assert reason in result["detail"] and mx in result["detail"], result["detail"]
    assert result["helo"] == f"{kind}.receiver.example"
    records = rig_records(world, kind)
    assert dialogue(records) == CERTIFICATE_REFUSED
    assert_polite(records)
    assert [r["sni"] for r in records if r["event"] == "starttls"] == [mx]


def test_expired_detail_names_the_validity(world):
    result = probe(world, "mail.pf-expired.example", sc.SMTP_RECEIVERS["expired"])
    assert result["result"] == "certificate-expired"
    assert " valid from 20" in result["detail"] and "Z to 20" in result["detail"], result["detail"]
    rig_records(world, "expired")


def test_name_is_checked_before_dates_and_trust_before_the_name(world):
    """OpenSSL stops at the first failure: an expired certificate asked for another name is a
    mismatch; an untrusted one asked for another name is untrusted."""
    assert probe(world, "mail.other.example", sc.SMTP_RECEIVERS["expired"])["result"] == "certificate-host-mismatch"
    assert probe(world, "mail.other.example", sc.SMTP_RECEIVERS["untrusted"])["result"] == "certificate-not-trusted"
    rig_records(world, "expired")
    rig_records(world, "untrusted")


def test_no_starttls_offered(world):
    result = probe(world, "mail.pf-plaintext.example", sc.SMTP_RECEIVERS["plaintext"])
    assert result["result"] == "starttls-not-supported", result
    assert "does not offer STARTTLS" in result["detail"]
    records = rig_records(world, "plaintext")
    assert dialogue(records) == [("EHLO", False), ("QUIT", False)]
    assert_polite(records)


def test_starttls_refused(world):
    result = probe(world, SCRIPTED_NAME, STARTTLS_REFUSED)
    assert result["result"] == "starttls-not-supported", result
    assert "STARTTLS refused: 454 4.7.0 TLS not available" in result["detail"]
    records = scripted_records(world, STARTTLS_REFUSED)
    assert dialogue(records) == [("EHLO", False), ("STARTTLS", False), ("QUIT", False)]
    assert_polite(records)


def test_wildcard_covers_one_whole_label(world):
    """RFC 6125 sec. 6.4.3 as RFC 8461 sec. 4.1 wants it: *.mx.X covers a.mx.X, not b.a.mx.X
    nor mx.X."""
    assert probe(world, "a.mx.probe-wildcard.example", WILDCARD)["result"] == "ok"
    for name in ("b.a.mx.probe-wildcard.example", "mx.probe-wildcard.example"):
        assert probe(world, name, WILDCARD)["result"] == "certificate-host-mismatch", name


def test_tls_below_1_2_is_a_validation_failure(world):
    """RFC 8996 / RFC 8461 sec. 4.2: TLS 1.2 at least; the handshake fails, nothing follows."""
    result = probe(world, SCRIPTED_NAME, TLS_1_1)
    assert result["result"] == "validation-failure", result
    assert "TLS handshake" in result["detail"], result["detail"]
    assert dialogue(scripted_records(world, TLS_1_1)) == [("EHLO", False), ("STARTTLS", False)]


def test_starttls_accepted_without_tls_is_a_validation_failure(world):
    result = probe(world, SCRIPTED_NAME, STARTTLS_NO_TLS)
    assert result["result"] == "validation-failure", result
    assert "TLS handshake" in result["detail"], result["detail"]


def test_refused_ehlo_is_unreachable_and_quits(world):
    result = probe(world, SCRIPTED_NAME, EHLO_REFUSED)
    assert result["result"] == "unreachable", result
    assert "EHLO: 550 5.7.1 not you" in result["detail"]
    assert result["helo"] == "ehlo-refused.receiver.example"
    records = scripted_records(world, EHLO_REFUSED)
    assert dialogue(records) == [("EHLO", False), ("QUIT", False)]
    assert_polite(records)


def test_reply_line_over_512_octets_is_unreachable(world):
    """RFC 5321 sec. 4.5.3.1.5: the probe reads no reply line longer than 512 octets."""
    result = probe(world, SCRIPTED_NAME, LONG_LINE)
    assert result["result"] == "unreachable", result
    assert "longer than 512 octets" in result["detail"], result["detail"]


def test_refused_connection_is_unreachable_at_once(world):
    result = probe(world, "mail.nobody.example", UNUSED_ADDRESS, step_ms=10000)
    assert result["result"] == "unreachable", result
    assert "connecting to 127.0.3.99:25" in result["detail"] and "refused" in result["detail"]
    assert result["elapsed_ms"] < SLACK_MS


def test_silent_server_is_unreachable_at_the_step_deadline(world):
    result = probe(world, "mail.silent.example", SILENT_ADDRESS, port=SILENT_PORT, step_ms=1000)
    assert result["result"] == "unreachable", result
    assert result["detail"] == "timeout (1000 ms) during the greeting"
    assert 1000 <= result["elapsed_ms"] < 1000 + SLACK_MS


def test_step_deadline_within_the_session(world):
    """The greeting comes, the EHLO reply never does: the step deadline ends it."""
    result = probe(world, SCRIPTED_NAME, EHLO_SILENT, step_ms=1000)
    assert result["result"] == "unreachable", result
    assert result["detail"] == "timeout (1000 ms) during the EHLO reply"
    assert result["helo"] == "ehlo-silent.receiver.example"
    assert 1000 <= result["elapsed_ms"] < 1000 + SLACK_MS


def test_session_deadline_ends_a_step_early(world):
    """The whole session has its own deadline, shorter here than a step's."""
    result = probe(world, SCRIPTED_NAME, EHLO_SILENT, step_ms=10000, session_ms=1200)
    assert result["result"] == "unreachable", result
    assert result["detail"] == "session timeout (1200 ms) during the EHLO reply"
    assert 1200 <= result["elapsed_ms"] < 1200 + SLACK_MS
