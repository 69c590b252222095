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
It also holds a plain TCP listener that accepts and never speaks (no TLS handshake).
Every request is logged as one line `REQUEST <host> <path>` on stdout, flushed at once, so
tests can count fetches."""
import asyncio
import json
import ssl
import sys
from pathlib import Path

MAX_REQUEST_HEAD = 16384


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


async def hold_forever(reader, writer):
    await reader.read()
    writer.close()


async def main(config_path):
    config = json.loads(Path(config_path).read_text())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["cert"], config["key"])
    server = Server(config)
    tls = await asyncio.start_server(server.handle, config["tls_address"], 443, ssl=context,
                                     ssl_handshake_timeout=30)
    plain = await asyncio.start_server(hold_forever, config["tcp_hang_address"], 443)
    async with tls, plain:
        await asyncio.gather(tls.serve_forever(), plain.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
