"""dns.nameservers: do at least two name servers answer for the zone, and are they in different networks?"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from secbase import DnsAnswer, DnsOutcome, Facts, Result, Target, check, dns_at_key

from .._dns_names import host_addresses
from ._zone import find_zone

# A direct question that got no reply at all may mean the path is blocked (many networks only let their
# own resolver out), not that the server is down: it counts as "not answering" only when another server of
# the same zone did answer directly.
UNREACHED = frozenset({DnsOutcome.TIMEOUT, DnsOutcome.ERROR})


@check(
    id="dns.nameservers",
    severity="low",
    target="domain",
    facts=("dns", "dns_at"),
    defaults={"min_answering": 2},
)
def nameservers(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Ask each name server of the zone directly for its SOA; count those that answer with authority."""
    zone = find_zone(target.name, facts)
    if not zone.exists:
        return [
            Result.fail(
                nameservers,
                target,
                f"The domain {zone.apex} does not exist in DNS: has its registration lapsed?",
            )
        ]
    if zone.error is not None or zone.ns is None:
        return [Result.error(nameservers, target, zone.error or "no NS records")]
    hosts = sorted({r.rstrip(".").lower() for r in zone.ns.records})
    addresses, unknown = host_addresses(hosts, facts)
    facts.require(*(dns_at_key(ip, zone.apex, "SOA") for ips in addresses.values() for ip in ips))
    answering: list[tuple[str, list[str]]] = []
    silent: list[tuple[str, DnsAnswer | None]] = []
    for host, ips in addresses.items():
        replies = [facts.dns_at(ip, zone.apex, "SOA") for ip in ips]
        good = [ip for ip, r in zip(ips, replies, strict=True) if _serves(r)]
        if good:
            answering.append((host, good))
        elif host not in unknown:
            silent.append((host, next((r for r in replies if r.error), replies[0] if replies else None)))
    evidence = "\n".join(
        [*(f"{h} answers ({', '.join(ips)})" for h, ips in answering), *(_why(h, r) for h, r in silent)]
    )
    if not answering and any(r is not None and r.outcome in UNREACHED for _, r in silent):
        return [
            Result.error(
                nameservers,
                target,
                f"none of the name servers of {zone.apex} could be reached directly from this computer; "
                "its network may let DNS out only through its own resolver",
            )
        ]
    need = limits["min_answering"]
    if len(answering) < need:
        answered = {h for h, _ in answering}
        if len(answering) + len([h for h in unknown if h not in answered]) >= need:
            # the servers whose address lookup failed might answer: that is not known, so not a fail
            return [Result.error(nameservers, target, next(iter(unknown.values())))]
        return [
            Result.fail(
                nameservers,
                target,
                f"Only {len(answering)} of {len(hosts)} name servers for {zone.apex} answer (name servers tell"
                f" the internet where your website and email are): with fewer than {need}, one outage makes"
                " your website and email unreachable.",
                evidence=evidence,
            )
        ]
    # RFC 2182 3.1: secondaries belong in other networks; a /24 (IPv4) or /48 (IPv6) is one network here.
    v4 = {ipaddress.ip_network(f"{ip}/24", strict=False) for _, ips in answering for ip in ips if "." in ip}
    v6 = {ipaddress.ip_network(f"{ip}/48", strict=False) for _, ips in answering for ip in ips if ":" in ip}
    if len(v4) <= 1 and len(v6) <= 1:  # one network per family: one outage can take them all
        nets = ", ".join(str(n) for n in sorted(v4 | v6, key=str))
        return [
            Result.warn(
                nameservers,
                target,
                f"All name servers for {zone.apex} are in one network ({nets}): one outage takes them all.",
                evidence=evidence,
            )
        ]
    return [
        Result.passed(
            nameservers,
            target,
            f"{len(answering)} name servers for {zone.apex} answer, in different networks.",
            evidence=evidence,
        )
    ]


def _serves(reply: DnsAnswer) -> bool:
    return reply.error is None and bool(reply.records) and reply.authoritative


def _why(host: str, reply: DnsAnswer | None) -> str:
    if reply is None:
        return f"{host}: has no address"
    return f"{host}: {reply.error or 'no authoritative answer'}"
