"""email.spf.*: one SPF record, a strict ending, a readable record, at most 10 lookups (RFC 7208)."""

from __future__ import annotations

import pytest
from secbase_checks.email.spf import spf_lookups, spf_policy, spf_present, spf_syntax

from secbase import Check, DnsOutcome, Status
from tests.checks.factories import Pair, Record, answer, domain, failed, host, nodata, nx, run_one, txt

D = "alder.test"
TARGET = domain(D)
ERRORS = [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL]
ALL_FOUR = [spf_present, spf_policy, spf_syntax, spf_lookups]


def spf(*records: Record, name: str = D) -> Pair:
    """The TXT answer at `name` (the checked domain by default)."""
    return txt(name, *records)


def flat(count: int) -> list[Pair]:
    """A record with `count` a: terms, every one resolving."""
    terms = " ".join(f"a:h{i}.{D}" for i in range(count))
    facts = [spf(f"v=spf1 {terms} -all")]
    for i in range(count):
        facts += host(f"h{i}.{D}", f"192.0.2.{i + 1}")
    return facts


def nested(count: int) -> list[Pair]:
    """`count` lookups spread over include, redirect= and a leaf mixing a, mx, exists and ptr."""
    assert count >= 2
    facts = [
        spf(f"v=spf1 include:_spf1.{D} -all"),  # 1: include
        spf("v=spf1 ip4:192.0.2.0/24 redirect=_spf2." + D, name=f"_spf1.{D}"),  # 2: redirect (no all)
    ]
    kinds = ["a", "mx", "exists", "ptr"]
    terms = [f"{kinds[i % 4]}:h{i}.{D}" for i in range(count - 2)]
    facts.append(spf("v=spf1 " + " ".join([*terms, "~all"]), name=f"_spf2.{D}"))
    for i in range(count - 2):
        name = f"h{i}.{D}"
        kind = kinds[i % 4]
        if kind == "a":
            facts += host(name, f"192.0.2.{i + 1}")
        elif kind == "mx":
            facts.append(answer(name, "MX", f"10 mx.{D}."))
        elif kind == "exists":
            facts.append(answer(name, "A", "127.0.0.2"))
        # ptr is counted but never looked up: it needs the sender's address
    return facts


SHAPES = {"flat": flat, "nested": nested}


# --- email.spf.present ------------------------------------------------------------------------------


def test_one_spf_record_passes() -> None:
    result = run_one(spf_present, TARGET, spf("v=spf1 mx -all", "google-site-verification=abc"))
    assert result.status is Status.PASS
    assert result.evidence == "v=spf1 mx -all"


@pytest.mark.parametrize(
    "fact",
    [nx(D, "TXT"), nodata(D, "TXT"), txt(D, "google-site-verification=abc"), txt(D, "v=spf10 -all")],
    ids=["nxdomain", "nodata", "other-txt-only", "spf10-is-not-spf1"],
)
def test_no_spf_record_fails(fact: Pair) -> None:
    result = run_one(spf_present, TARGET, fact)
    assert result.status is Status.FAIL
    assert "No SPF record" in result.summary


def test_two_spf_records_fail() -> None:
    result = run_one(spf_present, TARGET, spf("v=spf1 mx -all", "v=spf1 include:_spf.example.net ~all"))
    assert result.status is Status.FAIL
    assert result.summary.startswith("2 SPF records")
    assert result.evidence.splitlines() == ["v=spf1 mx -all", "v=spf1 include:_spf.example.net ~all"]


def test_a_record_split_into_strings_is_still_one_record() -> None:
    assert run_one(spf_present, TARGET, spf(("v=spf1 ip4:192.0.2.10", "-all"))).status is Status.PASS


