"""email.tls_rpt: do mail servers know where to report failed encrypted deliveries (RFC 8460)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check
from secbase.parse.tlsrpt import TlsRptParseError, is_tlsrpt, parse_tlsrpt


@check(id="email.tls_rpt", severity="info", target="domain")
def tls_rpt(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """A _smtp._tls TXT record with a rua= address."""
    if not target.sends_mail:
        return [Result.not_applicable(tls_rpt, target, "declared as a domain without mail")]
    answer = facts.dns(f"_smtp._tls.{target.name}", "TXT")
    if answer.error is not None:
        return [Result.error(tls_rpt, target, answer.error)]
    texts = [t for t in answer.texts() if is_tlsrpt(t)]
    if not texts:
        return [
            Result.warn(
                tls_rpt,
                target,
                "No TLS reporting record (_smtp._tls): you will not hear when mail to you fails to be delivered securely.",
            )
        ]
    if len(texts) > 1:
        # RFC 8460 3: with more than one record, senders assume there is none.
        return [
            Result.warn(
                tls_rpt,
                target,
                f"{len(texts)} TLS reporting records: senders then use none of them. Keep one.",
                evidence="\n".join(texts),
            )
        ]
    try:
        record = parse_tlsrpt(texts[0])
    except TlsRptParseError as exc:
        return [
            Result.warn(
                tls_rpt, target, f"The TLS reporting record cannot be read: {exc}.", evidence=texts[0]
            )
        ]
    return [Result.passed(tls_rpt, target, f"TLS reports go to {', '.join(record.rua)}.", evidence=texts[0])]
