"""HTTP facts (requests): a GET and its redirect chain, every host resolved by the scan's own resolvers.

Only GET is ever sent, with a User-Agent that names secbase. Each hop connects to the addresses our DNS
facts give (the next one when one refuses or does not answer, as browsers do), with the real name for
SNI, the Host header and certificate checking. A hop has one time budget for connecting, TLS, headers
and body: a server that answers one byte a second costs one time-out, and a 10 GB body is cut at 1 MiB.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as u3connection

from secbase._version import __version__
from secbase.facts import DnsAnswer, FactKey, HttpAnswer, HttpHop, HttpOutcome, dns_key
from secbase.parse import clip, escape, ip_literal
from secbase.probes import FactSource, Limiter
from secbase.probes._deadline import Deadline
from secbase.probes._trust import TrustBundle

log = logging.getLogger(__name__)

USER_AGENT = f"secbase/{__version__} (security baseline check for a municipality; reads public pages only)"
MAX_BODY = 1 << 20  # 1 MiB: enough for any home page's head; a 10 GB body is cut here
MAX_HOPS = 10
MAX_HEADERS = 200  # http.client refuses more than 100 anyway; this caps what we keep
# http.client reads header lines of up to 64 KiB; only a value folded over several lines (obs-fold) can be
# longer. A value over this is not cut (a CSP cut short may lose the directive that matters): the fetch
# then ends in ERROR, naming the cap.
MAX_HEADER_VALUE = 65536
HOP_BUDGET = 3  # time-outs one hop may take in all: connecting (every address), TLS, headers and body
REASON_URL_CHARS = 200  # a URL in a reason: redirects come from servers and may be 64 KB long
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_UNREACHED = {
    HttpOutcome.REFUSED: "connection refused",
    HttpOutcome.TIMEOUT: "no answer in time",
    HttpOutcome.ERROR: "unreachable",
}
# A host name a redirect may lead to: LDH labels (and "_", seen in the wild), 253 characters at most,
# perhaps with the root's dot at the end.
_HOST_NAME = re.compile(
    r"(?=.{1,254}\Z)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?\Z"
)


class _PinnedAdapter(HTTPAdapter):
    """Connects to one address the scan resolved, while SNI, Host and certificate checks use the name."""

    def __init__(self, address: str, deadline: Deadline, **kw: Any) -> None:
        def new_conn(conn: HTTPConnection) -> Any:
            # As urllib3's own _new_conn: its exceptions tell a failed connection from a failed answer.
            wait_s = min(float(conn.timeout or deadline.seconds), deadline.remaining())
            if wait_s <= 0:
                raise ConnectTimeoutError(conn, f"no time left to connect to {address}")
            try:
                sock = u3connection.create_connection(
                    (address, conn.port),
                    wait_s,
                    source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(conn, f"connecting to {address} timed out") from exc
            except OSError as exc:
                raise NewConnectionError(conn, f"cannot connect to {address}: {exc}") from exc
            deadline.watch(sock)
            return sock

        http = type("PinnedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
        https = type("PinnedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
        self._pools = {
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__(**kw)

    def init_poolmanager(self, *args: Any, **kw: Any) -> None:
        super().init_poolmanager(*args, **kw)
        self.poolmanager.pool_classes_by_scheme = self._pools


@dataclass(frozen=True)
class _Got:
    """One request's ending, from the worker thread."""

    hop: HttpHop | None
    body: str = ""
    truncated: bool = False
    outcome: HttpOutcome = HttpOutcome.OK
    reason: str = ""
    unreached: bool = False  # the connection itself failed (refused, timed out): another address may do


