"""TLS-RPT report delivery (issue #4, RFC 8460 sec. 5), through the test-only driver
tests/tools/report_send: it builds a report from an aggregate fixture (tests/data, the LMDB value
format) the way the daemon will, and makes one delivery attempt with io::ReportSender.

mailto: the e-mail is received by a real SMTP server in the namespace (rig/report_smtp_receiver.py,
python3-aiosmtpd) and checked with Python's email package: multipart/report structure, the
RFC 8460 sec. 5.3 headers, the attachment gunzipped back to the report JSON. Its DKIM signature
is verified by an independent implementation, Debian's python3-dkim (dkimpy), given the test
key's DNS record. STARTTLS to the relay, a sendmail-compatible command (a recording stand-in),
and every failure class: SMTP 4xx/5xx per stage, refused connection, a relay that never speaks.

https: the report is received by a real HTTPS endpoint (rig/report_https_receiver.py, certificate
from the rig CA, name in the rig's DNS): method, path, Content-Type and the gzip body are
checked; HTTP 500/503/429 are temporary, 404/301 permanent, a wrong certificate name, a refused
connection, an unknown host and a server that never answers temporary.

Each test sends to recipients or paths of its own, so records never mix."""
from __future__ import annotations

import base64
import email
import email.policy
import gzip
import json
import os
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest

import scenarios as sc
from rig.mtastsd import REPO, binary
from rig.procs import Daemon, run, tcp_accepts
from rig.resolver import use_rig_resolver

FIXTURE = REPO / "tests" / "data" / "tlsrpt-domain-day.json"
DAY = "2024-04-01"
REPORT_DOMAIN = "delivery.example"
SUBMITTER = "sender.example"
FROM = "tlsrpt-noreply@sender.example"
SELECTOR = "tlsrpt2024"

RELAY_ADDRESS = "127.0.6.1"              # plain SMTP relay
STARTTLS_RELAY_ADDRESS = "127.0.6.2"     # SMTP relay offering STARTTLS
HTTPS_ADDRESS = "127.0.6.3"
RELAY_NAME = "relay.report-delivery.example"
HTTPS_NAME = "reports.report-delivery.example"
WRONG_NAME = "elsewhere.report-delivery.example"  # resolves to the HTTPS endpoint, not in its certificate
HTTPS_PORTS = (443, 8443)
SMTP_PORT = 25
UNUSED_PORT = 26                          # nothing listens: connection refused
# The rig's TCP listener that accepts and never says a word (rig/misbehaving_https.py).
SILENT_ADDRESS, SILENT_PORT = sc.TCP_BLACKHOLE_ADDRESS, 443


@dataclass
class World:
    dir: Path
    ca_file: Path
    dns: str
    relay_record: Path
    starttls_record: Path
    https_record: Path
    key_file: Path
    key_record: bytes  # the TXT data at SELECTOR._domainkey.SUBMITTER


def start_server(directory: Path, name: str, script: str, config: dict) -> Daemon:
    config_path = directory / f"{name}.json"
    config_path.write_text(json.dumps(config))
    return Daemon(name, ["/usr/bin/python3", str(Path(__file__).parent / "rig" / script), str(config_path)],
                  directory / f"{name}.log").start()


def dkim_key(directory: Path) -> tuple[Path, bytes]:
    """A fresh RSA-2048 key (mode 0600) and its DKIM key record (RFC 6376 sec. 3.6.1)."""
    key = directory / "dkim.pem"
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)])
    key.chmod(0o600)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], capture_output=True,
                         check=True, timeout=30).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


