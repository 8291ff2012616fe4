"""The helpers shared by the email and DNS checks: above all, when a host's addresses are known."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from secbase_checks._dns_names import host_addresses, names_up_to_registrable, organisational_domain

from secbase import DnsOutcome
from tests.checks.factories import Pair, answer, failed, host, make_facts, nodata, nx

MX = "mx1.alder.test"
V4, V6 = "192.0.2.25", "2001:db8::25"
ERRORS = [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL, DnsOutcome.REFUSED, DnsOutcome.ERROR]


def test_both_families_answered_give_every_address() -> None:
    addresses, unknown = host_addresses([MX], make_facts(host(MX, V4, V6)))
    assert addresses == {MX: [V4, V6]} and unknown == {}


@pytest.mark.parametrize("empty", [nodata, nx])
def test_nodata_and_nxdomain_are_answers_not_unknown(empty: Callable[[str, str], Pair]) -> None:
    addresses, unknown = host_addresses([MX], make_facts(answer(MX, "A", V4), empty(MX, "AAAA")))
    assert addresses == {MX: [V4]} and unknown == {}
    addresses, unknown = host_addresses([MX], make_facts(empty(MX, "A"), empty(MX, "AAAA")))
    assert addresses == {MX: []} and unknown == {}


@pytest.mark.parametrize("outcome", ERRORS)
def test_an_ipv6_lookup_that_failed_makes_the_addresses_unknown(outcome: DnsOutcome) -> None:
    # Judging the IPv4 address alone would pass a host whose IPv6 server might lack STARTTLS.
    facts = make_facts(answer(MX, "A", V4), failed(MX, "AAAA", outcome))
    addresses, unknown = host_addresses([MX], facts)
    assert unknown == {MX: facts.dns(MX, "AAAA").error}
    assert addresses == {MX: [V4]}  # the address found is still listed, for "any address will do"


@pytest.mark.parametrize("outcome", ERRORS)
def test_an_ipv4_lookup_that_failed_makes_the_addresses_unknown(outcome: DnsOutcome) -> None:
    facts = make_facts(failed(MX, "A", outcome), answer(MX, "AAAA", V6))
    addresses, unknown = host_addresses([MX], facts)
    assert unknown == {MX: facts.dns(MX, "A").error}
    assert addresses == {MX: [V6]}


def test_both_lookups_failed_give_the_first_reason() -> None:
    facts = make_facts(failed(MX, "A"), failed(MX, "AAAA", DnsOutcome.SERVFAIL))
    addresses, unknown = host_addresses([MX], facts)
    assert addresses == {MX: []} and unknown == {MX: facts.dns(MX, "A").error}


def test_each_host_is_judged_on_its_own_lookups() -> None:
    other = "mx2.alder.test"
    facts = make_facts(host(MX, V4), answer(other, "A", "192.0.2.26"), failed(other, "AAAA"))
    addresses, unknown = host_addresses([MX, other], facts)
    assert addresses == {MX: [V4], other: ["192.0.2.26"]}
    assert list(unknown) == [other]


def test_names_stop_at_the_registrable_domain() -> None:
    assert organisational_domain("mail.alder.on.ca") == "alder.on.ca"
    assert names_up_to_registrable("a.mail.alder.on.ca") == [
        "a.mail.alder.on.ca",
        "mail.alder.on.ca",
        "alder.on.ca",
    ]
