"""dns.nameservers: at least two name servers answer for the zone with authority, not all in one network."""

from __future__ import annotations

import pytest
from secbase_checks.dns.nameservers import nameservers

from secbase import DnsOutcome, Status
from tests.checks.factories import Pair, answer, answer_at, domain, failed, failed_at, host, nodata, run_one

D = "alder.test"
TARGET = domain(D)
SOA = f"ns1.{D}. hostmaster.{D}. 2025060101 7200 3600 1209600 3600"


def zone(*servers: tuple[str, list[str]], apex: str = D) -> list[Pair]:
    """The NS answer for `apex` and each server's addresses (answers from each address are given apart)."""
    facts = [answer(apex, "NS", *(f"{name}." for name, _ in servers))]
    for name, ips in servers:
        facts += host(name, *ips)
    return facts


def soa_from(ip: str, *, apex: str = D, authoritative: bool = True) -> Pair:
    return answer_at(ip, apex, "SOA", SOA, authoritative=authoritative)


def two(ip1: str, ip2: str) -> list[Pair]:
    return zone((f"ns1.{D}", [ip1]), (f"ns2.{D}", [ip2]))


def test_two_name_servers_in_different_networks_pass() -> None:
    result = run_one(
        nameservers,
        TARGET,
        two("192.0.2.53", "198.51.100.53"),
        soa_from("192.0.2.53"),
        soa_from("198.51.100.53"),
    )
    assert result.status is Status.PASS
    assert f"2 name servers for {D}" in result.summary


@pytest.mark.parametrize(
    ("ip2", "status"),
    [("192.0.2.254", Status.WARN), ("192.0.3.53", Status.PASS)],
    ids=["same-24", "next-24"],
)
def test_name_servers_in_one_slash_24_warn(ip2: str, status: Status) -> None:
    result = run_one(nameservers, TARGET, two("192.0.2.53", ip2), soa_from("192.0.2.53"), soa_from(ip2))
    assert result.status is status
    if status is Status.WARN:
        assert "192.0.2.0/24" in result.summary


@pytest.mark.parametrize(
    ("ip2", "status"),
    [("2001:db8:0:ffff::53", Status.WARN), ("2001:db8:1::53", Status.PASS)],
    ids=["same-48", "other-48"],
)
def test_ipv6_only_name_servers_are_judged_by_slash_48(ip2: str, status: Status) -> None:
    result = run_one(nameservers, TARGET, two("2001:db8::53", ip2), soa_from("2001:db8::53"), soa_from(ip2))
    assert result.status is status


@pytest.mark.parametrize(
    "silent",
    [
        failed_at("198.51.100.53", D, "SOA"),
        failed_at("198.51.100.53", D, "SOA", DnsOutcome.REFUSED),
        soa_from("198.51.100.53", authoritative=False),
        answer_at("198.51.100.53", D, "SOA", outcome=DnsOutcome.NXDOMAIN),
    ],
    ids=["timeout", "refused", "not-authoritative", "nxdomain"],
)
def test_one_of_two_name_servers_answering_fails(silent: Pair) -> None:
    # A name server asked directly that does not answer is the finding itself, not a lookup problem.
    result = run_one(nameservers, TARGET, two("192.0.2.53", "198.51.100.53"), soa_from("192.0.2.53"), silent)
    assert result.status is Status.FAIL
    assert "Only 1 of 2" in result.summary
    assert f"ns2.{D}:" in result.evidence


def test_a_name_server_that_is_not_authoritative_is_named_in_the_evidence() -> None:
    result = run_one(
        nameservers,
        TARGET,
        two("192.0.2.53", "198.51.100.53"),
        soa_from("192.0.2.53"),
        soa_from("198.51.100.53", authoritative=False),
    )
    assert f"ns2.{D}: no authoritative answer" in result.evidence.splitlines()


def test_a_name_server_without_an_address_does_not_answer() -> None:
    result = run_one(
        nameservers, TARGET, zone((f"ns1.{D}", ["192.0.2.53"]), (f"ns2.{D}", [])), soa_from("192.0.2.53")
    )
    assert result.status is Status.FAIL