@pytest.mark.parametrize("outcome", ERRORS)
def test_dns_timeout_is_error_not_fail(outcome: DnsOutcome) -> None:
    result = run_one(spf_present, TARGET, failed(D, "TXT", outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:") and D in result.summary


@pytest.mark.parametrize("check", ALL_FOUR, ids=lambda c: c.id)
@pytest.mark.parametrize("outcome", ERRORS)
def test_every_spf_check_is_error_when_the_record_cannot_be_looked_up(
    check: Check, outcome: DnsOutcome
) -> None:
    assert run_one(check, TARGET, failed(D, "TXT", outcome)).status is Status.ERROR


# --- email.spf.policy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        ("-all", Status.PASS),
        ("~all", Status.WARN),
        ("?all", Status.FAIL),
        ("+all", Status.FAIL),
        ("all", Status.FAIL),  # no qualifier is "+"
        ("", Status.FAIL),  # no all and no redirect=
    ],
    ids=["hard-fail", "soft-fail", "neutral", "plus-all", "bare-all", "no-all"],
)
def test_the_ending_decides_the_policy(ending: str, status: Status) -> None:
    result = run_one(spf_policy, TARGET, spf(f"v=spf1 ip4:192.0.2.10 {ending}".strip()))
    assert result.status is status


@pytest.mark.parametrize("ending", ["+all", "?all"])
def test_a_permissive_ending_is_named_in_the_summary(ending: str) -> None:
    result = run_one(spf_policy, TARGET, spf(f"v=spf1 ip4:192.0.2.10 {ending}"))
    assert f'"{ending}"' in result.summary


def test_no_all_without_redirect_fails() -> None:
    result = run_one(spf_policy, TARGET, spf("v=spf1 ip4:192.0.2.10"))
    assert result.status is Status.FAIL
    assert 'does not end in "-all"' in result.summary


@pytest.mark.parametrize(
    ("ending", "status"),
    [("-all", Status.PASS), ("~all", Status.WARN), ("?all", Status.FAIL), ("", Status.FAIL)],
    ids=["hard-fail", "soft-fail", "neutral", "no-all"],
)
def test_redirect_is_followed_for_the_policy(ending: str, status: Status) -> None:
    result = run_one(
        spf_policy,
        TARGET,
        spf(f"v=spf1 redirect=_spf.{D}"),
        spf(f"v=spf1 ip4:192.0.2.0/24 {ending}".strip(), name=f"_spf.{D}"),
    )
    assert result.status is status


def test_redirect_is_followed_through_two_records() -> None:
    result = run_one(
        spf_policy,
        TARGET,
        spf(f"v=spf1 redirect=_spf.{D}"),
        spf("v=spf1 redirect=_spf.provider.example", name=f"_spf.{D}"),
        spf("v=spf1 ip4:203.0.113.0/24 -all", name="_spf.provider.example"),
    )
    assert result.status is Status.PASS


def test_a_redirect_to_a_name_without_spf_fails() -> None:
    result = run_one(spf_policy, TARGET, spf(f"v=spf1 redirect=_spf.{D}"), nx(f"_spf.{D}", "TXT"))
    assert result.status is Status.FAIL


def test_redirect_is_ignored_when_the_record_has_all() -> None:
    # RFC 7208 6.1: with an "all" mechanism, redirect= is never used, so it is not even looked up.
    result = run_one(spf_policy, TARGET, spf(f"v=spf1 -all redirect=_spf.{D}"))
    assert result.status is Status.PASS


@pytest.mark.parametrize("outcome", ERRORS)
def test_a_redirect_that_cannot_be_looked_up_is_error_not_fail(outcome: DnsOutcome) -> None:
    result = run_one(
        spf_policy, TARGET, spf(f"v=spf1 redirect=_spf.{D}"), failed(f"_spf.{D}", "TXT", outcome)
    )
    assert result.status is Status.ERROR
    assert f"_spf.{D}" in result.summary


def test_a_timed_out_include_does_not_hide_the_ending() -> None:
    result = run_one(
        spf_policy, TARGET, spf("v=spf1 include:_spf.slow.example -all"), failed("_spf.slow.example", "TXT")
    )
    assert result.status is Status.PASS


@pytest.mark.parametrize(
    "fact",
    [nx(D, "TXT"), txt(D, "v=spf1 -all", "v=spf1 ~all")],
    ids=["no-record", "two-records"],
)
def test_policy_cannot_be_checked_without_exactly_one_record(fact: Pair) -> None:
    result = run_one(spf_policy, TARGET, fact)
    assert result.status is Status.ERROR
    assert "email.spf.present" in result.summary


def test_policy_cannot_be_checked_when_the_record_cannot_be_read() -> None:
    result = run_one(spf_policy, TARGET, spf(("v=spf1 ip4:192.0.2.10", "-all")))
    assert result.status is Status.ERROR
    assert "email.spf.syntax" in result.summary


# --- email.spf.syntax -------------------------------------------------------------------------------


