"""The whole rig built from the scenario table: PKI, signed DNS (nsd + unbound) and the policy
web servers. One instance per pytest session; mtastsd instances come and go on top of it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import dns, pki, web

import scenarios as sc


def dns_records(scenario: sc.Scenario) -> list[tuple[str, str, str]]:
    d = scenario.domain
    records = [(f"_mta-sts.{d}", "TXT", dns.txt_rdata(t)) for t in scenario.txt]
    if scenario.txt_cname:
        records.append((f"_mta-sts.{d}", "CNAME", dns.fqdn(scenario.txt_cname)))
    if scenario.mta_sts_host and (scenario.txt or scenario.txt_cname):
        records.append((f"mta-sts.{d}", "A", scenario.server_address))
    for n, (host, receiver) in enumerate(scenario.mx, start=1):
        records += [(d, "MX", f"{10 * n} {dns.fqdn(host)}"), (host, "A", sc.SMTP_RECEIVERS[receiver])]
    records += list(scenario.records)
    return records


class Rig:
    def __init__(self, directory: Path):
        self.dir = directory
        self.scenarios = sc.BY_DOMAIN

    def start(self) -> "Rig":
        now = dt.datetime.now(dt.timezone.utc)
        ca = pki.CertificateAuthority(self.dir / "ca", "mtastsd integration test CA")
        rogue = pki.CertificateAuthority(self.dir / "rogue-ca", "untrusted test CA")
        self.ca, self.rogue_ca = ca, rogue  # also for the receiving SMTP servers (rig/receivers.py)
        self.ca_file = ca.cert

        good_hosts = [f"mta-sts.{s.domain}" for s in sc.SCENARIOS if s.server not in
                      ("nginx-wrong-name", "nginx-untrusted", "nginx-expired")]
        good = ca.issue("policy-hosts", good_hosts)
        special = {
            "nginx-wrong-name": ca.issue("wrong-name", ["mta-sts.someone-else.example"]),
            "nginx-untrusted": rogue.issue("untrusted", [f"mta-sts.{s.domain}" for s in sc.SCENARIOS
                                                         if s.server == "nginx-untrusted"]),
            "nginx-expired": ca.issue("expired", [f"mta-sts.{s.domain}" for s in sc.SCENARIOS
                                                  if s.server == "nginx-expired"],
                                      not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=30)),
        }

        records = [r for s in sc.SCENARIOS for r in dns_records(s)]
        self.dns = dns.Dns(self.dir / "dns", sc.ZONES, records, sc.NSD_ADDRESS, sc.UNBOUND_ADDRESS,
                           unsigned_zones=sc.UNSIGNED_ZONES)
        self.web = web.Web(self.dir / "web", sc.NGINX_ADDRESS, sc.MISBEHAVING_ADDRESS, sc.TCP_BLACKHOLE_ADDRESS,
                           sc.CANARY_ADDRESS, sc.RENEGOTIATING_ADDRESS)
        try:
            self.dns.start()
            sites, misbehaving = [], {}
            for s in sc.SCENARIOS:
                self.web.set_policy(s.domain, s.policy)
                host = f"mta-sts.{s.domain}"
                if s.server in sc.NGINX_BEHAVIOURS:
                    cert, key = special.get(s.server, good)
                    redirect = (f"https://mta-sts.valid.example{web.POLICY_PATH}" if s.server == "nginx-redirect"
                                else None)
                    sites.append(dict(host=host, cert=cert, key=key, content_type=s.content_type, redirect=redirect))
                else:
                    misbehaving[host] = s.server
            self.web.start(sites, misbehaving, default_cert=good, misbehaving_cert=good)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for part in ("web", "dns"):
            if hasattr(self, part):
                getattr(self, part).stop()