class HttpProbe:
    """Answers http(url): the GET, redirects followed one hop at a time."""

    kinds: tuple[str, ...] = ("http",)

    def __init__(self, *, timeout_s: float, limiter: Limiter, ca_file: Path | None = None) -> None:
        self.timeout_s = timeout_s
        self.limiter = limiter
        self._trust = TrustBundle(ca_file)

    def close(self) -> None:
        """Remove the temporary CA bundle."""
        self._trust.close()

    async def fetch(self, key: FactKey, facts: FactSource) -> HttpAnswer:
        """The fact for an http(url) key."""
        start = url = key.args[0]
        hops: list[HttpHop] = []
        seen: set[str] = set()

        def ended(outcome: HttpOutcome, reason: str, **kw: Any) -> HttpAnswer:
            # Reasons quote URLs and errors that servers wrote: shown safe and short, like any data.
            return HttpAnswer(start, outcome, tuple(hops), reason=_safe(reason, 600), **kw)

        for _ in range(MAX_HOPS + 1):
            if url in seen:
                return ended(HttpOutcome.REDIRECT_LOOP, f"{_short(url)} redirects back to itself")
            seen.add(url)
            host = _host(url)
            if host is None:
                return ended(HttpOutcome.ERROR, f"cannot follow a redirect to {_short(url)!r}")
            addresses, failure = await self._addresses(host, facts)
            if failure is not None:
                return ended(*failure)
            async with self.limiter.slot(host):
                got = await asyncio.to_thread(self._get, url, addresses)
            if got.hop is not None:
                hops.append(got.hop)
            if got.hop is None or got.outcome is not HttpOutcome.OK:
                return ended(got.outcome, got.reason, body=got.body, body_truncated=got.truncated)
            if got.hop.status in REDIRECTS and got.hop.location:
                try:
                    url = urljoin(url, got.hop.location)
                except ValueError:
                    return ended(
                        HttpOutcome.ERROR, f"cannot follow a redirect to {_short(got.hop.location)!r}"
                    )
                continue
            return ended(HttpOutcome.OK, "", body=got.body, body_truncated=got.truncated)
        return ended(HttpOutcome.TOO_MANY_REDIRECTS, f"more than {MAX_HOPS} redirects")

    async def _addresses(
        self, host: str, facts: FactSource
    ) -> tuple[list[str], tuple[HttpOutcome, str] | None]:
        """Every address of the host by the scan's resolvers, IPv4 first, or why they are not known.

        A lookup that could not be answered makes them unknown even when the other family answered:
        a site is judged on all its addresses or not at all. NXDOMAIN and NODATA are answers.
        """
        if ip_literal(host) is not None:
            return [host], None
        answers = await asyncio.gather(*(facts.fact(dns_key(host, rdtype)) for rdtype in ("A", "AAAA")))
        addresses: list[str] = []
        for answer in answers:
            if not isinstance(answer, DnsAnswer):  # the DNS probe itself broke: say so, do not guess
                why = getattr(answer, "reason", "") or type(answer).__name__
                return [], (HttpOutcome.DNS_ERROR, f"the address of {host} could not be looked up: {why}")
            if answer.error is not None:
                return [], (HttpOutcome.DNS_ERROR, answer.error)
            addresses += answer.records
        if not addresses:
            return [], (HttpOutcome.NO_ADDRESS, f"{host} has no address in DNS")
        return list(dict.fromkeys(addresses)), None

    def _get(self, url: str, addresses: Sequence[str]) -> _Got:
        """One GET, in a worker thread (requests is blocking): each address in turn until one answers."""
        deadline = Deadline(HOP_BUDGET * self.timeout_s)
        try:
            unreached: list[tuple[str, _Got]] = []
            for address in addresses:
                got = self._get_from(url, address, deadline)
                if not got.unreached:
                    return got
                unreached.append((address, got))
                if deadline.passed:
                    break
        finally:
            deadline.close()
        if len(addresses) == 1:
            return unreached[0][1]
        outcomes = {got.outcome for _, got in unreached}
        notes = "; ".join(f"{address}: {_UNREACHED[got.outcome]}" for address, got in unreached)
        if outcomes == {HttpOutcome.REFUSED} and len(unreached) == len(addresses):
            return _Got(None, outcome=HttpOutcome.REFUSED, reason=f"nothing answers at {url} ({notes})")
        # Some address did not answer, or was not tried in time: whether it would refuse is not known.
        timed_out = HttpOutcome.TIMEOUT in outcomes or len(unreached) < len(addresses)
        return _Got(
            None,
            outcome=HttpOutcome.TIMEOUT if timed_out else HttpOutcome.ERROR,
            reason=f"{url} could not be reached at any address within {deadline.seconds:g} s ({notes})",
        )

    def _get_from(self, url: str, address: str, deadline: Deadline) -> _Got:
        """One GET to one address, within the hop's deadline."""
        adapter = _PinnedAdapter(address, deadline)
        request = requests.Request(
            "GET", url, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"}
        ).prepare()
        late = _Got(
            None,
            outcome=HttpOutcome.TIMEOUT,
            reason=f"{url} did not finish answering within {deadline.seconds:g} s",
        )
        try:
            # The adapter, not a Session: a Session reads a redirect's whole body to free the connection
            # (an endless one never ends) and takes proxies and .netrc passwords from the environment.
            response = adapter.send(
                request,
                stream=True,
                timeout=(self.timeout_s, self.timeout_s),
                verify=str(self._trust.path),
                proxies={},
            )
            try:
                headers = tuple(
                    (name.lower(), value) for name, value in list(response.raw.headers.items())[:MAX_HEADERS]
                )
                too_long = [name for name, value in headers if len(value) > MAX_HEADER_VALUE]
                if too_long:
                    return _Got(
                        None,
                        outcome=HttpOutcome.ERROR,
                        reason=f"{url} sent a {too_long[0]} header longer than {MAX_HEADER_VALUE} characters, "
                        "more than is read",
                    )
                hop = HttpHop(url, address, response.status_code, headers, response.headers.get("location"))
                if hop.status in REDIRECTS and hop.location:
                    body, truncated = "", False  # a redirect's body is never shown: not read at all
                else:
                    body, truncated = _read_body(response, deadline)
            finally:
                response.close()
            if deadline.passed:
                # The page was still coming: judging what arrived would judge a page we never saw whole.
                return replace(late, hop=hop, body=body, truncated=True)
            return _Got(hop, body, truncated)
        except requests.exceptions.SSLError as exc:
            if deadline.passed:
                return late
            if _cause(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
                # A hang-up in the middle of the handshake says nothing about the certificate.
                return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url} hung up during the TLS handshake")
            if _cause(exc, (ssl.SSLCertVerificationError,)):
                why = f"the certificate of {url} was not accepted: {_why(exc)}"
            else:
                why = f"the TLS handshake with {url} failed: {_why(exc)}"
            return _Got(None, outcome=HttpOutcome.TLS_ERROR, reason=why)
        except requests.exceptions.ConnectTimeout:
            return _Got(
                None,
                outcome=HttpOutcome.TIMEOUT,
                reason=f"{url} did not answer within {self.timeout_s:g} s (at {address})",
                unreached=True,
            )
        except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):
            # urllib3's own when the body stalls: read1 is urllib3's, not wrapped by requests.
            return _Got(
                None,
                outcome=HttpOutcome.TIMEOUT,
                reason=f"{url} stopped answering (over {self.timeout_s:g} s)",
            )
        except requests.exceptions.ConnectionError as exc:
            if deadline.passed:
                return late
            if _cause(exc, (ConnectionRefusedError,)):
                return _Got(
                    None,
                    outcome=HttpOutcome.REFUSED,
                    reason=f"nothing answers at {url} ({address}: connection refused)",
                    unreached=True,
                )
            if _cause(exc, (NewConnectionError,)):
                # Unreachable network or host (no IPv6 route, say): a browser tries the next address.
                return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url}: {_why(exc)}", unreached=True)
            return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url}: {_why(exc)}")
        except (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
            ValueError,
        ) as exc:
            if deadline.passed:
                return late
            return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url}: {_why(exc)}")
        finally:
            adapter.close()


