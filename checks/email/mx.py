"""email.mx: can mail for the domain be delivered somewhere: MX hosts that exist and resolve?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Check, Facts, Result, Target, check

from .._dns_names import host_addresses


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
    addresses, unknown = host_addresses(names, facts)
    # One address is enough for mail to arrive: a host with some is not judged on the lookup that failed.
    unknown = {h: why for h, why in unknown.items() if not addresses[h]}
    dead = [h for h in names if not addresses[h] and h not in unknown]
    if dead:
        hosts_have = f"MX hosts {', '.join(dead)} have" if len(dead) > 1 else f"MX host {dead[0]} has"
        return [
            Result.warn(
                mx,
                target,
                f"{hosts_have} no address, so mail cannot reach {'them' if len(dead) > 1 else 'it'}.",
                evidence=evidence,
            )
        ]
    if unknown:
        return [Result.error(mx, target, next(iter(unknown.values())))]
    count = f"{len(names)} MX hosts" if len(names) > 1 else "One MX host"
    return [Result.passed(mx, target, f"{count}, all with addresses.", evidence=evidence)]


NO_MAIL = "Declared as a domain without mail, so it has no mail servers to check."
NULL_MX = "The domain takes no mail (it has a null MX record), so it has no mail servers to check."
NO_MX = "no mail servers to check; see email.mx"


def mail_servers(chk: Check, target: Target, facts: Facts) -> list[str] | Result:
    """The MX host names of a mail domain, sorted, or the result that stands where there are none to check:
    not applicable for a domain without mail or with only a null MX (RFC 7505), `error` for a failed
    lookup or no MX at all (email.mx's finding: "not applicable" would close the asking check's own)."""
    if not target.sends_mail:
        return Result.not_applicable(chk, target, NO_MAIL)
    answer = facts.dns(target.name, "MX")
    if answer.error is not None:
        return Result.error(chk, target, answer.error)
    hosts = mx_hosts(answer.records)
    names = sorted({h for _, h in hosts if h != "."})
    if not names and hosts:
        return Result.not_applicable(chk, target, NULL_MX)
    if not names:
        return Result.error(chk, target, NO_MX)
    return names
