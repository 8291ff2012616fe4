"""The lab's mail servers: SMTP on port 25 of loopback addresses, with or without STARTTLS, or broken.

A "normal" server is aiosmtpd's `Controller` (an asyncio loop in its own thread) and keeps what it
receives. The broken ones are a few lines of `socketserver`, because aiosmtpd cannot misbehave on cue
(LAB.md 7): "drop_after_ehlo" offers STARTTLS and hangs up, "tempfail" greets with 421 and hangs up.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import sys
import threading
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from secbase.errors import LabError
from secbase.lab._running import Running
from secbase.lab.pki import CertFiles, server_context

__all__ = ["LabMailServer", "MailBehaviour", "ReceivedMail"]

MailBehaviour = Literal["normal", "drop_after_ehlo", "tempfail"]

READY_TIMEOUT = 5.0
IDLE_TIMEOUT = 10.0
IDENT = "ESMTP secbase lab"
AIOSMTPD_LOGGER = "mail.log"


class _QuietTlsSetup(logging.Filter):
    """Drop aiosmtpd's "SMTP session exception" traceback for a STARTTLS handshake the client broke off.

    sslyze and other scanners abort handshakes on purpose, once per probe; aiosmtpd then closes the
    connection correctly but logs a full traceback (LAB.md 7). Every other record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, TLSSetupException)


def _quiet_aiosmtpd() -> None:
    logger = logging.getLogger(AIOSMTPD_LOGGER)
    if not any(isinstance(f, _QuietTlsSetup) for f in logger.filters):
        logger.addFilter(_QuietTlsSetup())


def _probe_bind(address: str, port: int) -> None:
    """Bind and release `address:port` as asyncio will (SO_REUSEADDR), to fail fast and by name.

    aiosmtpd's Controller reports a failed bind only after its whole ready_timeout has passed.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((address, port))


class ReceivedMail:
    """One message a lab mail server accepted."""

    def __init__(self, mail_from: str, rcpt_tos: list[str], content: bytes, tls: bool) -> None:
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.content = content
        self.tls = tls  # whether the session had switched to TLS when the message came


class _Inbox:
    """aiosmtpd handler: accept every message and keep it."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = ReceivedMail(
            envelope.mail_from or "", list(envelope.rcpt_tos), content, session.ssl is not None
        )
        with self.lock:
            self.messages.append(mail)
        return "250 2.0.0 OK: queued"


