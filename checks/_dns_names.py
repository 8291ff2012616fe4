"""Helpers shared by the email and DNS checks: organisational domains, parent names, host addresses."""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList

from secbase import Facts, dns_key


@cache
def _psl() -> PublicSuffixList:
    # The list bundled with the package: never downloaded at run time.
    return PublicSuffixList()


def organisational_domain(domain: str) -> str:
    """The registrable domain ("alder.on.ca" for "mail.alder.on.ca"), by the Public Suffix List."""
    org = _psl().privatesuffix(domain)
    return str(org) if org else domain


def names_up_to_registrable(name: str) -> list[str]:
    """The name and each parent up to its registrable domain: never the registry's zones above it."""
    org = organisational_domain(name)
    labels = name.split(".")
    out = []
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        out.append(candidate)
        if candidate == org:
            break
    return out


def host_addresses(hosts: list[str], facts: Facts) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each host's A and AAAA addresses, and for each host whose addresses are not all known, why.

    NXDOMAIN and NODATA are answers (no address of that family). A lookup that could not be answered
    (a time-out, SERVFAIL) puts the host in the second mapping with that lookup's error, even when the
    other family answered: a host is then never judged on part of its addresses. The first mapping
    still lists the addresses that were found, for callers that need only one (any address will do).
    """
    facts.require(*(dns_key(h, t) for h in hosts for t in ("A", "AAAA")))
    addresses: dict[str, list[str]] = {}
    unknown: dict[str, str] = {}
    for host in hosts:
        answers = [facts.dns(host, "A"), facts.dns(host, "AAAA")]
        addresses[host] = [r for a in answers if a.error is None for r in a.records]
        errors = [a.error for a in answers if a.error is not None]
        if errors:
            unknown[host] = errors[0]
    return addresses, unknown
