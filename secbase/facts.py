"""Facts: what probes gather (plain serialisable records), the keys that name them, and the view checks read.

The backup, backup_config and restore records live in _facts_backup.py and are re-exported here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any, TypeVar

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT

from secbase.parse import mask, port_range

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
        if part.strip():
            first, last = port_range(part)
            ports.update(range(first, last + 1))
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


# The backup records live in _facts_backup.py, which needs FactKey: imported last, so FactKey is defined by
# then. "X as X" re-exports them for mypy --strict (isort would split those into one statement each).
from secbase._facts_backup import (  # noqa: E402, I001
    BACKUP_KINDS as BACKUP_KINDS,
    BACKUP_TOOL_FIX as BACKUP_TOOL_FIX,
    BORG_PLAIN_MODES as BORG_PLAIN_MODES,
    KEEP_COUNT_KEYS as KEEP_COUNT_KEYS,
    KEEP_WITHIN_KEYS as KEEP_WITHIN_KEYS,
    BackupAnswer as BackupAnswer,
    BackupConfigAnswer as BackupConfigAnswer,
    BackupConfigOutcome as BackupConfigOutcome,
    BackupOutcome as BackupOutcome,
    BackupPlan as BackupPlan,
    BackupRepository as BackupRepository,
    BackupRetention as BackupRetention,
    BackupSnapshot as BackupSnapshot,
    RestoreAnswer as RestoreAnswer,
    RestoreTest as RestoreTest,
    backup_config_key as backup_config_key,
    backup_key as backup_key,
    restore_key as restore_key,
)
