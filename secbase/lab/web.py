"""The lab's web servers: HTTPS and HTTP on loopback, one configurable site per town host.

Each site plants what a website check looks at: its certificate (secbase.lab.pki), protocol versions
and suites, where plain HTTP goes, response headers and cookies, security.txt and the MTA-STS policy.
Hostile sites (`misbehaviour`) test that scans survive servers that flood, stall or send bad bytes.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from dataclasses import KW_ONLY, dataclass, field
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Literal
from urllib.parse import urlsplit

from secbase.errors import LabError
from secbase.lab._running import Running
from secbase.lab.pki import CertFiles, server_context

__all__ = ["HttpBehaviour", "LabSite", "LabWebServer", "Misbehaviour"]

HttpBehaviour = Literal["redirect_https", "redirect_other_host", "no_redirect", "none"]
Misbehaviour = Literal["huge_headers", "header_flood", "huge_body", "slow", "bad_utf8"]

HUGE_HEADER_COUNT = 5000
HEADER_FLOOD_COUNT = 100_000  # "header_flood": the requirement's number, some 3 MB of headers
HANDSHAKE_TIMEOUT = 5.0  # a client that connects and never says hello must not hold a thread for long
IDLE_TIMEOUT = 10.0  # keep-alive connections, and clients that stop reading
STREAM_CHUNK = b"x" * 65536
POLL_INTERVAL = 0.05  # how quickly serve_forever notices stop(); each listener polls independently


@dataclass(frozen=True)
class LabSite:
    """One website: its name, where it listens, and what it plants.

    `cert` None means no HTTPS listener for this site. `http_behaviour` decides plain HTTP on
    `http_port`: a 301 to the same path over HTTPS, a 301 to `redirect_to`, the site itself unencrypted,
    or no HTTP listener at all. `headers` are sent on every page of the site (a list per name, so a
    header can repeat), `cookies` are raw Set-Cookie values sent with the home page. Sites that share
    an address and port are told apart by SNI and by the Host header; they must then share
    `tls_min_version`, `tls_max_version` and `ciphers`, because OpenSSL keeps the first context's
    protocol settings when SNI switches the certificate.
    """

    host: str
    address: str
    cert: CertFiles | None
    _: KW_ONLY
    https_port: int = 443
    http_port: int = 80
    http_behaviour: HttpBehaviour = "redirect_https"
    redirect_to: str = "https://www.elsewhere.test/"  # for "redirect_other_host"
    headers: dict[str, list[str]] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    body: str | None = None  # HTML of the home page; None: a plain page naming the host
    security_txt: str | None = None  # served at /.well-known/security.txt
    mta_sts_policy: str | None = None  # served at /.well-known/mta-sts.txt
    tls_min_version: ssl.TLSVersion | None = None
    tls_max_version: ssl.TLSVersion | None = None
    ciphers: str | None = None  # OpenSSL cipher string for TLS 1.2 and below; see pki.server_context
    misbehaviour: Misbehaviour | None = None
    aliases: tuple[str, ...] = ()  # more names this site answers to (SNI and Host)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.lower().rstrip(".") for n in (self.host, *self.aliases))

    def page(self) -> str:
        if self.body is not None:
            return self.body
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{self.host}</title></head>\n<body><h1>{self.host}</h1></body></html>\n"
        )


def _host_name(header: str | None) -> str:
    """The name in a Host header: lower case, without port, brackets or trailing dot."""
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class _Server(ThreadingHTTPServer):
    """One listening socket (address, port, plain or TLS) serving one or more sites."""

    daemon_threads = True
    block_on_close = False  # stop() ends connections itself; a stuck client must not hang it

    def __init__(
        self,
        address: str,
        port: int,
        sites: list[LabSite],
        tls: ssl.SSLContext | None,
        stopping: threading.Event,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sites = sites
        self.by_name = {name: site for site in sites for name in site.names}
        self.tls = tls
        self.stopping = stopping
        self.handshake_failures = 0
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__((address, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS query to the system resolver:
        # traffic off the machine, and slow. The lab knows its names.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def site_for(self, host_header: str | None) -> LabSite:
        """The site named by Host; an unknown or missing Host gets the first site, like a default vhost."""
        return self.by_name.get(_host_name(host_header), self.sites[0])

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's own thread (ThreadingMixIn), so a slow TLS handshake blocks nobody.
        conn: socket.socket = request
        if self.tls is not None:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                # ssl.SSLError is an OSError. Scanners fail handshakes on purpose (probing SSL 3.0,
                # RC4...), so this is counted, not logged; wrap_socket has closed the socket.
                with self.lock:
                    self.handshake_failures += 1
                return
        with self.lock:
            self.connections.add(conn)
        try:
            super().finish_request(conn, client_address)
        finally:
            with self.lock:
                self.connections.discard(conn)
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exception(), OSError):
            return  # the client went away mid-response (resets, timeouts): normal for scanners
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # already closed by its thread or the peer: nothing left to end


@cache
def _filler(count: int) -> str:
    """`count` filler header lines, built once: a flood must start at once, not after seconds of f-strings."""
    return "\r\n".join(f"X-Lab-Filler-{i}: {'x' * 16}" for i in range(count))


class _Handler(BaseHTTPRequestHandler):
    """Answers GET and HEAD for the site named by Host; other known methods get 405."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "lab-httpd"  # no version: a site plants one with headers={"Server": [...]}
    sys_version = ""
    timeout = IDLE_TIMEOUT

    def do_GET(self) -> None:
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        self._serve(with_body=False)

    def _not_allowed(self) -> None:
        # The request body is left unread, so the connection cannot be reused: close it.
        self._send(405, [("Allow", "GET, HEAD")], b"method not allowed\n", with_body=True, close=True)

    # Unknown methods get the standard library's 501 Not Implemented, as they should.
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per request on stderr would bury test output; the lab is not audited

    def _serve(self, *, with_body: bool) -> None:
        site = self.server.site_for(self.headers.get("Host"))
        parts = urlsplit(self.path)  # the path may come in absolute form: GET http://host/x HTTP/1.1
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        plain = self.server.tls is None
        if plain and site.http_behaviour == "redirect_https":
            port = "" if site.https_port == 443 else f":{site.https_port}"
            location = f"https://{site.host}{port}{target}"
            self._send(301, [("Location", location)], b"", with_body=with_body, site=site)
            return
        if plain and site.http_behaviour == "redirect_other_host":
            self._send(301, [("Location", site.redirect_to)], b"", with_body=with_body, site=site)
            return
        headers = [(name, value) for name, values in site.headers.items() for value in values]
        texts = {
            "/.well-known/security.txt": site.security_txt,
            "/.well-known/mta-sts.txt": site.mta_sts_policy,
        }
        text = texts.get(parts.path)
        if parts.path in ("/", "/index.html"):
            headers += [("Set-Cookie", cookie) for cookie in site.cookies]
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "text/html; charset=utf-8"))
            self._send(200, headers, site.page().encode("utf-8"), with_body=with_body, site=site)
        elif text is not None:
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            self._send(200, headers, text.encode("utf-8"), with_body=with_body, site=site)
        else:
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            self._send(404, headers, b"not found\n", with_body=with_body, site=site)

    def _send(
        self,
        code: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        with_body: bool,
        site: LabSite | None = None,
        close: bool = False,
    ) -> None:
        """Write the response as raw bytes: repeated headers, and misbehaving ones, go out as given."""
        misbehaviour = site.misbehaviour if site is not None else None
        filler = []
        if misbehaviour in ("huge_headers", "header_flood"):
            filler = [_filler(HUGE_HEADER_COUNT if misbehaviour == "huge_headers" else HEADER_FLOOD_COUNT)]
        elif misbehaviour == "bad_utf8":
            # Latin-1 encoding turns these into bytes 0xE9 0xFF 0xFE: never valid UTF-8.
            headers = [*headers, ("X-Lab-Greeting", "caf\xe9 \xff\xfe")]
            body = body + b"<p>caf\xe9 \xff\xfe \xc3\x28</p>\n"
        own_server = any(name.lower() == "server" for name, _ in headers)
        lines = [
            f"{self.protocol_version} {code} {HTTPStatus(code).phrase}",
            *([] if own_server else [f"Server: {self.server_version}"]),
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in headers),
            *filler,
        ]
        if misbehaviour == "huge_body":
            close = True  # no length: the body ends when the connection does (it never does)
        else:
            lines.append(f"Content-Length: {len(body)}")
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = head + body if with_body else head
        if misbehaviour == "slow":
            for i in range(len(payload)):
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
                if self.server.stopping.wait(1.0):
                    return
        elif misbehaviour == "huge_body":
            self.wfile.write(head)
            while with_body and not self.server.stopping.is_set():
                self.wfile.write(STREAM_CHUNK)  # until the client hangs up (BrokenPipeError) or stop()
        else:
            self.wfile.write(payload)