def test_a_readable_record_passes_syntax() -> None:
    assert (
        run_one(spf_syntax, TARGET, spf("v=spf1 ip4:192.0.2.10 ip6:2001:db8::/32 -all")).status is Status.PASS
    )


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 foo:bar -all",
        "v=spf1 exists:%{z}.alder.test -all",
        "v=spf1 ip4:192.0.2.300 -all",
        "v=spf1 include: -all",
    ],
    ids=["unknown-mechanism", "bad-macro", "bad-address", "empty-include"],
)
def test_an_unreadable_record_fails_syntax(record: str) -> None:
    result = run_one(spf_syntax, TARGET, spf(record))
    assert result.status is Status.FAIL
    assert result.summary.startswith("The SPF record cannot be read")


def test_a_string_split_without_a_space_gives_the_split_summary() -> None:
    result = run_one(spf_syntax, TARGET, spf(("v=spf1 ip4:192.0.2.10", "-all")))
    assert result.status is Status.FAIL
    assert "split into several text strings" in result.summary
    assert result.evidence == '"v=spf1 ip4:192.0.2.10" | "-all"'


def test_a_string_split_after_a_space_passes() -> None:
    assert run_one(spf_syntax, TARGET, spf(("v=spf1 ip4:192.0.2.10 ", "-all"))).status is Status.PASS


def test_a_record_over_255_characters_is_joined_back_and_passes() -> None:
    record = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(1, 30)) + " -all"
    assert len(record) > 255
    fact = spf(record)
    assert len(fact[1].strings()[0]) > 1  # the factory cut it at 255 bytes, as a DNS host does
    assert run_one(spf_syntax, TARGET, fact).status is Status.PASS


def test_a_broken_included_record_fails_syntax() -> None:
    result = run_one(
        spf_syntax,
        TARGET,
        spf(f"v=spf1 include:_spf.{D} -all"),
        spf("v=spf1 ip4:192.0.2.300 -all", name=f"_spf.{D}"),
    )
    assert result.status is Status.FAIL
    assert result.evidence.startswith(f"_spf.{D}:")


@pytest.mark.parametrize(
    "fact",
    [nx(f"_spf.{D}", "TXT"), txt(f"_spf.{D}", "not spf")],
    ids=["nxdomain", "no-spf-among-txt"],
)
def test_an_include_without_an_spf_record_fails_syntax(fact: Pair) -> None:
    result = run_one(spf_syntax, TARGET, spf(f"v=spf1 include:_spf.{D} -all"), fact)
    assert result.status is Status.FAIL
    assert f"_spf.{D} has no SPF record" in result.evidence


def test_an_include_with_two_spf_records_fails_syntax() -> None:
    result = run_one(
        spf_syntax,
        TARGET,
        spf(f"v=spf1 include:_spf.{D} -all"),
        spf("v=spf1 -all", "v=spf1 ~all", name=f"_spf.{D}"),
    )
    assert result.status is Status.FAIL
    assert f"_spf.{D} has 2 SPF records" in result.evidence


def test_an_include_loop_fails_syntax() -> None:
    result = run_one(
        spf_syntax,
        TARGET,
        spf(f"v=spf1 include:_spf.{D} -all"),
        spf(f"v=spf1 include:{D} -all", name=f"_spf.{D}"),
    )
    assert result.status is Status.FAIL
    assert f"leads back to {D}" in result.evidence


def test_an_include_of_itself_fails_syntax() -> None:
    result = run_one(spf_syntax, TARGET, spf(f"v=spf1 include:{D} -all"))
    assert result.status is Status.FAIL
    assert f"leads back to {D}" in result.evidence


@pytest.mark.parametrize("outcome", ERRORS)
def test_a_timed_out_include_is_error_not_fail_for_syntax(outcome: DnsOutcome) -> None:
    result = run_one(
        spf_syntax,
        TARGET,
        spf("v=spf1 include:_spf.slow.example -all"),
        failed("_spf.slow.example", "TXT", outcome),
    )
    assert result.status is Status.ERROR


def test_syntax_cannot_be_checked_with_two_records() -> None:
    assert run_one(spf_syntax, TARGET, spf("v=spf1 -all", "v=spf1 ~all")).status is Status.ERROR