@pytest.fixture(scope="module")
def world(rig, tmp_path_factory):
    directory = tmp_path_factory.mktemp("report-delivery")
    # libcurl resolves the relay's name through the libc resolver: make it the rig's unbound.
    use_rig_resolver(rig.dns.unbound_address, directory)
    names = {RELAY_NAME: STARTTLS_RELAY_ADDRESS, HTTPS_NAME: HTTPS_ADDRESS, WRONG_NAME: HTTPS_ADDRESS}
    for name, address in names.items():
        rig.dns.set_records(name, "A", [address])
    relay_cert, relay_key = rig.ca.issue("report-relay", [RELAY_NAME])
    https_cert, https_key = rig.ca.issue("report-https", [HTTPS_NAME])
    key_file, key_record = dkim_key(directory)
    w = World(directory, rig.ca_file, rig.dns.unbound_address, directory / "relay.jsonl",
              directory / "starttls-relay.jsonl", directory / "https.jsonl", key_file, key_record)
    servers = [
        start_server(directory, "relay", "report_smtp_receiver.py",
                     {"address": RELAY_ADDRESS, "port": SMTP_PORT, "hostname": "relay.example",
                      "record": str(w.relay_record)}),
        start_server(directory, "starttls-relay", "report_smtp_receiver.py",
                     {"address": STARTTLS_RELAY_ADDRESS, "port": SMTP_PORT, "hostname": RELAY_NAME,
                      "record": str(w.starttls_record), "cert": str(relay_cert), "key": str(relay_key)}),
        start_server(directory, "https", "report_https_receiver.py",
                     {"address": HTTPS_ADDRESS, "ports": list(HTTPS_PORTS), "cert": str(https_cert),
                      "key": str(https_key), "record": str(w.https_record)}),
    ]
    try:
        servers[0].wait_ready(lambda: tcp_accepts(RELAY_ADDRESS, SMTP_PORT))
        servers[1].wait_ready(lambda: tcp_accepts(STARTTLS_RELAY_ADDRESS, SMTP_PORT))
        servers[2].wait_ready(lambda: all(tcp_accepts(HTTPS_ADDRESS, port) for port in HTTPS_PORTS))
        yield w
    finally:
        for server in servers:
            server.stop()
        for name in names:
            rig.dns.set_records(name, "A", [])


def report_send(rua: str, *extra: str) -> list[str]:
    return [binary("REPORT_SEND_BIN", "report_send"), "--fixture", str(FIXTURE), "--day", DAY, "--domain",
            REPORT_DOMAIN, "--submitter", SUBMITTER, "--rua", rua, *extra]


def send(w: World, rua: str, *extra: str, smtp: str = f"{RELAY_ADDRESS}:{SMTP_PORT}", sender: str = FROM,
         timeout_ms: int = 5000, env: dict | None = None) -> dict:
    """One delivery attempt by report_send; its JSON result (with the report it built)."""
    argv = report_send(rua, "--from", sender, "--smtp", smtp, "--ca-file", str(w.ca_file), "--dns", w.dns,
                       "--timeout-ms", str(timeout_ms), *extra)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, f"report_send failed ({p.returncode}):\n{p.stderr}"
    result = json.loads(p.stdout)
    result["stderr"] = p.stderr
    return result


def signed(w: World) -> list[str]:
    return ["--dkim-key", str(w.key_file), "--dkim-selector", SELECTOR, "--dkim-domain", SUBMITTER]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def received(path: Path, recipient: str) -> dict:
    found = [r for r in records(path) if recipient in r["to"]]
    assert len(found) == 1, f"expected one message for {recipient}, got {len(found)}"
    return found[0]


def mailbox() -> str:
    return f"tlsrpt-{uuid.uuid4().hex[:10]}@reports.example"


def dkim_verifies(w: World, message: bytes) -> bool:
    def txt(name, timeout=5):
        assert name in (f"{SELECTOR}._domainkey.{SUBMITTER}.".encode(), f"{SELECTOR}._domainkey.{SUBMITTER}.")
        return w.key_record
    return dkim.verify(message, dnsfunc=txt)


def signature_tags(message: email.message.Message) -> dict[str, str]:
    value = "".join(str(message["DKIM-Signature"]).split())
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


# ---------------------------------------------------------------- mailto

