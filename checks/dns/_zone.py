"""Find the zone a name lives in: the closest enclosing name with NS records."""

from __future__ import annotations

from dataclasses import dataclass

from secbase import DnsAnswer, Facts


@dataclass(frozen=True)
class Zone:
    """A zone apex and its NS answer; `error` when the climb hit a lookup that could not be done."""

    apex: str
    ns: DnsAnswer | None
    error: str | None = None


def find_zone(name: str, facts: Facts) -> Zone:
    labels = name.split(".")
    for i in range(len(labels) - 1):  # never climbs to the top-level domain itself
        candidate = ".".join(labels[i:])
        answer = facts.dns(candidate, "NS")
        if answer.error is not None:
            return Zone(candidate, None, answer.error)
        if answer.outcome.value == "ok" and answer.records:
            return Zone(candidate, answer)
    return Zone(name, None, f"no name server (NS) records found for {name} or its parents")
