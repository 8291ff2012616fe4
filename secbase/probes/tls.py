"""TLS facts: the handshakes with one endpoint (a website on 443, an MX with STARTTLS on 25), through sslyze.

Targeted by default: one handshake per protocol version (offering every suite of that version), then, for
each version the server accepts, a few offers of only the weak suites (NULL, EXPORT, anonymous, RC4, DES,
3DES, RC2, IDEA) and, at TLS 1.2, of only the CBC or non-forward-secret ones. An offer the server takes
names one suite; it is taken out and offered again, a bounded number of times. About 10 to 14 handshakes
per endpoint instead of sslyze's ~580. `full_enumeration` tries every suite sslyze knows on its own.

The certificate chain comes from the first handshake that works; it is parsed with cryptography and
verified against the scan's trust store (certifi plus the config's CA file), separately from the name.
The connection goes to the address the scan's resolver gave (`ip_address`), with the host name as SNI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nassl._nassl
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import Store
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import ClientCertificateRequested, OpenSslVersionEnum, SslClient
from sslyze.connection_helpers import tls_connection as _sslyze_connection
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum
from sslyze.connection_helpers.tls_connection import NoCiphersAvailableBugInSSlyze, SslConnection
from sslyze.errors import (
    ConnectionToServerFailed,
    ConnectionToServerTimedOut,
    ServerRejectedConnection,
    ServerRejectedOpportunisticTlsNegotiation,
    ServerRejectedTlsHandshake,
    ServerTlsConfigurationNotSupported,
    TlsHandshakeTimedOut,
)
from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuite, CipherSuitesRepository
from sslyze.server_connectivity import TlsVersionEnum
from sslyze.server_setting import (
    ServerNetworkConfiguration,
    ServerNetworkLocation,
)

from secbase.facts import (
    FactKey,
    TlsAnswer,
    TlsOutcome,
    TlsProtocol,
    TlsSuite,
)
from secbase.parse import clip
from secbase.probes import FactSource, Limiter
from secbase.probes._deadline import Deadline
from secbase.probes._trust import TrustBundle
from secbase.probes._x509 import read_chain, verify
from secbase.probes.smtp import EHLO_NAME

log = logging.getLogger(__name__)

VERSIONS: dict[TlsVersionEnum, str] = {
    TlsVersionEnum.TLS_1_3: "TLS 1.3",
    TlsVersionEnum.TLS_1_2: "TLS 1.2",
    TlsVersionEnum.TLS_1_1: "TLS 1.1",
    TlsVersionEnum.TLS_1_0: "TLS 1.0",
    TlsVersionEnum.SSL_3_0: "SSL 3.0",
    TlsVersionEnum.SSL_2_0: "SSL 2.0",
}
EVERY_SUITE = "ALL:COMPLEMENTOFALL:-PSK:-SRP"  # PSK and SRP need a shared secret: no server offers them to us
WEAK_MARKS = ("NULL", "anon", "EXPORT", "RC4", "_DES_", "DES40", "DES_64", "3DES", "DES_192", "RC2", "IDEA")
ENDPOINT_BUDGET = 8  # time-outs all the handshakes with one endpoint may take together
FULL_BUDGET = 300  # the same with --deep-tls: hundreds of handshakes
OFFERS_PER_GROUP = 3  # how many suites of one group are named, at most, before we stop asking
TEXT_CHARS = 300


def weak_offer(name: str) -> bool:
    """Suites offered in the weak group (by IANA name): what tls.ciphers.weak fails on, and kin."""
    return any(mark in name for mark in WEAK_MARKS)


def medium_offer(name: str) -> bool:
    """Suites offered in the second group at TLS 1.2: CBC mode, or no forward secrecy (no ECDHE/DHE)."""
    return not weak_offer(name) and ("_CBC_" in name or not name.startswith(("TLS_ECDHE_", "TLS_DHE_")))


@dataclass
class _Hello:
    """One handshake: accepted (True), refused (False) or not known (None), and what it showed."""

    accepted: bool | None
    cipher: str = ""  # OpenSSL name of the negotiated suite
    chain: list[str] = field(default_factory=list)  # PEM, as received
    reason: str = ""
    unreachable: TlsOutcome | None = None  # the TCP connection or the STARTTLS step itself failed
    silent: bool = False  # connected, but the server never answered the handshake


class TlsProbe:
    """Answers tls(host, address, port, starttls)."""

    kinds: tuple[str, ...] = ("tls",)

    def __init__(
        self,
        *,
        timeout_s: float,
        limiter: Limiter,
        ca_file: Path | None = None,
        full_enumeration: bool = False,
    ) -> None:
        self.timeout_s = timeout_s
        self.limiter = limiter
        self.full_enumeration = full_enumeration
        self._trust = TrustBundle(ca_file)
        self._store: Store | None = None
        self.handshakes: dict[FactKey, int] = {}  # per endpoint: for the benchmark and the tests
        install_socket_watch()

    def close(self) -> None:
        """Remove the temporary CA bundle."""
        self._trust.close()

    def store(self) -> Store:
        """The trusted roots, parsed once per scan."""
        if self._store is None:
            pem = self._trust.path.read_bytes()
            with warnings.catch_warnings():  # one public root has a negative serial number: not our business
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                self._store = Store(x509.load_pem_x509_certificates(pem))
        return self._store

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> TlsAnswer:
        """The fact for a tls(...) key; sslyze is blocking, so the handshakes run in a worker thread."""
        host, address, port, starttls = key.args[0], key.args[1], int(key.args[2]), key.args[3]
        self.store()  # parsed here, once, rather than racing in the worker threads
        now = getattr(facts, "now", None) or datetime.now(UTC)  # the scan's clock, when there is a scan
        async with self.limiter.slot(address):
            answer = await asyncio.to_thread(self.probe, host, address, port, starttls, now)
        self.handshakes[key] = answer.handshakes
        return answer

    def probe(self, host: str, address: str, port: int, starttls: str, now: datetime) -> TlsAnswer:
        """Every handshake with one endpoint, within one budget of time, and what they showed."""
        budget = (FULL_BUDGET if self.full_enumeration else ENDPOINT_BUDGET) * self.timeout_s
        endpoint = _Endpoint(host, address, port, starttls, self.timeout_s, Deadline(budget))
        try:
            return self._probe(endpoint, now)
        except Exception as exc:  # nassl raises odd things for odd servers; never a crash of the scan
            log.debug("TLS probe of %s failed", endpoint.where, exc_info=True)
            return endpoint.answer(
                TlsOutcome.ERROR,
                reason=f"TLS with {endpoint.where} failed: {type(exc).__name__}: {clip(str(exc), TEXT_CHARS)}",
            )
        finally:
            endpoint.deadline.close()

    def _probe(self, ep: _Endpoint, now: datetime) -> TlsAnswer:
        hellos = _versions(ep)
        protocols = tuple(_protocol(version, hellos[version]) for version in VERSIONS)
        accepted = [v for v in VERSIONS if hellos[v].accepted]
        modern = (hellos[TlsVersionEnum.TLS_1_3], hellos[TlsVersionEnum.TLS_1_2])
        if not accepted:
            cut = next((h for h in modern if h.unreachable is not None), None)
            if cut is not None and cut.unreachable is not None:
                return ep.answer(cut.unreachable, reason=cut.reason)
            if all(h.silent for h in modern):
                why = f"{ep.where} took the connection but answered no TLS handshake within {ep.timeout} s"
                return ep.answer(TlsOutcome.TIMEOUT, reason=why)
            reasons = "; ".join(f"{VERSIONS[v]}: {h.reason}" for v, h in hellos.items() if h.reason)
            return ep.answer(
                TlsOutcome.NO_HANDSHAKE,
                protocols=protocols,
                reason=f"no TLS handshake with {ep.where} worked ({clip(reasons, TEXT_CHARS)})",
            )

        suites: dict[tuple[str, str], None] = {}
        for version in accepted:
            if hellos[version].cipher:
                suites[(VERSIONS[version], _iana(version, hellos[version].cipher))] = None
        errors: list[str] = []
        tested = [v for v in accepted if v is not TlsVersionEnum.SSL_2_0]
        if self.full_enumeration:
            for version in tested:
                for suite in sorted(
                    CipherSuitesRepository.get_all_cipher_suites(version), key=lambda s: s.name
                ):
                    hello = ep.hello(
                        version, legacy=_needs_legacy(version, suite), ciphers=suite.openssl_name
                    )
                    _note(suites, errors, version, hello, suite.name)
        else:
            for version in tested:
                if version is TlsVersionEnum.TLS_1_3:
                    continue  # every TLS 1.3 suite is AEAD with forward secrecy
                self._offer(ep, version, weak_offer, suites, errors)
                if version is TlsVersionEnum.TLS_1_2:
                    self._offer(ep, version, medium_offer, suites, errors)

        chain_pem = next((h.chain for v in VERSIONS if (h := hellos[v]).accepted and h.chain), [])
        certs, chain, trust_error = read_chain(chain_pem)
        trusted: bool | None = None
        name_matches: bool | None = None
        if certs:
            trusted, trust_error, name_matches = verify(certs, ep.host, now, self.store())
        return ep.answer(
            TlsOutcome.OK,
            protocols=protocols,
            suites=tuple(TlsSuite(p, n) for p, n in suites),
            suites_error="; ".join(dict.fromkeys(errors)),
            full_enumeration=self.full_enumeration,
            chain=chain,
            trusted=trusted,
            trust_error=trust_error,
            name_matches=name_matches,
        )

    def _offer(
        self,
        ep: _Endpoint,
        version: TlsVersionEnum,
        wanted: Callable[[str], bool],
        suites: dict[tuple[str, str], None],
        errors: list[str],
    ) -> None:
        """Offer only the `wanted` suites; each one the server picks is noted and left out of the next offer.
        nassl's legacy OpenSSL knows the weak suites; the few only the modern one knows are offered apart."""
        legacy: dict[str, str] = {}
        modern: dict[str, str] = {}
        for suite in CipherSuitesRepository.get_all_cipher_suites(version):
            if not wanted(suite.name):
                continue
            name = _legacy_name(version, suite.openssl_name)
            if name is not None:
                legacy[name] = suite.name
            elif version is TlsVersionEnum.TLS_1_2:
                modern[suite.openssl_name] = suite.name
        for use_legacy, candidates in ((True, legacy), (False, modern)):
            for _ in range(OFFERS_PER_GROUP):
                if not candidates:
                    break
                hello = ep.hello(version, legacy=use_legacy, ciphers=":".join(sorted(candidates)))
                if hello.accepted is None:
                    errors.append(f"{VERSIONS[version]}: {hello.reason}")
                    return
                if not hello.accepted:
                    break
                if not hello.cipher:  # accepted, but the suite could not be named (a DH key too small)
                    errors.append(f"{VERSIONS[version]}: a suite was accepted that could not be named")
                    return
                iana = candidates.pop(hello.cipher, None)
                suites[(VERSIONS[version], iana or _iana(version, hello.cipher))] = None
                if iana is None:
                    break  # it picked something we did not offer: stop rather than loop


