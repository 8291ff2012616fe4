"""The TLS endpoints of a target and how one endpoint, seen at several addresses, is judged.

A website `www.x.test` is one endpoint, www.x.test port 443. A mail domain has one endpoint per MX host,
port 25 after STARTTLS. Every tls.* check walks them here, so they all agree on what was looked at and
on what "could not check" means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

from secbase import Check, Facts, Result, Status, Target, TargetKind
from secbase.facts import SmtpAnswer, TlsAnswer, smtp_key, tls_key

from .._dns_names import host_addresses
from .._text import clean, join_lines
from ..email.mx import mail_servers

HTTPS_PORT = 443
SMTP_PORT = 25
NAME_CHARS = 100
REASON_CHARS = 300
EVIDENCE_CHARS = 1000
OTHER_ADDRESSES = "addresses not looked up"

# A verdict on one address: a status and its summary (for ERROR, the reason it could not be checked).
Verdict = tuple[Status, str]


@dataclass(frozen=True)
class Unchecked:
    """An address of an endpoint whose TLS could not be looked at, and why (already cleaned)."""

    address: str
    reason: str


Probe = TlsAnswer | Unchecked


@dataclass(frozen=True)
class Endpoint:
    """One name and port, with what each of its addresses showed."""

    name: str  # the name sent as SNI and checked against the certificate
    port: int
    subject: str  # "" for a website (the target says it all), the MX host for a mail domain
    probes: tuple[Probe, ...]  # one per address, never empty


def endpoints(check_: Check, target: Target, facts: Facts) -> list[Endpoint | Result]:
    """The target's TLS endpoints, or the results (error, not applicable) that stand where none can be seen."""
    if target.kind is TargetKind.DOMAIN:
        return _mail_endpoints(check_, target, facts)
    return _web_endpoints(check_, target, facts)


def _web_endpoints(check_: Check, target: Target, facts: Facts) -> list[Endpoint | Result]:
    host = target.name.rstrip(".").lower()
    addresses, unknown = host_addresses([host], facts)
    ips = list(dict.fromkeys(addresses[host]))
    if not ips:
        reason = (
            clean(unknown[host], REASON_CHARS)
            if host in unknown
            else f"{clean(host, NAME_CHARS)} has no address"
        )
        return [Result.error(check_, target, reason)]
    # One round: every address is probed together.
    facts.require(*(tls_key(host, ip, HTTPS_PORT) for ip in ips))
    probes = tuple(facts.tls(host, ip, HTTPS_PORT) for ip in ips)
    return [Endpoint(host, HTTPS_PORT, "", probes + _not_looked_up(unknown.get(host)))]


def _mail_endpoints(check_: Check, target: Target, facts: Facts) -> list[Endpoint | Result]:
    names = mail_servers(check_, target, facts)
    if isinstance(names, Result):
        return [names]

    found, unknown = host_addresses(names, facts)
    addresses = {mx: list(dict.fromkeys(found[mx])) for mx in names}
    # Two rounds: every SMTP conversation together, then every TLS probe of the servers offering STARTTLS.
    facts.require(*(smtp_key(mx, ip, SMTP_PORT) for mx in names for ip in addresses[mx]))
    smtp = {(mx, ip): facts.smtp(mx, ip, SMTP_PORT) for mx in names for ip in addresses[mx]}
    ready = [key for key, a in smtp.items() if a.error is None and a.starttls_offered]
    facts.require(*(tls_key(mx, ip, SMTP_PORT, "smtp") for mx, ip in ready))

    out: list[Endpoint | Result] = []
    for mx in names:
        shown = clean(mx, NAME_CHARS)
        if not addresses[mx]:
            reason = (
                clean(unknown[mx], REASON_CHARS) if mx in unknown else f"{shown} has no address; see email.mx"
            )
            out.append(Result.error(check_, target, reason, subject=mx))
        else:
            probes = tuple(_mail_probe(mx, smtp[mx, ip], facts) for ip in addresses[mx])
            out.append(Endpoint(mx, SMTP_PORT, mx, probes + _not_looked_up(unknown.get(mx))))
    return out