# --- email.spf.lookups ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("count", "status"),
    [
        (2, Status.PASS),
        (7, Status.PASS),
        (8, Status.WARN),
        (10, Status.WARN),
        (11, Status.FAIL),
        (14, Status.FAIL),
    ],
    ids=lambda v: str(v),
)
def test_lookups_are_judged_against_eight_and_ten(shape: str, count: int, status: Status) -> None:
    result = run_one(spf_lookups, TARGET, SHAPES[shape](count))
    assert result.status is status
    assert result.evidence.splitlines()[0] == f"{count} DNS lookups"


def test_seven_lookups_pass() -> None:
    result = run_one(spf_lookups, TARGET, flat(7))
    assert result.status is Status.PASS
    assert "7 of 10" in result.summary


def test_eight_lookups_warn() -> None:
    result = run_one(spf_lookups, TARGET, nested(8))
    assert result.status is Status.WARN
    assert "8 of the 10" in result.summary


def test_eleven_lookups_fail() -> None:
    result = run_one(spf_lookups, TARGET, nested(11))
    assert result.status is Status.FAIL
    assert "needs 11 DNS lookups" in result.summary


def test_ptr_is_counted_without_being_looked_up() -> None:
    result = run_one(spf_lookups, TARGET, spf("v=spf1 ptr ptr:alder.test -all"))
    assert result.status is Status.PASS
    assert result.evidence.startswith("2 DNS lookups")


def test_redirect_counts_only_when_the_record_has_no_all() -> None:
    with_all = run_one(spf_lookups, TARGET, spf(f"v=spf1 a -all redirect=_spf.{D}"), host(D, "192.0.2.80"))
    assert with_all.evidence.splitlines()[0] == "1 DNS lookup"
    without = run_one(
        spf_lookups,
        TARGET,
        spf(f"v=spf1 a redirect=_spf.{D}"),
        host(D, "192.0.2.80"),
        spf("v=spf1 -all", name=f"_spf.{D}"),
    )
    assert without.evidence.startswith("2 DNS lookups")


def test_a_domain_macro_is_expanded_and_followed() -> None:
    result = run_one(
        spf_lookups,
        TARGET,
        spf("v=spf1 include:%{d}._spf.provider.example -all"),
        spf("v=spf1 a:out.provider.example -all", name=f"{D}._spf.provider.example"),
        host("out.provider.example", "203.0.113.25"),
    )
    assert result.status is Status.PASS
    assert result.evidence.startswith("2 DNS lookups")


def test_a_sender_dependent_exists_counts_one_lookup_and_needs_no_more() -> None:
    # %{i} is the sender's address: the scan cannot ask that name, but it is exactly one lookup.
    result = run_one(spf_lookups, TARGET, spf("v=spf1 exists:%{i}._spf.provider.example -all"))
    assert result.status is Status.PASS
    assert result.evidence.splitlines()[0] == "1 DNS lookup"


def test_a_sender_dependent_include_cannot_be_followed_so_the_count_is_error() -> None:
    # What the included record holds depends on the sender: the total is unknown, not "under 10".
    result = run_one(spf_lookups, TARGET, spf("v=spf1 include:%{i}._spf.provider.example -all"))
    assert result.status is Status.ERROR
    assert "depends on the sender" in result.summary


def void_a(count: int) -> list[Pair]:
    terms = " ".join(f"a:gone{i}.{D}" for i in range(count))
    facts = [spf(f"v=spf1 ip4:192.0.2.10 {terms} -all")]
    for i in range(count):
        facts += host(f"gone{i}.{D}")  # NXDOMAIN for A and AAAA
    return facts


@pytest.mark.parametrize(("voids", "status"), [(0, Status.PASS), (2, Status.PASS), (3, Status.FAIL)])
def test_more_than_two_void_lookups_fail(voids: int, status: Status) -> None:
    result = run_one(spf_lookups, TARGET, void_a(voids))
    assert result.status is status
    assert sum(line.startswith("void: ") for line in result.evidence.splitlines()) == voids


def test_three_void_lookups_fail_and_say_so() -> None:
    result = run_one(spf_lookups, TARGET, void_a(3))
    assert result.summary.startswith("3 names in the SPF record do not exist")


