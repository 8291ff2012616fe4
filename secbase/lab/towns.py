"""The lab's fake towns: their DNS data with planted problems, and the config that scans them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from secbase.lab.backups import LabBackups
from secbase.lab.dnssec import sign_zone
from secbase.lab.sites import DOGWOOD_TLS_SITES, mail_address, web_address

LAB_NET = 53  # the lab lives on 127.53.x.y; another second octet runs a second lab beside it
RESOLVER = "127.53.0.1"  # the scan's resolver in the default lab: it answers for every lab name
TTL = 300
HOSTS_OCTET = 50  # the towns' declared hosts (port scan targets) live on 127.N.50.x


def host_address(net: int, n: int) -> str:
    """The loopback address of the lab's n-th declared host (the port scan's targets)."""
    return f"127.{net}.{HOSTS_OCTET}.{n}"


@dataclass(frozen=True)
class LabHost:
    """One host a town declares for the port scan: where it is, what answers there, what the town expects.

    `name` None: the town declares the host by its address. `resolvable` False: the name gets no address
    record (its lookup fails), so nothing at the address may be scanned although ports answer there.
    """

    name: str | None
    n: int  # its address is host_address(net, n)
    open_ports: tuple[int, ...]
    expected_ports: tuple[int, ...] = ()
    resolvable: bool = True

    def address(self, net: int) -> str:
        return host_address(net, self.n)

    def declared(self, net: int) -> str:
        """How the config names it: its name, or its address."""
        return self.name or self.address(net)


@dataclass(frozen=True)
class Town:
    """One fake organisation: its config entry and what the lab plants for it."""

    id: str
    name: str
    domains: tuple[str, ...]
    non_mail_domains: tuple[str, ...] = ()
    dkim_selectors: tuple[str, ...] = ()
    websites: tuple[str, ...] = ()
    hosts: tuple[LabHost, ...] = ()  # declared for the port scan (net.service.*)
    planted: tuple[str, ...] = ()  # what is wrong, in words, for the demo and the tests


@dataclass
class LabDns:
    """Everything the lab's DNS server needs."""

    zone_text: str
    addresses: list[str]
    drop: list[str] = field(default_factory=list)
    servfail: list[str] = field(default_factory=list)


