"""Facts: what probes gather (plain serialisable records), the keys that name them, and the view checks read."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any, TypeVar

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT

from secbase.parse import mask

F = TypeVar("F")


@dataclass(frozen=True, order=True)
class FactKey:
    """The name of one fact: a probe kind and its arguments, e.g. dns_key("alder.test", "TXT")."""

    kind: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        # Keys go into logs and "could not tell" reasons: a password written in a URL argument never does.
        return f"{self.kind}({', '.join(mask(a) for a in self.args)})"

    def __repr__(self) -> str:  # a key in a traceback or a debugger is masked too
        return f"FactKey({self.kind!r}, {tuple(mask(a) for a in self.args)!r})"


def dns_key(name: str, rdtype: str) -> FactKey:
    """Key of a lookup through the scan's resolvers."""
    return FactKey("dns", (normalise_name(name), rdtype.upper()))


def dns_at_key(server: str, name: str, rdtype: str) -> FactKey:
    """Key of a question put to one name server directly (no recursion), e.g. each of a zone's NS."""
    return FactKey("dns_at", (server, normalise_name(name), rdtype.upper()))


@lru_cache(maxsize=65536)  # checks build keys for the same few names over and over
def normalise_name(name: str) -> str:
    """Lower-case a DNS name and drop the trailing dot: one spelling, one cache entry."""
    return name.strip().rstrip(".").lower() or "."


class NeedFacts(BaseException):
    """Raised by Facts when a check reads a fact not gathered yet; the scan gathers it and asks again.

    It derives from BaseException so that a check's own `except Exception` cannot swallow it.
    """

    def __init__(self, keys: Iterable[FactKey]) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        super().__init__()  # the text is made when shown: raised thousands of times a scan, read never

    def __str__(self) -> str:
        return ", ".join(map(str, self.keys))

    def __repr__(self) -> str:
        return f"NeedFacts({str(self)!r})"

    def __reduce__(self) -> tuple[type[NeedFacts], tuple[tuple[FactKey, ...]]]:
        return (NeedFacts, (self.keys,))  # pickled with its keys (a process pool, one day)


class Facts:
    """The facts gathered so far, as checks see them. Reading a missing one asks the scan for it."""

    def __init__(self, known: Mapping[FactKey, Any] | None = None, *, now: datetime | None = None) -> None:
        self._known: dict[FactKey, Any] = dict(known or {})
        self._derived: dict[Hashable, Any] = {}
        self.now = now or datetime.now(UTC)  # the scan's clock: checks never read the system's

    def __contains__(self, key: object) -> bool:
        return key in self._known

    def __len__(self) -> int:
        return len(self._known)

    def add(self, key: FactKey, fact: Any) -> None:
        """Record a gathered fact (the scan does this; tests build Facts from a mapping instead)."""
        self._known[key] = fact

    def items(self) -> Iterable[tuple[FactKey, Any]]:
        """Every fact gathered so far, with its key."""
        return self._known.items()

    def derive(self, key: Hashable, compute: Callable[[], F]) -> F:
        """Compute something from facts once per scan (an SPF tree, say), shared by every check reading it.

        Only a finished computation is kept: one that still needs facts raises NeedFacts and is run again
        when they are there. `key` must name everything the result depends on besides the facts.
        """
        if key in self._derived:
            return self._derived[key]  # type: ignore[no-any-return]
        value = compute()
        self._derived[key] = value
        return value

    def require(self, *keys: FactKey) -> None:
        """Ask for several facts at once, so that they are gathered together."""
        missing = [k for k in keys if k not in self._known]
        if missing:
            raise NeedFacts(missing)

    def get(self, key: FactKey, kind: type[F]) -> F:
        """The fact for `key`, checked to be a `kind`; raises NeedFacts if it is not gathered yet."""
        self.require(key)
        fact = self._known[key]
        if not isinstance(fact, kind):
            raise TypeError(f"fact {key} is a {type(fact).__name__}, not a {kind.__name__}")
        return fact

    def dns(self, name: str, rdtype: str) -> DnsAnswer:
        """The answer of the scan's resolvers to (name, type)."""
        return self.get(dns_key(name, rdtype), DnsAnswer)

    def http(self, url: str) -> HttpAnswer:
        """The GET of `url` and its redirect chain."""
        return self.get(http_key(url), HttpAnswer)

    def smtp(self, mx: str, address: str, port: int = 25) -> SmtpAnswer:
        """The conversation with one MX host at one address."""
        return self.get(smtp_key(mx, address, port), SmtpAnswer)

    def tls(self, host: str, address: str, port: int, starttls: str = "") -> TlsAnswer:
        """The TLS handshakes with `host` at one address and port ("smtp": STARTTLS first)."""
        return self.get(tls_key(host, address, port, starttls), TlsAnswer)

    def dns_at(self, server: str, name: str, rdtype: str) -> DnsAnswer:
        """The answer of one name server, asked directly, to (name, type)."""
        return self.get(dns_at_key(server, name, rdtype), DnsAnswer)

    def ports(self, address: str, ports: Iterable[int]) -> PortsAnswer:
        """The TCP connect scan of `ports` at one address."""
        return self.get(ports_key(address, ports), PortsAnswer)

    def backup(self, kind: str, location: str, check: str = "auto") -> BackupAnswer:
        """The read-only look at one declared backup: snapshots, encryption, and its own check if allowed."""
        return self.get(backup_key(kind, location, check), BackupAnswer)

    def backup_config(self, tool: str, path: str) -> BackupConfigAnswer:
        """What a borgmatic or resticprofile configuration file says."""
        return self.get(backup_config_key(tool, path), BackupConfigAnswer)

    def restores(self, organisation: str, source: str) -> RestoreAnswer:
        """The restore tests recorded in the store for one declared backup source."""
        return self.get(restore_key(organisation, source), RestoreAnswer)


