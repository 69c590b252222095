#!/usr/bin/python3
"""An HTTPS policy host that asks the client to renegotiate TLS (test_hostile_servers.py).

Python's ssl module cannot start a renegotiation, so this drives `openssl s_server` (TLS 1.2 only,
its interactive mode): when a request is complete, it types `r` (the server sends a HelloRequest,
RFC 5246 sec. 7.4.1.1), then waits for the client's answer in the -msg trace:
  - a new ClientHello and the client's Finished: the client renegotiated; the policy file of the
    request's Host is sent (200, Content-Length), so a willing client gets it;
  - a no_renegotiation warning alert: the client refused; s_server itself then ends the connection
    (OpenSSL answers a refused renegotiation with a fatal handshake_failure alert).
Log lines on stdout, one per event, flushed at once: `REQUEST <host> <path>`,
`RENEGOTIATION-REQUESTED <host>`, `RENEGOTIATED <host>`, `RENEGOTIATION-REFUSED <host>`.
s_server serves one connection at a time.

Usage: renegotiating_https.py ADDRESS CERT KEY WWW. s_server is this script's child, ends with it
(PR_SET_PDEATHSIG) and is stopped by PID on SIGTERM."""
import ctypes
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def log(line: str) -> None:
    print(line, flush=True)


class Connection:
    """What is known of the connection s_server is serving now."""

    def __init__(self):
        self.request: list[str] = []  # request lines so far
        self.host = ""
        self.renegotiation = ""       # "", "requested", "hello" (new ClientHello seen), "done", "refused"


def response(www: Path, host: str, path: str) -> bytes:
    file = www / host.removeprefix("mta-sts.") / ".well-known" / "mta-sts.txt"
    if path != "/.well-known/mta-sts.txt" or not file.is_file():
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    body = file.read_bytes()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def main(address: str, cert: str, key: str, www: str) -> None:
    # stdbuf -o0: s_server mixes stdio (the -msg trace) with raw writes (received data); unbuffered,
    # they reach us in the order they happened.
    server = subprocess.Popen(
        ["stdbuf", "-o0", "openssl", "s_server", "-tls1_2", "-accept", f"{address}:443", "-cert", cert, "-key", key,
         "-msg"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=lambda: ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))

    def stop(signum, frame):
        server.terminate()
        server.wait(5)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)

    def type_in(text: bytes) -> None:
        server.stdin.write(text)
        server.stdin.flush()

    conn = Connection()
    for raw in server.stdout:
        line = raw.decode("latin-1").rstrip("\r\n")
        if line == "CONNECTION CLOSED":  # s_server is done with it, and accepts the next one
            conn = Connection()
        elif line.startswith("GET ") and not conn.request:
            conn.request = [line]
        elif conn.request and not conn.renegotiation:
            if line.lower().startswith("host:"):
                conn.host = line.split(":", 1)[1].strip().lower()
            if line == "":  # the end of the request head
                log(f"REQUEST {conn.host} {conn.request[0].split(' ')[1]}")
                conn.renegotiation = "requested"
                log(f"RENEGOTIATION-REQUESTED {conn.host}")
                type_in(b"r\n")  # a line of its own: s_server reads commands from a whole read()
        elif conn.renegotiation == "requested" and "Handshake" in line and line.endswith("ClientHello"):
            conn.renegotiation = "hello"
        elif conn.renegotiation == "hello" and line.startswith("<<<") and line.endswith("Finished"):
            conn.renegotiation = "done"
            log(f"RENEGOTIATED {conn.host}")
            type_in(response(Path(www), conn.host, conn.request[0].split(" ")[1]))
        elif conn.renegotiation == "requested" and "no_renegotiation" in line:
            conn.renegotiation = "refused"
            log(f"RENEGOTIATION-REFUSED {conn.host}")
    server.wait()


if __name__ == "__main__":
    main(*sys.argv[1:5])
