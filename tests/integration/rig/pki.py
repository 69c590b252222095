"""A throwaway PKI made with the openssl command at test time: a trusted test CA (given to
mtastsd as fetch.ca_file), a second CA nobody trusts, and leaf certificates with chosen names
and validity periods (`openssl ca` is used because it can set past dates, for expired certs)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Sequence

from .procs import run

CA_CONFIG = """\
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/issued
serial = {dir}/serial
default_md = sha256
policy = policy_any
copy_extensions = copy
unique_subject = no
[ policy_any ]
commonName = supplied
"""


def _openssl_time(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d%H%M%SZ")


class CertificateAuthority:
    def __init__(self, directory: Path, common_name: str):
        self.dir = directory
        self.dir.mkdir(parents=True)
        (self.dir / "issued").mkdir()
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        self.config = self.dir / "ca.cnf"
        self.config.write_text(CA_CONFIG.format(dir=self.dir))
        self.key = self.dir / "ca.key"
        self.cert = self.dir / "ca.crt"
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", self.key, "-out", self.cert, "-days", "30", "-subj", f"/CN={common_name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def issue(self, name: str, dns_names: Sequence[str], not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None) -> tuple[Path, Path]:
        """A leaf certificate (file stem `name`) for dns_names; returns (cert, key)."""
        now = dt.datetime.now(dt.timezone.utc)
        not_before = not_before or now - dt.timedelta(days=1)
        not_after = not_after or now + dt.timedelta(days=30)
        key = self.dir / f"{name}.key"
        csr = self.dir / f"{name}.csr"
        cert = self.dir / f"{name}.crt"
        san = ",".join(f"DNS:{n}" for n in dns_names)
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={dns_names[0]}",
             "-addext", f"subjectAltName={san}",
             "-addext", "extendedKeyUsage=serverAuth",
             "-addext", "basicConstraints=critical,CA:FALSE"])
        run(["openssl", "ca", "-batch", "-notext", "-config", self.config, "-cert", self.cert, "-keyfile", self.key,
             "-in", csr, "-out", cert, "-startdate", _openssl_time(not_before), "-enddate", _openssl_time(not_after)])
        return cert, key