def test_a_single_name_server_fails() -> None:
    result = run_one(nameservers, TARGET, zone((f"ns1.{D}", ["192.0.2.53"])), soa_from("192.0.2.53"))
    assert result.status is Status.FAIL
    assert "Only 1 of 1" in result.summary


def test_one_address_of_a_name_server_answering_is_enough() -> None:
    result = run_one(
        nameservers,
        TARGET,
        zone((f"ns1.{D}", ["192.0.2.53", "2001:db8::53"]), (f"ns2.{D}", ["198.51.100.53"])),
        soa_from("192.0.2.53"),
        failed_at("2001:db8::53", D, "SOA"),
        soa_from("198.51.100.53"),
    )
    assert result.status is Status.PASS


def test_two_of_three_answering_in_different_networks_pass() -> None:
    result = run_one(
        nameservers,
        TARGET,
        zone((f"ns1.{D}", ["192.0.2.53"]), (f"ns2.{D}", ["198.51.100.53"]), (f"ns3.{D}", ["203.0.113.53"])),
        soa_from("192.0.2.53"),
        soa_from("198.51.100.53"),
        failed_at("203.0.113.53", D, "SOA"),
    )
    assert result.status is Status.PASS


def test_a_policy_can_ask_for_three_answering_name_servers() -> None:
    result = run_one(
        nameservers,
        TARGET,
        two("192.0.2.53", "198.51.100.53"),
        soa_from("192.0.2.53"),
        soa_from("198.51.100.53"),
        limits={"min_answering": 3},
    )
    assert result.status is Status.FAIL


def test_a_subdomain_is_judged_by_its_zone() -> None:
    result = run_one(
        nameservers,
        domain(f"www.{D}"),
        nodata(f"www.{D}", "NS"),
        two("192.0.2.53", "198.51.100.53"),
        soa_from("192.0.2.53"),
        soa_from("198.51.100.53"),
    )
    assert result.status is Status.PASS
    assert f"for {D}" in result.summary


@pytest.mark.parametrize("outcome", [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL])
def test_dns_timeout_is_error_not_fail(outcome: DnsOutcome) -> None:
    result = run_one(nameservers, TARGET, failed(D, "NS", outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_a_name_server_address_that_cannot_be_looked_up_is_error_not_fail() -> None:
    # Only one name server is known to answer, and the other might: we cannot tell.
    result = run_one(
        nameservers,
        TARGET,
        answer(D, "NS", f"ns1.{D}.", f"ns2.{D}."),
        host(f"ns1.{D}", "192.0.2.53"),
        failed(f"ns2.{D}", "A"),
        failed(f"ns2.{D}", "AAAA", DnsOutcome.SERVFAIL),
        soa_from("192.0.2.53"),
    )
    assert result.status is Status.ERROR


def test_a_zone_without_ns_records_is_error() -> None:
    result = run_one(nameservers, TARGET, nodata(D, "NS"))
    assert result.status is Status.ERROR
    assert "no name server" in result.summary


def test_dual_stack_name_servers_in_one_slash_24_and_one_slash_48_warn() -> None:
    ips = ["192.0.2.53", "2001:db8::53", "192.0.2.54", "2001:db8::54"]
    result = run_one(
        nameservers,
        TARGET,
        zone((f"ns1.{D}", ips[:2]), (f"ns2.{D}", ips[2:])),
        [soa_from(ip) for ip in ips],
    )
    assert result.status is Status.WARN


def test_a_single_name_server_fails_even_when_its_address_lookup_times_out() -> None:
    result = run_one(
        nameservers,
        TARGET,
        answer(D, "NS", f"ns1.{D}."),
        failed(f"ns1.{D}", "A"),
        failed(f"ns1.{D}", "AAAA"),
    )
    assert result.status is Status.FAIL


def test_an_answering_server_whose_aaaa_lookup_failed_is_not_counted_twice() -> None:
    # ns1 answers on IPv4 (its AAAA lookup timed out); ns2 has no address at all: one answering server.
    result = run_one(
        nameservers,
        TARGET,
        answer(D, "NS", f"ns1.{D}.", f"ns2.{D}."),
        answer(f"ns1.{D}", "A", "192.0.2.53"),
        failed(f"ns1.{D}", "AAAA"),
        host(f"ns2.{D}"),
        soa_from("192.0.2.53"),
    )
    assert result.status is Status.FAIL, result.summary
