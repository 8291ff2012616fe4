"""Find the zone a name lives in: the closest enclosing name with NS records, up to its registrable domain."""

from __future__ import annotations

from dataclasses import dataclass

from secbase import DnsAnswer, DnsOutcome, Facts

from .._dns_names import names_up_to_registrable


@dataclass(frozen=True)
class Zone:
    """A zone apex and its NS answer; `error` when a lookup could not be done, `exists` False if NXDOMAIN."""

    apex: str
    ns: DnsAnswer | None
    error: str | None = None
    exists: bool = True


def find_zone(name: str, facts: Facts) -> Zone:
    """Climb from the name to its registrable domain, asking for NS records at each step."""
    return facts.derive(("zone", name), lambda: _find_zone(name, facts))


def _find_zone(name: str, facts: Facts) -> Zone:
    answer: DnsAnswer | None = None
    candidate = name
    for candidate in names_up_to_registrable(name):
        answer = facts.dns(candidate, "NS")
        if answer.error is not None:
            return Zone(candidate, None, answer.error)
        if answer.outcome is DnsOutcome.OK and answer.records:
            return Zone(candidate, answer)
    if answer is not None and answer.outcome is DnsOutcome.NXDOMAIN:
        return Zone(candidate, None, exists=False)
    return Zone(candidate, None, f"no name server (NS) records found for {name} or its parents")
