"""HTTP facts (requests): a GET and its redirect chain, every host resolved by the scan's own resolvers.

Only GET is ever sent, with a User-Agent that names secbase. Each hop connects to the address our DNS
facts give, with the real name for SNI, the Host header and certificate checking. Bodies are read up to
1 MiB and within a deadline, so a server that sends 10 GB or one byte a second costs one time-out.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as u3connection

from secbase._version import __version__
from secbase.facts import DnsAnswer, FactKey, HttpAnswer, HttpHop, HttpOutcome, dns_key
from secbase.probes import FactSource, Limiter
from secbase.probes._trust import TrustBundle

log = logging.getLogger(__name__)

USER_AGENT = f"secbase/{__version__} (security baseline check for a municipality; reads public pages only)"
MAX_BODY = 1 << 20  # 1 MiB: enough for any home page's head; a 10 GB body is cut here
MAX_HOPS = 10
MAX_HEADERS = 200  # http.client refuses more than 100 anyway; this caps what we keep
MAX_HEADER_VALUE = 8192
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address the scan resolved, while SNI, Host and certificate checks use the name."""

    def __init__(self, address: str, **kw: Any) -> None:
        def new_conn(conn: HTTPConnection) -> Any:
            return u3connection.create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )

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


class HttpProbe:
    """Answers http(url): the GET, redirects followed one hop at a time."""

    kinds: tuple[str, ...] = ("http",)

    def __init__(self, *, timeout_s: float, limiter: Limiter, ca_file: Path | None = None) -> None:
        self.timeout_s = timeout_s
        self.limiter = limiter
        self._trust = TrustBundle(ca_file)
        self.ca_bundle = str(self._trust.path)

    def close(self) -> None:
        """Remove the temporary CA bundle."""
        self._trust.close()

    async def fetch(self, key: FactKey, facts: FactSource) -> HttpAnswer:
        """The fact for an http(url) key."""
        start = url = key.args[0]
        hops: list[HttpHop] = []
        seen: set[str] = set()
        for _ in range(MAX_HOPS + 1):
            if url in seen:
                return HttpAnswer(
                    start, HttpOutcome.REDIRECT_LOOP, tuple(hops), reason=f"{url} redirects back to itself"
                )
            seen.add(url)
            parts = urlsplit(url)
            host = parts.hostname or ""
            if parts.scheme not in ("http", "https") or not host:
                return HttpAnswer(
                    start, HttpOutcome.ERROR, tuple(hops), reason=f"cannot follow a redirect to {url!r}"
                )
            address, failure = await self._address(host, facts)
            if address is None:
                assert failure is not None
                return HttpAnswer(start, failure[0], tuple(hops), reason=failure[1])
            async with self.limiter.slot(host):
                got = await asyncio.to_thread(self._get, url, address)
            if got.hop is None:
                return HttpAnswer(start, got.outcome, tuple(hops), reason=got.reason)
            hops.append(got.hop)
            if got.hop.status in REDIRECTS and got.hop.location:
                url = urljoin(url, got.hop.location)
                continue
            return HttpAnswer(start, HttpOutcome.OK, tuple(hops), body=got.body, body_truncated=got.truncated)
        return HttpAnswer(
            start, HttpOutcome.TOO_MANY_REDIRECTS, tuple(hops), reason=f"more than {MAX_HOPS} redirects"
        )

    async def _address(
        self, host: str, facts: FactSource
    ) -> tuple[str | None, tuple[HttpOutcome, str] | None]:
        """The host's first address by the scan's resolvers (IPv4 first), or why there is none."""
        if _is_ip(host):
            return host, None
        errors: list[str] = []
        for rdtype in ("A", "AAAA"):
            answer = await facts.fact(dns_key(host, rdtype))
            assert isinstance(answer, DnsAnswer)
            if answer.error is not None:
                errors.append(answer.error)
            elif answer.records:
                return answer.records[0], None
        if errors:
            return None, (HttpOutcome.DNS_ERROR, errors[0])
        return None, (HttpOutcome.NO_ADDRESS, f"{host} has no address in DNS")

    def _get(self, url: str, address: str) -> _Got:
        """One GET, in a worker thread: requests is blocking."""
        session = requests.Session()
        session.mount("http://", _PinnedAdapter(address))
        session.mount("https://", _PinnedAdapter(address))
        deadline = time.monotonic() + 3 * self.timeout_s
        try:
            with session.get(
                url,
                allow_redirects=False,
                stream=True,
                timeout=(self.timeout_s, self.timeout_s),
                verify=self.ca_bundle,
                headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"},
            ) as response:
                headers = tuple(
                    (name.lower(), value[:MAX_HEADER_VALUE])
                    for name, value in list(response.raw.headers.items())[:MAX_HEADERS]
                )
                body, truncated = _read_body(response, deadline)
                hop = HttpHop(url, address, response.status_code, headers, response.headers.get("location"))
                return _Got(hop, body, truncated)
        except requests.exceptions.SSLError as exc:
            if _cause(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
                # A hang-up in the middle of the handshake says nothing about the certificate.
                return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url} hung up during the TLS handshake")
            return _Got(
                None,
                outcome=HttpOutcome.TLS_ERROR,
                reason=f"the certificate of {url} was not accepted: {_why(exc)}",
            )
        except requests.exceptions.ConnectTimeout:
            return _Got(
                None, outcome=HttpOutcome.TIMEOUT, reason=f"{url} did not answer within {self.timeout_s:g} s"
            )
        except requests.exceptions.ReadTimeout:
            return _Got(
                None,
                outcome=HttpOutcome.TIMEOUT,
                reason=f"{url} stopped answering (over {self.timeout_s:g} s)",
            )
        except requests.exceptions.ConnectionError as exc:
            if _cause(exc, (ConnectionRefusedError,)):
                return _Got(
                    None, outcome=HttpOutcome.REFUSED, reason=f"nothing answers at {url} (connection refused)"
                )
            return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url}: {_why(exc)}")
        except (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
            ValueError,
        ) as exc:
            return _Got(None, outcome=HttpOutcome.ERROR, reason=f"{url}: {_why(exc)}")
        finally:
            session.close()


def _read_body(response: requests.Response, deadline: float) -> tuple[str, bool]:
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
        if size >= MAX_BODY or time.monotonic() > deadline:
            truncated = True
            break
    data = b"".join(chunks)[:MAX_BODY]
    return data.decode(response.encoding or "utf-8", errors="replace"), truncated


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


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