TOWNS = (
    Town(
        "alder",
        "Village of Alder",
        ("alder.test",),
        ("old-alder.test",),
        ("s1",),
        websites=("www.alder.test",),
        hosts=(
            LabHost("gw.alder.test", 1, open_ports=(443,), expected_ports=(443,)),
            LabHost(None, 2, open_ports=(22,), expected_ports=(22,)),  # declared by its address
        ),
        planted=(
            "nothing: every email, DNS, web and TLS check passes (TLS 1.2 and 1.3, ECDHE with AEAD only)",
            "gw.alder.test answers on 443 only, and its SSH host (declared by address) on 22 only: both declared",
            "its restic backup: 8 snapshots over 35 days, the newest 2 hours old, checked clean, declared off-site",
        ),
    ),
    Town(
        "birch",
        "Town of Birch",
        ("birch.test", "birch-library.test"),
        (),
        ("s1",),
        websites=("www.birch.test",),
        planted=(
            "SPF ends in ~all and needs 12 lookups",
            "DMARC p=none without reports",
            "DKIM selector s1 missing",
            "no TLS-RPT, no CAA, not signed",
            "name servers in one /24",
            "an MX host without an address",
            "birch-library.test: two SPF records and no DMARC",
            "birch-library.test's MX mx2 shows a certificate for another name, mx3 one without its intermediate",
            "MTA-STS policy lists none of the MX hosts",
            "its MX offers no STARTTLS",
            "www.birch.test: no redirect to HTTPS, HSTS for a day, headers missing, a cookie without Secure, Apache and WordPress versions shown, no security.txt",
            "www.birch.test: TLS 1.0 and 1.1 accepted, CBC suites, the certificate expires in 10 days",
            "its borg backup is not encrypted and its newest archive is 3 days old (2 archives)",
            "its borgmatic file keeps 3 daily archives and names only a local repository: nothing off-site",
        ),
    ),
    Town(
        "cedar",
        "City of Cedar",
        ("cedar.test",),
        ("old-cedar.test",),
        ("s1", "s2", "s3"),
        websites=("cedar.test", "www.cedar.test"),
        planted=(
            "SPF split into two strings that join badly",
            "DMARC does not start with v=DMARC1",
            "DKIM s1 revoked, s2 RSA-1024, s3 in test mode",
            "DNSSEC signatures expired",
            "one of two name servers dead",
            "TLS-RPT without rua",
            "MTA-STS in testing mode",
            "its first MX hangs up after EHLO",
            "mail2.cedar.test (MX 20): TLS 1.0 and 1.1 accepted, CBC suites, an expired certificate",
            "mail3.cedar.test (MX 30): no TLS 1.3, a NULL suite accepted, an RSA-1024 key",
            "old-cedar.test sends no mail but says nothing of it",
            "cedar.test: no HTTPS, and HTTP goes to www.cedar.test before HTTPS",
            "www.cedar.test: CSP allows inline scripts, PHP version shown, security.txt expired",
            "www.cedar.test: no TLS 1.3, a NULL suite accepted",
            "its database dumps: the newest is 10 hours old but 2 kB where the one before was 48 kB; nothing off-site",
        ),
    ),
    Town(
        "dogwood",
        "Dogwood Township",
        ("dogwood.county.test",),
        (),
        (),
        websites=(
            "www.dogwood.county.test",
            *(f"{site}.dogwood.county.test" for site in DOGWOOD_TLS_SITES),
        ),
        hosts=(
            LabHost(
                "townhall.dogwood.county.test",
                10,
                open_ports=(23, 443, 445, 993, 3389, 5432),
                expected_ports=(443, 3389),
            ),
            LabHost(None, 11, open_ports=(22, 8443), expected_ports=(8443,)),  # declared by its address
        ),
        planted=(
            "no MX",
            "SPF ends in ?all with 4 void lookups and an include with no SPF",
            "DMARC inherited from county.test: sp=quarantine at pct=50, reports to an unauthorised domain",
            "www.dogwood.county.test: a self-signed certificate",
            "permits.dogwood.county.test: a certificate for another name",
            "pay.dogwood.county.test: an expired certificate",
            "library.dogwood.county.test: the intermediate certificate is not sent",
            "maps.dogwood.county.test: a certificate signed with SHA-1",
            "parks.dogwood.county.test: an RSA-1024 key",
            "forms.dogwood.county.test: no TLS 1.3, suites without forward secrecy and CBC beside the good one",
            "archive.dogwood.county.test: only TLS 1.0 and 1.1, CBC suites",
            "townhall.dogwood.county.test: Telnet 23, SMB 445, RDP 3389 and PostgreSQL 5432 answer;"
            " RDP is listed in expected_ports, which does not excuse a critical service",
            "townhall.dogwood.county.test: IMAPS 993 answers but is not listed (443, listed, answers too)",
            "its admin host (declared by address): SSH 22 answers, not listed;"
            " an admin panel on 8443, listed, which does not excuse it",
            "its restic repository has a damaged data pack (restic check fails);"
            " the newest snapshot is 22 hours old, close to its 26-hour limit; nothing off-site",
        ),
    ),
    Town(
        "elm",
        "Elm Falls",
        ("elm.test",),
        (),
        ("s1",),
        websites=("www.elm.test",),
        hosts=(
            # RDP answers at its address, but the name never resolves: the scan must not find it.
            LabHost("gw.elm.test", 30, open_ports=(443, 3389), expected_ports=(443,), resolvable=False),
        ),
        planted=(
            "its DNS answers SERVFAIL and _dmarc times out: every check says it could not check",
            "gw.elm.test does not resolve (SERVFAIL): its ports cannot be checked",
            "its restic repository and its resticprofile file do not exist: no backup check can say anything",
        ),
    ),
)

DROP = ["_dmarc.elm.test", "www.elm.test"]
SERVFAIL = [
    "elm.test",
    "_smtp._tls.elm.test",
    "s1._domainkey.elm.test",
    "_mta-sts.elm.test",
    *(h.name for t in TOWNS for h in t.hosts if h.name and not h.resolvable),
]


