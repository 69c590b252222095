"""A socketmap client (Postfix socketmap_table(5)): requests and replies are netstrings
`LEN:DATA,`; a request's DATA is `NAME KEY`. Also lets tests send raw bytes."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Optional

MAX_REPLY = 100000  # Postfix's reply limit (dict_sockmap.c)


def netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


class ConnectionClosed(ConnectionError):
    """EOF before a whole reply: a connection-level error, like a reset (an OSError too)."""


class SocketmapClient:
    def __init__(self, address: str | Path | tuple[str, int], timeout: float = 15.0):
        if isinstance(address, tuple):
            self.sock = socket.create_connection(address, timeout=timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(address))
        self.buffer = b""

    @classmethod
    def over(cls, sock: socket.socket) -> "SocketmapClient":
        """A client on a socket that is already connected (tests holding many raw connections)."""
        client = cls.__new__(cls)
        client.sock = sock
        client.buffer = b""
        return client

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "SocketmapClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_request(self, name: str, key: str) -> None:
        self.send_raw(netstring(f"{name} {key}".encode()))

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buffer += chunk

    def read_reply(self) -> str:
        while b":" not in self.buffer:
            if len(self.buffer) > 10:
                raise ValueError(f"bad netstring length prefix: {self.buffer[:20]!r}")
            self._fill()
        length_text, rest = self.buffer.split(b":", 1)
        length = int(length_text)
        if length > MAX_REPLY:
            raise ValueError(f"reply of {length} bytes exceeds Postfix's limit")
        while len(rest) < length + 1:
            self._fill()
            rest = self.buffer.split(b":", 1)[1]
        if rest[length:length + 1] != b",":
            raise ValueError(f"netstring not terminated by ',': {rest[:length + 1]!r}")
        self.buffer = rest[length + 1:]
        return rest[:length].decode()

    def lookup(self, key: str, name: str = "default") -> str:
        self.send_request(name, key)
        return self.read_reply()

    def closed_by_peer(self) -> bool:
        """True once the server has closed the connection (EOF or reset), within the timeout."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def lookup(address, key: str, name: str = "default", timeout: float = 15.0) -> str:
    with SocketmapClient(address, timeout) as client:
        return client.lookup(key, name)
