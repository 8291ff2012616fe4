"""email.non_mail_domain: a domain declared as sending no mail says so with SPF -all, DMARC reject, null MX."""

from __future__ import annotations

import pytest
from secbase_checks.email.non_mail_domain import non_mail_domain

from secbase import DnsOutcome, Status
from tests.checks.factories import Pair, answer, domain, failed, nodata, nx, run, run_one, txt

D = "parked.test"
SUB = f"old.{D}"
TARGET = domain(D, sends_mail=False)
SPF_OK = txt(D, "v=spf1 -all")
DMARC_OK = txt(f"_dmarc.{D}", "v=DMARC1; p=reject")
NULL_MX = answer(D, "MX", "0 .")
MISSING_SPF = 'an SPF record "v=spf1 -all"'
MISSING_DMARC = "a DMARC record with p=reject"
MISSING_MX = 'a null MX record ("0 .")'


def test_spf_minus_all_dmarc_reject_and_null_mx_pass() -> None:
    result = run_one(non_mail_domain, TARGET, SPF_OK, DMARC_OK, NULL_MX)
    assert result.status is Status.PASS
    assert result.evidence.splitlines() == ["SPF: v=spf1 -all", "DMARC: v=DMARC1; p=reject", "MX: 0 ."]


@pytest.mark.parametrize(
    "spf",
    [
        nx(D, "TXT"),
        txt(D, "v=spf1 ~all"),
        txt(D, "v=spf1 ?all"),
        txt(D, "v=spf1 ip4:192.0.2.10 -all"),  # it says it sends mail from somewhere
        txt(D, "v=spf1 redirect=_spf.example.net"),
        txt(D, "v=spf1 -all", "v=spf1 -all"),  # two records are an error, so none
        txt(D, ("v=spf1", "-all")),  # split without a space: "v=spf1-all" is not SPF
    ],
    ids=["none", "soft-fail", "neutral", "with-ip4", "redirect", "two-records", "split"],
)
def test_anything_but_spf_minus_all_fails(spf: Pair) -> None:
    result = run_one(non_mail_domain, TARGET, spf, DMARC_OK, NULL_MX)
    assert result.status is Status.FAIL
    assert MISSING_SPF in result.summary
    assert MISSING_DMARC not in result.summary and MISSING_MX not in result.summary


@pytest.mark.parametrize(
    "dmarc",
    [
        nx(f"_dmarc.{D}", "TXT"),
        txt(f"_dmarc.{D}", "v=DMARC1; p=quarantine"),
        txt(f"_dmarc.{D}", "v=DMARC1; p=none"),
        txt(f"_dmarc.{D}", "v=DMARC1; p=reject", "v=DMARC1; p=reject"),
    ],
    ids=["none", "quarantine", "p-none", "two-records"],
)
def test_anything_but_dmarc_reject_fails(dmarc: Pair) -> None:
    result = run_one(non_mail_domain, TARGET, SPF_OK, dmarc, NULL_MX)
    assert result.status is Status.FAIL
    assert MISSING_DMARC in result.summary


@pytest.mark.parametrize(
    "mx",
    [
        nx(D, "MX"),
        nodata(D, "MX"),
        answer(D, "MX", "10 mx.parked.test."),
        answer(D, "MX", "0 .", "10 mx.parked.test."),
    ],
    ids=["nxdomain", "nodata", "real-mx", "null-beside-real"],
)
def test_anything_but_a_null_mx_fails(mx: Pair) -> None:
    result = run_one(non_mail_domain, TARGET, SPF_OK, DMARC_OK, mx)
    assert result.status is Status.FAIL
    assert MISSING_MX in result.summary


def test_all_three_missing_are_listed() -> None:
    result = run_one(non_mail_domain, TARGET, nx(D, "TXT"), nx(f"_dmarc.{D}", "TXT"), nx(D, "MX"))
    assert result.status is Status.FAIL
    assert f"{MISSING_SPF}, {MISSING_DMARC} and {MISSING_MX}" in result.summary


@pytest.mark.parametrize(
    ("record", "status"),
    [
        ("v=DMARC1; p=reject", Status.PASS),
        ("v=DMARC1; p=none; sp=reject", Status.PASS),
        ("v=DMARC1; p=reject; sp=quarantine", Status.FAIL),
        ("v=DMARC1; p=reject; sp=none", Status.FAIL),
    ],
)
def test_a_subdomain_is_covered_by_the_organisational_dmarc_sp(record: str, status: Status) -> None:
    result = run_one(
        non_mail_domain,
        domain(SUB, sends_mail=False),
        txt(SUB, "v=spf1 -all"),
        answer(SUB, "MX", "0 ."),
        nx(f"_dmarc.{SUB}", "TXT"),
        txt(f"_dmarc.{D}", record),
    )
    assert result.status is status


@pytest.mark.parametrize(
    "broken",
    [
        failed(D, "TXT"),
        failed(D, "MX", DnsOutcome.SERVFAIL),
        failed(f"_dmarc.{D}", "TXT"),
        failed(f"_dmarc.{D}", "TXT", DnsOutcome.SERVFAIL),
    ],
    ids=["spf-timeout", "mx-servfail", "dmarc-timeout", "dmarc-servfail"],
)
def test_dns_timeout_is_error_not_fail(broken: Pair) -> None:
    good = {key: fact for key, fact in (SPF_OK, DMARC_OK, NULL_MX)}
    good[broken[0]] = broken[1]
    result = run_one(non_mail_domain, TARGET, list(good.items()))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_a_mail_domain_gets_no_result() -> None:
    # Only the config's non_mail_domains are judged; a mail domain is left to email.spf/dmarc/mx.
    assert run(non_mail_domain, domain(D)) == []