def test_mail_report_is_an_rfc8460_multipart_report(world):
    to = mailbox()
    result = send(world, f"mailto:{to}", *signed(world))
    assert result["result"] == "delivered", result["detail"]
    assert "250 2.0.0 Ok: queued as" in result["detail"]
    record = received(world.relay_record, to)
    assert record["from"] == FROM and record["to"] == [to] and not record["tls"]
    raw = record["content"].encode("latin-1")
    message = email.message_from_bytes(raw, policy=email.policy.default)

    assert message["From"] == FROM and message["To"] == to
    assert message["Subject"] == result["subject"]
    assert message["Subject"] == (f"Report Domain: {REPORT_DOMAIN} Submitter: {SUBMITTER} "
                                  f"Report-ID: <{result['report_id']}>")
    assert message["TLS-Report-Domain"] == REPORT_DOMAIN
    assert message["TLS-Report-Submitter"] == SUBMITTER
    assert message["TLS-Required"] == "No"
    assert message["MIME-Version"] == "1.0"
    assert message["Message-ID"].startswith("<20240401.T1.delivery.example.")
    assert message["Date"].datetime is not None and message["Date"].datetime.utcoffset().total_seconds() == 0
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "tlsrpt"
    assert not message.defects, message.defects

    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/tlsrpt+gzip"]
    text = parts[0].get_content()
    assert REPORT_DOMAIN in text and "41 successful, 2 failed" in text
    attachment = parts[1]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == result["file_name"]
    assert attachment.get_filename() == f"{SUBMITTER}!{REPORT_DOMAIN}!1711929600!1712015999!T1.json.gz"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    report = json.loads(gzip.decompress(attachment.get_content()))
    assert report == json.loads(result["json"])
    assert report["report-id"] == result["report_id"]
    assert report["date-range"] == {"start-datetime": "2024-04-01T00:00:00Z", "end-datetime": "2024-04-01T23:59:59Z"}
    policy = report["policies"][0]
    assert policy["policy"]["policy-domain"] == REPORT_DOMAIN
    assert policy["summary"] == {"total-successful-session-count": 41, "total-failure-session-count": 2}
    assert policy["failure-details"][0]["result-type"] == "certificate-expired"

    # Wire format: CRLF only, lines within the limits (RFC 5322 sec. 2.1.1, RFC 2045 sec. 6.8).
    assert b"\n" not in raw.replace(b"\r\n", b"")
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert all(len(line) <= 78 for line in body_lines)


def test_dkim_signature_verifies_with_python3_dkim(world):
    to = mailbox()
    result = send(world, f"mailto:{to}", *signed(world))
    assert result["result"] == "delivered", result["detail"]
    raw = received(world.relay_record, to)["content"].encode("latin-1")
    assert raw.startswith(b"DKIM-Signature: ")
    assert dkim_verifies(world, raw)

    tags = signature_tags(email.message_from_bytes(raw, policy=email.policy.default))
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed"
    assert tags["d"] == SUBMITTER and tags["s"] == SELECTOR
    assert "l" not in tags, "RFC 8460 sec. 5.3: no body length limit"
    signed_fields = tags["h"].lower().split(":")
    for field in ("from", "to", "subject", "date", "message-id", "tls-report-domain", "tls-report-submitter",
                  "mime-version", "content-type"):
        assert field in signed_fields

    # The verifier really checks: a changed signed header or body fails.
    assert not dkim_verifies(world, raw.replace(b"TLS-Report-Domain: delivery.example",
                                                b"TLS-Report-Domain: delivery.example.org"))
    assert not dkim_verifies(world, raw.replace(b"41 successful", b"42 successful"))


def test_without_a_key_the_mail_goes_out_unsigned_with_a_warning(world):
    to = mailbox()
    result = send(world, f"mailto:{to}")
    assert result["result"] == "delivered", result["detail"]
    message = email.message_from_bytes(received(world.relay_record, to)["content"].encode("latin-1"),
                                       policy=email.policy.default)
    assert message["DKIM-Signature"] is None
    assert "no DKIM key configured" in result["stderr"]


def test_unsafe_or_missing_dkim_key_is_refused_at_start(world):
    loose = world.dir / "loose.pem"
    loose.write_bytes(world.key_file.read_bytes())
    loose.chmod(0o644)
    for key, complaint in ((loose, "0644"), (world.dir / "missing.pem", "does not exist")):
        p = subprocess.run(report_send(f"mailto:{mailbox()}", "--dkim-key", str(key), "--dkim-selector", SELECTOR,
                                       "--dkim-domain", SUBMITTER), capture_output=True, text=True, timeout=30)
        assert p.returncode == 2, p.stdout
        assert str(key) in p.stderr and complaint in p.stderr, p.stderr


def test_starttls_to_the_relay(world):
    to = mailbox()
    result = send(world, f"mailto:{to}", "--starttls", *signed(world), smtp=f"{RELAY_NAME}:{SMTP_PORT}")
    assert result["result"] == "delivered", result["detail"]
    record = received(world.starttls_record, to)
    assert record["tls"], "the relay saw the message over TLS"
    assert dkim_verifies(world, record["content"].encode("latin-1"))


