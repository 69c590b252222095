#!/usr/bin/python3
"""An HTTPS server that misbehaves where nginx cannot (standard library only: asyncio + ssl).

Usage: misbehaving_https.py CONFIG.json. The configuration names the TLS listen address, the
certificate, the policy directory (www/<domain>/.well-known/mta-sts.txt, as nginx uses) and,
per Host header (mta-sts.<domain>), a behaviour:
  hang       read the request, never answer
  trickle    send 200 headers announcing a 1000-byte body (under any size cap), then one byte
             every 200 ms until the client goes away
  delay:N    wait N seconds, then answer the policy file normally
  chunked    answer the policy file with Transfer-Encoding: chunked (valid HTTP/1.1)
  truncated  announce the policy file's length, send half of it, close the connection
Hostile ones (test_hostile_servers.py); "endless" means until the client goes away, as fast
as it reads:
  endless              200, no Content-Length (the body ends with the connection), endless body
  endless-length       200 announcing a body of 10^12 bytes, endless body
  length-overflow      200 announcing a Content-Length of 2^64 (past any 64-bit counter)
  unframed             the policy file without Content-Length, then the connection closes
  chunk-size-overflow  chunked, a first chunk-size of 2^64 (17 hex digits)
  chunk-size-endless   chunked, a chunk-size line of endless leading zeros
  chunk-ext-endless    chunked, a chunk extension that never ends
  trailer-endless      chunked, one data chunk, the last chunk, then endless trailer fields
  chunk-ext-flood      chunked, endless 1-byte chunks each with a 4000-byte extension: the body
                       grows by 1 byte per 4 KB sent
  chunk-drip           chunked, a 1-byte chunk every 50 ms, forever
  redirect-internal    302 to the canary's address (below), with a tab, bytes past ASCII and
                       3000 more characters in the Location
It also holds a plain TCP listener that accepts and never speaks (no TLS handshake), and a
canary (if the configuration names canary_address): a plain TCP listener that logs
`CANARY <client address>` for every connection and closes it, for addresses nothing may connect to.
Every request is logged as one line `REQUEST <host> <path>` on stdout, flushed at once, so
tests can count fetches."""
import asyncio
import json
import logging
import ssl
import sys
from pathlib import Path

MAX_REQUEST_HEAD = 16384
ENDLESS_BLOCK = b"x" * 16384
OK_TEXT = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
CHUNKED_HEAD = OK_TEXT + b"Transfer-Encoding: chunked\r\n\r\n"


async def read_request(reader):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await reader.read(4096)
        if not chunk:
            return None
        head += chunk
        if len(head) > MAX_REQUEST_HEAD:
            return None
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return path, headers.get("host", "").split(":")[0].lower()


class Server:
    def __init__(self, config):
        self.behaviours = config["behaviours"]
        self.www = Path(config["www"])
        self.canary_address = config.get("canary_address")

    async def handle(self, reader, writer):
        try:
            request = await read_request(reader)
            if request is None:
                return
            path, host = request
            print(f"REQUEST {host} {path}", flush=True)
            behaviour = self.behaviours.get(host, "")
            if behaviour == "hang":
                await reader.read()  # until the client closes
            elif behaviour == "trickle":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
                while True:
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.2)
            elif behaviour.startswith("delay:"):
                await asyncio.sleep(float(behaviour.split(":", 1)[1]))
                await self.serve_file(writer, host, path)
            elif behaviour == "chunked":
                body = self.policy(host)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                             b"Connection: close\r\n\r\n")
                for i in range(0, len(body), 7):
                    chunk = body[i:i + 7]
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            elif behaviour in HOSTILE:
                await HOSTILE[behaviour](self, reader, writer, host)
            elif behaviour == "truncated":
                body = self.policy(host)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2])
                await writer.drain()
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def policy_file(self, host):
        return self.www / host.removeprefix("mta-sts.") / ".well-known" / "mta-sts.txt"

    def policy(self, host):
        return self.policy_file(host).read_bytes()

    async def serve_file(self, writer, host, path):
        file = self.policy_file(host)
        if path != "/.well-known/mta-sts.txt" or not file.is_file():
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            body = file.read_bytes()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()


async def endless(writer, head: bytes, block: bytes = ENDLESS_BLOCK):
    """Send head, then block after block until the client goes away (drain() keeps pace with it)."""
    writer.write(head)
    while True:
        writer.write(block)
        await writer.drain()
        # drain() returns without yielding while the transport's buffer is low, as it stays once
        # the peer is gone: without a yield, connection_lost() (which makes drain() raise) never
        # runs and this loop starves every other client.
        await asyncio.sleep(0)


async def drip(writer, head: bytes, piece: bytes, interval: float):
    writer.write(head)
    while True:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(interval)


async def send_unframed(server, reader, writer, host):
    writer.write(OK_TEXT + b"\r\n" + server.policy(host))
    await writer.drain()


async def send_internal_redirect(server, reader, writer, host):
    location = f"https://{server.canary_address}/steal".encode() + b"\t\xc3\xbc\xff" + b"A" * 3000
    writer.write(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()


HOSTILE = {
    "endless": lambda server, r, w, host: endless(w, OK_TEXT + b"\r\n"),
    "endless-length": lambda server, r, w, host: endless(w, OK_TEXT + b"Content-Length: 1000000000000\r\n\r\n"),
    "length-overflow": lambda server, r, w, host: endless(w, OK_TEXT + f"Content-Length: {2 ** 64}\r\n\r\n".encode()),
    "unframed": send_unframed,
    "chunk-size-overflow": lambda server, r, w, host: endless(w, CHUNKED_HEAD + f"{2 ** 64:x}\r\n".encode()),
    "chunk-size-endless": lambda server, r, w, host: endless(w, CHUNKED_HEAD, b"0" * 16384),
    "chunk-ext-endless": lambda server, r, w, host: endless(w, CHUNKED_HEAD + b"1;ext=", b"e" * 16384),
    "trailer-endless": lambda server, r, w, host: endless(w, CHUNKED_HEAD + b"1\r\nx\r\n0\r\n",
                                                       b"X-Trailer: t\r\n" * 1024),
    "chunk-ext-flood": lambda server, r, w, host: endless(w, CHUNKED_HEAD, (b"1;" + b"e" * 4000 + b"\r\nx\r\n") * 4),
    "chunk-drip": lambda server, r, w, host: drip(w, CHUNKED_HEAD, b"1\r\nx\r\n", 0.05),
    "redirect-internal": send_internal_redirect,
}


async def canary(reader, writer):
    print(f"CANARY {writer.get_extra_info('peername')[0]}", flush=True)
    writer.close()


async def hold_forever(reader, writer):
    await reader.read()
    writer.close()


async def main(config_path):
    # An endless sender writes on for a few loop turns after its client is gone, and asyncio warns
    # "socket.send() raised exception." for each write: thousands of lines in the log.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    config = json.loads(Path(config_path).read_text())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["cert"], config["key"])
    server = Server(config)
    tls = await asyncio.start_server(server.handle, config["tls_address"], 443, ssl=context,
                                     ssl_handshake_timeout=30)
    plain = await asyncio.start_server(hold_forever, config["tcp_hang_address"], 443)
    servers = [tls, plain]
    if config.get("canary_address"):
        servers.append(await asyncio.start_server(canary, config["canary_address"], 443))
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
