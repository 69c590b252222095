"""The bench's DNS and HTTPS world: the integration rig's parts (rig/pki, rig/dns, rig/web) filled
with generated domains instead of the scenario table, on the same loopback addresses.

Every domain lives in a child zone of the test root signed like the rig's (bench.example. for the
main table, cold.example. for the cold run), whose negative TTL is one hour (RFC 2308 sec. 5) so
that "no policy" stays cached by mtastsd and unbound for the whole run. A policy domain has its
TXT record at _mta-sts.<domain>, an A record for mta-sts.<domain> and the usual enforce policy
(scenarios.enforce); a domain without policy has no records at all (NXDOMAIN). nginx serves all
policy domains of a zone from one server block: its server_name is a regex whose capture names
the directory (www/<domain>), and it picks the certificate by SNI ($ssl_server_name, a symbolic
link per host). Certificates come from the rig's throwaway CA, each for the mta-sts hosts of
CERT_GROUP domains: small, as real ones are (one per domain would take a minute of openssl; one
for all would make every handshake parse thousands of names).

Limits: the rig's unbound and nginx keep their test settings (one thread, one worker); nginx
reads the certificate files at each handshake (a variable ssl_certificate)."""
from __future__ import annotations

import time
from pathlib import Path

import scenarios as sc
from rig import dns, pki, web

NEGATIVE_TTL = 3600
CERT_GROUP = 10  # policy hosts per certificate
POLICY_ZONES = ("bench.example.", "cold.example.")


def policy_id(domain: str) -> str:
    return domain.split(".", 1)[0] + "id1"


def zone_of(domain: str) -> str:
    return domain.split(".", 1)[1] + "."


def host_regex(zone: str) -> str:
    """nginx server_name for mta-sts.<label>.<zone>, capturing <label>.<zone> as $domain."""
    escaped = zone.rstrip(".").replace(".", r"\.")
    return rf"~^mta-sts\.(?<domain>[a-z0-9-]+\.{escaped})$"


class World:
    """DNS (nsd + unbound) and nginx for `policy` domains (enforce policies) and `nopolicy` domains."""

    def __init__(self, directory: Path, policy: list[str], nopolicy: list[str]):
        self.dir = directory
        self.policy = policy
        self.nopolicy = nopolicy
        for domain in policy + nopolicy:
            assert zone_of(domain) in POLICY_ZONES, f"{domain} is not in a bench zone"
        self.timings: dict[str, float] = {}

    def start(self) -> "World":
        """Build and start everything; self.timings holds the seconds each step took."""
        started = time.monotonic()
        ca = pki.CertificateAuthority(self.dir / "ca", "mtastsd bench CA")
        self.ca_file = ca.cert
        zones = sorted({zone_of(d) for d in self.policy + self.nopolicy}) or [POLICY_ZONES[0]]
        fallback = ca.issue("fallback", ["mta-sts.unknown.bench.example"])  # nginx's default_server
        by_host = self.dir / "certs-by-host"
        by_host.mkdir()
        for start in range(0, len(self.policy), CERT_GROUP):
            group = self.policy[start:start + CERT_GROUP]
            cert, key = ca.issue(f"group{start}", [f"mta-sts.{d}" for d in group])
            for d in group:
                (by_host / f"mta-sts.{d}.crt").symlink_to(cert)
                (by_host / f"mta-sts.{d}.key").symlink_to(key)
        self.timings["certificates_s"] = time.monotonic() - started

        records = []
        for d in self.policy:
            records += [(f"_mta-sts.{d}", "TXT", dns.txt_rdata(f"v=STSv1; id={policy_id(d)};")),
                        (f"mta-sts.{d}", "A", sc.NGINX_ADDRESS)]
        step = time.monotonic()
        self.dns = dns.Dns(self.dir / "dns", {".": 1, **{z: NEGATIVE_TTL for z in zones}}, records,
                           sc.NSD_ADDRESS, sc.UNBOUND_ADDRESS)
        self.web = web.Web(self.dir / "web", sc.NGINX_ADDRESS, sc.MISBEHAVING_ADDRESS, sc.TCP_BLACKHOLE_ADDRESS)
        try:
            self.dns.start()  # keys, signing, nsd and unbound answering
            self.timings["dns_s"] = time.monotonic() - step
            step = time.monotonic()
            for d in self.policy:
                self.web.set_policy(d, sc.enforce(d))
            sites = [dict(host=host_regex(zone), cert=f"{by_host}/$ssl_server_name.crt",
                          key=f"{by_host}/$ssl_server_name.key", content_type="text/plain", redirect=None,
                          www=f"{self.web.www}/$domain") for zone in zones]
            self.web.start(sites, {}, default_cert=fallback, misbehaving_cert=fallback)
            self.timings["web_s"] = time.monotonic() - step
        except BaseException:
            self.stop()
            raise
        self.timings["total_s"] = time.monotonic() - started
        self.timings["dns_records"] = len(records)
        return self

    def stop(self) -> None:
        for part in ("web", "dns"):
            if hasattr(self, part):
                getattr(self, part).stop()


def expected_answer(domain: str, has_policy: bool) -> str:
    """mtastsd's reply (postfix dialect) once the domain is cached."""
    return sc.secure_answer(domain) if has_policy else "NOTFOUND "