class _RawServer(socketserver.ThreadingTCPServer):
    """The broken behaviours, byte by byte."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, address: str, port: int, host_name: str, behaviour: MailBehaviour, starttls: bool
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.host_name = host_name
        self.behaviour = behaviour
        self.starttls = starttls
        super().__init__((address, port), _RawHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exception(), OSError):
            return  # the client hung up first or timed out: nothing to report
        super().handle_error(request, client_address)


class _RawHandler(socketserver.StreamRequestHandler):
    server: _RawServer
    timeout = IDLE_TIMEOUT

    def _reply(self, *lines: str) -> None:
        self.wfile.write("".join(line + "\r\n" for line in lines).encode("ascii"))
        self.wfile.flush()

    def handle(self) -> None:
        host = self.server.host_name
        if self.server.behaviour == "tempfail":
            # RFC 5321 3.8: a server that cannot serve now may greet with 421 and close.
            self._reply(f"421 4.3.2 {host} Service not available, closing transmission channel")
            return
        self._reply(f"220 {host} {IDENT}")
        self.rfile.readline(1024)  # EHLO (whatever it is, the answer is the same)
        extensions = ["PIPELINING", "8BITMIME", *(["STARTTLS"] if self.server.starttls else [])]
        self._reply(f"250-{host}", *(f"250-{e}" for e in extensions[:-1]), f"250 {extensions[-1]}")
        # Then hang up, as a crashing or overloaded server does: the client's next command finds it gone.


class LabMailServer(Running):
    """An SMTP server for one mail host name on `address:port`.

    `starttls` offers STARTTLS with `cert`'s chain (required then); `require_starttls` makes MAIL
    before STARTTLS fail with 530. Behaviours: "normal" (aiosmtpd, keeps messages in `received`),
    "drop_after_ehlo" (answers EHLO, offering STARTTLS if `starttls`, then closes the connection),
    "tempfail" (greets with 421 and closes).

    Example:
        with LabMailServer("mail.alder.test", "127.44.4.25", starttls=True, cert=files):
            smtp = smtplib.SMTP("127.44.4.25", 25, local_hostname="scanner.test")
    """

    def __init__(
        self,
        host_name: str,
        address: str,
        *,
        port: int = 25,
        starttls: bool,
        cert: CertFiles | None,
        behaviour: MailBehaviour = "normal",
        require_starttls: bool = False,
        tls_min_version: ssl.TLSVersion | None = None,
        tls_max_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
    ) -> None:
        if behaviour not in ("normal", "drop_after_ehlo", "tempfail"):
            raise ValueError(f"unknown mail server behaviour {behaviour!r}")
        if starttls and cert is None and behaviour == "normal":
            raise ValueError("starttls=True needs a certificate (cert)")
        if require_starttls and not starttls:
            raise ValueError("require_starttls=True needs starttls=True")
        self.host_name = host_name
        self.address = address
        self.port = port
        self.starttls = starttls
        self.cert = cert
        self.behaviour = behaviour
        self.require_starttls = require_starttls
        self._tls = (tls_min_version, tls_max_version, ciphers)
        self._inbox = _Inbox()
        self._controller: Controller | None = None
        self._raw: _RawServer | None = None
        self._raw_thread: threading.Thread | None = None

    @property
    def received(self) -> list[ReceivedMail]:
        with self._inbox.lock:
            return list(self._inbox.messages)

    def start(self) -> None:
        """Listen and serve; raise LabError if the address and port cannot be bound."""
        if self._controller is not None or self._raw is not None:
            raise RuntimeError("LabMailServer already started")
        where = f"{self.address} port {self.port}"
        if self.behaviour != "normal":
            try:
                self._raw = _RawServer(self.address, self.port, self.host_name, self.behaviour, self.starttls)
            except OSError as exc:
                raise LabError(f"lab mail server {self.host_name} cannot listen on {where}: {exc}") from exc
            self._raw_thread = threading.Thread(
                target=self._raw.serve_forever, args=(0.05,), name=f"lab-smtp-{self.address}", daemon=True
            )
            self._raw_thread.start()
            return
        tls_context: ssl.SSLContext | None = None
        if self.starttls:
            min_version, max_version, ciphers = self._tls
            try:
                tls_context = server_context(
                    self.cert, min_version=min_version, max_version=max_version, ciphers=ciphers
                )
            except (ssl.SSLError, OSError) as exc:
                raise LabError(
                    f"the TLS settings of lab mail server {self.host_name} do not load: {exc}"
                ) from exc
            _quiet_aiosmtpd()
        try:
            _probe_bind(self.address, self.port)
        except OSError as exc:
            raise LabError(f"lab mail server {self.host_name} cannot listen on {where}: {exc}") from exc
        controller = Controller(
            self._inbox,
            hostname=self.address,
            port=self.port,
            server_hostname=self.host_name,  # the banner's name; aiosmtpd would otherwise ask DNS (getfqdn)
            ready_timeout=READY_TIMEOUT,
            tls_context=tls_context,
            require_starttls=self.require_starttls,
            ident=IDENT,
        )
        try:
            controller.start()
        except (OSError, TimeoutError, RuntimeError) as exc:
            controller.stop(no_assert=True)  # its loop thread may be up even though start() failed
            raise LabError(f"lab mail server {self.host_name} cannot listen on {where}: {exc}") from exc
        self._controller = controller

    def stop(self) -> None:
        """Stop serving; safe to call more than once."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.shutdown()
            raw.server_close()
        if self._raw_thread is not None:
            self._raw_thread.join(timeout=5)
            self._raw_thread = None