def _txt(value: str) -> str:
    """A TXT record's data: strings of at most 255 bytes (RFC 1035 3.3.14), quoted."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def _dkim_key(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def _zone(origin: str, ns: list[tuple[str, str]], body: list[str]) -> str:
    lines = [f"{origin}. {TTL} IN SOA {ns[0][0]}. hostmaster.{origin}. 2026112501 3600 600 86400 300"]
    lines += [f"{origin}. {TTL} IN NS {host}." for host, _ in ns]
    lines += [f"{host}. {TTL} IN A {ip}" for host, ip in ns if host.endswith("." + origin)]
    lines += body
    return "\n".join(lines) + "\n"


def _host_records(town_id: str, net: int) -> list[str]:
    """The A records of a town's declared hosts that have a name and resolve."""
    town = next(t for t in TOWNS if t.id == town_id)
    return [f"{h.name}. {TTL} IN A {h.address(net)}" for h in town.hosts if h.name and h.resolvable]


def port_endpoints(*, net: int = LAB_NET) -> list[tuple[str, int]]:
    """(address, port) of every port the towns' hosts leave open: the lab listens on each."""
    return [(h.address(net), p) for t in TOWNS for h in t.hosts for p in h.open_ports]


def build_dns(now: datetime, *, net: int = LAB_NET) -> LabDns:
    """Make the towns' zones (DKIM keys and DNSSEC signatures are made fresh, valid around `now`)."""
    key2048, key1024 = _dkim_key(2048), _dkim_key(1024)
    ns_alder = [("ns1.alder.test", f"127.{net}.1.1"), ("ns2.alder.test", f"127.{net}.2.1")]
    ns_birch = [("ns1.birch.test", f"127.{net}.3.1"), ("ns2.birch.test", f"127.{net}.3.2")]
    ns_cedar = [
        ("ns1.cedar.test", f"127.{net}.4.1"),
        ("ns2.cedar.test", f"127.{net}.4.99"),
    ]  # .99: nothing listens
    ns_county = [("ns1.county.test", f"127.{net}.5.1"), ("ns2.county.test", f"127.{net}.6.1")]
    ns_elm = [("ns1.elm-dns.test", f"127.{net}.7.1"), ("ns2.elm-dns.test", f"127.{net}.8.1")]

    alder = _zone(
        "alder.test",
        ns_alder,
        [
            f"alder.test. {TTL} IN MX 10 mail.alder.test.",
            f"mail.alder.test. {TTL} IN A {mail_address(net, 1)}",
            f"www.alder.test. {TTL} IN A {web_address(net, 1)}",
            f"mta-sts.alder.test. {TTL} IN A {web_address(net, 7)}",
            f"_mta-sts.alder.test. {TTL} IN TXT " + _txt("v=STSv1; id=20261125T000000;"),
            f"alder.test. {TTL} IN TXT " + _txt("v=spf1 mx ip4:192.0.2.0/24 -all"),
            f"alder.test. {TTL} IN TXT " + _txt("google-site-verification=lab"),
            f"_dmarc.alder.test. {TTL} IN TXT "
            + _txt("v=DMARC1; p=reject; rua=mailto:dmarc@alder.test,mailto:agg@reports.vendor.test"),
            f"s1._domainkey.alder.test. {TTL} IN TXT " + _txt(f"v=DKIM1; k=rsa; p={key2048}"),
            f"_smtp._tls.alder.test. {TTL} IN TXT " + _txt("v=TLSRPTv1; rua=mailto:tls-reports@alder.test"),
            f'alder.test. {TTL} IN CAA 0 issue "letsencrypt.org"',
            *_host_records("alder", net),
        ],
    )
    old_alder = _zone(
        "old-alder.test",
        ns_alder,
        [
            f"old-alder.test. {TTL} IN MX 0 .",
            f"old-alder.test. {TTL} IN TXT " + _txt("v=spf1 -all"),
            f"_dmarc.old-alder.test. {TTL} IN TXT " + _txt("v=DMARC1; p=reject; rua=mailto:dmarc@alder.test"),
            f'old-alder.test. {TTL} IN CAA 0 issue ";"',
        ],
    )
    spf_includes = []
    for i in range(1, 4):  # 3 includes x (1 + a + mx + include) plus the root's own: 12 lookups
        spf_includes += [
            f"_spf{i}.birch.test. {TTL} IN TXT " + _txt(f"v=spf1 a mx include:_spf{i}b.birch.test ~all"),
            f"_spf{i}b.birch.test. {TTL} IN TXT " + _txt(f"v=spf1 ip4:198.51.100.{i} ~all"),
        ]
    birch = _zone(
        "birch.test",
        ns_birch,
        [
            f"birch.test. {TTL} IN MX 10 mail.birch.test.",
            f"birch.test. {TTL} IN MX 20 backup-mx.birch.test.",
            f"birch.test. {TTL} IN A 127.0.3.20",
            f"www.birch.test. {TTL} IN A {web_address(net, 2)}",
            f"mta-sts.birch.test. {TTL} IN A {web_address(net, 8)}",
            f"_mta-sts.birch.test. {TTL} IN TXT " + _txt("v=STSv1; id=2026a;"),
            f"mail.birch.test. {TTL} IN A {mail_address(net, 2)}",
            "birch.test. 300 IN TXT "
            + _txt("v=spf1 include:_spf1.birch.test include:_spf2.birch.test include:_spf3.birch.test ~all"),
            *spf_includes,
            f"_dmarc.birch.test. {TTL} IN TXT " + _txt("v=DMARC1; p=none"),
        ],
    )
    birch_library = _zone(
        "birch-library.test",
        ns_birch,
        [
            f"birch-library.test. {TTL} IN MX 10 mail.birch.test.",
            f"birch-library.test. {TTL} IN MX 20 mx2.birch-library.test.",
            f"birch-library.test. {TTL} IN MX 30 mx3.birch-library.test.",
            f"mx2.birch-library.test. {TTL} IN A {mail_address(net, 6)}",
            f"mx3.birch-library.test. {TTL} IN A {mail_address(net, 7)}",
            f"birch-library.test. {TTL} IN TXT " + _txt("v=spf1 include:_spf1.birch.test -all"),
            f"birch-library.test. {TTL} IN TXT " + _txt("v=spf1 mx -all"),
        ],
    )
    cedar = _zone(
        "cedar.test",
        ns_cedar,
        [
            f"cedar.test. {TTL} IN MX 10 mail.cedar.test.",
            f"cedar.test. {TTL} IN MX 20 mail2.cedar.test.",
            f"cedar.test. {TTL} IN MX 30 mail3.cedar.test.",
            f"mail.cedar.test. {TTL} IN A {mail_address(net, 3)}",
            f"mail2.cedar.test. {TTL} IN A {mail_address(net, 4)}",
            f"mail3.cedar.test. {TTL} IN A {mail_address(net, 5)}",
            f"cedar.test. {TTL} IN A {web_address(net, 6)}",
            f"www.cedar.test. {TTL} IN A {web_address(net, 3)}",
            f"mta-sts.cedar.test. {TTL} IN A {web_address(net, 9)}",
            f"_mta-sts.cedar.test. {TTL} IN TXT " + _txt("v=STSv1; id=1;"),
            # The provider split the record at a space and dropped it: joined, it reads "...10-all".
            f'cedar.test. {TTL} IN TXT "v=spf1 ip4:192.0.2.10" "-all"',
            f"_dmarc.cedar.test. {TTL} IN TXT " + _txt("p=reject; v=DMARC1; rua=mailto:dmarc@cedar.test"),
            f"s1._domainkey.cedar.test. {TTL} IN TXT " + _txt("v=DKIM1; k=rsa; p="),
            f"s2._domainkey.cedar.test. {TTL} IN TXT " + _txt(f"v=DKIM1; k=rsa; p={key1024}"),
            f"s3._domainkey.cedar.test. {TTL} IN TXT " + _txt(f"v=DKIM1; k=rsa; t=y; p={key2048}"),
            f"_smtp._tls.cedar.test. {TTL} IN TXT " + _txt("v=TLSRPTv1;"),
            f'cedar.test. {TTL} IN CAA 0 issue "letsencrypt.org"',
        ],
    )
    old_cedar = _zone(
        "old-cedar.test",
        ns_cedar,
        [
            f"old-cedar.test. {TTL} IN A 127.0.3.30",
        ],
    )
    county = _zone(
        "county.test",
        ns_county,
        [
            f'county.test. {TTL} IN CAA 0 issue "pki.county.test"',
            f"_dmarc.county.test. {TTL} IN TXT "
            + _txt("v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:d@reports.vendor.test"),
            f"dogwood.county.test. {TTL} IN TXT "
            + _txt(
                "v=spf1 a:gone1.dogwood.county.test a:gone2.dogwood.county.test mx:gone3.dogwood.county.test "
                "include:missing.county.test ?all"
            ),
            f"dogwood.county.test. {TTL} IN A 127.0.3.40",
            f"www.dogwood.county.test. {TTL} IN A {web_address(net, 4)}",
            *(
                f"{site}.dogwood.county.test. {TTL} IN A {web_address(net, n)}"
                for site, n in DOGWOOD_TLS_SITES.items()
            ),
            f"_smtp._tls.dogwood.county.test. {TTL} IN TXT " + _txt("v=TLSRPTv1; rua=mailto:tls@county.test"),
            *_host_records("dogwood", net),
        ],
    )
    elm = _zone(
        "elm.test",
        ns_elm,
        [
            f"ns1.elm-dns.test. {TTL} IN A 127.{net}.7.1",
            f"ns2.elm-dns.test. {TTL} IN A 127.{net}.8.1",
        ],
    )
    vendor = [
        # reports.vendor.test agreed to receive alder's reports (RFC 7489 7.1), not county's.
        f"alder.test._report._dmarc.reports.vendor.test. {TTL} IN TXT " + _txt("v=DMARC1"),
        # Alder agreed to receive the reports of its own parked domain.
        f"old-alder.test._report._dmarc.alder.test. {TTL} IN TXT " + _txt("v=DMARC1"),
    ]
    signed_alder = sign_zone("alder.test", alder, now=now)
    signed_old_alder = sign_zone("old-alder.test", old_alder, now=now)
    signed_cedar = sign_zone("cedar.test", cedar, now=now, broken="expired")
    # One server holds the parent and every child, so the DS records (parent side) sit beside the
    # children's own records, as a resolver would return them.
    parent = _zone(
        "test", [("ns.test", f"127.{net}.0.1")], [signed_alder.ds, signed_old_alder.ds, signed_cedar.ds]
    )
    text = "".join(
        [
            parent,
            signed_alder.text,
            signed_old_alder.text,
            birch,
            birch_library,
            signed_cedar.text,
            old_cedar,
            county,
            elm,
            "\n".join(vendor) + "\n",
        ]
    )
    addresses = sorted(
        {f"127.{net}.0.1"}
        | {ip for ns in (ns_alder, ns_birch, ns_county, ns_elm) for _, ip in ns}
        | {f"127.{net}.4.1"}
    )
    return LabDns(text, addresses, drop=list(DROP), servfail=list(SERVFAIL))