def test_void_lookups_of_every_kind_are_counted() -> None:
    result = run_one(
        spf_lookups,
        TARGET,
        spf(f"v=spf1 a:gone.{D} mx:nomail.{D} exists:%{{d}}.nolist.example include:old.example -all"),
        host(f"gone.{D}"),
        nodata(f"nomail.{D}", "MX"),
        nx(f"{D}.nolist.example", "A"),
        nx("old.example", "TXT"),
    )
    assert result.status is Status.FAIL
    assert sum(line.startswith("void: ") for line in result.evidence.splitlines()) == 4


def test_an_a_term_with_only_an_ipv6_address_is_not_void() -> None:
    result = run_one(
        spf_lookups,
        TARGET,
        spf(f"v=spf1 a:v6a.{D} a:v6b.{D} a:v6c.{D} -all"),
        host(f"v6a.{D}", "2001:db8::1"),
        host(f"v6b.{D}", "2001:db8::2"),
        host(f"v6c.{D}", "2001:db8::3"),
    )
    assert result.status is Status.PASS
    assert "void" not in result.evidence


def with_slow_include(known: int) -> list[Pair]:
    """`known` lookups counted, one of them an include whose lookup timed out."""
    terms = " ".join(f"a:h{i}.{D}" for i in range(known - 1))
    facts = [spf(f"v=spf1 include:_spf.slow.example {terms} -all"), failed("_spf.slow.example", "TXT")]
    for i in range(known - 1):
        facts += host(f"h{i}.{D}", f"192.0.2.{i + 1}")
    return facts


@pytest.mark.parametrize(
    ("known", "status"),
    [(1, Status.ERROR), (8, Status.ERROR), (10, Status.ERROR), (11, Status.FAIL), (12, Status.FAIL)],
)
def test_a_timed_out_include_is_error_unless_the_known_count_is_over_ten(known: int, status: Status) -> None:
    result = run_one(spf_lookups, TARGET, with_slow_include(known))
    assert result.status is status
    if status is Status.FAIL:
        assert f"needs {known} DNS lookups or more" in result.summary
    else:
        assert "_spf.slow.example" in result.summary


@pytest.mark.parametrize("outcome", ERRORS)
def test_a_timed_out_a_term_is_error_not_pass(outcome: DnsOutcome) -> None:
    result = run_one(
        spf_lookups,
        TARGET,
        spf(f"v=spf1 a:mail.{D} -all"),
        failed(f"mail.{D}", "A", outcome),
        failed(f"mail.{D}", "AAAA", outcome),
    )
    assert result.status is Status.ERROR


def test_an_address_family_that_answers_is_enough_when_the_other_times_out() -> None:
    result = run_one(
        spf_lookups,
        TARGET,
        spf(f"v=spf1 a:mail.{D} -all"),
        answer(f"mail.{D}", "A", "192.0.2.25"),
        failed(f"mail.{D}", "AAAA"),
    )
    assert result.status is Status.PASS


def test_an_include_loop_still_counts_its_lookups() -> None:
    result = run_one(
        spf_lookups,
        TARGET,
        spf(f"v=spf1 include:_spf.{D} -all"),
        spf(f"v=spf1 include:{D} -all", name=f"_spf.{D}"),
    )
    assert result.status is Status.PASS
    assert result.evidence.startswith("2 DNS lookups")


@pytest.mark.parametrize(
    ("count", "status"), [(3, Status.PASS), (4, Status.WARN), (5, Status.WARN), (6, Status.FAIL)]
)
def test_a_policy_can_tighten_the_lookup_limits(count: int, status: Status) -> None:
    limits = {"max_lookups": 5, "warn_lookups": 4}
    assert run_one(spf_lookups, TARGET, flat(count), limits=limits).status is status


def test_a_policy_can_allow_no_void_lookup() -> None:
    assert run_one(spf_lookups, TARGET, void_a(1), limits={"max_voids": 0}).status is Status.FAIL


@pytest.mark.parametrize(
    ("fact", "status"),
    [
        (nx(D, "TXT"), Status.ERROR),
        (txt(D, "v=spf1 -all", "v=spf1 ~all"), Status.ERROR),
        (txt(D, ("v=spf1 ip4:192.0.2.10", "-all")), Status.ERROR),
    ],
    ids=["no-record", "two-records", "unreadable"],
)
def test_lookups_cannot_be_checked_without_one_readable_record(fact: Pair, status: Status) -> None:
    assert run_one(spf_lookups, TARGET, fact).status is status