def test_starttls_required_but_not_offered_is_temporary(world):
    to = mailbox()
    result = send(world, f"mailto:{to}", "--starttls")
    assert result["result"] == "temporary", result
    assert not [r for r in records(world.relay_record) if to in r["to"]]


@pytest.mark.parametrize("local, sender, expected, reply", [
    ("reject", FROM, "permanent", "550 5.1.1"),
    ("defer", FROM, "temporary", "451 4.3.0"),
    ("reject-content", FROM, "permanent", "554 5.6.0"),
    ("tlsrpt", "refuse-sender@sender.example", "temporary", "553 5.7.1"),
])
def test_smtp_refusals_are_classified_by_stage(world, local, sender, expected, reply):
    result = send(world, f"mailto:{local}@reports.example", sender=sender)
    assert result["result"] == expected, result
    assert reply in result["detail"], result["detail"]


def test_refused_connection_is_temporary(world):
    result = send(world, f"mailto:{mailbox()}", smtp=f"{RELAY_ADDRESS}:{UNUSED_PORT}")
    assert result["result"] == "temporary", result
    assert "connect" in result["detail"].lower()


def test_silent_relay_times_out_as_temporary(world):
    started = time.monotonic()
    result = send(world, f"mailto:{mailbox()}", smtp=f"{SILENT_ADDRESS}:{SILENT_PORT}", timeout_ms=1500)
    elapsed = time.monotonic() - started
    assert result["result"] == "temporary", result
    assert "deadline" in result["detail"], result["detail"]
    assert elapsed < 10, f"the 1.5 s deadline took {elapsed:.1f} s"