def config_yaml(*, timeout_s: float = 2.0, net: int = LAB_NET, backups: LabBackups | None = None) -> str:
    """The config that scans every lab town, commented like the examples.

    `backups`: the lab's planted repositories (secbase/lab/backups.py); without it no town declares any.
    """
    sources = backups.sources() if backups is not None else {}
    lines = [
        "# Written by the secbase lab: fake towns on loopback, each with planted problems.",
        "version: 1",
        "scan:",
        f'  resolvers: ["127.{net}.0.1"]',
        f"  timeout: {timeout_s}",
        "  ca_file: pki/lab-root-ca.pem   # the lab's own certificate authority",
        "organisations:",
    ]
    for town in TOWNS:
        lines += [
            f"  - id: {town.id}",
            f"    name: {town.name}",
            f"    contacts: [it@{town.domains[0]}]",
            f"    domains: [{', '.join(town.domains)}]",
        ]
        if town.non_mail_domains:
            lines.append(f"    non_mail_domains: [{', '.join(town.non_mail_domains)}]")
        if town.dkim_selectors:
            lines.append(f"    dkim_selectors: [{', '.join(town.dkim_selectors)}]")
        if town.websites:
            lines.append(f"    websites: [{', '.join(town.websites)}]")
        if town.hosts:
            lines.append(f"    hosts: [{', '.join(h.declared(net) for h in town.hosts)}]")
            expected = [h for h in town.hosts if h.expected_ports]
            if expected:
                lines.append("    expected_ports:   # open on purpose: silences net.service.unexpected")
                lines += [
                    f'      "{h.declared(net)}": [{", ".join(map(str, h.expected_ports))}]' for h in expected
                ]
        if sources.get(town.id):
            lines.append("    backups:")
            for source in sources[town.id]:
                items = [f"{key}: {json.dumps(value)}" for key, value in source.items()]
                lines.append(f"      - {items[0]}")
                lines += [f"        {item}" for item in items[1:]]
        lines += [f"    # planted: {p}" for p in town.planted]
    return "\n".join(lines) + "\n"