class _Endpoint:
    """One host:port at one address, and the handshakes made with it."""

    def __init__(
        self, host: str, address: str, port: int, starttls: str, timeout_s: float, deadline: Deadline
    ) -> None:
        self.host, self.address, self.port, self.starttls = host, address, port, starttls
        self.deadline = deadline
        self.timeout = max(1, math.ceil(timeout_s))  # sslyze takes whole seconds
        self.location = ServerNetworkLocation(hostname=host, port=port, ip_address=address)
        self.config = ServerNetworkConfiguration(
            tls_server_name_indication=host,
            tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.SMTP
            if starttls == "smtp"
            else None,
            smtp_ehlo_hostname=EHLO_NAME if starttls == "smtp" else None,
            network_timeout=self.timeout,
            network_max_retries=1,
        )
        self.handshakes = 0
        self._count = threading.Lock()
        self.where = f"{host} ({address} port {port}{', STARTTLS' if starttls else ''})"

    def answer(self, outcome: TlsOutcome, **kw: object) -> TlsAnswer:
        return TlsAnswer(
            self.host,
            self.address,
            self.port,
            self.starttls,
            outcome,
            handshakes=self.handshakes,
            **kw,  # type: ignore[arg-type]
        )

    def hello(self, version: TlsVersionEnum, *, legacy: bool, ciphers: str | None = None) -> _Hello:
        """One handshake at `version`, offering `ciphers` (an OpenSSL cipher string, or a TLS 1.3 suite),
        unless the endpoint's time is up; one cut short by the deadline is "not known", whatever it looked like."""
        out_of_time = _Hello(
            None,
            reason=f"{self.where} did not finish within {self.deadline.seconds:g} s",
            unreachable=TlsOutcome.TIMEOUT,
        )
        if self.deadline.passed:
            return out_of_time
        _watch.deadline, _watch.dups = self.deadline, []
        try:
            hello = self._hello(version, legacy=legacy, ciphers=ciphers)
        finally:
            for dup in _watch.dups:
                self.deadline.release(dup)
            _watch.deadline, _watch.dups = None, []
        return out_of_time if self.deadline.passed and not hello.accepted else hello

    def _hello(self, version: TlsVersionEnum, *, legacy: bool, ciphers: str | None) -> _Hello:
        conn = SslConnection(
            server_location=self.location,
            network_configuration=self.config,
            tls_version=version,
            should_ignore_client_auth=True,
            should_use_legacy_openssl=legacy,
        )
        client = conn.ssl_client
        if ciphers is not None:
            if version is TlsVersionEnum.TLS_1_3 and isinstance(client, SslClient):
                client.set_ciphersuites(ciphers)
            else:
                client.set_cipher_list(ciphers)
        with self._count:
            self.handshakes += 1
        try:
            conn.connect(should_retry_connection=False)
        except ClientCertificateRequested:
            return _Hello(True, client.get_current_cipher_name() or "", _received(client))
        except ServerTlsConfigurationNotSupported:  # our side refused the server's weak DH: it did accept
            return _Hello(
                True,
                client.get_current_cipher_name() or "",
                reason="accepted with a Diffie-Hellman key too small to finish the handshake",
            )
        except ServerRejectedOpportunisticTlsNegotiation as exc:
            return _Hello(None, reason=_said(exc, "would not start TLS"), unreachable=TlsOutcome.NO_STARTTLS)
        except TlsHandshakeTimedOut:
            # A server that does not speak a version often stays silent instead of saying no.
            return _Hello(False, reason=f"no answer within {self.timeout} s", silent=True)
        except ServerRejectedTlsHandshake as exc:
            return _Hello(False, reason=clip(exc.error_message, TEXT_CHARS))
        except NoCiphersAvailableBugInSSlyze:  # our OpenSSL cannot offer it (full enumeration only): no test
            return _Hello(False, reason="our TLS library cannot offer this suite")
        except ConnectionToServerTimedOut:
            why = f"nothing answered at {self.where} within {self.timeout} s"
            return _Hello(None, reason=why, unreachable=TlsOutcome.TIMEOUT)
        except ServerRejectedConnection:
            return _Hello(
                None, reason=f"nothing listens at {self.where} (refused)", unreachable=TlsOutcome.REFUSED
            )
        except ConnectionToServerFailed as exc:
            return _Hello(None, reason=_said(exc, "connection failed"), unreachable=TlsOutcome.ERROR)
        except (OSError, nassl._nassl.OpenSSLError) as exc:
            return _Hello(None, reason=f"{type(exc).__name__}: {clip(str(exc), TEXT_CHARS)}")
        else:
            return _Hello(True, client.get_current_cipher_name() or "", _received(client))
        finally:
            with contextlib.suppress(OSError, nassl._nassl.OpenSSLError):
                conn.close()  # a server that already hung up changes nothing we learned