class DnsOutcome(StrEnum):
    """How a DNS question ended. The first three are answers; the rest mean "could not tell"."""

    OK = "ok"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, without records of that type
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    ERROR = "error"  # anything else: a malformed answer, a network error


ANSWERED = frozenset({DnsOutcome.OK, DnsOutcome.NXDOMAIN, DnsOutcome.NODATA})


@dataclass(frozen=True)
class DnsAnswer:
    """One DNS question and what came back. Records are in presentation format (zone-file text)."""

    name: str
    rdtype: str
    outcome: DnsOutcome
    records: tuple[str, ...] = ()
    rrsigs: tuple[str, ...] = ()  # signatures covering the records, when the server sent them
    ttl: int = 0
    reason: str = ""  # for the "could not tell" outcomes: what happened, in plain words
    server: str = ""  # which server answered
    authoritative: bool = False

    @property
    def error(self) -> str | None:
        """Why this question could not be answered, or None when the answer is usable (even if empty)."""
        if self.outcome in ANSWERED:
            return None
        return self.reason or f"the DNS lookup of {self.name} ({self.rdtype}) ended in {self.outcome}"

    @property
    def is_empty(self) -> bool:
        """True when the name or the type does not exist (a definite, usable answer)."""
        return self.outcome in (DnsOutcome.NXDOMAIN, DnsOutcome.NODATA) or (
            self.outcome is DnsOutcome.OK and not self.records
        )

    def texts(self) -> list[str]:
        """TXT records as text, each record's strings joined with nothing between them (RFC 7208 3.3)."""
        return [b"".join(strings).decode("utf-8", errors="replace") for strings in self._txt_strings]

    def strings(self) -> list[tuple[str, ...]]:
        """TXT records as their separate strings, for telling how a record was split."""
        return [tuple(s.decode("utf-8", errors="replace") for s in strings) for strings in self._txt_strings]

    @cached_property
    def _txt_strings(self) -> tuple[tuple[bytes, ...], ...]:
        # Parsed once per answer: several checks read the same TXT records, each several times.
        out = []
        for rec in self.records:
            try:
                rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rec)
            except dns.exception.DNSException:
                continue  # the probe wrote it; only a hand-made fact can be malformed
            assert isinstance(rd, dns.rdtypes.ANY.TXT.TXT)
            out.append(tuple(rd.strings))
        return tuple(out)


def http_key(url: str) -> FactKey:
    """Key of a GET of `url`, redirects followed hop by hop (each host resolved by the scan's resolvers)."""
    return FactKey("http", (url,))


class HttpOutcome(StrEnum):
    """How fetching a page ended. The first six are observations; the last three mean "could not tell"."""

    OK = "ok"  # an answer (of any status) at the end of the redirect chain
    TLS_ERROR = "tls_error"  # the certificate was not accepted, or the handshake failed
    REFUSED = "refused"  # nothing listens on that port
    NO_ADDRESS = "no_address"  # the host name does not exist or has no address
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"  # the host's address could not be looked up
    ERROR = "error"  # a broken answer, a network error


