"""email.dmarc.*: is there one DMARC record, does it protect, does it parse, do reports reach someone?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check

from .._dns_names import organisational_domain
from ._dmarc_lookup import find_dmarc


def _where(found_domain: str, inherited: bool) -> str:
    return f"_dmarc.{found_domain}" + (" (the organisational domain's record applies)" if inherited else "")


@check(id="email.dmarc.present", severity="high", target="domain")
def dmarc_present(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """One DMARC record at _dmarc.DOMAIN or at its organisational domain."""
    found = find_dmarc(target.name, facts)
    if found.error is not None:
        return [Result.error(dmarc_present, target, found.error)]
    if not found.texts:
        return [
            Result.fail(
                dmarc_present,
                target,
                "No DMARC record: receivers are not told what to do with mail that fakes this domain.",
            )
        ]
    if len(found.texts) > 1:
        return [
            Result.fail(
                dmarc_present,
                target,
                f"{len(found.texts)} DMARC records at _dmarc.{found.domain}: receivers ignore them all. Keep one.",
                evidence="\n".join(found.texts),
            )
        ]
    return [
        Result.passed(
            dmarc_present,
            target,
            f"One DMARC record at {_where(found.domain, found.inherited)}.",
            evidence=found.texts[0],
        )
    ]


@check(id="email.dmarc.syntax", severity="medium", target="domain")
def dmarc_syntax(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The DMARC record starts with v=DMARC1 and its tags are well formed."""
    found = find_dmarc(target.name, facts)
    if found.error is not None:
        return [Result.error(dmarc_syntax, target, found.error)]
    if len(found.texts) != 1:
        return [
            Result.error(
                dmarc_syntax, target, "there is not exactly one DMARC record; see email.dmarc.present"
            )
        ]
    if found.parse_error is not None:
        return [
            Result.fail(
                dmarc_syntax,
                target,
                f"The DMARC record cannot be read, so receivers ignore it: {found.parse_error}.",
                evidence=found.texts[0],
            )
        ]
    return [Result.passed(dmarc_syntax, target, "The DMARC record is well formed.", evidence=found.texts[0])]


@check(id="email.dmarc.policy", severity="high", target="domain")
def dmarc_policy(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """p=reject on all mail (pct=100), and no sp=none for subdomains."""
    found = find_dmarc(target.name, facts)
    if found.error is not None:
        return [Result.error(dmarc_policy, target, found.error)]
    if found.record is None:
        return [
            Result.error(
                dmarc_policy, target, "no readable DMARC record; see email.dmarc.present and .syntax"
            )
        ]
    rec, evidence = found.record, found.texts[0]
    policy = found.policy
    if policy == "none":
        which = "sp=none (for subdomains)" if found.inherited and rec.sp == "none" else "p=none"
        return [
            Result.fail(
                dmarc_policy,
                target,
                f"The DMARC policy is {which}: it only monitors, so faked mail is still delivered.",
                evidence=evidence,
            )
        ]
    if rec.sp == "none":
        return [
            Result.fail(
                dmarc_policy,
                target,
                "The DMARC record has sp=none: mail faking any subdomain is still delivered.",
                evidence=evidence,
            )
        ]
    if rec.pct < 100:
        return [
            Result.fail(
                dmarc_policy,
                target,
                f"The DMARC policy applies to only {rec.pct}% of mail (pct={rec.pct}); the rest is delivered as is.",
                evidence=evidence,
            )
        ]
    if policy == "quarantine":
        which = (
            "sp=quarantine (for subdomains)" if found.inherited and rec.sp == "quarantine" else "p=quarantine"
        )
        return [
            Result.warn(
                dmarc_policy,
                target,
                f"The DMARC policy is {which}: faked mail goes to spam instead of being refused.",
                evidence=evidence,
            )
        ]
    which = "sp=reject (for subdomains)" if found.inherited and rec.sp == "reject" else "p=reject"
    return [Result.passed(dmarc_policy, target, f"The DMARC policy is {which}.", evidence=evidence)]


@check(id="email.dmarc.reporting", severity="low", target="domain")
def dmarc_reporting(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """A rua= address, and, when it is in another domain, that domain's consent (RFC 7489 7.1)."""
    found = find_dmarc(target.name, facts)
    if found.error is not None:
        return [Result.error(dmarc_reporting, target, found.error)]
    if found.record is None:
        return [
            Result.error(
                dmarc_reporting, target, "no readable DMARC record; see email.dmarc.present and .syntax"
            )
        ]
    rec, evidence = found.record, found.texts[0]
    if not rec.rua:
        return [
            Result.warn(
                dmarc_reporting,
                target,
                "The DMARC record has no rua= address, so nobody receives reports of who sends mail as this domain.",
                evidence=evidence,
            )
        ]
    own = organisational_domain(found.domain)
    external = [u for u in rec.rua if u.domain and organisational_domain(u.domain) != own]
    unauthorised = []
    for uri in external:
        assert uri.domain is not None
        answer = facts.dns(f"{found.domain}._report._dmarc.{uri.domain}", "TXT")
        if answer.error is not None:
            return [Result.error(dmarc_reporting, target, answer.error)]
        if not any(t.startswith("v=DMARC1") for t in answer.texts()):
            unauthorised.append(uri.address)
    if unauthorised:
        return [
            Result.warn(
                dmarc_reporting,
                target,
                f"Reports go to {', '.join(unauthorised)}, in another domain that has not agreed to receive them, "
                "so they are not sent.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            dmarc_reporting,
            target,
            f"Reports go to {', '.join(u.address for u in rec.rua)}.",
            evidence=evidence,
        )
    ]
