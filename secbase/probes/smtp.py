"""SMTP facts: one conversation per MX address per scan: banner, EHLO, and STARTTLS if it is offered.

Conservative on purpose: a clear EHLO name, no MAIL command, QUIT at the end, time-outs. A refused
connection, a dropped one, a 4xx answer or greylisting is "could not check" (with what the server said),
never a verdict: many networks block outgoing port 25, and a busy server is not an insecure one.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
from functools import partial
from pathlib import Path
from typing import Any

from secbase.facts import FactKey, SmtpAnswer, SmtpOutcome
from secbase.probes import FactSource, Limiter
from secbase.probes._deadline import Deadline
from secbase.probes._trust import TrustBundle

log = logging.getLogger(__name__)

EHLO_NAME = "secbase-baseline-check.invalid"  # says who we are; .invalid: it is no host of anyone's
CONVERSATION_BUDGET = (
    6  # time-outs one conversation may take: connect, banner, EHLO, STARTTLS, handshake, QUIT
)
HOSTNAME_MISMATCH = 62  # OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH: the chain is fine, the name is not


class SmtpProbe:
    """Answers smtp(mx, address, port)."""

    kinds: tuple[str, ...] = ("smtp",)

    def __init__(self, *, timeout_s: float, limiter: Limiter, ca_file: Path | None = None) -> None:
        self.timeout_s = timeout_s
        self.limiter = limiter
        self._trust = TrustBundle(ca_file)

    def close(self) -> None:
        """Remove the temporary CA bundle."""
        self._trust.close()

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> SmtpAnswer:
        """The fact for an smtp(...) key; smtplib is blocking, so it talks in a worker thread."""
        mx, address, port = key.args[0], key.args[1], int(key.args[2])
        async with self.limiter.slot(address):
            return await asyncio.to_thread(self._talk, mx, address, port)

    def _talk(self, mx: str, address: str, port: int) -> SmtpAnswer:
        """The conversation, within one budget: a server trickling endless reply lines is cut off."""
        deadline = Deadline(CONVERSATION_BUDGET * self.timeout_s)
        smtp = _WatchedSMTP(deadline, timeout=self.timeout_s, local_hostname=EHLO_NAME)
        try:
            answer = self._converse(smtp, mx, address, port)
            in_time = not deadline.passed  # judged before QUIT: a slow goodbye changes nothing learned
            if answer.outcome is SmtpOutcome.OK:
                _goodbye(smtp)
        finally:
            deadline.close()
            smtp.close()
        if not in_time:  # whatever the cut looked like (a hang-up, a failed handshake), it was us
            return SmtpAnswer(
                mx,
                address,
                port,
                SmtpOutcome.TIMEOUT,
                reason=f"the mail server {mx} ({address} port {port}) did not finish the conversation "
                f"within {deadline.seconds:g} s",
            )
        return answer

    def _converse(self, smtp: smtplib.SMTP, mx: str, address: str, port: int) -> SmtpAnswer:
        where = f"{mx} ({address} port {port})"

        def ended(outcome: SmtpOutcome, reason: str, **kw: object) -> SmtpAnswer:
            return SmtpAnswer(mx, address, port, outcome, reason=reason, **kw)  # type: ignore[arg-type]

        greeted = False
        try:
            code, banner_bytes = smtp.connect(address, port)
            greeted = True
            banner = banner_bytes.decode("utf-8", errors="replace")[:500]
            if code != 220:
                kind = SmtpOutcome.TEMPFAIL if 400 <= code < 500 else SmtpOutcome.ERROR
                return ended(kind, f"the mail server {where} greeted with {code} {banner}", banner=banner)
            code, ehlo_bytes = smtp.ehlo(EHLO_NAME)
            ehlo = tuple(ehlo_bytes.decode("utf-8", errors="replace").splitlines()[:50])
            if code != 250:
                kind = SmtpOutcome.TEMPFAIL if 400 <= code < 500 else SmtpOutcome.ERROR
                return ended(
                    kind, f"the mail server {where} answered EHLO with {code}", banner=banner, ehlo=ehlo
                )
            if not smtp.has_extn("starttls"):
                answer = SmtpAnswer(mx, address, port, SmtpOutcome.OK, banner=banner, ehlo=ehlo)
            else:
                answer = self._starttls(smtp, mx, address, port, banner, ehlo)
            return answer
        except smtplib.SMTPConnectError as exc:
            kind = SmtpOutcome.TEMPFAIL if 400 <= exc.smtp_code < 500 else SmtpOutcome.ERROR
            return ended(kind, f"the mail server {where} answered {exc.smtp_code}: {_text(exc.smtp_error)}")
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):
                # smtplib reports a read that timed out as "Connection unexpectedly closed".
                when = "in the middle of the conversation" if greeted else "with its greeting"
                return ended(
                    SmtpOutcome.TIMEOUT,
                    f"the mail server {where} did not answer within {self.timeout_s:g} s {when}",
                )
            return ended(
                SmtpOutcome.DROPPED, f"the mail server {where} hung up in the middle of the conversation"
            )
        except ConnectionRefusedError:
            return ended(
                SmtpOutcome.REFUSED, f"nothing answers SMTP at {where} (refused; port 25 may be blocked)"
            )
        except TimeoutError:
            return ended(
                SmtpOutcome.TIMEOUT, f"the mail server {where} did not answer within {self.timeout_s:g} s"
            )
        except (OSError, smtplib.SMTPException, UnicodeError) as exc:
            return ended(
                SmtpOutcome.ERROR, f"talking to the mail server {where} failed: {type(exc).__name__}: {exc}"
            )

    def _starttls(
        self, smtp: smtplib.SMTP, mx: str, address: str, port: int, banner: str, ehlo: tuple[str, ...]
    ) -> SmtpAnswer:
        context = ssl.create_default_context(cafile=str(self._trust.path))
        smtp._host = mx  # type: ignore[attr-defined]  # smtplib sends this name as SNI and checks it (LAB.md 7)
        answer = partial(SmtpAnswer, mx, address, port, banner=banner, ehlo=ehlo, starttls_offered=True)
        try:
            smtp.starttls(context=context)  # raises for any answer but 220
        except smtplib.SMTPResponseException as exc:
            said = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:  # "try later": busy, not insecure
                return answer(SmtpOutcome.TEMPFAIL, reason=f"{mx} offered STARTTLS but answered {said}")
            return answer(
                SmtpOutcome.OK, tls_ok=False, cert_error=f"STARTTLS was offered but refused with {said}"
            )
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError):
            return answer(SmtpOutcome.DROPPED, reason=f"{mx} ({address}) hung up during the TLS handshake")
        except ssl.SSLCertVerificationError as exc:
            # The server did speak TLS and showed a certificate: the handshake works, the trust does not.
            name_only = exc.verify_code == HOSTNAME_MISMATCH
            return answer(
                SmtpOutcome.OK,
                tls_ok=True,
                cert_trusted=name_only,
                cert_name_matches=False if name_only else None,
                cert_error=str(exc.verify_message),
            )
        except ssl.SSLError as exc:
            return answer(SmtpOutcome.OK, tls_ok=False, cert_error=f"{exc.reason or exc}")
        version = smtp.sock.version() if isinstance(smtp.sock, ssl.SSLSocket) else ""
        return answer(
            SmtpOutcome.OK, tls_ok=True, tls_version=version or "", cert_trusted=True, cert_name_matches=True
        )


class _WatchedSMTP(smtplib.SMTP):
    """smtplib's client, its socket watched by a deadline from the moment it connects."""

    def __init__(self, deadline: Deadline, **kw: Any) -> None:
        self._deadline = deadline
        super().__init__(**kw)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self._deadline.watch(sock)
        return sock  # type: ignore[no-any-return]


def _goodbye(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a server that already hung up changes nothing in what we learned."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.debug("QUIT to %s not answered: %r", smtp._host, exc)  # type: ignore[attr-defined]


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    return " ".join(text.split())[:300]