HTTP_UNKNOWN = frozenset({HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR, HttpOutcome.ERROR})


@dataclass(frozen=True)
class HttpHop:
    """One request of a redirect chain and the answer to it."""

    url: str
    address: str  # where we connected, from the scan's resolvers
    status: int
    headers: tuple[tuple[str, str], ...]  # as received, names lower-cased, repeated headers kept apart
    location: str | None = None

    def header(self, name: str) -> list[str]:
        """Every value of a header (names are case-insensitive, RFC 9110 5.1)."""
        wanted = name.lower()
        return [v for n, v in self.headers if n == wanted]


@dataclass(frozen=True)
class HttpAnswer:
    """A GET and its redirect chain. Everything in it is what a server sent: data, never instructions."""

    url: str
    outcome: HttpOutcome
    hops: tuple[HttpHop, ...] = ()
    body: str = ""  # the final page, at most 1 MiB, decoded with errors replaced
    body_truncated: bool = False
    reason: str = ""  # what happened, in plain words, for every outcome but OK

    @property
    def final(self) -> HttpHop | None:
        """The last answer of the chain, if any server answered at all."""
        return self.hops[-1] if self.hops else None

    @property
    def error(self) -> str | None:
        """Why this could not be checked, or None when the outcome is an observation."""
        if self.outcome in HTTP_UNKNOWN:
            return self.reason or f"fetching {self.url} ended in {self.outcome}"
        return None


def smtp_key(mx: str, address: str, port: int = 25) -> FactKey:
    """Key of one SMTP conversation with an MX host at one of its addresses: banner, EHLO, STARTTLS."""
    return FactKey("smtp", (normalise_name(mx), address, str(port)))


class SmtpOutcome(StrEnum):
    """How talking to a mail server ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"  # it greeted us and answered EHLO (STARTTLS offered or not, handshake tried if offered)
    REFUSED = "refused"  # nothing listens (or port 25 is blocked on the way: many networks block it)
    TIMEOUT = "timeout"
    DROPPED = "dropped"  # it hung up in the middle
    TEMPFAIL = "tempfail"  # a 4xx answer: busy, greylisting
    ERROR = "error"


@dataclass(frozen=True)
class SmtpAnswer:
    """One conversation with a mail server; everything in it is what the server said (data)."""

    mx: str
    address: str
    port: int
    outcome: SmtpOutcome
    banner: str = ""
    ehlo: tuple[str, ...] = ()  # the EHLO answer's lines (extensions)
    starttls_offered: bool = False
    tls_ok: bool | None = None  # None: not tried; False: the handshake itself failed
    tls_version: str = ""
    cert_trusted: bool | None = None  # the chain verifies to the trust store (None: not known)
    cert_name_matches: bool | None = None  # the certificate covers the MX name (None: not known)
    cert_error: str = ""  # why the certificate was not accepted
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why this could not be checked, or None when the server was talked to."""
        if self.outcome is SmtpOutcome.OK:
            return None
        return self.reason or f"the mail server {self.mx} ({self.address}) ended in {self.outcome}"


def tls_key(host: str, address: str, port: int, starttls: str = "") -> FactKey:
    """Key of the TLS handshakes with one endpoint: host (for SNI and the name check), address, port, and
    the protocol spoken before TLS ("" for TLS from the first byte, "smtp" for STARTTLS)."""
    return FactKey("tls", (normalise_name(host), address, str(port), starttls))