def fake_sendmail(directory: Path) -> Path:
    """A sendmail-compatible stand-in: records its arguments and stdin, then exits with
    $FAKE_SENDMAIL_EXIT (after $FAKE_SENDMAIL_SLEEP seconds), printing $FAKE_SENDMAIL_SAY."""
    script = directory / "fake-sendmail"
    script.write_text(
        "#!/usr/bin/python3\n"
        "import json, os, sys, time\n"
        "data = sys.stdin.buffer.read()\n"
        "with open(os.environ['FAKE_SENDMAIL_RECORD'], 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv[1:], 'stdin': data.decode('latin-1')}) + '\\n')\n"
        "time.sleep(float(os.environ.get('FAKE_SENDMAIL_SLEEP', '0')))\n"
        "print(os.environ.get('FAKE_SENDMAIL_SAY', ''), file=sys.stderr, flush=True)\n"
        "sys.exit(int(os.environ.get('FAKE_SENDMAIL_EXIT', '0')))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def sendmail_env(record: Path, **settings: str) -> dict:
    env = dict(os.environ, FAKE_SENDMAIL_RECORD=str(record))
    env.update({f"FAKE_SENDMAIL_{k.upper()}": v for k, v in settings.items()})
    return env


def test_sendmail_command_gets_the_signed_message_on_stdin(world):
    command = fake_sendmail(world.dir)
    record = world.dir / "sendmail-ok.jsonl"
    to = mailbox()
    result = send(world, f"mailto:{to}", "--sendmail", str(command), *signed(world), env=sendmail_env(record))
    assert result["result"] == "delivered", result["detail"]
    (call,) = records(record)
    assert call["argv"] == ["-oi", "-f", FROM, "--", to]
    data = call["stdin"].encode("latin-1")
    assert b"\r" not in data, "a local command gets local (LF) line ends"
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["TLS-Report-Domain"] == REPORT_DOMAIN
    # The MTA turns LF back into CRLF on the wire; the signature covers that form.
    assert dkim_verifies(world, data.replace(b"\n", b"\r\n"))


@pytest.mark.parametrize("exit_status, expected", [(75, "temporary"), (78, "temporary"), (67, "permanent"),
                                                   (65, "permanent")])
def test_sendmail_exit_status_is_classified(world, exit_status, expected):
    command = fake_sendmail(world.dir)
    record = world.dir / f"sendmail-{exit_status}.jsonl"
    env = sendmail_env(record, exit=str(exit_status), say="sendmail: something went wrong")
    result = send(world, f"mailto:{mailbox()}", "--sendmail", str(command), env=env)
    assert result["result"] == expected, result
    assert f"exited {exit_status}" in result["detail"] and "something went wrong" in result["detail"]


def test_sendmail_that_hangs_is_killed_at_the_deadline(world):
    command = fake_sendmail(world.dir)
    env = sendmail_env(world.dir / "sendmail-hang.jsonl", sleep="60")
    started = time.monotonic()
    result = send(world, f"mailto:{mailbox()}", "--sendmail", str(command), timeout_ms=1500, env=env)
    assert result["result"] == "temporary", result
    assert "deadline" in result["detail"]
    assert time.monotonic() - started < 10


def test_missing_sendmail_command_is_temporary(world):
    result = send(world, f"mailto:{mailbox()}", "--sendmail", str(world.dir / "no-such-sendmail"))
    assert result["result"] == "temporary", result
    assert "cannot run" in result["detail"]


def test_unusable_rua_is_permanent(world):
    result = send(world, "ftp://reports.example/tlsrpt")
    assert result["result"] == "permanent", result


# ---------------------------------------------------------------- https

def posted(w: World, path: str) -> dict:
    found = [r for r in records(w.https_record) if r["path"] == path]
    assert len(found) == 1, f"expected one POST to {path}, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("port", HTTPS_PORTS)
def test_https_report_is_posted_as_tlsrpt_gzip(world, port):
    path = f"/status/201/tlsrpt-{uuid.uuid4().hex[:8]}"
    authority = HTTPS_NAME if port == 443 else f"{HTTPS_NAME}:{port}"
    result = send(world, f"https://{authority}{path}")
    assert result["result"] == "delivered", result["detail"]
    assert "HTTP 201" in result["detail"]
    request = posted(world, path)
    assert request["method"] == "POST" and request["port"] == port
    assert request["headers"]["content-type"] == "application/tlsrpt+gzip"
    assert request["headers"]["host"] == authority
    body = base64.b64decode(request["body"])
    assert int(request["headers"]["content-length"]) == len(body)
    assert json.loads(gzip.decompress(body)) == json.loads(result["json"])


@pytest.mark.parametrize("status, expected", [(500, "temporary"), (503, "temporary"), (429, "temporary"),
                                              (408, "temporary"), (404, "permanent"), (400, "permanent"),
                                              (301, "permanent")])
def test_https_status_is_classified(world, status, expected):
    path = f"/status/{status}/{uuid.uuid4().hex[:8]}"
    result = send(world, f"https://{HTTPS_NAME}{path}")
    assert result["result"] == expected, result
    assert f"HTTP {status}" in result["detail"]
    posted(world, path)  # the request did arrive


def test_https_certificate_for_another_name_is_temporary(world):
    path = f"/wrong-name-{uuid.uuid4().hex[:8]}"
    result = send(world, f"https://{WRONG_NAME}{path}")
    assert result["result"] == "temporary", result
    assert "certificate" in result["detail"]
    assert not [r for r in records(world.https_record) if r["path"] == path], "nothing is sent unverified"


def test_https_host_at_a_special_address_is_refused_when_asked(world):
    path = f"/special-{uuid.uuid4().hex[:8]}"
    result = send(world, f"https://{HTTPS_NAME}{path}", "--refuse-special-addresses")
    assert result["result"] == "temporary", result
    assert f"{HTTPS_ADDRESS} (loopback" in result["detail"], result
    assert "tlsrpt.https_refuse_special_addresses" in result["detail"], result
    assert not [r for r in records(world.https_record) if r["path"] == path], "nothing was posted"


def test_https_refused_connection_unknown_host_and_silence_are_temporary(world):
    refused = send(world, f"https://{HTTPS_NAME}:{UNUSED_PORT}/tlsrpt")
    assert refused["result"] == "temporary" and "accepted a connection" in refused["detail"], refused
    unknown = send(world, "https://no-such-host.report-delivery.example/tlsrpt")
    assert unknown["result"] == "temporary" and "no A or AAAA" in unknown["detail"], unknown
    started = time.monotonic()
    silent = send(world, f"https://{HTTPS_NAME}/hang", timeout_ms=1500)
    assert silent["result"] == "temporary" and "no progress within 1500 ms" in silent["detail"], silent
    assert time.monotonic() - started < 10
