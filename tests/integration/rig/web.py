"""The policy web servers: nginx (Debian nginx-light) serves https://mta-sts.<domain>/ for every
scenario domain, one server block per domain selected by SNI; the misbehaving server
(misbehaving_https.py) covers what nginx cannot do. Policy bodies are files under www/<domain>/,
read per request by both servers, so tests change or remove a policy without reloading anything.
renegotiating_https.py is a policy host that asks for a TLS renegotiation, and the misbehaving
server's canary logs every connection to an address nothing may connect to.
Each server logs every request, which lets tests count fetches per host."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from .procs import Daemon, tcp_accepts


def listening_tcp() -> set[str]:
    """"address:port" of every listening TCP socket in this network namespace (IPv4)."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":  # TCP_LISTEN
            address, port = local.split(":")
            octets = bytes.fromhex(address)[::-1]  # little-endian on the hosts we run on
            listening.add(f"{'.'.join(map(str, octets))}:{int(port, 16)}")
    return listening


POLICY_PATH = "/.well-known/mta-sts.txt"

NGINX_HEAD = """\
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log info;
events {{ worker_connections 4096; }}
http {{
  log_format sts '$ssl_server_name $request_method $request_uri $status $body_bytes_sent';
  access_log {dir}/nginx-access.log sts;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  server_tokens off;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {{
    listen {address}:443 ssl default_server;
    server_name _;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    return 421;
  }}
"""

NGINX_SERVER = """\
  server {{
    listen {address}:443 ssl;
    server_name {host};
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location = {path} {{
      root {www};
      types {{ }}
      default_type "{content_type}";
      {extra}
    }}
    location / {{ return 404; }}
  }}
"""


class Web:
    def __init__(self, directory: Path, nginx_address: str, misbehaving_address: str, tcp_hang_address: str,
                 canary_address: Optional[str] = None, renegotiating_address: Optional[str] = None):
        """canary_address, renegotiating_address: where those run (None: not at all)."""
        self.dir = directory
        self.www = directory / "www"
        self.www.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.nginx_address = nginx_address
        self.misbehaving_address = misbehaving_address
        self.tcp_hang_address = tcp_hang_address
        self.canary_address = canary_address
        self.renegotiating_address = renegotiating_address
        self.access_log = self.dir / "nginx-access.log"
        self.nginx: Optional[Daemon] = None
        self.misbehaving: Optional[Daemon] = None
        self.renegotiating: Optional[Daemon] = None

    def policy_file(self, domain: str) -> Path:
        return self.www / domain / ".well-known" / "mta-sts.txt"

    def set_policy(self, domain: str, body: Optional[str | bytes]) -> None:
        """Serve body as the domain's policy from now on (None: remove it, the servers say 404)."""
        path = self.policy_file(domain)
        if body is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(body.encode() if isinstance(body, str) else body)
        tmp.replace(path)  # atomic: a concurrent request sees the old or the new body

    def start(self, nginx_sites: list[dict], misbehaving: dict[str, str], default_cert: tuple[Path, Path],
              misbehaving_cert: tuple[Path, Path]) -> None:
        """nginx_sites: dicts with host, cert, key, content_type, redirect (URL or None), and
        optionally www: the directory served instead of www/<domain> (bench/: one server block
        whose host is a `~regex` with a named capture serves www/$domain for many domains)."""
        conf = NGINX_HEAD.format(dir=self.dir, address=self.nginx_address, cert=default_cert[0], key=default_cert[1])
        for site in nginx_sites:
            extra = f"return 301 {site['redirect']};" if site.get("redirect") else ""
            domain = site["host"].removeprefix("mta-sts.")
            conf += NGINX_SERVER.format(address=self.nginx_address, host=site["host"], cert=site["cert"],
                                        key=site["key"], path=POLICY_PATH, www=site.get("www", self.www / domain),
                                        content_type=site["content_type"], extra=extra)
        conf += "}\n"
        self.nginx_conf = self.dir / "nginx.conf"
        self.nginx_conf.write_text(conf)
        self.nginx = Daemon("nginx", ["nginx", "-p", str(self.dir), "-e", str(self.dir / "nginx-error.log"),
                                      "-c", str(self.nginx_conf), "-g", "daemon off;"],
                            self.dir / "nginx.stderr").start()
        self.nginx.wait_ready(lambda: tcp_accepts(self.nginx_address, 443))

        config = self.dir / "misbehaving.json"
        config.write_text(json.dumps({"tls_address": self.misbehaving_address,
                                      "tcp_hang_address": self.tcp_hang_address,
                                      "canary_address": self.canary_address,
                                      "cert": str(misbehaving_cert[0]), "key": str(misbehaving_cert[1]),
                                      "www": str(self.www), "behaviours": misbehaving}))
        script = Path(__file__).with_name("misbehaving_https.py")
        self.misbehaving = Daemon("misbehaving_https", ["/usr/bin/python3", str(script), str(config)],
                                  self.dir / "misbehaving.log").start()
        # The canary is not probed by connecting: it logs every connection, and tests count them.
        self.misbehaving.wait_ready(lambda: tcp_accepts(self.misbehaving_address, 443)
                                    and tcp_accepts(self.tcp_hang_address, 443)
                                    and (not self.canary_address or f"{self.canary_address}:443" in listening_tcp()))
        if self.renegotiating_address:
            self._start_renegotiating(misbehaving_cert)

    def _start_renegotiating(self, cert: tuple[Path, Path]) -> None:
        script = Path(__file__).with_name("renegotiating_https.py")
        argv = ["/usr/bin/python3", str(script), self.renegotiating_address, str(cert[0]), str(cert[1]), str(self.www)]
        self.renegotiating = Daemon("renegotiating_https", argv, self.dir / "renegotiating.log").start()
        # Not probed by connecting either: s_server serves one connection at a time.
        self.renegotiating.wait_ready(lambda: f"{self.renegotiating_address}:443" in listening_tcp())

    def stop(self) -> None:
        for d in (self.renegotiating, self.misbehaving, self.nginx):
            if d is not None:
                d.stop()

    def request_count(self, domain: str) -> int:
        """Policy requests for mta-sts.<domain> seen by either server so far."""
        host = re.escape(f"mta-sts.{domain}")
        nginx = re.findall(rf"^{host} GET {re.escape(POLICY_PATH)} ", self._read(self.access_log), re.MULTILINE)
        other = re.findall(rf"^REQUEST {host} ", self._read(self.dir / "misbehaving.log") +
                           self._read(self.dir / "renegotiating.log"), re.MULTILINE)
        return len(nginx) + len(other)

    def canary_connections(self) -> int:
        """Connections the canary (canary_address:443) has seen so far."""
        return len(re.findall(r"^CANARY ", self._read(self.dir / "misbehaving.log"), re.MULTILINE))

    def renegotiation_events(self, domain: str) -> list[str]:
        """The renegotiating server's log for mta-sts.<domain>: REQUEST, RENEGOTIATION-REQUESTED,
        RENEGOTIATED or RENEGOTIATION-REFUSED, in order."""
        host = f"mta-sts.{domain}"
        return [line.split()[0] for line in self._read(self.dir / "renegotiating.log").splitlines()
                if len(line.split()) >= 2 and line.split()[1] == host]

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
