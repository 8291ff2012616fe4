"""net.service.*: what answers on the hosts an organisation declares, from a TCP connect scan (nmap).

Every scanned port gets a result on every scan, so that a finding (subject "3389/rdp" or "8080/tcp") is
resolved by the first scan that finds the port closed. Only declared hosts are scanned: a host name is
resolved through the scan's resolvers, an address is used as it is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from secbase import Facts, Result, Target, check
from secbase._services import RiskyService, risky_services
from secbase.facts import PortsAnswer, PortState, ports_key

from .._dns_names import host_addresses
from ..web.https import clean, join_lines

REASON_CHARS = 300
EVIDENCE_CHARS = 1000
# The config's scan.ports (and --ports): ports tried besides the default list, 8081 or "8000-8100". Both
# checks must be given the same, so that they read the same scan.
DEFAULTS: Mapping[str, Any] = {"extra_ports": ()}


@dataclass(frozen=True)
class _Scan:
    """The port scans of one host: one answer per address that could be scanned."""

    answers: tuple[PortsAnswer, ...]
    unknown: str | None  # why some addresses, or some scans, are missing: a pass then needs them all

    def open_at(self, port: int) -> list[str]:
        return [a.address for a in self.answers if a.error is None and a.state(port) is PortState.OPEN]

    def unknown_for(self, port: int) -> str | None:
        """Why the state of `port` is not known at every address of the host, or None."""
        for a in self.answers:
            if a.error is not None:
                return clean(a.error, REASON_CHARS)
            if a.state(port) is None:
                return f"port {port} was not scanned at {a.address}"
        return clean(self.unknown, REASON_CHARS) if self.unknown else None

    def evidence(self, port: int) -> str:
        lines = (f"{a.address}: {a.state(port) or 'not scanned'}" for a in self.answers if a.error is None)
        return join_lines(lines, EVIDENCE_CHARS)


def _scan(target: Target, facts: Facts, ports: tuple[int, ...]) -> _Scan | str:
    """The host's port scans, or why there are none at all (then one error result says so)."""
    try:
        addresses, lookup_error = [str(ipaddress.ip_address(target.name))], None
    except ValueError:  # a name: its addresses through the scan's resolvers, never nmap's own lookups
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
    return risky_services().scan_ports(limits.get("extra_ports") or ())


@check(
    id="net.service.risky",
    severity="critical",
    target="host",
    facts=("dns", "ports"),
    defaults=DEFAULTS,
)
def service_risky(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """No risky service (policies/risky_services.yml) answers on the host; critical ones whatever is declared."""
    services = risky_services()
    scan = _scan(target, facts, scan_ports(limits))
    if isinstance(scan, str):
        return [Result.error(service_risky, target, scan)]
    results = [_risky(target, scan, svc) for svc in services.tcp()]
    if services.udp():
        results.append(_udp_not_tested(target, services.udp()))
    return results


def _risky(target: Target, scan: _Scan, svc: RiskyService) -> Result:
    kw: dict[str, Any] = {
        "subject": svc.subject,
        "severity": svc.severity,
        "evidence": scan.evidence(svc.port),
    }
    open_at = scan.open_at(svc.port)
    declared = svc.port in target.expected_ports
    if open_at:
        where = ", ".join(open_at)
        if declared and svc.silenced_by_expected_ports:
            return Result.passed(
                service_risky,
                target,
                f"{svc.name} answers on port {svc.port} at {where}, as declared in expected_ports.",
                **kw,
            )
        note = (
            f" Listing port {svc.port} in expected_ports does not silence a {svc.severity} risky service;"
            " if it must stay open, accept the risk with a reason and a date."
            if declared
            else ""
        )
        summary = f"{svc.name} answers on port {svc.port} at {where}. {svc.why} Usual fix: {svc.fix}{note}"
        return Result.fail(service_risky, target, summary, **kw)
    unknown = scan.unknown_for(svc.port)
    if unknown is not None:
        return Result.error(service_risky, target, unknown, **kw)
    return Result.passed(service_risky, target, f"Nothing answers on port {svc.port} ({svc.name}).", **kw)


def _udp_not_tested(target: Target, udp: Iterable[RiskyService]) -> Result:
    """UDP services, by name: a TCP connect scan cannot see them, so they are reported as not tested.

    `error` ("could not check") rather than a pass, which would close a finding nobody could have checked,
    or silence, which would let a town think its SNMP or BACnet was looked at.
    """
    listed = sorted(udp, key=lambda s: s.port)
    names = ", ".join(f"{s.port}/udp ({s.name})" for s in listed)
    worst = min((s.severity for s in listed), key=lambda s: s.rank)
    reason = (
        f"UDP services are not tested (a TCP connect scan cannot see them): {names}. "
        "Check at the firewall that these ports are closed to the internet."
    )
    return Result.error(service_risky, target, reason, subject="udp", severity=worst)


@check(
    id="net.service.unexpected",
    severity="low",
    target="host",
    facts=("dns", "ports"),
    defaults=DEFAULTS,
)
def service_unexpected(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Every scanned port that answers on the host is one the organisation lists in expected_ports."""
    ports = scan_ports(limits)
    scan = _scan(target, facts, ports)
    if isinstance(scan, str):
        return [Result.error(service_unexpected, target, scan)]
    risky = {s.port: s for s in risky_services().tcp()}
    return [_unexpected(target, scan, port, risky.get(port)) for port in ports]


def _unexpected(target: Target, scan: _Scan, port: int, svc: RiskyService | None) -> Result:
    kw: dict[str, Any] = {"subject": f"{port}/tcp", "evidence": scan.evidence(port)}
    open_at = scan.open_at(port)
    if open_at and port in target.expected_ports:
        return Result.passed(service_unexpected, target, f"Port {port} answers, as declared.", **kw)
    if open_at:
        also = f" It is {svc.name}: see net.service.risky." if svc is not None else ""
        summary = (
            f"Port {port} answers at {', '.join(open_at)}, but expected_ports does not list it for "
            f"{target.name}. Close it if nobody needs it from outside; list it if it is meant to be open.{also}"
        )
        return Result.warn(service_unexpected, target, summary, **kw)
    unknown = scan.unknown_for(port)
    if unknown is not None:
        return Result.error(service_unexpected, target, unknown, **kw)
    return Result.passed(service_unexpected, target, f"Nothing answers on port {port}.", **kw)