class TlsOutcome(StrEnum):
    """How the TLS probe of one endpoint ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"  # at least one handshake worked: protocols, suites and certificate below
    REFUSED = "refused"  # nothing listens on that port
    TIMEOUT = "timeout"
    NO_HANDSHAKE = "no_handshake"  # something listens but no TLS handshake of any version completed
    NO_STARTTLS = "no_starttls"  # the mail server would not start TLS (see the SMTP fact for why)
    ERROR = "error"


PROTOCOLS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
LEGACY_PROTOCOLS = PROTOCOLS[:4]


@dataclass(frozen=True)
class TlsProtocol:
    """Whether the server completed a handshake at one protocol version; None: the test itself failed."""

    name: str  # one of PROTOCOLS
    accepted: bool | None
    reason: str = ""  # why the test failed, when accepted is None


@dataclass(frozen=True)
class TlsSuite:
    """A cipher suite the server accepted at one protocol version, by its IANA name (TLS_RSA_WITH_...)."""

    protocol: str
    name: str


@dataclass(frozen=True)
class TlsCertificate:
    """One certificate as the server sent it. Names and texts are what the server sent: data."""

    subject: str  # RFC 4514, clipped
    issuer: str
    dns_names: tuple[str, ...]  # subjectAltName DNS entries, lower-case
    ip_addresses: tuple[str, ...]
    not_before: datetime  # aware, UTC
    not_after: datetime  # aware, UTC
    key_type: str  # "RSA", "EC", "DSA", "Ed25519", "Ed448"
    key_bits: int
    signature_hash: str  # "sha256", "sha1", "md5"; "" when the algorithm hashes internally (Ed25519)
    self_signed: bool  # issuer and subject are the same name
    sha256: str  # fingerprint, hex


@dataclass(frozen=True)
class TlsAnswer:
    """What the handshakes with one endpoint showed. Protocol and suite tests are targeted (a few offers per
    version), unless `full_enumeration`: then every suite sslyze knows was tried on its own."""

    host: str
    address: str
    port: int
    starttls: str  # "" or "smtp"
    outcome: TlsOutcome
    protocols: tuple[TlsProtocol, ...] = ()
    suites: tuple[TlsSuite, ...] = ()  # accepted by the targeted (or full) tests
    suites_error: str = ""  # why the suite tests could not finish: then `suites` may be incomplete
    full_enumeration: bool = False
    chain: tuple[TlsCertificate, ...] = ()  # as received, the server's own certificate first
    trusted: bool | None = None  # the chain verifies to the trust store, whatever the name (None: not known)
    trust_error: str = ""  # why it does not, in the verifier's words
    name_matches: bool | None = None  # the certificate covers `host` (RFC 6125; None: not known)
    handshakes: int = 0  # TLS connections opened for this endpoint
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why this endpoint could not be checked, or None when a handshake worked."""
        if self.outcome is TlsOutcome.OK:
            return None
        return (
            self.reason or f"TLS with {self.host} ({self.address} port {self.port}) ended in {self.outcome}"
        )

    @property
    def leaf(self) -> TlsCertificate | None:
        """The server's own certificate, if it sent one."""
        return self.chain[0] if self.chain else None

    def protocol(self, name: str) -> TlsProtocol | None:
        """The test of one protocol version, if it was made."""
        return next((p for p in self.protocols if p.name == name), None)


def ports_key(address: str, ports: Iterable[int]) -> FactKey:
    """Key of a TCP connect scan of `ports` at one address (never a name: names go through the resolver
    first). The ports are written sorted, without repeats, neighbours as ranges ("21-23,80,443"): one
    spelling per set of ports, one scan, and a short key even for every port there is."""
    return FactKey("ports", (_canonical_address(address), _key_ports(tuple(ports))))


@lru_cache(maxsize=65536)  # the checks ask for the same few addresses again and again
def _canonical_address(address: str) -> str:
    return str(ipaddress.ip_address(address.strip()))  # ValueError on a name: addresses only


@lru_cache(maxsize=256)  # a scan has one or two port lists, asked for with every key of every host
def _key_ports(ports: tuple[int, ...]) -> str:
    listed = sorted({int(p) for p in ports})
    if not listed or listed[0] < 1 or listed[-1] > 65535:
        raise ValueError(f"ports to scan must be 1 to 65535, at least one: {listed}")
    return _port_ranges(tuple(listed))


def port_ranges(ports: Iterable[int]) -> str:
    """Ports as nmap's -p takes them, runs of neighbours as ranges: "21-23,80,443"."""
    return _port_ranges(tuple(ports))


@lru_cache(maxsize=256)
def _port_ranges(ports: tuple[int, ...]) -> str:
    out: list[str] = []
    listed = sorted(set(ports))
    i = 0
    while i < len(listed):
        j = i
        while j + 1 < len(listed) and listed[j + 1] == listed[j] + 1:
            j += 1
        out.append(str(listed[i]) if i == j else f"{listed[i]}-{listed[j]}")
        i = j + 1
    return ",".join(out)


