"""net.service.risky and net.service.unexpected, from port facts written by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from secbase_checks.net.service import scan_ports, service_risky, service_unexpected

from secbase import DnsOutcome, FactKey, Result, Severity, Status, Target, TargetKind
from secbase._services import risky_services
from secbase.facts import PortsAnswer, PortsOutcome, PortState, ports_key
from tests.checks.factories import failed, host, run

IP = "192.0.2.10"
IP6 = "2001:db8::10"
NAME = "srv.alder.test"
DEFAULT = scan_ports({})
RISKY_TCP = {s.port: s for s in risky_services().tcp()}
UDP_PORTS = {s.port for s in risky_services().udp()}
NOT_RISKY = tuple(p for p in DEFAULT if p not in RISKY_TCP)  # net.service.unexpected's ports


def server(name: str = IP, *, expected: Iterable[int] = ()) -> Target:
    """A host target as the scan makes it from the config."""
    return Target("alder", TargetKind.HOST, name, expected_ports=tuple(sorted(expected)))


def ports(
    address: str = IP,
    *open_ports: int,
    scanned: Iterable[int] = DEFAULT,
    outcome: PortsOutcome = PortsOutcome.OK,
    filtered: Iterable[int] = (),
    reason: str = "",
) -> tuple[FactKey, PortsAnswer]:
    """The ports probe's answer: the given ports open, `filtered` ones silent, the rest closed."""
    listed = tuple(sorted(set(scanned)))
    key = ports_key(address, listed)
    if outcome is not PortsOutcome.OK:
        return key, PortsAnswer(address, listed, outcome, reason=reason)
    silent = set(filtered)
    states = tuple(
        (p, PortState.OPEN if p in open_ports else PortState.FILTERED if p in silent else PortState.CLOSED)
        for p in listed
    )
    return key, PortsAnswer(address, listed, outcome, states=states)


def by_subject(results: list[Result]) -> dict[str, Result]:
    subjects = [r.subject for r in results]
    assert len(subjects) == len(set(subjects)), "one result per subject"
    return {r.subject: r for r in results}


# --- net.service.risky --------------------------------------------------------------------------------


def test_nothing_open_passes_every_risky_tcp_port() -> None:
    results = by_subject(run(service_risky, server(), ports()))
    for svc in RISKY_TCP.values():
        assert results[svc.subject].status is Status.PASS, svc.subject
        assert results[svc.subject].severity is svc.severity
    assert {r.status for s, r in results.items() if s != "udp"} == {Status.PASS}


def test_a_filtered_port_is_not_reachable_so_it_passes() -> None:
    results = by_subject(run(service_risky, server(), ports(IP, filtered=[3389])))
    assert results["3389/rdp"].status is Status.PASS
    assert "filtered" in results["3389/rdp"].evidence


@pytest.mark.parametrize(
    ("port", "subject", "severity"),
    [
        (3389, "3389/rdp", Severity.CRITICAL),
        (445, "445/smb", Severity.CRITICAL),
        (23, "23/telnet", Severity.CRITICAL),
        (5901, "5901/vnc", Severity.CRITICAL),
        (27017, "27017/mongodb", Severity.CRITICAL),
        (502, "502/modbus", Severity.CRITICAL),
        (21, "21/ftp", Severity.HIGH),
        (22, "22/ssh", Severity.HIGH),
        (10000, "10000/webmin", Severity.HIGH),
    ],
)
def test_a_reachable_risky_port_fails_with_the_data_s_severity(
    port: int, subject: str, severity: Severity
) -> None:
    results = by_subject(run(service_risky, server(), ports(IP, port)))
    result = results[subject]
    assert result.status is Status.FAIL and result.severity is severity
    svc = RISKY_TCP[port]
    assert svc.why in result.summary and svc.fix in result.summary
    assert result.evidence == f"{IP}: open"
    assert [r.subject for r in results.values() if r.status is Status.FAIL] == [subject]


def test_a_critical_service_declared_as_expected_still_fails() -> None:
    result = by_subject(run(service_risky, server(expected=[3389]), ports(IP, 3389)))["3389/rdp"]
    assert result.status is Status.FAIL and result.severity is Severity.CRITICAL
    assert "does not silence" in result.summary


def test_a_declared_high_service_that_is_not_silenceable_still_fails() -> None:
    result = by_subject(run(service_risky, server(expected=[8443]), ports(IP, 8443)))["8443/web-admin"]
    assert result.status is Status.FAIL and result.severity is Severity.HIGH


def test_ssh_declared_in_expected_ports_passes() -> None:
    result = by_subject(run(service_risky, server(expected=[22, 443]), ports(IP, 22, 443)))["22/ssh"]
    assert result.status is Status.PASS
    assert "declared" in result.summary


def test_ssh_not_declared_fails() -> None:
    result = by_subject(run(service_risky, server(expected=[443]), ports(IP, 22, 443)))["22/ssh"]
    assert result.status is Status.FAIL and result.severity is Severity.HIGH


def test_a_finding_is_resolved_by_the_next_scan_with_the_same_subjects() -> None:
    before = run(service_risky, server(), ports(IP, 3389))
    after = run(service_risky, server(), ports(IP))
    assert [r.fingerprint for r in before] == [r.fingerprint for r in after]
    fixed = next(r for r in after if r.subject == "3389/rdp")
    assert fixed.status is Status.PASS


def test_udp_services_are_reported_as_not_tested_never_passed() -> None:
    results = by_subject(run(service_risky, server(), ports()))
    udp = results["udp"]
    assert udp.status is Status.ERROR  # "could not check": it neither opens nor closes a finding
    assert udp.severity is Severity.CRITICAL  # BACnet and the SQL Server browser are critical
    for port in UDP_PORTS:
        assert f"{port}/udp" in udp.summary
    assert "not tested" in udp.summary
    assert not any(r.subject.split("/")[0] in map(str, UDP_PORTS) for r in results.values())


