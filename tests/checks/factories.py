"""Small factories for check tests: DNS facts as the probe writes them, a target, and a runner.

Checks are pure: they read facts and nothing else. A test builds every fact the check asks for with
these factories and runs the check through `run`, which fails the test, naming the keys, when the check
asks for a fact the test did not give.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeAlias

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.zone
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from secbase import (
    Check,
    DnsAnswer,
    DnsOutcome,
    FactKey,
    Facts,
    NeedFacts,
    Result,
    Target,
    TargetKind,
    dns_at_key,
    dns_key,
    normalise_name,
)
from secbase.facts import (
    PROTOCOLS,
    BackupAnswer,
    BackupConfigAnswer,
    BackupConfigOutcome,
    BackupOutcome,
    BackupPlan,
    BackupRepository,
    BackupRetention,
    BackupSnapshot,
    RestoreAnswer,
    RestoreTest,
    TlsAnswer,
    TlsCertificate,
    TlsOutcome,
    TlsProtocol,
    TlsSuite,
    backup_config_key,
    backup_key,
    restore_key,
    tls_key,
)
from secbase.lab.dnssec import sign_zone
from secbase.model import BackupSpec

Pair: TypeAlias = tuple[FactKey, DnsAnswer]
Record: TypeAlias = str | tuple[str, ...]  # a TXT record: one string, or the strings it is split into
FactsArg: TypeAlias = Pair | Iterable[Pair]

RESOLVER = "192.0.2.1:53"  # the scan's resolver, as the probe names it in DnsAnswer.server
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # the scan's clock, unless a test gives another
TXT_CHUNK = 255  # RFC 1035 3.3: one character-string holds at most 255 bytes


# --- targets ----------------------------------------------------------------------------------------


def domain(
    name: str = "alder.test", *, org: str = "alder", sends_mail: bool = True, selectors: Iterable[str] = ()
) -> Target:
    """A domain target of organisation `org`."""
    return Target(org, TargetKind.DOMAIN, name, sends_mail=sends_mail, dkim_selectors=tuple(selectors))


# --- DNS facts --------------------------------------------------------------------------------------


def txt_rdata(record: Record) -> str:
    """One TXT record in presentation format: each string quoted, strings over 255 bytes split.

    A plain string is one logical record, cut into 255-byte chunks as a DNS host would; a tuple gives
    the strings exactly as the record splits them (each still cut at 255 bytes).
    """
    strings = (record,) if isinstance(record, str) else record
    chunks: list[bytes] = []
    for text in strings:
        raw = text.encode("utf-8")
        chunks += [raw[i : i + TXT_CHUNK] for i in range(0, len(raw), TXT_CHUNK)] or [b""]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks).to_text()


def txt(name: str, *records: Record, outcome: DnsOutcome = DnsOutcome.OK, ttl: int = 300) -> Pair:
    """The TXT answer at `name`; no records with outcome OK is an empty answer."""
    key, fact = answer(name, "TXT", *(txt_rdata(r) for r in records), outcome=outcome, ttl=ttl)
    joined = ["".join((r,) if isinstance(r, str) else r) for r in records]
    assert fact.texts() == joined, f"TXT factory does not round-trip: {fact.texts()} != {joined}"
    return key, fact


def answer(
    name: str,
    rdtype: str,
    *records: str,
    outcome: DnsOutcome | None = None,
    authoritative: bool = True,
    rrsigs: Iterable[str] = (),
    ttl: int = 3600,
) -> Pair:
    """An answer through the resolvers; records in presentation format ("10 mx.alder.test.").

    The outcome is OK when records are given and NODATA otherwise, unless stated.
    """
    if outcome is None:
        outcome = DnsOutcome.OK if records else DnsOutcome.NODATA
    fact = DnsAnswer(
        normalise_name(name),
        rdtype.upper(),
        outcome,
        records=tuple(records),
        rrsigs=tuple(rrsigs),
        ttl=ttl,
        reason=_reason(outcome, name, RESOLVER),
        server=RESOLVER,
        authoritative=authoritative,
    )
    return dns_key(name, rdtype), fact


def answer_at(
    server: str,
    name: str,
    rdtype: str,
    *records: str,
    outcome: DnsOutcome | None = None,
    authoritative: bool = True,
) -> Pair:
    """An answer from one name server asked directly (dns_at), e.g. its SOA for the zone."""
    if outcome is None:
        outcome = DnsOutcome.OK if records else DnsOutcome.NODATA
    where = f"{server}:53"
    fact = DnsAnswer(
        normalise_name(name),
        rdtype.upper(),
        outcome,
        records=tuple(records),
        reason=_reason(outcome, name, where),
        server=where,
        authoritative=authoritative,
    )
    return dns_at_key(server, name, rdtype), fact


def failed(name: str, rdtype: str, outcome: DnsOutcome = DnsOutcome.TIMEOUT) -> Pair:
    """A lookup that could not be done (time-out, SERVFAIL...), with the probe's kind of reason."""
    assert outcome not in (DnsOutcome.OK, DnsOutcome.NXDOMAIN, DnsOutcome.NODATA), "use answer/nx/nodata"
    return answer(name, rdtype, outcome=outcome, authoritative=False)


