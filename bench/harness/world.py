"""The bench's DNS and HTTPS world: the integration rig's parts (rig/pki, rig/dns, rig/web) filled
with generated domains instead of the scenario table, on the same loopback addresses.

Every domain lives in a child zone of the test root signed like the rig's (bench.example. for the
main table, cold.example. for the cold run), whose negative TTL is one hour (RFC 2308 sec. 5) so
that "no policy" stays cached by mtastsd and unbound for the whole run. A policy domain has its
TXT record at _mta-sts.<domain>, an A record for mta-sts.<domain> and the usual enforce policy
(scenarios.enforce); a domain without policy has no records at all (NXDOMAIN). nginx serves all
policy domains of a zone from one server block: its server_name is a regex whose capture names
the directory (www/<domain>), and its certificate, from the rig's throwaway CA, lists every
mta-sts host of the zone (one SAN each: one certificate per domain would take minutes of openssl).

Limits: a certificate can hold a few thousand names (OpenSSL's 100 KiB certificate list limit);
the rig's unbound and nginx keep their test settings (one thread, one worker)."""
from __future__ import annotations

import time
from pathlib import Path

import scenarios as sc
from rig import dns, pki, web

NEGATIVE_TTL = 3600
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
        certs = {zone: ca.issue(zone.rstrip("."), [f"mta-sts.{d}" for d in self.policy if zone_of(d) == zone]
                                or [f"mta-sts.unused.{zone.rstrip('.')}"])
                 for zone in zones}
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
            sites = [dict(host=host_regex(zone), cert=certs[zone][0], key=certs[zone][1], content_type="text/plain",
                          redirect=None, www=f"{self.web.www}/$domain") for zone in zones]
            first = certs[zones[0]]
            self.web.start(sites, {}, default_cert=first, misbehaving_cert=first)
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
