"""email.mx: mail for the domain has somewhere to go: MX hosts that exist and resolve."""

from __future__ import annotations

import pytest
from secbase_checks.email.mx import mx, mx_hosts

from secbase import DnsOutcome, Status
from tests.checks.factories import Pair, answer, domain, failed, host, nodata, nx, run_one

D = "alder.test"
TARGET = domain(D)
MX1, MX2 = f"mx1.{D}", f"mx2.{D}"
ERRORS = [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL]


def mx_records(*records: str) -> Pair:
    return answer(D, "MX", *records)


def test_mx_hosts_sorts_by_preference_and_reads_the_null_mx() -> None:
    assert mx_hosts(("20 MX2.alder.test.", "10 mx1.alder.test.", "junk")) == [(10, MX1), (20, MX2)]
    assert mx_hosts(("0 .",)) == [(0, ".")]


def test_mx_hosts_with_addresses_pass() -> None:
    result = run_one(
        mx,
        TARGET,
        mx_records(f"10 {MX1}.", f"20 {MX2}."),
        host(MX1, "192.0.2.25"),
        host(MX2, "198.51.100.25", "2001:db8::25"),
    )
    assert result.status is Status.PASS
    assert result.evidence.splitlines() == [f"10 {MX1}", f"20 {MX2}"]


def test_an_mx_host_with_only_an_ipv6_address_passes() -> None:
    assert run_one(mx, TARGET, mx_records(f"10 {MX1}."), host(MX1, "2001:db8::25")).status is Status.PASS


@pytest.mark.parametrize("fact", [nx(D, "MX"), nodata(D, "MX")], ids=["nxdomain", "nodata"])
def test_no_mx_fails(fact: Pair) -> None:
    result = run_one(mx, TARGET, fact)
    assert result.status is Status.FAIL
    assert "No MX record" in result.summary


def test_a_null_mx_on_a_mail_domain_fails() -> None:
    result = run_one(mx, TARGET, mx_records("0 ."))
    assert result.status is Status.FAIL
    assert "null MX" in result.summary


def test_a_null_mx_beside_real_hosts_warns() -> None:
    # RFC 7505 3: a null MX must be the only MX record.
    result = run_one(mx, TARGET, mx_records("0 .", f"10 {MX1}."), host(MX1, "192.0.2.25"))
    assert result.status is Status.WARN


@pytest.mark.parametrize(
    "facts",
    [
        host(MX1),
        [nodata(MX1, "A"), nodata(MX1, "AAAA")],
        [answer(MX1, "A", outcome=DnsOutcome.OK), nx(MX1, "AAAA")],
    ],
    ids=["nxdomain", "nodata", "empty-ok"],
)
def test_an_mx_host_without_addresses_warns(facts: list[Pair]) -> None:
    result = run_one(mx, TARGET, mx_records(f"10 {MX1}."), facts)
    assert result.status is Status.WARN
    assert MX1 in result.summary


def test_one_dead_mx_host_among_good_ones_warns_and_is_named() -> None:
    result = run_one(mx, TARGET, mx_records(f"10 {MX1}.", f"20 {MX2}."), host(MX1, "192.0.2.25"), host(MX2))
    assert result.status is Status.WARN
    assert MX2 in result.summary and MX1 not in result.summary


@pytest.mark.parametrize("outcome", ERRORS)
def test_dns_timeout_is_error_not_fail(outcome: DnsOutcome) -> None:
    result = run_one(mx, TARGET, failed(D, "MX", outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


@pytest.mark.parametrize("outcome", ERRORS)
def test_an_mx_host_whose_addresses_cannot_be_looked_up_is_error_not_warn(outcome: DnsOutcome) -> None:
    result = run_one(
        mx, TARGET, mx_records(f"10 {MX1}."), failed(MX1, "A", outcome), failed(MX1, "AAAA", outcome)
    )
    assert result.status is Status.ERROR
    assert MX1 in result.summary


def test_one_address_family_answering_is_enough_when_the_other_times_out() -> None:
    result = run_one(
        mx, TARGET, mx_records(f"10 {MX1}."), answer(MX1, "A", "192.0.2.25"), failed(MX1, "AAAA")
    )
    assert result.status is Status.PASS


def test_a_non_mail_domain_is_not_applicable() -> None:
    result = run_one(mx, domain(D, sends_mail=False), mx_records("0 ."))
    assert result.status is Status.NOT_APPLICABLE
    assert "email.non_mail_domain" in result.summary


def test_a_non_mail_domain_is_not_applicable_even_when_its_mx_lookup_fails() -> None:
    result = run_one(mx, domain(D, sends_mail=False), failed(D, "MX"))
    assert result.status is Status.NOT_APPLICABLE