def failed_at(server: str, name: str, rdtype: str, outcome: DnsOutcome = DnsOutcome.TIMEOUT) -> Pair:
    assert outcome not in (DnsOutcome.OK, DnsOutcome.NXDOMAIN, DnsOutcome.NODATA), "use answer_at"
    return answer_at(server, name, rdtype, outcome=outcome, authoritative=False)


def nx(name: str, rdtype: str) -> Pair:
    """The name does not exist."""
    return answer(name, rdtype, outcome=DnsOutcome.NXDOMAIN)


def nodata(name: str, rdtype: str) -> Pair:
    """The name exists, without records of that type."""
    return answer(name, rdtype, outcome=DnsOutcome.NODATA)


def host(name: str, *ips: str) -> list[Pair]:
    """The A and AAAA answers of a host name; no addresses of a family is NODATA, none at all NXDOMAIN."""
    v4 = [ip for ip in ips if ":" not in ip]
    v6 = [ip for ip in ips if ":" in ip]
    if not ips:
        return [nx(name, "A"), nx(name, "AAAA")]
    return [answer(name, "A", *v4), answer(name, "AAAA", *v6)]


def _reason(outcome: DnsOutcome, name: str, where: str) -> str:
    name = normalise_name(name)
    return {
        DnsOutcome.TIMEOUT: f"the DNS server {where} did not answer about {name} within 5 s",
        DnsOutcome.SERVFAIL: f"the DNS server {where} answered SERVFAIL (server failure) about {name}",
        DnsOutcome.REFUSED: f"the DNS server {where} refused to answer about {name}",
        DnsOutcome.ERROR: f"the DNS question about {name} to {where} failed: OSError: network unreachable",
    }.get(outcome, "")


# --- running a check --------------------------------------------------------------------------------


def _pairs(items: Iterable[Any]) -> Iterable[Pair]:
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], FactKey):
            yield item
        else:
            yield from _pairs(item)


def make_facts(*facts: FactsArg, now: datetime | None = None) -> Facts:
    known: dict[FactKey, Any] = {}
    for key, fact in _pairs(facts):
        if key in known and known[key] != fact:
            pytest.fail(f"the test gives two different facts for {key}")
        known[key] = fact
    return Facts(known, now=now or NOW)


def run(
    check: Check,
    target: Target,
    *facts: FactsArg,
    now: datetime | None = None,
    limits: Mapping[str, Any] | None = None,
) -> list[Result]:
    """Run `check` on `target` from the given facts (pairs or lists of pairs), with the defaults merged.

    A check asking for a fact the test did not supply fails the test: every fact must be given.
    """
    known = make_facts(*facts, now=now)
    try:
        results = check(target, known, limits)
    except NeedFacts as need:
        pytest.fail(f"{check.id} asked for facts the test did not give: {', '.join(map(str, need.keys))}")
    for result in results:
        assert result.check == check.id and result.target == target.name
        assert result.organisation == target.organisation
    return results


def run_one(check: Check, target: Target, *facts: FactsArg, **kw: Any) -> Result:
    """Run a check that gives one result on this target, and return that result."""
    results = run(check, target, *facts, **kw)
    assert len(results) == 1, f"expected one result, got {results}"
    return results[0]


