"""email.starttls: do the domain's MX hosts offer encryption (STARTTLS) with a certificate that holds?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Status, Target, check
from secbase.facts import SmtpAnswer, SmtpOutcome, smtp_key

from .._dns_names import host_addresses
from .._text import clean, join_lines
from .mx import mail_servers

BANNER_CHARS = 200
REASON_CHARS = 300
EVIDENCE_CHARS = 1000


@check(id="email.starttls", severity="medium", target="domain", facts=("dns", "smtp"))
def starttls(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Each MX host, at each of its addresses, offers STARTTLS with a trusted certificate for its name."""
    names = mail_servers(starttls, target, facts)
    if isinstance(names, Result):
        return [names]
    addresses, unknown = host_addresses(names, facts)
    # One round: every address of every MX host is talked to together.
    facts.require(*(smtp_key(mx, ip) for mx in names for ip in addresses[mx]))
    results = []
    for mx in names:
        if not addresses[mx]:
            why = unknown.get(mx, f"{mx} has no address; see email.mx")
            results.append(Result.error(starttls, target, why, subject=mx))
        else:  # the addresses that are known; a lookup that failed keeps a pass away, not a fail
            results.append(_judge(target, mx, [facts.smtp(mx, ip) for ip in addresses[mx]], unknown.get(mx)))
    return results


def _judge(target: Target, mx: str, answers: list[SmtpAnswer], lookup_error: str | None = None) -> Result:
    """One MX host, judged by all its addresses: a definite fail anywhere wins; else unknown anywhere (an
    address, or a lookup of some of them) is an error (a pass needs every address); else the worst verdict."""
    evidence = join_lines((_line(a) for a in answers), EVIDENCE_CHARS)
    verdicts = [_verdict(mx, a) for a in answers if a.error is None]
    failed = [v for v in verdicts if v[0] is Status.FAIL]
    if failed:
        return Result.make(starttls, target, Status.FAIL, failed[0][1], subject=mx, evidence=evidence)
    for a in answers:
        if a.error is not None:
            return Result.error(starttls, target, clean(a.error, REASON_CHARS), subject=mx, evidence=evidence)
    if lookup_error is not None:
        reason = clean(lookup_error, REASON_CHARS)
        return Result.error(starttls, target, reason, subject=mx, evidence=evidence)
    rank = {Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2}
    status, summary = min(verdicts, key=lambda v: rank[v[0]])
    return Result.make(starttls, target, status, summary, subject=mx, evidence=evidence)


def _verdict(mx: str, a: SmtpAnswer) -> tuple[Status, str]:
    at = f"{mx} ({a.address})"
    if not a.starttls_offered:
        return Status.FAIL, f"The mail server {at} does not offer STARTTLS: mail to it travels unencrypted."
    if a.tls_ok is False:
        why = clean(a.cert_error or a.reason or "no reason given", REASON_CHARS)
        return Status.FAIL, f"The mail server {at} offers STARTTLS, but the encrypted handshake fails: {why}"
    problems = []
    if a.cert_trusted is False:
        problems.append("is not trusted")
    if a.cert_name_matches is False:
        problems.append(f"does not match the name {mx}")
    if problems:
        why = f": {clean(a.cert_error, REASON_CHARS)}" if a.cert_error else "."
        return Status.WARN, f"The certificate of the mail server {at} {' and '.join(problems)}{why}"
    return Status.PASS, f"Offers STARTTLS with a trusted certificate for {mx}."


def _line(a: SmtpAnswer) -> str:
    """What one address said: its outcome, TLS version and banner."""
    parts = [f"{a.address}: {a.outcome}"]
    if a.outcome is SmtpOutcome.OK:
        parts.append("STARTTLS offered" if a.starttls_offered else "no STARTTLS")
    if a.tls_version:
        parts.append(a.tls_version)
    if a.banner:
        parts.append(clean(a.banner, BANNER_CHARS))
    return "; ".join(parts)
