"""DNS for the rig: nsd serves DNSSEC-signed test zones (the root "." and a few delegated child
zones), keys made with ldns-keygen and zones signed with ldns-signzone at test time, and
optionally unsigned child zones, delegated without a DS record (insecure delegations); unbound is
the validating recursive resolver (trust anchor: the test root's DS), with a stub zone for "."
pointing at nsd. Both run as direct children in the foreground and are controlled through unix
control sockets (no certificates needed).

Tests change records with set_records(); the zone is re-signed, nsd reloads it (confirmed by
polling the SOA serial nsd serves) and unbound's cache is flushed before set_records returns.
libunbound inside mtastsd keeps its own cache: records default to TTL 1 s for that reason."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .procs import Daemon, run, udp_dns_answers, wait_until

ROOT_NS = "ns.root-servers.example."
RECORD_TTL = 1
INFRA_TTL = 3600

NSD_CONF = """\
server:
  ip-address: {address}
  port: 53
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "{dir}"
  database: ""
  zonelistfile: "{dir}/zone.list"
  xfrdfile: "{dir}/xfrd.state"
  xfrdir: "{dir}"
  pidfile: "{dir}/nsd.pid"
  logfile: "{dir}/nsd.log"
  server-count: 1
  reuseport: no
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: yes
  control-interface: "{dir}/nsd.ctl"
"""

UNBOUND_CONF = """\
server:
  interface: {address}
  port: 53
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: "{dir}/unbound.pid"
  use-syslog: no
  logfile: "{dir}/unbound.log"
  log-queries: yes
  log-servfail: yes
  val-log-level: 2
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  qname-minimisation: no
  module-config: "validator iterator"
  trust-anchor-file: "{anchor}"
  val-permissive-mode: no
remote-control:
  control-enable: yes
  control-interface: "{dir}/unbound.ctl"
  control-use-cert: no
stub-zone:
  name: "."
  stub-addr: {nsd_address}