@pytest.mark.parametrize(
    ("outcome", "reason", "expected"),
    [
        (PortsOutcome.NMAP_MISSING, "", "install nmap (apt-get install nmap)"),
        (
            PortsOutcome.NMAP_MISSING,
            "nmap is not installed here; install nmap (apt-get install nmap)",
            "install nmap (apt-get install nmap)",
        ),
        (PortsOutcome.TIMEOUT, "the port scan of 192.0.2.10 did not finish within 30 s", "did not finish"),
        (PortsOutcome.ERROR, "", "ended in error"),
    ],
)
def test_a_scan_that_could_not_be_made_is_one_error_for_the_host(
    outcome: PortsOutcome, reason: str, expected: str
) -> None:
    for chk in (service_risky, service_unexpected):
        results = run(chk, server(), ports(IP, outcome=outcome, reason=reason))
        assert len(results) == 1
        assert results[0].status is Status.ERROR and results[0].subject == ""
        assert expected in results[0].summary


# --- host names and their addresses -------------------------------------------------------------------


def test_a_host_name_is_scanned_at_every_address_the_resolvers_give() -> None:
    results = by_subject(run(service_risky, server(NAME), host(NAME, IP, IP6), ports(IP), ports(IP6, 3389)))
    assert results["3389/rdp"].status is Status.FAIL
    assert IP6 in results["3389/rdp"].summary and IP not in results["3389/rdp"].summary
    assert results["3389/rdp"].evidence == f"{IP}: closed\n{IP6}: open"
    assert results["445/smb"].status is Status.PASS


def test_a_host_name_without_address_is_an_error() -> None:
    result = run(service_risky, server(NAME), host(NAME))
    assert len(result) == 1 and result[0].status is Status.ERROR


def test_a_failed_lookup_is_an_error_not_a_pass() -> None:
    results = run(service_risky, server(NAME), failed(NAME, "A", DnsOutcome.SERVFAIL), failed(NAME, "AAAA"))
    assert len(results) == 1 and results[0].status is Status.ERROR
    assert "SERVFAIL" in results[0].summary


def test_an_open_port_fails_even_when_another_address_could_not_be_looked_up() -> None:
    facts = [*host(NAME, IP)[:1], failed(NAME, "AAAA"), ports(IP, 3389)]
    results = by_subject(run(service_risky, server(NAME), *facts))
    assert results["3389/rdp"].status is Status.FAIL
    assert results["445/smb"].status is Status.ERROR  # closed here, but the other addresses are unknown


def test_an_address_that_could_not_be_scanned_keeps_a_pass_away() -> None:
    facts = [host(NAME, IP, IP6), ports(IP, 3389), ports(IP6, outcome=PortsOutcome.TIMEOUT)]
    results = by_subject(run(service_risky, server(NAME), *facts))
    assert results["3389/rdp"].status is Status.FAIL
    assert results["445/smb"].status is Status.ERROR
    assert "ended in timeout" in results["445/smb"].summary


# --- net.service.unexpected ---------------------------------------------------------------------------


def test_an_open_port_not_declared_warns_and_a_declared_one_passes() -> None:
    results = by_subject(run(service_unexpected, server(expected=[443]), ports(IP, 443, 993)))
    assert results["993/tcp"].status is Status.WARN and results["993/tcp"].severity is Severity.LOW
    assert "expected_ports does not list it" in results["993/tcp"].summary
    assert results["443/tcp"].status is Status.PASS
    assert set(results) == {f"{p}/tcp" for p in NOT_RISKY}
    assert [s for s, r in results.items() if r.status is not Status.PASS] == ["993/tcp"]


def test_a_risky_service_is_one_finding_of_net_service_risky_not_also_unexpected() -> None:
    facts = ports(IP, 3389, 8080)
    assert by_subject(run(service_risky, server(), facts))["3389/rdp"].status is Status.FAIL
    assert by_subject(run(service_risky, server(), facts))["8080/web-admin"].status is Status.FAIL
    unexpected = by_subject(run(service_unexpected, server(), facts))
    assert not {"3389/tcp", "8080/tcp"} & set(unexpected)
    assert {r.status for r in unexpected.values()} == {Status.PASS}


def test_nothing_open_passes_every_scanned_port_that_is_no_risky_service() -> None:
    results = run(service_unexpected, server(expected=[443]), ports(IP))
    assert {r.status for r in results} == {Status.PASS}
    assert len(results) == len(NOT_RISKY) and 0 < len(NOT_RISKY) < len(DEFAULT)


def test_expected_ports_of_another_host_do_not_count() -> None:
    other = Target("alder", TargetKind.HOST, IP, expected_ports=())
    result = by_subject(run(service_unexpected, other, ports(IP, 443)))["443/tcp"]
    assert result.status is Status.WARN


def test_extra_ports_widen_the_scan_for_both_checks() -> None:
    limits: Mapping[str, Any] = {"extra_ports": [8081, "9000-9001"]}
    wide = scan_ports(limits)
    assert {8081, 9000, 9001} <= set(wide) and set(DEFAULT) <= set(wide)
    facts = ports(IP, 8081, scanned=wide)
    results = by_subject(run(service_unexpected, server(), facts, limits=limits))
    assert results["8081/tcp"].status is Status.WARN
    assert results["9001/tcp"].status is Status.PASS
    assert by_subject(run(service_risky, server(), facts, limits=limits))["3389/rdp"].status is Status.PASS
