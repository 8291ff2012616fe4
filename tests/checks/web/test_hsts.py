"""web.hsts: the HTTPS page tells browsers to insist on HTTPS, for at least a year (RFC 6797)."""

from __future__ import annotations

import pytest
from secbase_checks.web.hsts import hsts

from secbase import Severity, Status
from secbase.facts import HttpOutcome
from tests.checks.factories import run_one
from tests.checks.web.factories import (
    SITE,
    HttpPair,
    ended,
    fetched,
    hop,
    http_url,
    https_page,
    https_url,
    redirect,
    website,
)

TARGET = website(SITE)
YEAR = 31_536_000


def sts(value: str | list[str]) -> HttpPair:
    return https_page({"Strict-Transport-Security": value})


@pytest.mark.parametrize(
    ("max_age", "status"),
    [
        (YEAR, Status.PASS),
        (2 * YEAR, Status.PASS),
        (YEAR - 1, Status.WARN),
        (300, Status.WARN),
        (0, Status.FAIL),
    ],
    ids=["one-year", "two-years", "one-second-short", "five-minutes", "zero"],
)
def test_max_age_is_judged_against_one_year(max_age: int, status: Status) -> None:
    result = run_one(hsts, TARGET, sts(f"max-age={max_age}; includeSubDomains"))
    assert result.status is status
    assert result.severity is Severity.MEDIUM
    assert f"max-age={max_age}" in result.evidence


def test_the_pass_says_how_long_in_days() -> None:
    assert "365 days" in run_one(hsts, TARGET, sts(f"max-age={YEAR}")).summary


def test_the_warning_names_the_threshold() -> None:
    assert "under the 365 days recommended" in run_one(hsts, TARGET, sts("max-age=86400")).summary


def test_a_policy_may_raise_the_threshold() -> None:
    result = run_one(hsts, TARGET, sts(f"max-age={YEAR}"), limits={"min_max_age_s": 2 * YEAR})
    assert result.status is Status.WARN


def test_a_quoted_max_age_is_read() -> None:
    assert run_one(hsts, TARGET, sts(f'max-age="{YEAR}"; preload')).status is Status.PASS


def test_directive_names_and_the_header_name_are_read_in_any_case() -> None:
    pair = https_page([("STRICT-TRANSPORT-SECURITY", f"Max-Age={YEAR}")])
    assert run_one(hsts, TARGET, pair).status is Status.PASS


def test_no_header_fails() -> None:
    result = run_one(hsts, TARGET, https_page({"X-Other": "1"}))
    assert result.status is Status.FAIL
    assert "no HSTS header" in result.summary


@pytest.mark.parametrize("value", ["includeSubDomains", "max-age=abc", "max-age=1, max-age=2", "max-age"])
def test_a_header_browsers_ignore_fails(value: str) -> None:
    result = run_one(hsts, TARGET, sts(value))
    assert result.status is Status.FAIL
    assert "browsers ignore it" in result.summary


def test_only_the_first_of_repeated_headers_counts() -> None:
    # RFC 6797 8.1: the browser reads the first header and ignores the rest, even when they are better.
    assert run_one(hsts, TARGET, sts([f"max-age={YEAR}", "max-age=0"])).status is Status.PASS
    assert run_one(hsts, TARGET, sts(["max-age=60", f"max-age={YEAR}"])).status is Status.WARN
    assert run_one(hsts, TARGET, sts(["garbage here", f"max-age={YEAR}"])).status is Status.FAIL


def test_the_header_on_the_final_page_after_a_redirect_is_judged() -> None:
    www = https_url(f"www.{SITE}")
    chain = fetched(
        https_url(),
        redirect(https_url(), www, headers={"Strict-Transport-Security": "max-age=0"}),
        hop(www, headers={"Strict-Transport-Security": f"max-age={YEAR}"}),
    )
    assert run_one(hsts, TARGET, chain).status is Status.PASS


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR])
def test_a_fetch_that_could_not_be_done_is_error_not_fail(outcome: HttpOutcome) -> None:
    result = run_one(hsts, TARGET, ended(https_url(), outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


@pytest.mark.parametrize("outcome", [HttpOutcome.REFUSED, HttpOutcome.TLS_ERROR, HttpOutcome.NO_ADDRESS])
def test_no_https_answer_is_error_pointing_at_availability(outcome: HttpOutcome) -> None:
    result = run_one(hsts, TARGET, ended(https_url(), outcome))
    assert result.status is Status.ERROR
    assert result.summary == "Could not check: no HTTPS answer to judge; see web.https.available"


def test_https_redirecting_back_to_http_is_error_that_says_so() -> None:
    chain = fetched(
        https_url(),
        redirect(https_url(), http_url()),
        hop(http_url(), headers={"Strict-Transport-Security": f"max-age={YEAR}"}),
    )
    result = run_one(hsts, TARGET, chain)
    assert result.status is Status.ERROR
    assert "sends visitors on to plain HTTP" in result.summary