# --- DKIM keys --------------------------------------------------------------------------------------

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@cache
def rsa_public_key(bits: int) -> str:
    """A base64 SubjectPublicKeyInfo of an RSA key of `bits` bits, as DKIM's p= carries it.

    cryptography refuses to generate keys under 1024 bits, so shorter ones are built from a random odd
    modulus of exactly that size: a public key only, which is all a DKIM record holds and all the check
    measures.
    """
    if bits >= 1024:
        public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    else:
        modulus = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        public = rsa.RSAPublicNumbers(65537, modulus).public_key()
    assert public.key_size == bits
    return base64.b64encode(public.public_bytes(*SPKI)).decode("ascii")


@cache
def ed25519_public_key() -> str:
    """A raw 32-byte ed25519 public key in base64 (RFC 8463 4.2)."""
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


# --- signed zones -----------------------------------------------------------------------------------

ZONE_TEXT = """\
$TTL 3600
@    IN SOA ns1 hostmaster 2025060101 7200 3600 1209600 3600
@    IN NS  ns1
@    IN NS  ns2
ns1  IN A   192.0.2.53
ns2  IN A   198.51.100.53
@    IN A   192.0.2.80
"""


@dataclass(frozen=True)
class SignedZone:
    """A zone signed in the test, as the facts a scan gathers about it through the resolvers."""

    apex: str
    ns: DnsAnswer
    ds: DnsAnswer  # at the parent
    dnskey: DnsAnswer
    soa: DnsAnswer

    def pairs(self) -> list[Pair]:
        return [(dns_key(a.name, a.rdtype), a) for a in (self.ns, self.ds, self.dnskey, self.soa)]


def signed_zone(apex: str = "alder.test", broken: str | None = None, signed_at: datetime = NOW) -> SignedZone:
    """Sign ZONE_TEXT at `apex` with secbase.lab.dnssec (signatures valid from 1 day before `signed_at`
    to 30 days after), optionally with one planted flaw: "expired", "ds_mismatch" or "bad_signature".

    Each distinct zone is signed once per test run.
    """
    return _signed_zone(normalise_name(apex), broken, signed_at)


@cache
def _signed_zone(apex: str, broken: str | None, signed_at: datetime) -> SignedZone:
    signed = sign_zone(apex, ZONE_TEXT, now=signed_at, broken=broken)
    zone = dns.zone.from_text(signed.text, origin=apex, relativize=False)
    origin = zone.origin
    assert origin is not None

    def at_apex(rdtype: str) -> DnsAnswer:
        kind = dns.rdatatype.from_text(rdtype)
        rdataset = zone.find_rdataset(origin, kind)
        sigs = zone.get_rdataset(origin, dns.rdatatype.RRSIG, covers=kind)
        return answer(
            apex,
            rdtype,
            *(rd.to_text() for rd in rdataset),
            rrsigs=[rd.to_text() for rd in sigs] if sigs is not None else (),
            ttl=rdataset.ttl,
        )[1]

    ds_lines = [line.split(None, 4) for line in signed.ds.splitlines() if line.strip()]
    ds_records = [dns.rdata.from_text("IN", "DS", fields[4]).to_text() for fields in ds_lines]
    ds = answer(apex, "DS", *ds_records, ttl=int(ds_lines[0][1]))[1]
    return SignedZone(
        apex=normalise_name(apex), ns=at_apex("NS"), ds=ds, dnskey=at_apex("DNSKEY"), soa=at_apex("SOA")
    )


# --- TLS facts --------------------------------------------------------------------------------------

TlsPair: TypeAlias = tuple[FactKey, TlsAnswer]
CA = "CN=Alder Test CA R1,O=Alder Test CA,C=CA"
ROOT = "CN=Alder Test Root X1,O=Alder Test CA,C=CA"
# A good server: TLS 1.2 and 1.3, the old versions refused (SSL 2.0 not tried, as sslyze's targeted
# tests often do), AEAD suites with forward secrecy.
GOOD_PROTOCOLS: Mapping[str, bool | None] = {
    "SSL 3.0": False,
    "TLS 1.0": False,
    "TLS 1.1": False,
    "TLS 1.2": True,
    "TLS 1.3": True,
}
GOOD_SUITES = (
    ("TLS 1.3", "TLS_AES_128_GCM_SHA256"),
    ("TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256"),
    ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
)