# sslyze opens each connection's socket inside SslConnection.connect (and holds the STARTTLS conversation
# there too). So that a server trickling bytes cannot hold a handshake past the endpoint's budget, the
# socket is handed to the deadline of the thread's current handshake as it is opened, and let go when the
# handshake is over. Without a deadline set, the function behaves as sslyze's own.
_watch = threading.local()
_sslyze_open_socket = _sslyze_connection._open_socket


def _open_watched_socket(server_location: ServerNetworkLocation, network_timeout: int) -> socket.socket:
    sock = _sslyze_open_socket(server_location, network_timeout)
    deadline: Deadline | None = getattr(_watch, "deadline", None)
    if deadline is not None:
        _watch.dups.append(deadline.watch(sock))
    return sock


def install_socket_watch() -> None:
    """Route sslyze's socket opening through the deadline watch (once; TlsProbe does it)."""
    _sslyze_connection._open_socket = _open_watched_socket


def socket_watch_installed() -> bool:
    return _sslyze_connection._open_socket is _open_watched_socket


def _versions(ep: _Endpoint) -> dict[TlsVersionEnum, _Hello]:
    """One handshake per protocol version, offering every suite of it. Made together, so that a server that
    stays silent costs one time-out, not six; fewer at once over STARTTLS, where each is a whole SMTP session."""

    def one(version: TlsVersionEnum) -> _Hello:
        if version is TlsVersionEnum.TLS_1_3:
            return ep.hello(version, legacy=False)
        if version is TlsVersionEnum.TLS_1_2:
            hello = ep.hello(version, legacy=False, ciphers=EVERY_SUITE)
            if hello.accepted is False and not hello.silent:  # the modern client lacks the oldest suites
                hello = ep.hello(version, legacy=True, ciphers=EVERY_SUITE)
            return hello
        return ep.hello(
            version, legacy=True, ciphers=None if version is TlsVersionEnum.SSL_2_0 else EVERY_SUITE
        )

    workers = 3 if ep.starttls else len(VERSIONS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="secbase-tls") as pool:
        return dict(zip(VERSIONS, pool.map(one, VERSIONS), strict=True))


