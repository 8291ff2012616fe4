"""email.dmarc.*: one DMARC record (own or organisational), a protecting policy, valid tags, reports."""

from __future__ import annotations

import pytest
from secbase_checks.email.dmarc import dmarc_policy, dmarc_present, dmarc_reporting, dmarc_syntax

from secbase import Check, DnsOutcome, Status
from tests.checks.factories import Pair, domain, failed, nodata, nx, run_one, txt

D = "alder.test"
SUB = f"mail.{D}"
TARGET = domain(D)
SUB_TARGET = domain(SUB)
ERRORS = [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL]
ALL_FOUR = [dmarc_present, dmarc_syntax, dmarc_policy, dmarc_reporting]
RUA = f"rua=mailto:dmarc@{D}"
REPORTS = "reports.example"
AUTH = f"{D}._report._dmarc.{REPORTS}"  # RFC 7489 7.1: where reports.example says yes to alder.test


def dmarc(*records: str, name: str = D) -> Pair:
    return txt(f"_dmarc.{name}", *records)


def inherited(*records: str) -> list[Pair]:
    """Nothing at _dmarc.mail.alder.test; the records at _dmarc.alder.test."""
    return [nx(f"_dmarc.{SUB}", "TXT"), dmarc(*records)]


# --- email.dmarc.present ----------------------------------------------------------------------------


def test_one_dmarc_record_passes() -> None:
    result = run_one(dmarc_present, TARGET, dmarc(f"v=DMARC1; p=reject; {RUA}"))
    assert result.status is Status.PASS
    assert f"_dmarc.{D}" in result.summary


@pytest.mark.parametrize(
    "fact",
    [nx(f"_dmarc.{D}", "TXT"), nodata(f"_dmarc.{D}", "TXT"), txt(f"_dmarc.{D}", "some other text")],
    ids=["nxdomain", "nodata", "no-dmarc-among-txt"],
)
def test_no_dmarc_record_fails(fact: Pair) -> None:
    result = run_one(dmarc_present, TARGET, fact)
    assert result.status is Status.FAIL
    assert result.summary.startswith("No DMARC record")


def test_two_dmarc_records_fail() -> None:
    result = run_one(dmarc_present, TARGET, dmarc("v=DMARC1; p=reject", "v=DMARC1; p=none"))
    assert result.status is Status.FAIL
    assert result.summary.startswith("2 DMARC records")


def test_the_organisational_domain_record_is_used_when_the_subdomain_has_none() -> None:
    result = run_one(dmarc_present, SUB_TARGET, inherited("v=DMARC1; p=reject"))
    assert result.status is Status.PASS
    assert f"_dmarc.{D} (the organisational domain's record applies)" in result.summary


def test_a_subdomain_txt_that_is_not_dmarc_falls_back_to_the_organisational_domain() -> None:
    result = run_one(dmarc_present, SUB_TARGET, txt(f"_dmarc.{SUB}", "hello"), dmarc("v=DMARC1; p=reject"))
    assert result.status is Status.PASS


def test_the_subdomain_record_wins_over_the_organisational_one() -> None:
    # The organisational record is never asked for: run() would fail on the missing fact.
    result = run_one(dmarc_present, SUB_TARGET, dmarc("v=DMARC1; p=reject", name=SUB))
    assert result.status is Status.PASS
    assert f"_dmarc.{SUB}" in result.summary and "organisational" not in result.summary


def test_no_record_at_the_subdomain_nor_the_organisational_domain_fails() -> None:
    result = run_one(dmarc_present, SUB_TARGET, nx(f"_dmarc.{SUB}", "TXT"), nx(f"_dmarc.{D}", "TXT"))
    assert result.status is Status.FAIL