def _not_looked_up(error: str | None) -> tuple[Unchecked, ...]:
    """The addresses of a host that could not be looked up (its A answered, its AAAA timed out, say): they
    count as not checked, so the host passes only if that lookup works, while a fail elsewhere still wins."""
    return () if error is None else (Unchecked(OTHER_ADDRESSES, clean(error, REASON_CHARS)),)


def _mail_probe(mx: str, smtp: SmtpAnswer, facts: Facts) -> Probe:
    if smtp.error is not None:
        return Unchecked(smtp.address, clean(smtp.error, REASON_CHARS))
    if not smtp.starttls_offered:
        # No encryption at all is email.starttls's finding: here there is nothing to judge.
        return Unchecked(
            smtp.address,
            f"the mail server {clean(mx, NAME_CHARS)} ({smtp.address}) does not offer STARTTLS; "
            "see email.starttls",
        )
    return facts.tls(mx, smtp.address, SMTP_PORT, "smtp")


def judge(
    check_: Check,
    target: Target,
    endpoint: Endpoint,
    verdict: Callable[[TlsAnswer], Verdict],
    line: Callable[[TlsAnswer], str],
    *,
    subject: str | None = None,
) -> Result:
    """One endpoint, judged by all its addresses: a definite fail anywhere wins; else an address that could
    not be checked makes it an error (a pass needs every address); else the worst verdict.

    `verdict` judges one address that answered; `line` says what it showed, for the evidence.
    """
    seen: list[tuple[str, Verdict]] = []
    lines: list[str] = []
    for probe in endpoint.probes:
        if isinstance(probe, Unchecked):
            seen.append((probe.address, (Status.ERROR, probe.reason)))
            lines.append(f"{probe.address}: could not check: {probe.reason}")
        elif probe.error is not None:
            reason = clean(probe.error, REASON_CHARS)
            seen.append((probe.address, (Status.ERROR, reason)))
            lines.append(f"{probe.address}: could not check: {reason}")
        else:
            seen.append((probe.address, verdict(probe)))
            lines.append(f"{probe.address}: {line(probe)}")
    evidence = join_lines(lines, EVIDENCE_CHARS)
    where = endpoint.subject if subject is None else subject
    several = len(seen) > 1
    for status in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS):
        hits = [(address, summary) for address, (s, summary) in seen if s is status]
        if not hits:
            continue
        address, summary = hits[0]
        if status is Status.ERROR:
            if several and address not in summary:
                summary = f"{summary} (at {address})"
            return Result.error(check_, target, summary, subject=where, evidence=evidence)
        if several and status is not Status.PASS:
            summary = f"{summary} Seen at {', '.join(a for a, _ in hits)}."
        return Result.make(check_, target, status, summary, subject=where, evidence=evidence)
    raise AssertionError("an endpoint always has at least one address")  # pragma: no cover


def judge_all(
    check_: Check,
    target: Target,
    facts: Facts,
    verdict: Callable[[TlsAnswer], Verdict],
    line: Callable[[TlsAnswer], str],
) -> list[Result]:
    """Every endpoint of the target judged by `verdict`, one result each (subject: "" or the MX host)."""
    return [
        found if isinstance(found, Result) else judge(check_, target, found, verdict, line)
        for found in endpoints(check_, target, facts)
    ]


def some(items: Iterable[str], limit: int = 3, chars: int = NAME_CHARS) -> str:
    """A few server-sent names for a sentence, cleaned: "a, b, c and 4 more"."""
    items = list(dict.fromkeys(items))
    shown = [clean(i, chars) for i in islice(items, limit)]
    rest = len(items) - len(shown)
    if rest > 0:
        return f"{', '.join(shown)} and {rest} more"
    if len(shown) > 1:
        return f"{', '.join(shown[:-1])} and {shown[-1]}"
    return shown[0] if shown else ""
