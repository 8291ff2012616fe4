"""dns.nameservers: do at least two name servers answer for the zone, and are they in different networks?"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check, dns_at_key, dns_key

from ._zone import find_zone


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
    if zone.error is not None or zone.ns is None:
        return [Result.error(nameservers, target, zone.error or "no NS records")]
    hosts = sorted({r.rstrip(".").lower() for r in zone.ns.records})
    facts.require(*(dns_key(h, t) for h in hosts for t in ("A", "AAAA")))
    addresses: dict[str, list[str]] = {}
    unknown: dict[str, str] = {}  # name servers whose address could not be looked up: why
    for host in hosts:
        answers = [facts.dns(host, "A"), facts.dns(host, "AAAA")]
        addresses[host] = [r for a in answers if a.error is None for r in a.records]
        errors = [a.error for a in answers if a.error is not None]
        if not addresses[host] and errors:
            unknown[host] = errors[0]
    facts.require(*(dns_at_key(ip, zone.apex, "SOA") for ips in addresses.values() for ip in ips))
    answering, silent = [], []
    for host, ips in addresses.items():
        replies = [facts.dns_at(ip, zone.apex, "SOA") for ip in ips]
        good = [
            ip
            for ip, r in zip(ips, replies, strict=True)
            if r.error is None and r.records and r.authoritative
        ]
        if good:
            answering.append((host, good))
        else:
            why = (
                next((r.error for r in replies if r.error), "no authoritative answer")
                if replies
                else "no address"
            )
            silent.append(f"{host}: {why}")
    evidence = "\n".join([*(f"{h} answers ({', '.join(ips)})" for h, ips in answering), *silent])
    if len(answering) < limits["min_answering"]:
        if len(answering) + len(unknown) >= limits["min_answering"]:
            # the servers whose address lookup failed might answer: that is not known, so not a fail
            return [Result.error(nameservers, target, next(iter(unknown.values())))]
        return [
            Result.fail(
                nameservers,
                target,
                f"Only {len(answering)} of {len(hosts)} name servers for {zone.apex} answer: if it stops, "
                "your website and email disappear.",
                evidence=evidence,
            )
        ]
    # RFC 2182 3.1: secondaries belong in other networks; a /24 (IPv4) or /48 (IPv6) is one network here.
    v4 = {ipaddress.ip_network(f"{ip}/24", strict=False) for _, ips in answering for ip in ips if "." in ip}
    v6 = {ipaddress.ip_network(f"{ip}/48", strict=False) for _, ips in answering for ip in ips if ":" in ip}
    nets = v4 | v6
    if len(v4) <= 1 and len(v6) <= 1:  # one network per family: one outage can take them all
        return [
            Result.warn(
                nameservers,
                target,
                f"All name servers for {zone.apex} are in one network ({', '.join(map(str, sorted(nets, key=str)))}): one outage takes them all.",
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