"""


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def txt_rdata(record) -> str:
    """Zone-file rdata for a TXT record given as a str or a tuple of character-strings."""
    strings = (record,) if isinstance(record, str) else tuple(record)
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


@dataclass
class Zone:
    name: str           # "." or "child.example."
    negative_ttl: int   # SOA TTL and MINIMUM
    dir: Path
    serial: int = 1
    ksk: str = ""
    zsk: str = ""
    signed_zone: bool = True  # False: served unsigned, no DS in the parent (an insecure delegation)

    @property
    def stem(self) -> str:
        return "root" if self.name == "." else self.name.rstrip(".")

    @property
    def unsigned(self) -> Path:
        return self.dir / f"{self.stem}.zone"

    @property
    def signed(self) -> Path:
        return self.dir / f"{self.stem}.zone.signed"

    @property
    def served(self) -> Path:
        return self.signed if self.signed_zone else self.unsigned

    def make_keys(self) -> None:
        self.ksk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", self.name], cwd=self.dir).stdout.strip()
        self.zsk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", self.name], cwd=self.dir).stdout.strip()

    def ds_record(self) -> str:
        # ldns-keygen -k writes the KSK's DS beside it; as a trust anchor or a parent-side record.
        return (self.dir / f"{self.ksk}.ds").read_text().strip()


class Dns:
    """Zones built from (owner, type, rdata) records; nsd + unbound serving them."""

    def __init__(self, directory: Path, zones: dict[str, int], records: Iterable[tuple[str, str, str]],
                 nsd_address: str, unbound_address: str, unsigned_zones: Iterable[str] = ()):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.nsd_address = nsd_address
        self.unbound_address = unbound_address
        assert next(iter(zones)) == ".", "the root zone comes first"
        unsigned = set(unsigned_zones)
        assert "." not in unsigned and unsigned <= set(zones), "unsigned zones are child zones of ZONES"
        self.zones = {name: Zone(name, ttl, self.dir, signed_zone=name not in unsigned)
                      for name, ttl in zones.items()}
        self.records: dict[tuple[str, str], list[str]] = {}
        for owner, rtype, rdata in records:
            self.records.setdefault((fqdn(owner).lower(), rtype.upper()), []).append(rdata)
        self.anchor_file = self.dir / "root.anchor"
        self.nsd: Optional[Daemon] = None
        self.unbound: Optional[Daemon] = None

    # ---- zone data ----
    def zone_of(self, owner: str) -> Zone:
        owner = fqdn(owner).lower()
        best = self.zones["."]
        for zone in self.zones.values():
            if zone.name != "." and (owner == zone.name or owner.endswith("." + zone.name)):
                if len(zone.name) > len(best.name):
                    best = zone
        return best

    def _zone_text(self, zone: Zone) -> str:
        lines = [
            f"{zone.name} {zone.negative_ttl} IN SOA {ROOT_NS} hostmaster.example. {zone.serial} 3600 600 86400 "
            f"{zone.negative_ttl}",
            f"{zone.name} {INFRA_TTL} IN NS {ROOT_NS}",
        ]
        if zone.name == ".":
            lines.append(f"{ROOT_NS} {INFRA_TTL} IN A {self.nsd_address}")
            for child in self.zones.values():
                if child.name != ".":
                    lines.append(f"{child.name} {INFRA_TTL} IN NS {ROOT_NS}")
                    if child.signed_zone:
                        ds = child.ds_record().split()
                        lines.append(f"{child.name} {INFRA_TTL} IN DS {' '.join(ds[3:])}")
        for (owner, rtype), rdatas in sorted(self.records.items()):
            if self.zone_of(owner) is zone:
                lines += [f"{owner} {RECORD_TTL} IN {rtype} {rdata}" for rdata in rdatas]
        return "\n".join(lines) + "\n"

    def _sign(self, zone: Zone) -> None:
        """Write the zone file nsd serves: signed, or as it is for an unsigned zone."""
        zone.unsigned.write_text(self._zone_text(zone))
        if not zone.signed_zone:
            return
        now = dt.datetime.now(dt.timezone.utc)
        tmp = zone.signed.with_suffix(".tmp")
        run(["ldns-signzone", "-i", (now - dt.timedelta(days=1)).strftime("%Y%m%d"),
             "-e", (now + dt.timedelta(days=30)).strftime("%Y%m%d"),
             "-f", tmp, zone.unsigned, zone.ksk, zone.zsk], cwd=self.dir)
        tmp.replace(zone.signed)

    # ---- servers ----
    def start(self) -> None:
        children = [z for z in self.zones.values() if z.name != "."]
        for zone in children + [self.zones["."]]:  # children first: the root carries their DS
            if zone.signed_zone:
                zone.make_keys()
            self._sign(zone)
        self.anchor_file.write_text(self.zones["."].ds_record() + "\n")

        nsd_conf = NSD_CONF.format(address=self.nsd_address, dir=self.dir)
        for zone in self.zones.values():
            nsd_conf += f'zone:\n  name: "{zone.name}"\n  zonefile: "{zone.served}"\n'
        self.nsd_conf = self.dir / "nsd.conf"
        self.nsd_conf.write_text(nsd_conf)
        self.nsd = Daemon("nsd", ["nsd", "-d", "-c", str(self.nsd_conf)], self.dir / "nsd.stderr").start()
        self.nsd.wait_ready(lambda: udp_dns_answers(self.nsd_address))

        self.unbound_conf = self.dir / "unbound.conf"
        self.unbound = self.start_resolver(self.unbound_address, self.dir)

    def start_resolver(self, address: str, directory: Path) -> Daemon:
        """A validating unbound like the rig's (same trust anchor, same stub zone) on `address`, its
        files in `directory`: the rig's own, or one a test may stop or freeze (test_faults.py)
        without touching the resolver every other test uses. The caller stops it (by PID)."""
        conf = directory / "unbound.conf"
        conf.write_text(UNBOUND_CONF.format(address=address, dir=directory, anchor=self.anchor_file,
                                            nsd_address=self.nsd_address))
        resolver = Daemon("unbound", ["unbound", "-d", "-c", str(conf)], directory / "unbound.stderr").start()
        resolver.wait_ready(lambda: udp_dns_answers(address))
        return resolver

    def stop(self) -> None:
        for d in (self.unbound, self.nsd):
            if d is not None:
                d.stop()

    # ---- changes made by tests ----
    def set_records(self, owner: str, rtype: str, rdatas: list[str]) -> None:
        """Replace the RRset (owner, rtype) ([] deletes it), re-sign, reload nsd, flush unbound."""
        key = (fqdn(owner).lower(), rtype.upper())
        if rdatas:
            self.records[key] = list(rdatas)
        else:
            self.records.pop(key, None)
        zone = self.zone_of(owner)
        zone.serial += 1
        self._sign(zone)
        run(["nsd-control", "-c", str(self.nsd_conf), "reload", zone.name])
        wait_until(lambda: self.served_serial(zone.name) == zone.serial, 10, f"nsd to serve serial {zone.serial}")
        self.flush_resolver()

    def set_txt(self, owner: str, records: list) -> None:
        self.set_records(owner, "TXT", [txt_rdata(r) for r in records])

    def flush_resolver(self) -> None:
        run(["unbound-control", "-c", str(self.unbound_conf), "flush_zone", "."])
        run(["unbound-control", "-c", str(self.unbound_conf), "flush_bogus"])

    def served_serial(self, zone: str) -> int:
        soa = dig(self.nsd_address, zone, "SOA", dnssec=False).records("SOA")
        return int(soa[0][6]) if soa else -1

    def unbound_query_count(self, name: str, rtype: str) -> int:
        """How many queries for (name, rtype) unbound has received (log-queries lines)."""
        pattern = re.compile(rf"info: \S+ {re.escape(fqdn(name))} {rtype} IN$", re.IGNORECASE | re.MULTILINE)
        return len(pattern.findall((self.dir / "unbound.log").read_text(errors="replace")))


@dataclass
class DigResult:
    status: str
    flags: set
    answer: list        # answer-section records, one line each
    authority: list     # authority-section records
    text: str

    def records(self, rtype: str, section: str = "answer") -> list[list[str]]:
        """Records of one type as field lists: [owner, ttl, class, type, rdata...]."""
        return [rr.split() for rr in getattr(self, section) if rr.split()[3] == rtype]


def dig(server: str, name: str, rtype: str, dnssec: bool = True) -> DigResult:
    argv = ["dig", f"@{server}", name, rtype, "+time=3", "+tries=1", "+nocookie"]
    if dnssec:
        argv.append("+dnssec")
    out = run(argv, timeout=10).stdout
    status = re.search(r"status: (\S+),", out)
    flags = re.search(r";; flags: ([^;]*);", out)
    sections: dict[str, list] = {"ANSWER": [], "AUTHORITY": []}
    current = None
    for line in out.splitlines():
        header = re.match(r";; (\w+) SECTION:", line)
        if header:
            current = sections.get(header.group(1))
        elif not line.strip() or line.startswith(";"):
            current = None if not line.strip() else current
        elif current is not None:
            current.append(line)
    return DigResult(status.group(1) if status else "", set(flags.group(1).split()) if flags else set(),
                     sections["ANSWER"], sections["AUTHORITY"], out)