@lru_cache(maxsize=256)  # the probe reads the same key's list, and nmap the same folded ports, per host
def parse_port_ranges(text: str) -> tuple[int, ...]:
    """The ports of a "21-23,80" list (a key's, or nmap's), sorted."""
    ports: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if low:
            ports.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(ports))


class PortsOutcome(StrEnum):
    """How the port scan of one address ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"  # nmap scanned the address: each port below is open, closed or filtered
    NMAP_MISSING = "nmap_missing"  # the nmap program is not installed here
    TIMEOUT = "timeout"  # the host time-out ran out before every port was tried
    ERROR = "error"  # nmap failed, or said nothing about this address


class PortState(StrEnum):
    """What a TCP connect showed about one port."""

    OPEN = "open"  # a connection was made: something listens and is reachable from here
    CLOSED = "closed"  # refused: nothing listens
    FILTERED = "filtered"  # no answer at all: a firewall drops the packets


NMAP_MISSING_FIX = "install nmap (apt-get install nmap)"


@dataclass(frozen=True)
class PortsAnswer:
    """What a TCP connect scan of some ports at one address showed."""

    address: str
    ports: tuple[int, ...]  # the ports asked for, sorted
    outcome: PortsOutcome
    states: tuple[tuple[int, PortState], ...] = ()  # (port, state) for every port asked, when OK
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why this address could not be scanned, or None when every port's state is known."""
        if self.outcome is PortsOutcome.OK:
            return None
        if self.outcome is PortsOutcome.NMAP_MISSING:
            return self.reason or f"nmap is not installed here; {NMAP_MISSING_FIX}"
        return self.reason or f"the port scan of {self.address} ended in {self.outcome}"

    def state(self, port: int) -> PortState | None:
        """The state of one port, or None when it was not scanned (or the scan did not finish)."""
        return self._by_port.get(port)

    @cached_property
    def _by_port(self) -> dict[int, PortState]:
        # Built once per answer: two checks read every port's state, some ports several times.
        return dict(self.states)

    @cached_property
    def open_ports(self) -> tuple[int, ...]:
        """The ports a connection was made to, sorted."""
        return tuple(sorted(p for p, s in self.states if s is PortState.OPEN))


def backup_key(kind: str, location: str, check: str = "auto") -> FactKey:
    """Key of a read-only look at one declared backup: a restic or borg repository, or a folder of dumps.

    `check` is the source's setting: "auto" runs restic's own check on a local repository only (borg's
    check rewrites the repository's config file, so never under "auto"), "always" on any, "never" on none. The password is no part of the key: the probe finds it from the
    config's password_file or password_env for this (kind, location).
    """
    if kind not in BACKUP_KINDS:
        raise ValueError(f"a backup is one of {', '.join(BACKUP_KINDS)}, not {kind!r}")
    if check not in ("auto", "always", "never"):
        raise ValueError(f'check is "auto", "always" or "never", not {check!r}')
    return FactKey("backup", (kind, location.strip(), check))


BACKUP_KINDS = ("restic", "borg", "folder")