class LabWebServer(Running):
    """HTTPS and HTTP listeners for a list of sites, each in its own thread.

    Example:
        pki = LabPki(tmp / "pki", now=now)
        site = LabSite("www.alder.test", "127.44.0.10", pki.issue("www", sans=["www.alder.test"]),
                       headers={"Strict-Transport-Security": ["max-age=31536000"]})
        with LabWebServer([site]):
            ...  # https://www.alder.test/ at 127.44.0.10:443, http:// redirects there
    """

    def __init__(self, sites: list[LabSite]) -> None:
        self.sites = list(sites)
        self._stopping = threading.Event()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    @property
    def handshake_failures(self) -> int:
        """TLS handshakes that failed on any listener (a scanner probing old protocols makes many)."""
        return sum(server.handshake_failures for server in self._servers)

    def _plan(self) -> dict[tuple[str, int, bool], list[LabSite]]:
        """(address, port, tls) -> the sites on that listener, checked for clashes."""
        plan: dict[tuple[str, int, bool], list[LabSite]] = {}
        for site in self.sites:
            if site.cert is not None:
                plan.setdefault((site.address, site.https_port, True), []).append(site)
            if site.http_behaviour != "none":
                plan.setdefault((site.address, site.http_port, False), []).append(site)
        for (address, port, tls), sites in plan.items():
            names = [name for site in sites for name in site.names]
            if len(names) != len(set(names)):
                raise ValueError(f"two sites on {address} port {port} answer to the same name: {names}")
            settings = {(s.tls_min_version, s.tls_max_version, s.ciphers) for s in sites}
            if tls and len(settings) > 1:
                raise ValueError(
                    f"sites sharing {address} port {port} must share TLS versions and ciphers: "
                    "SNI switches only the certificate"
                )
        return plan

    def _context(self, sites: list[LabSite]) -> ssl.SSLContext:
        contexts: dict[str, ssl.SSLContext] = {}
        for site in sites:
            try:
                ctx = server_context(
                    site.cert,
                    min_version=site.tls_min_version,
                    max_version=site.tls_max_version,
                    ciphers=site.ciphers,
                )
            except (ssl.SSLError, OSError, ValueError) as exc:
                raise LabError(f"the TLS settings of lab site {site.host} do not load: {exc}") from exc
            contexts.update(dict.fromkeys(site.names, ctx))
        default = contexts[sites[0].names[0]]
        if len(sites) > 1:

            def pick(conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext) -> None:
                chosen = contexts.get((server_name or "").lower().rstrip("."))
                if chosen is not None:
                    conn.context = chosen  # no or unknown SNI: the first site's certificate, like nginx

            default.sni_callback = pick
        return default

    def start(self) -> None:
        """Bind every listener and serve; raise LabError naming the listener that cannot start."""
        if self._servers:
            raise RuntimeError("LabWebServer already started")
        self._stopping.clear()
        plan = self._plan()
        try:
            for (address, port, tls), sites in plan.items():
                ctx = self._context(sites) if tls else None
                try:
                    self._servers.append(_Server(address, port, sites, ctx, self._stopping))
                except OSError as exc:
                    scheme = "HTTPS" if tls else "HTTP"
                    raise LabError(
                        f"lab {scheme} server cannot listen on {address} port {port}: {exc}"
                    ) from exc
        except LabError:
            self.stop()
            raise
        for server in self._servers:
            name = f"lab-web-{server.server_name}:{server.server_port}"
            thread = threading.Thread(
                target=server.serve_forever, args=(POLL_INTERVAL,), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every listener and end open connections; safe to call more than once."""
        self._stopping.set()
        for server in self._servers:
            if self._threads:
                server.shutdown()  # returns once serve_forever has left its loop
            server.server_close()
            server.close_connections()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []
