"""Endpoints for TLS check tests: a website and a mail domain, with the DNS, SMTP and TLS facts a scan
gathers about them. The TLS answers themselves come from tests/checks/factories.py (tls_answer)."""

from __future__ import annotations

from typing import Any

from secbase import FactKey
from secbase.facts import SmtpAnswer, SmtpOutcome, TlsCertificate, smtp_key
from tests.checks.factories import (
    Pair,
    TlsPair,
    answer,
    certificate,
    domain,
    host,
    intermediate,
    tls_answer,
)
from tests.checks.web.factories import website

SITE = "www.alder.test"
SITE_IP, SITE_IP6 = "192.0.2.80", "2001:db8::80"
D = "alder.test"
MX1, MX2 = "mx1.alder.test", "mx2.alder.test"
MX1_IP, MX1_IP6, MX2_IP = "192.0.2.25", "2001:db8::25", "198.51.100.25"
WEBSITE = website(SITE)
MAIL = domain(D)

SmtpPair = tuple[FactKey, SmtpAnswer]


def site_tls(address: str = SITE_IP, **kw: Any) -> TlsPair:
    """The website's TLS at one address, port 443: good unless told otherwise."""
    return tls_answer(SITE, address, 443, **kw)


def site(*answers: TlsPair, ips: tuple[str, ...] = (SITE_IP,)) -> list[Any]:
    """The website's addresses and its TLS answers (a good one per address when none is given)."""
    return [host(SITE, *ips), *(answers or [site_tls(ip) for ip in ips])]


def mx_chain(mx: str = MX1) -> tuple[TlsCertificate, ...]:
    return (certificate(f"CN={mx}", names=(mx,)), intermediate())


def mx_tls(mx: str = MX1, address: str = MX1_IP, **kw: Any) -> TlsPair:
    """An MX host's TLS after STARTTLS at one address, port 25: good unless told otherwise."""
    kw.setdefault("chain", mx_chain(mx))
    return tls_answer(mx, address, 25, "smtp", **kw)


def smtp(
    mx: str = MX1,
    address: str = MX1_IP,
    *,
    starttls: bool = True,
    outcome: SmtpOutcome = SmtpOutcome.OK,
    reason: str = "",
) -> SmtpPair:
    """The SMTP conversation before TLS: by default the server offers STARTTLS."""
    if outcome is not SmtpOutcome.OK:
        fact = SmtpAnswer(mx, address, 25, outcome, reason=reason)
    else:
        ehlo = (f"250-{mx}", "250-STARTTLS", "250 8BITMIME") if starttls else (f"250-{mx}", "250 8BITMIME")
        fact = SmtpAnswer(
            mx, address, 25, outcome, banner=f"220 {mx} ESMTP", ehlo=ehlo, starttls_offered=starttls
        )
    return smtp_key(mx, address), fact


def mx_records(*hosts: str) -> Pair:
    return answer(D, "MX", *(f"{10 * (i + 1)} {h}." for i, h in enumerate(hosts)))


def mail(*answers: TlsPair | SmtpPair, ips: tuple[str, ...] = (MX1_IP,)) -> list[Any]:
    """The domain with MX1 alone at `ips`: its SMTP conversations and TLS answers (good ones at every
    address when none is given; a given SMTP pair replaces the default one at its address)."""
    given = {key for key, _ in answers}
    facts: list[Any] = [mx_records(MX1), host(MX1, *ips)]
    facts += [smtp(MX1, ip) for ip in ips if smtp_key(MX1, ip) not in given]
    facts += list(answers) if answers else [mx_tls(MX1, ip) for ip in ips]
    return facts