class BackupOutcome(StrEnum):
    """How looking at a backup ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"  # the snapshots were listed (a folder: its files were read)
    TOOL_MISSING = "tool_missing"  # restic or borg is not installed here
    AUTH_FAILED = "auth_failed"  # no password, a wrong one, or its file or variable is missing
    NOT_FOUND = "not_found"  # no repository (no folder) at the location
    TIMEOUT = "timeout"
    ERROR = "error"


# borg's modes that sign the data but do not encrypt it (borg 1.x and 2.x spellings): not encrypted.
BORG_PLAIN_MODES = frozenset({"none", "authenticated", "authenticated-blake2"})

BACKUP_TOOL_FIX = {
    "restic": "install restic (apt-get install restic)",
    "borg": "install borg (apt-get install borgbackup)",
}


@dataclass(frozen=True)
class BackupSnapshot:
    """One restic snapshot, borg archive, or dump file in a folder."""

    time: datetime  # aware, UTC: when it was taken (a dump file: its modification time)
    id: str = ""  # restic's snapshot id, borg's archive id; "" for a dump file
    name: str = ""  # borg's archive name, the dump file's name; "" for restic
    host: str = ""  # restic's hostname
    size: int | None = None  # bytes, for a dump file


@dataclass(frozen=True)
class BackupAnswer:
    """What a read-only look at one backup showed. No password is ever in it."""

    kind: str  # "restic", "borg" or "folder"
    location: str  # as declared, a password written in a URL masked
    outcome: BackupOutcome
    remote: bool = False  # reached over the network
    snapshots: tuple[BackupSnapshot, ...] = ()  # oldest first
    encrypted: bool | None = None  # None: not known (a folder of dumps); borg's BORG_PLAIN_MODES: False
    encryption: str = ""  # restic's repository version, borg's encryption mode ("none", "repokey"...)
    created_at: datetime | None = None  # when the repository was made, when it can be told (local ones)
    check_ran: bool = False  # the repository's own check ran during this scan
    check_ok: bool | None = None  # None: not run, or it could not finish
    check_summary: str = ""  # the check's last lines, clipped
    check_skipped: str = ""  # why the check did not run, in plain words; "" when it ran (or no look)
    last_check_at: datetime | None = None  # a check the tool recorded (restic 0.14, borg 1.2: none)
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why this backup could not be looked at, or None when its snapshots were listed."""
        if self.outcome is BackupOutcome.OK:
            return None
        if self.outcome is BackupOutcome.TOOL_MISSING and not self.reason:
            return f"{self.kind} is not installed here; {BACKUP_TOOL_FIX.get(self.kind, '')}"
        return self.reason or f"looking at the {self.kind} backup {self.location} ended in {self.outcome}"

    @property
    def newest(self) -> BackupSnapshot | None:
        """The most recent snapshot, if there is any."""
        return self.snapshots[-1] if self.snapshots else None

    @property
    def oldest(self) -> BackupSnapshot | None:
        """The earliest snapshot kept, if there is any."""
        return self.snapshots[0] if self.snapshots else None

    @property
    def times(self) -> tuple[datetime, ...]:
        """Every snapshot's time, oldest first."""
        return tuple(s.time for s in self.snapshots)

    @property
    def newest_size_ratio(self) -> float | None:
        """A folder's newest dump's size over the one before it (0.1: ten times smaller); None if unknown."""
        sized = [s for s in self.snapshots if s.size is not None]
        if len(sized) < 2 or not sized[-2].size:
            return None
        return (sized[-1].size or 0) / sized[-2].size


def backup_config_key(tool: str, path: str) -> FactKey:
    """Key of the reading of a backup tool's configuration file: "borgmatic" or "resticprofile"."""
    if tool not in ("borgmatic", "resticprofile"):
        raise ValueError(f'a backup configuration is "borgmatic" or "resticprofile", not {tool!r}')
    return FactKey("backup_config", (tool, str(path)))


class BackupConfigOutcome(StrEnum):
    """How reading a backup configuration ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"
    NOT_FOUND = "not_found"  # no such file
    INVALID = "invalid"  # not YAML/TOML, or not the shape the tool reads
    ERROR = "error"  # unreadable (permissions...)


@dataclass(frozen=True)
class BackupRepository:
    """A repository a configuration writes to."""

    location: str  # a password written in a URL masked
    remote: bool
    label: str = ""


_DURATION_PART = re.compile(r"(\d+)\s*([yYmMwWdDhH])")
_DAYS_PER_UNIT = {"y": 365.0, "m": 30.0, "w": 7.0, "d": 1.0, "h": 1 / 24}
_UNLIMITED = "unlimited"
# A period rule keeps the newest snapshot of each of the last N periods that hold one: N periods is the
# least it reaches back (more when backups are further apart than the period).
_PERIOD_DAYS = {
    "keep_hourly": 1 / 24,
    "keep_daily": 1.0,
    "keep_weekly": 7.0,
    "keep_13weekly": 91.0,
    "keep_monthly": 30.0,
    "keep_3monthly": 90.0,
    "keep_yearly": 365.0,
}
# Rules that keep a number of snapshots, not of periods: no backup runs more than once a minute, so the
# last N seconds or minutes that hold a snapshot are simply the last N snapshots, however far apart.
_SNAPSHOT_COUNTS = ("keep_last", "keep_secondly", "keep_minutely")
# Every keep rule secbase reads (borg prune's and restic forget's --keep-*), in the order they are reported:
# the durations, then the counts from the shortest period to the longest. Each tool takes some of them.
KEEP_WITHIN_KEYS = (
    "keep_within",
    "keep_within_hourly",
    "keep_within_daily",
    "keep_within_weekly",
    "keep_within_monthly",
    "keep_within_yearly",
)
KEEP_COUNT_KEYS = (
    "keep_last",
    "keep_secondly",
    "keep_minutely",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_13weekly",
    "keep_monthly",
    "keep_3monthly",
    "keep_yearly",
)
_WITHIN_EVERY_DAY = ("keep_within", "keep_within_hourly", "keep_within_daily")  # a snapshot of each day


def _duration_days(text: str) -> float | None:
    """A duration in days (a month as 30, a year as 365), None when empty or not understood."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        return None
    # borg: H hours, d days, w weeks, m months, y years; restic: the same letters, lower or upper case
    return sum(int(n) * _DAYS_PER_UNIT[unit.lower()] for n, unit in parts)


