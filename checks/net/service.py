"""net.service.*: what answers on the hosts an organisation declares, from a TCP connect scan (nmap).

Every scanned port gets a result on every scan, so that a finding (subject "3389/rdp" or "8081/tcp") is
resolved by the first scan that finds the port closed (and one no longer scanned, or now judged by the
other check, by the first scan after: both checks are every_subject). A risky service's port is judged by
net.service.risky alone, the other scanned ports by net.service.unexpected: one problem, one finding (an
open RDP port is not also "unexpected", and accepting its risk silences it). Only declared hosts are
scanned: a host name is resolved through the scan's resolvers, an address is used as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from secbase import Check, Facts, Result, Severity, Status, Target, check
from secbase._services import RiskyService, risky_services
from secbase.facts import PortsAnswer, PortState, ports_key
from secbase.parse import ip_literal

from .._dns_names import host_addresses
from .._text import clean, join_lines

REASON_CHARS = 300
EVIDENCE_CHARS = 1000
# The config's scan.ports (and --ports): ports tried besides the default list, 8081 or "8000-8100". Both
# checks must be given the same, so that they read the same scan.
DEFAULTS: Mapping[str, Any] = {"extra_ports": ()}


class _Port(NamedTuple):
    """What the scans of one host say about one port, worked out once for both checks."""

    open_at: list[str]  # the addresses it answers at
    unknown: str | None  # why its state is not known at every address of the host, or None
    evidence: str


@dataclass(frozen=True)
class _Scan:
    """The port scans of one host: one answer per address that could be scanned."""

    answers: tuple[PortsAnswer, ...]
    unknown: str | None  # why some addresses, or some scans, are missing: a pass then needs them all

    def port(self, port: int) -> _Port:
        """What the scans say about `port`: from the table of every scanned port, built once per host."""
        found = self.table.get(port)
        return found if found is not None else self._read([port])[port]

    @cached_property
    def table(self) -> dict[int, _Port]:
        """Every scanned port's _Port: the checks read it once per host, then index it per port."""
        return self._read(dict.fromkeys(p for a in self.answers for p in a.ports))

    def _read(self, ports: Iterable[int]) -> dict[int, _Port]:
        usable = [a for a in self.answers if a.error is None]
        addresses = [a.address for a in usable]
        states_of = [dict(a.states) for a in usable]
        # Why a port's state is not known at every address: the first address, in order, that has no state
        # for it, or else the first that could not be scanned at all, or else the lookup that failed.
        checked = next((i for i, a in enumerate(self.answers) if a.error is not None), len(self.answers))
        otherwise: str | None
        if checked < len(self.answers):
            otherwise = clean(str(self.answers[checked].error), REASON_CHARS)
        else:
            otherwise = clean(self.unknown, REASON_CHARS) if self.unknown else None
        # The evidence of a host has as many spellings as there are combinations of states across its
        # addresses (open, closed or filtered for one address): each is written once, and shared.
        shared: dict[tuple[PortState | None, ...], _Port] = {}
        out: dict[int, _Port] = {}
        only = states_of[0] if len(states_of) == 1 else None
        for port in ports:
            states = (only.get(port),) if only is not None else tuple(m.get(port) for m in states_of)
            found = shared.get(states)
            if found is None:
                lines = (f"{a}: {s or 'not scanned'}" for a, s in zip(addresses, states, strict=True))
                open_at = [a for a, s in zip(addresses, states, strict=True) if s is PortState.OPEN]
                found = _Port(open_at, otherwise, join_lines(lines, EVIDENCE_CHARS))
                if None in states[:checked]:  # not scanned at an address: a reason of its own
                    missing = addresses[states.index(None)]
                    found = found._replace(unknown=f"port {port} was not scanned at {missing}")
                else:
                    shared[states] = found
            out[port] = found
        return out


def _scan(target: Target, facts: Facts, ports: tuple[int, ...]) -> _Scan | str:
    """The host's port scans, or why there are none at all (then one error result says so); worked out
    once per scan and shared by both checks."""
    return facts.derive(("net.service.scan", target.name, ports), lambda: _read_scan(target, facts, ports))