def _received(client: object) -> list[str]:
    try:
        return list(client.get_received_chain())  # type: ignore[attr-defined]
    except (ValueError, OSError, nassl._nassl.OpenSSLError):
        return []  # an anonymous suite: no certificate


def _said(exc: ConnectionToServerFailed, fallback: str) -> str:
    return clip(exc.error_message or fallback, TEXT_CHARS)


def _protocol(version: TlsVersionEnum, hello: _Hello) -> TlsProtocol:
    return TlsProtocol(VERSIONS[version], hello.accepted, "" if hello.accepted is not None else hello.reason)


def _note(
    suites: dict[tuple[str, str], None], errors: list[str], version: TlsVersionEnum, hello: _Hello, name: str
) -> None:
    if hello.accepted:
        suites[(VERSIONS[version], name)] = None
    elif hello.accepted is None:
        errors.append(f"{VERSIONS[version]}: {hello.reason}")


def _iana(version: TlsVersionEnum, openssl_name: str) -> str:
    """The IANA name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) of a suite OpenSSL named."""
    try:
        return CipherSuitesRepository.get_cipher_suite_with_openssl_name(version, openssl_name).name
    except ValueError:
        return openssl_name


_LEGACY_SUITES: dict[TlsVersionEnum, frozenset[str]] = {}


def _legacy_name(version: TlsVersionEnum, openssl_name: str) -> str | None:
    """The name nassl's legacy OpenSSL knows this suite by at `version`, or None if it cannot offer it
    (the old OpenSSL calls the DHE suites EDH-...)."""
    for name in (openssl_name, openssl_name.replace("DHE-", "EDH-", 1)):
        if _legacy_knows(version, name):
            return name
    return None


def _legacy_knows(version: TlsVersionEnum, openssl_name: str) -> bool:
    """Whether nassl's legacy OpenSSL (the one with the weak suites) can offer this suite at `version`."""
    known = _LEGACY_SUITES.get(version)
    if known is None:
        client = LegacySslClient(ssl_version=OpenSslVersionEnum(version.value))
        client.set_cipher_list(EVERY_SUITE)
        known = _LEGACY_SUITES[version] = frozenset(client.get_cipher_list())
    return openssl_name in known


def _needs_legacy(version: TlsVersionEnum, suite: CipherSuite) -> bool:
    if version is TlsVersionEnum.TLS_1_3:
        return False
    if version is TlsVersionEnum.TLS_1_2:
        return _legacy_knows(version, suite.openssl_name)
    return True