def _read_body(response: requests.Response, deadline: Deadline) -> tuple[str, bool]:
    """At most MAX_BODY bytes, and only until the deadline: a slow or endless body is cut, not waited for."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    while True:
        # read1: whatever one read of the socket gives, so that a server sending a byte at a time is
        # measured against the deadline after each byte, not after a buffer that never fills.
        chunk = response.raw.read1(65536, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY or deadline.passed:
            truncated = True
            break
    data = b"".join(chunks)[:MAX_BODY]
    return data.decode(_codec(response.encoding), errors="replace"), truncated


def _codec(name: str | None) -> str:
    """The charset a server named, if Python decodes text with it; else UTF-8 (the web's default)."""
    try:
        # Not b"": Python decodes nothing without looking the codec up. LookupError also for rot13 & co.
        b"x".decode(name or "utf-8", errors="replace")
    except LookupError:
        return "utf-8"
    return name or "utf-8"


def _host(url: str) -> str | None:
    """The host of a URL we may follow (http or https, a host name or an address), or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError for a port that is no number or out of range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ip_literal(host) is not None:
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    return ascii_host if _HOST_NAME.match(ascii_host) else None


def _short(url: str) -> str:
    return url if len(url) <= REASON_URL_CHARS else url[: REASON_URL_CHARS - 3] + "..."


def _safe(text: str, limit: int) -> str:
    """Server-written text fit for a reason: unsafe characters escaped (\\x1b), cut to `limit` characters."""
    return clip(escape(text), limit)


def _cause(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether one of `kinds` is somewhere in the exception's chain (requests wraps urllib3 wraps OSError)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kinds):
            return True
        todo += [item.__cause__, item.__context__, *(a for a in item.args if isinstance(a, BaseException))]
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return False


def _why(exc: BaseException) -> str:
    """The innermost reason of a requests exception, in one line."""
    inner: BaseException = exc
    while inner.__context__ is not None and len(str(inner.__context__)) > 0:
        inner = inner.__context__
    text = str(inner) or type(inner).__name__
    return " ".join(text.split())[:300]