def certificate(
    subject: str = "CN=alder.test",
    *,
    issuer: str = CA,
    names: Iterable[str] = ("alder.test", "www.alder.test"),
    ips: Iterable[str] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_type: str = "RSA",
    key_bits: int = 2048,
    signature_hash: str = "sha256",
) -> TlsCertificate:
    """A certificate as the TLS probe writes it: by default a leaf valid from 30 days before NOW to 60 after.

    It is self-signed when its issuer is its subject.
    """
    return TlsCertificate(
        subject=subject,
        issuer=issuer,
        dns_names=tuple(names),
        ip_addresses=tuple(ips),
        not_before=not_before or NOW - timedelta(days=30),
        not_after=not_after or NOW + timedelta(days=60),
        key_type=key_type,
        key_bits=key_bits,
        signature_hash=signature_hash,
        self_signed=subject == issuer,
        sha256=hashlib.sha256(f"{subject}|{issuer}|{key_bits}".encode()).hexdigest(),
    )


def intermediate(subject: str = CA, issuer: str = ROOT, **kw: Any) -> TlsCertificate:
    """An intermediate CA certificate (no DNS names), valid for years around NOW."""
    kw.setdefault("not_before", NOW - timedelta(days=700))
    kw.setdefault("not_after", NOW + timedelta(days=1000))
    return certificate(subject, issuer=issuer, names=(), **kw)


def tls_answer(
    host: str,
    address: str,
    port: int = 443,
    starttls: str = "",
    *,
    outcome: TlsOutcome = TlsOutcome.OK,
    protocols: Mapping[str, bool | None] | None = None,
    untested: Iterable[str] = (),
    suites: Iterable[tuple[str, str]] = GOOD_SUITES,
    chain: Iterable[TlsCertificate] | None = None,
    reason: str = "",
    **kw: Any,
) -> TlsPair:
    """The TLS probe's answer for one endpoint: by default a good server with a trusted chain for `host`.

    `protocols` changes the default tests by version (None: the test itself failed); `untested` drops
    versions from the list. A `reason` is given to every outcome but OK, and to failed version tests.
    """
    key = tls_key(host, address, port, starttls)
    if outcome is not TlsOutcome.OK:
        why = reason or f"TLS with {host} ({address} port {port}) ended in {outcome}: no answer within 10 s"
        return key, TlsAnswer(normalise_name(host), address, port, starttls, outcome, reason=why, **kw)
    tests = {**GOOD_PROTOCOLS, **(protocols or {})}
    for name in untested:
        tests.pop(name, None)
    assert set(tests) <= set(PROTOCOLS), f"unknown versions: {set(tests) - set(PROTOCOLS)}"
    good: dict[str, Any] = dict(trusted=True, name_matches=True, handshakes=12)
    fact = TlsAnswer(
        normalise_name(host),
        address,
        port,
        starttls,
        outcome,
        protocols=tuple(
            TlsProtocol(name, tests[name], "" if tests[name] is not None else f"the {name} test timed out")
            for name in PROTOCOLS
            if name in tests
        ),
        suites=tuple(TlsSuite(protocol, name) for protocol, name in suites),
        chain=tuple(chain) if chain is not None else (certificate(), intermediate()),
        reason=reason,
        **{**good, **kw},
    )
    return key, fact


# --- backup facts -----------------------------------------------------------------------------------

BackupPair: TypeAlias = tuple[FactKey, BackupAnswer]
BackupConfigPair: TypeAlias = tuple[FactKey, BackupConfigAnswer]


def backup_spec(
    name: str = "files", kind: str = "restic", location: str = "/srv/backup/files", **kw: Any
) -> BackupSpec:
    """A declared backup source's settings, as the scan puts them on the target."""
    return BackupSpec(name=name, kind=kind, location=location, **kw)


def backup_target(
    spec: BackupSpec | None = None, *, org: str = "alder", others: Iterable[BackupSpec] = ()
) -> Target:
    """A backup target of organisation `org`; `others` are the organisation's further sources, after it."""
    spec = spec or backup_spec()
    return Target(org, TargetKind.BACKUP, spec.name, backup=spec, org_backups=(spec, *others))


