"""email.mx: can mail for the domain be delivered somewhere: MX hosts that exist and resolve?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check, dns_key


def mx_hosts(records: tuple[str, ...]) -> list[tuple[int, str]]:
    """MX records as (preference, host) sorted by preference; the null MX's host is "." (RFC 7505)."""
    out = []
    for rec in records:
        pref, _, host = rec.partition(" ")
        if pref.isdigit():
            out.append((int(pref), host.rstrip(".").lower() or "."))
    return sorted(out)


@check(id="email.mx", severity="medium", target="domain")
def mx(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The domain has MX hosts, and they resolve to addresses."""
    if not target.sends_mail:
        return [
            Result.not_applicable(mx, target, "declared as a domain without mail; see email.non_mail_domain")
        ]
    answer = facts.dns(target.name, "MX")
    if answer.error is not None:
        return [Result.error(mx, target, answer.error)]
    hosts = mx_hosts(answer.records)
    if not hosts:
        return [Result.fail(mx, target, "No MX record: mail sent to this domain has nowhere to go.")]
    evidence = "\n".join(f"{p} {h}" for p, h in hosts)
    if [h for _, h in hosts] == ["."]:
        return [
            Result.fail(
                mx,
                target,
                'The domain has a "null MX", which says it takes no mail, but it is declared as a mail domain.',
                evidence=evidence,
            )
        ]
    if "." in [h for _, h in hosts]:
        # RFC 7505 3: a null MX must be the only MX record; mixed with others, senders may do either.
        return [
            Result.warn(
                mx,
                target,
                'A "null MX" (which says the domain takes no mail) stands beside real MX hosts; remove it.',
                evidence=evidence,
            )
        ]
    names = sorted({h for _, h in hosts if h != "."})
    facts.require(*(dns_key(h, t) for h in names for t in ("A", "AAAA")))
    dead: list[tuple[str, str]] = []
    unknown: list[tuple[str, str]] = []
    for host in names:
        answers = [facts.dns(host, "A"), facts.dns(host, "AAAA")]
        if any(a.error is None and not a.is_empty for a in answers):
            continue
        errors = [a.error for a in answers if a.error is not None]
        (unknown if errors else dead).append((host, errors[0] if errors else ""))
    if dead:
        return [
            Result.warn(
                mx,
                target,
                f"MX host {', '.join(h for h, _ in dead)} has no address, so mail cannot reach it.",
                evidence=evidence,
            )
        ]
    if unknown:
        return [Result.error(mx, target, unknown[0][1])]
    return [Result.passed(mx, target, f"{len(names)} MX host(s), all with addresses.", evidence=evidence)]