@dataclass(frozen=True)
class BackupRetention:
    """What a configuration keeps when it deletes old backups (borg prune / restic forget). None: not set.

    A rule that keeps every one (restic "unlimited" or -1, borg -1) is named in `unlimited`, its count left
    None; a negative count is read the same way. Settings secbase does not understand are named in
    `unknown`, never dropped: a reader says it cannot judge them.
    """

    keep_last: int | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None
    keep_within: str = ""  # as written: "30d", "2w", restic's "1y2m3d"
    keep_secondly: int | None = None  # borg
    keep_minutely: int | None = None  # borg
    keep_13weekly: int | None = None  # borg 1.4+: quarters of 13 weeks
    keep_3monthly: int | None = None  # borg 1.4+: quarters of 3 months
    keep_within_hourly: str = ""  # restic: the newest snapshot of each hour within this duration
    keep_within_daily: str = ""  # ... of each day
    keep_within_weekly: str = ""
    keep_within_monthly: str = ""
    keep_within_yearly: str = ""
    unlimited: tuple[str, ...] = ()  # count rules that keep every one: ("keep_daily",)
    unknown: tuple[str, ...] = ()  # settings not understood, as written: ("keep-tag: monthly",)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, int | str]]) -> BackupRetention | None:
        """The keep rules a parser read (parse.borgmatic, parse.resticprofile); None when there are none.

        Example: `BackupRetention.from_pairs([("keep_daily", 7), ("keep_weekly", "unlimited")])`
        """
        fields: dict[str, Any] = {}
        unlimited: list[str] = []
        unknown: list[str] = []
        for key, value in pairs:
            if key in KEEP_WITHIN_KEYS and isinstance(value, str):
                fields[key] = value
            elif (key in _PERIOD_DAYS or key in _SNAPSHOT_COUNTS) and not isinstance(value, bool):
                if isinstance(value, int) and value >= 0:
                    if value:  # 0 turns a rule off in restic and borg
                        fields[key] = value
                elif isinstance(value, int) or value.strip().lower() == _UNLIMITED:
                    unlimited.append(key)
                else:  # borg 2's "keep_daily: 30d" among them: not read yet, so named, not guessed
                    unknown.append(f"{key}: {value}")
            else:
                unknown.append(f"{key}: {value}")
        if not (fields or unlimited or unknown):
            return None
        return cls(**fields, unlimited=tuple(dict.fromkeys(unlimited)), unknown=tuple(unknown))

    @property
    def keep_within_days(self) -> float | None:
        """keep_within in days (a month as 30, a year as 365), None when not set or not understood."""
        return _duration_days(self.keep_within)

    def _count(self, key: str) -> float | None:
        """A count rule's number; infinity when it keeps every one; None when not set."""
        value = getattr(self, key)
        if key in self.unlimited or (value is not None and value < 0):
            return float("inf")
        return None if value is None else float(value)

    @property
    def keeps_every_one(self) -> tuple[str, ...]:
        """The count rules that keep every one of their snapshots: `unlimited`, and any negative count."""
        fields = (*_SNAPSHOT_COUNTS, *_PERIOD_DAYS)
        return tuple(k for k in fields if self._count(k) == float("inf"))

    @property
    def is_empty(self) -> bool:
        """No rule is set (every setting dropped before it got here): nothing can be told from it."""
        fields = (*_PERIOD_DAYS, *_SNAPSHOT_COUNTS)
        return not (
            any(getattr(self, k) is not None for k in fields)
            or any(getattr(self, k) for k in KEEP_WITHIN_KEYS)
            or self.unlimited
            or self.unknown
        )

    @property
    def not_understood(self) -> tuple[str, ...]:
        """Settings that cannot be turned into time: unknown ones, and durations that are not durations."""
        bad = tuple(
            f"{k}: {getattr(self, k)}"
            for k in KEEP_WITHIN_KEYS
            if getattr(self, k) and self._within(k) is None
        )
        return self.unknown + bad

    def _within(self, key: str) -> float | None:
        return _duration_days(getattr(self, key))

    @property
    def reach_days(self) -> float:
        """The least number of days the period and duration rules keep backups for (infinity: forever).

        Rules that count snapshots (`snapshot_counts`) and settings not understood are left out.
        """
        spans = [0.0]
        spans += [d for k in KEEP_WITHIN_KEYS if (d := self._within(k)) is not None]
        spans += [n * days for k, days in _PERIOD_DAYS.items() if (n := self._count(k)) is not None]
        spans += [float("inf") for k in _SNAPSHOT_COUNTS if self._count(k) == float("inf")]
        return max(spans)

    @property
    def snapshot_counts(self) -> tuple[tuple[str, int], ...]:
        """The rules that keep the last N snapshots, whatever their age: keep_last, keep_secondly, keep_minutely."""
        return tuple(
            (k, int(n)) for k in _SNAPSHOT_COUNTS if (n := self._count(k)) not in (None, float("inf"))
        )

    @property
    def daily_kept(self) -> float:
        """How many daily snapshots the rules keep at least (infinity: every one)."""
        hourly = self._count("keep_hourly") or 0.0
        daily = [0.0, self._count("keep_daily") or 0.0, hourly if hourly == float("inf") else hourly // 24]
        daily += [d // 1 for k in _WITHIN_EVERY_DAY if (d := self._within(k)) is not None]
        return max(daily)


@dataclass(frozen=True)
class BackupPlan:
    """One borgmatic file, or one resticprofile profile: where it writes, what it keeps, when, what it checks."""

    name: str  # the resticprofile profile; "" for borgmatic
    repositories: tuple[BackupRepository, ...] = ()
    retention: BackupRetention | None = None  # None: nothing is ever pruned
    schedule: tuple[str, ...] = ()  # as written (resticprofile's schedule; borgmatic has none of its own)
    consistency_checks: tuple[str, ...] = ()  # "repository", "archives", "data", "check"...
    password_set: bool = False  # a passphrase, passcommand or password file is given (never its value)


@dataclass(frozen=True)
class BackupConfigAnswer:
    """What a borgmatic or resticprofile configuration says. No password is ever in it."""

    tool: str  # "borgmatic" or "resticprofile"
    path: str
    outcome: BackupConfigOutcome
    plans: tuple[BackupPlan, ...] = ()
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why the configuration could not be read, or None when it was."""
        if self.outcome is BackupConfigOutcome.OK:
            return None
        return self.reason or f"reading the {self.tool} configuration {self.path} ended in {self.outcome}"

    @property
    def repositories(self) -> tuple[BackupRepository, ...]:
        """Every repository of every plan, each once."""
        return tuple(dict.fromkeys(r for p in self.plans for r in p.repositories))

    @property
    def has_remote(self) -> bool:
        """True when at least one repository is reached over the network (an off-site copy)."""
        return any(r.remote for r in self.repositories)


def restore_key(organisation: str, source: str) -> FactKey:
    """Key of the restore tests recorded (`secbase backup restored`) for one organisation's backup source."""
    return FactKey("restore", (organisation, source))


@dataclass(frozen=True)
class RestoreTest:
    """One restore test a person recorded: no repository can show that its backups restore."""

    organisation: str
    source: str  # the backup source's name in the config
    tested_on: date  # the day of the test, as the person gave it
    worked: bool  # the restored data was complete and opened
    note: str  # what was restored, where to, what was seen
    by: str  # who made the test
    recorded_at: datetime  # aware, UTC


@dataclass(frozen=True)
class RestoreAnswer:
    """The restore tests recorded for one source, oldest first; `reason` set when the store could not be read."""

    tests: tuple[RestoreTest, ...] = ()
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why the records could not be read, or None when they were (an empty list is an answer)."""
        return self.reason or None

    @property
    def latest(self) -> RestoreTest | None:
        """The most recent test by its day (of two on one day, the one recorded last)."""
        return max(self.tests, key=lambda t: (t.tested_on, t.recorded_at), default=None)