def snapshots(*ages: timedelta, now: datetime = NOW, size: int | None = None) -> tuple[BackupSnapshot, ...]:
    """Snapshots taken `ages` before `now`, oldest first as the probe lists them."""
    return tuple(
        BackupSnapshot(time=now - age, id=f"{i:08x}", size=size)
        for i, age in enumerate(sorted(ages, reverse=True))
    )


def daily(days: int, *, now: datetime = NOW, at_hours: float = 2) -> tuple[BackupSnapshot, ...]:
    """One snapshot a day for `days` days, the newest `at_hours` hours before `now`."""
    return snapshots(*(timedelta(days=d, hours=at_hours) for d in range(days)), now=now)


def backup_answer(
    spec: BackupSpec,
    *,
    outcome: BackupOutcome = BackupOutcome.OK,
    snaps: Iterable[BackupSnapshot] = (),
    reason: str = "",
    **kw: Any,
) -> BackupPair:
    """The backup probe's look at the source: by default listed, encrypted as its kind is, no check run."""
    key = backup_key(spec.kind, spec.location, spec.check)
    if outcome is not BackupOutcome.OK:
        missing = outcome is BackupOutcome.TOOL_MISSING  # the fact's own reason names the install command
        why = reason or ("" if missing else f"{spec.kind} on {spec.location} did not finish within 120 s")
        return key, BackupAnswer(spec.kind, spec.location, outcome, spec.remote, reason=why)
    defaults: dict[str, Any] = {
        "restic": {"encrypted": True, "encryption": "restic repository version 2 (AES-256)"},
        "borg": {"encrypted": True, "encryption": "repokey-blake2"},
        "folder": {},
    }[spec.kind]
    return key, BackupAnswer(
        spec.kind, spec.location, outcome, spec.remote, snapshots=tuple(snaps), **{**defaults, **kw}
    )


def retention(**keep: Any) -> BackupRetention:
    """A configuration's keep_* settings: retention(keep_daily=7, keep_within="30d")."""
    return BackupRetention(**keep)


def backup_config(
    spec: BackupSpec,
    *repositories: BackupRepository,
    keep: BackupRetention | None = None,
    outcome: BackupConfigOutcome = BackupConfigOutcome.OK,
    plans: Iterable[BackupPlan] | None = None,
) -> BackupConfigPair:
    """The reading of the source's config_file: one plan writing to `repositories` (default: the source)."""
    assert spec.config_file is not None, "give the spec a config_file"
    tool = {"borg": "borgmatic", "restic": "resticprofile"}[spec.kind]
    key = backup_config_key(tool, spec.config_file)
    if outcome is not BackupConfigOutcome.OK:
        return key, BackupConfigAnswer(
            tool, spec.config_file, outcome, reason=f"{spec.config_file}: no such file"
        )
    repos = repositories or (BackupRepository(spec.location, spec.remote),)
    found = tuple(plans) if plans is not None else (BackupPlan("", repositories=repos, retention=keep),)
    return key, BackupConfigAnswer(tool, spec.config_file, outcome, plans=found)


# --- restore tests (from the store) -----------------------------------------------------------------


def restore_test(
    spec: BackupSpec,
    days_ago: int,
    *,
    worked: bool = True,
    org: str = "alder",
    note: str = "",
    now: datetime = NOW,
) -> RestoreTest:
    """A restore test of the source recorded `days_ago` days before `now`."""
    return RestoreTest(
        organisation=org,
        source=spec.name,
        tested_on=(now - timedelta(days=days_ago)).date(),
        worked=worked,
        note=note or f"Restored a folder of {spec.name}; the files opened.",
        by="ana",
        recorded_at=now - timedelta(days=days_ago),
    )


def restores(
    spec: BackupSpec, *tests: RestoreTest, org: str = "alder", reason: str = ""
) -> tuple[FactKey, RestoreAnswer]:
    """The restore tests recorded for the source (none by default); `reason`: the store could not be read."""
    return restore_key(org, spec.name), RestoreAnswer(tests=tests, reason=reason)