def _read_scan(target: Target, facts: Facts, ports: tuple[int, ...]) -> _Scan | str:
    address = ip_literal(target.name)
    if address is not None:
        addresses, lookup_error = [address], None
    else:  # a name: its addresses through the scan's resolvers, never nmap's own lookups
        found, unknown = host_addresses([target.name], facts)
        addresses, lookup_error = found[target.name], unknown.get(target.name)
    if not addresses:
        return clean(lookup_error or f"{target.name} has no address to scan", REASON_CHARS)
    facts.require(*(ports_key(a, ports) for a in addresses))  # one round: the probe batches them
    answers = tuple(facts.ports(a, ports) for a in addresses)
    if all(a.error is not None for a in answers):
        return clean(str(answers[0].error), REASON_CHARS)
    return _Scan(answers, lookup_error)


def scan_ports(limits: Mapping[str, Any]) -> tuple[int, ...]:
    """The ports both checks scan: the risky services' TCP ports, the common ones, and any extra."""
    return risky_services().scan_ports(limits.get("extra_ports") or ())  # worked out once per list


@check(
    id="net.service.risky",
    severity="critical",
    target="host",
    facts=("dns", "ports"),
    defaults=DEFAULTS,
    every_subject=True,  # a port taken off the list, or left to the other check, closes its finding
)
def service_risky(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """No risky service (policies/risky_services.yml) answers on the host; critical ones whatever is declared."""
    services = risky_services()
    scan = _scan(target, facts, scan_ports(limits))
    if isinstance(scan, str):
        return [Result.error(service_risky, target, scan)]
    table, port = scan.table, scan.port
    results = []
    for svc, subject, nothing in _risky_words(services.tcp()).passes:
        seen = table.get(svc.port) or port(svc.port)
        if seen.open_at or seen.unknown is not None:
            results.append(_risky(target, seen, svc))
        else:  # the usual case, for every risky port of every host: built with as little as possible
            results.append(_pass(service_risky, target, nothing, subject, svc.severity, seen.evidence))
    if services.udp():
        results.append(_udp_not_tested(target, services.udp()))
    return results


def _pass(
    chk: Check, target: Target, summary: str, subject: str, severity: Severity, evidence: str
) -> Result:
    """Nothing answers on a scanned port: the result of most ports of most hosts, made by the record's own
    constructor, with words worked out once per port list."""
    return Result(target.organisation, chk.id, target.name, Status.PASS, severity, summary, subject, evidence)


def _risky_words(tcp: tuple[RiskyService, ...]) -> _Words:
    """The risky services' words, worked out once: risky_services() hands every host the same tuple, so it
    is known by identity (hashing its 24 pydantic records for an lru_cache cost more than the words)."""
    kept = _WORDS.get(id(tcp))
    if kept is None or kept.tcp is not tcp:
        if len(_WORDS) >= 8:  # another services list (tests load several): forget the old ones
            _WORDS.clear()
        passes = tuple((s, s.subject, f"Nothing answers on port {s.port} ({s.name}).") for s in tcp)
        kept = _WORDS[id(tcp)] = _Words(tcp, passes, frozenset(s.port for s in tcp))
    return kept


class _Words(NamedTuple):
    tcp: tuple[RiskyService, ...]
    passes: tuple[tuple[RiskyService, str, str], ...]  # (service, subject, the words of a pass)
    ports: frozenset[int]  # the risky services' TCP ports


_WORDS: dict[int, _Words] = {}


@lru_cache(maxsize=8)  # the same port lists for every host: (port, subject, the words of a pass)
def _unexpected_words(ports: tuple[int, ...], risky: frozenset[int]) -> tuple[tuple[int, str, str], ...]:
    """net.service.unexpected's ports: the scanned ones that are no risky service's (those are judged by
    net.service.risky: one problem, one finding)."""
    return tuple((p, f"{p}/tcp", f"Nothing answers on port {p}.") for p in ports if p not in risky)


def _risky(target: Target, seen: _Port, svc: RiskyService) -> Result:
    subject, severity, evidence = svc.subject, svc.severity, seen.evidence
    if not seen.open_at:
        if seen.unknown is not None:
            return Result.error(
                service_risky, target, seen.unknown, subject=subject, severity=severity, evidence=evidence
            )
        summary = f"Nothing answers on port {svc.port} ({svc.name})."
        return Result.passed(
            service_risky, target, summary, subject=subject, severity=severity, evidence=evidence
        )
    where = ", ".join(seen.open_at)
    declared = svc.port in target.expected_ports
    if declared and svc.silenced_by_expected_ports:
        summary = f"{svc.name} answers on port {svc.port} at {where}, as declared in expected_ports."
        return Result.passed(
            service_risky, target, summary, subject=subject, severity=severity, evidence=evidence
        )
    note = (
        f" Listing port {svc.port} in expected_ports does not silence a {svc.severity} risky service;"
        " if it must stay open, accept the risk with a reason and a date."
        if declared
        else ""
    )
    summary = f"{svc.name} answers on port {svc.port} at {where}. {svc.why} Usual fix: {svc.fix}{note}"
    return Result.fail(service_risky, target, summary, subject=subject, severity=severity, evidence=evidence)


def _udp_not_tested(target: Target, udp: Iterable[RiskyService]) -> Result:
    """UDP services, by name: a TCP connect scan cannot see them, so they are reported as not tested.

    `error` ("could not check") rather than a pass, which would close a finding nobody could have checked,
    or silence, which would let a town think its SNMP or BACnet was looked at.
    """
    reason, worst = _udp_reason(tuple(udp))
    return Result.error(service_risky, target, reason, subject="udp", severity=worst)


@lru_cache(maxsize=8)  # the same few services for every host
def _udp_reason(udp: tuple[RiskyService, ...]) -> tuple[str, Severity]:
    listed = sorted(udp, key=lambda s: s.port)
    names = ", ".join(f"{s.port}/udp ({s.name})" for s in listed)
    worst = min((s.severity for s in listed), key=lambda s: s.rank)
    reason = (
        f"UDP services are not tested (a TCP connect scan cannot see them): {names}. "
        "Check at the firewall that these ports are closed to the internet."
    )
    return reason, worst


@check(
    id="net.service.unexpected",
    severity="low",
    target="host",
    facts=("dns", "ports"),
    defaults=DEFAULTS,
    every_subject=True,  # a port taken off the list, or left to the other check, closes its finding
)
def service_unexpected(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Every scanned port that answers on the host is one the organisation lists in expected_ports."""
    ports = scan_ports(limits)
    scan = _scan(target, facts, ports)
    if isinstance(scan, str):
        return [Result.error(service_unexpected, target, scan)]
    table, severity = scan.table, service_unexpected.severity
    results = []
    for port, subject, nothing in _unexpected_words(ports, _risky_words(risky_services().tcp()).ports):
        seen = table.get(port) or scan.port(port)
        if seen.open_at or seen.unknown is not None:
            results.append(_unexpected(target, seen, port))
        else:  # most ports: as in service_risky
            results.append(_pass(service_unexpected, target, nothing, subject, severity, seen.evidence))
    return results


def _unexpected(target: Target, seen: _Port, port: int) -> Result:
    subject, evidence = f"{port}/tcp", seen.evidence
    if not seen.open_at:
        if seen.unknown is not None:
            return Result.error(service_unexpected, target, seen.unknown, subject=subject, evidence=evidence)
        return Result.passed(
            service_unexpected, target, f"Nothing answers on port {port}.", subject=subject, evidence=evidence
        )
    if port in target.expected_ports:
        summary = f"Port {port} answers, as declared."
        return Result.passed(service_unexpected, target, summary, subject=subject, evidence=evidence)
    summary = (
        f"Port {port} answers at {', '.join(seen.open_at)}, but expected_ports does not list it for "
        f"{target.name}. Close it if nobody needs it from outside; list it if it is meant to be open."
    )
    return Result.warn(service_unexpected, target, summary, subject=subject, evidence=evidence)