@pytest.mark.parametrize("check", ALL_FOUR, ids=lambda c: c.id)
@pytest.mark.parametrize("outcome", ERRORS)
def test_dns_timeout_is_error_not_fail(check: Check, outcome: DnsOutcome) -> None:
    result = run_one(check, TARGET, failed(f"_dmarc.{D}", "TXT", outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


@pytest.mark.parametrize("check", ALL_FOUR, ids=lambda c: c.id)
def test_an_organisational_lookup_that_times_out_is_error_not_fail(check: Check) -> None:
    result = run_one(check, SUB_TARGET, nx(f"_dmarc.{SUB}", "TXT"), failed(f"_dmarc.{D}", "TXT"))
    assert result.status is Status.ERROR


# --- email.dmarc.syntax -----------------------------------------------------------------------------


def test_a_well_formed_record_passes_syntax() -> None:
    assert run_one(dmarc_syntax, TARGET, dmarc(f"v=DMARC1; p=reject; {RUA}; adkim=s")).status is Status.PASS


@pytest.mark.parametrize(
    "record",
    [
        "p=reject; v=DMARC1",  # the version must come first
        "v=dmarc1; p=reject",  # the version is case-sensitive
        "v=DMARC1; p=block",  # unknown policy
        "v=DMARC1; rua=mailto:dmarc@alder.test",  # no p=
        "v=DMARC1; p=reject; pct=150",
        "v=DMARC1; p=reject; rua=dmarc@alder.test",  # not a URI
        "v=DMARC1; p=reject; p=none",
    ],
    ids=[
        "version-not-first",
        "version-case",
        "unknown-p",
        "no-p",
        "pct-over-100",
        "rua-not-uri",
        "duplicate-tag",
    ],
)
def test_a_malformed_record_fails_syntax(record: str) -> None:
    result = run_one(dmarc_syntax, TARGET, dmarc(record))
    assert result.status is Status.FAIL
    assert result.evidence == record


@pytest.mark.parametrize(
    "fact",
    [nx(f"_dmarc.{D}", "TXT"), txt(f"_dmarc.{D}", "v=DMARC1; p=reject", "v=DMARC1; p=none")],
    ids=["none", "two"],
)
def test_syntax_cannot_be_checked_without_exactly_one_record(fact: Pair) -> None:
    result = run_one(dmarc_syntax, TARGET, fact)
    assert result.status is Status.ERROR


# --- email.dmarc.policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "status"),
    [("reject", Status.PASS), ("quarantine", Status.WARN), ("none", Status.FAIL)],
)
def test_the_policy_decides(p: str, status: Status) -> None:
    result = run_one(dmarc_policy, TARGET, dmarc(f"v=DMARC1; p={p}; {RUA}"))
    assert result.status is status
    if status is not Status.PASS:
        assert f"p={p}" in result.summary


@pytest.mark.parametrize(
    ("pct", "status"),
    [("0", Status.FAIL), ("1", Status.FAIL), ("99", Status.FAIL), ("100", Status.PASS)],
)
def test_pct_below_100_fails(pct: str, status: Status) -> None:
    result = run_one(dmarc_policy, TARGET, dmarc(f"v=DMARC1; p=reject; pct={pct}"))
    assert result.status is status
    if status is Status.FAIL:
        assert f"pct={pct}" in result.summary


def test_pct_below_100_fails_a_quarantine_policy_too() -> None:
    assert run_one(dmarc_policy, TARGET, dmarc("v=DMARC1; p=quarantine; pct=99")).status is Status.FAIL


@pytest.mark.parametrize("p", ["reject", "quarantine"])
def test_sp_none_fails(p: str) -> None:
    result = run_one(dmarc_policy, TARGET, dmarc(f"v=DMARC1; p={p}; sp=none"))
    assert result.status is Status.FAIL
    assert "sp=none" in result.summary


@pytest.mark.parametrize(
    ("record", "status"),
    [
        ("v=DMARC1; p=reject", Status.PASS),  # no sp=: p applies to subdomains
        ("v=DMARC1; p=reject; sp=reject", Status.PASS),
        ("v=DMARC1; p=none; sp=reject", Status.PASS),  # the subdomain gets sp, not p
        ("v=DMARC1; p=reject; sp=quarantine", Status.WARN),
        ("v=DMARC1; p=quarantine", Status.WARN),
        ("v=DMARC1; p=reject; sp=none", Status.FAIL),
        ("v=DMARC1; p=none", Status.FAIL),
        ("v=DMARC1; p=reject; pct=99", Status.FAIL),
    ],
)
def test_a_subdomain_gets_the_organisational_sp(record: str, status: Status) -> None:
    assert run_one(dmarc_policy, SUB_TARGET, inherited(record)).status is status


def test_an_inherited_sp_none_is_named_in_the_summary() -> None:
    result = run_one(dmarc_policy, SUB_TARGET, inherited("v=DMARC1; p=reject; sp=none"))
    assert "sp=none (for subdomains)" in result.summary


def test_an_inherited_sp_is_named_as_sp_in_the_summary() -> None:
    result = run_one(dmarc_policy, SUB_TARGET, inherited("v=DMARC1; p=reject; sp=quarantine"))
    assert result.status is Status.WARN
    assert "sp=quarantine" in result.summary


def test_an_inherited_sp_reject_is_named_as_sp_in_the_pass_summary() -> None:
    result = run_one(dmarc_policy, SUB_TARGET, inherited("v=DMARC1; p=none; sp=reject"))
    assert result.status is Status.PASS
    assert "sp=reject" in result.summary


def test_the_subdomain_own_record_uses_p_not_sp() -> None:
    result = run_one(dmarc_policy, SUB_TARGET, dmarc("v=DMARC1; p=reject; sp=quarantine", name=SUB))
    assert result.status is Status.PASS


@pytest.mark.parametrize(
    "facts",
    [
        [nx(f"_dmarc.{D}", "TXT")],
        [dmarc("v=DMARC1; p=block")],
        [dmarc("v=DMARC1; p=reject", "v=DMARC1; p=none")],
    ],
    ids=["none", "unreadable", "two"],
)
def test_policy_cannot_be_checked_without_a_readable_record(facts: list[Pair]) -> None:
    assert run_one(dmarc_policy, TARGET, facts).status is Status.ERROR


# --- email.dmarc.reporting --------------------------------------------------------------------------


def test_no_rua_warns() -> None:
    result = run_one(dmarc_reporting, TARGET, dmarc("v=DMARC1; p=reject"))
    assert result.status is Status.WARN
    assert "no rua=" in result.summary


def test_a_rua_in_the_own_domain_passes_without_asking_for_authorisation() -> None:
    result = run_one(dmarc_reporting, TARGET, dmarc(f"v=DMARC1; p=reject; {RUA}"))
    assert result.status is Status.PASS
    assert f"dmarc@{D}" in result.summary


def test_a_rua_in_a_subdomain_of_the_own_organisation_needs_no_authorisation() -> None:
    result = run_one(dmarc_reporting, TARGET, dmarc(f"v=DMARC1; p=reject; rua=mailto:dmarc@reports.{D}"))
    assert result.status is Status.PASS


def test_a_rua_in_another_domain_that_authorised_it_passes() -> None:
    result = run_one(
        dmarc_reporting,
        TARGET,
        dmarc(f"v=DMARC1; p=reject; rua=mailto:agg@{REPORTS}"),
        txt(AUTH, "v=DMARC1"),
    )
    assert result.status is Status.PASS


@pytest.mark.parametrize(
    "fact",
    [nx(AUTH, "TXT"), nodata(AUTH, "TXT"), txt(AUTH, "hello")],
    ids=["nxdomain", "nodata", "not-dmarc"],
)
def test_a_rua_in_another_domain_without_authorisation_warns(fact: Pair) -> None:
    result = run_one(dmarc_reporting, TARGET, dmarc(f"v=DMARC1; p=reject; rua=mailto:agg@{REPORTS}"), fact)
    assert result.status is Status.WARN
    assert f"agg@{REPORTS}" in result.summary and "has not agreed" in result.summary


def test_only_the_unauthorised_rua_is_named() -> None:
    result = run_one(
        dmarc_reporting,
        TARGET,
        dmarc(f"v=DMARC1; p=reject; {RUA},mailto:agg@{REPORTS},mailto:x@other.example"),
        txt(AUTH, "v=DMARC1"),
        nx(f"{D}._report._dmarc.other.example", "TXT"),
    )
    assert result.status is Status.WARN
    assert "x@other.example" in result.summary and f"agg@{REPORTS}" not in result.summary


def test_the_authorisation_is_asked_for_the_domain_that_published_the_record() -> None:
    # Inherited from alder.test, so reports.example must authorise alder.test (RFC 7489 7.1).
    result = run_one(
        dmarc_reporting,
        SUB_TARGET,
        inherited(f"v=DMARC1; p=reject; rua=mailto:agg@{REPORTS}"),
        txt(AUTH, "v=DMARC1"),
    )
    assert result.status is Status.PASS


@pytest.mark.parametrize("outcome", ERRORS)
def test_an_authorisation_lookup_that_fails_is_error_not_warn(outcome: DnsOutcome) -> None:
    result = run_one(
        dmarc_reporting,
        TARGET,
        dmarc(f"v=DMARC1; p=reject; rua=mailto:agg@{REPORTS}"),
        failed(AUTH, "TXT", outcome),
    )
    assert result.status is Status.ERROR


def test_reporting_cannot_be_checked_without_a_readable_record() -> None:
    assert run_one(dmarc_reporting, TARGET, nx(f"_dmarc.{D}", "TXT")).status is Status.ERROR
