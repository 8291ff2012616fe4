"""web.headers.*: nosniff, framing, Content-Security-Policy and Referrer-Policy on the HTTPS page."""

from __future__ import annotations

import pytest
from secbase_checks.web.headers import content_type_options, csp, frame_options, referrer_policy

from secbase import Check, Severity, Status
from secbase.facts import HttpOutcome
from tests.checks.factories import run_one
from tests.checks.web.factories import (
    SITE,
    Headers,
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
ALL = [content_type_options, frame_options, csp, referrer_policy]


def judge(chk: Check, headers: Headers) -> Status:
    return run_one(chk, TARGET, https_page(headers)).status


# --- every header check --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chk", "severity"),
    [
        (content_type_options, Severity.LOW),
        (frame_options, Severity.LOW),
        (csp, Severity.LOW),
        (referrer_policy, Severity.INFO),
    ],
    ids=lambda x: getattr(x, "id", str(x)),
)
def test_severities_follow_the_catalogue(chk: Check, severity: Severity) -> None:
    assert run_one(chk, TARGET, https_page()).severity is severity


@pytest.mark.parametrize("chk", ALL, ids=lambda c: c.id)
@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR])
def test_a_fetch_that_could_not_be_done_is_error(chk: Check, outcome: HttpOutcome) -> None:
    result = run_one(chk, TARGET, ended(https_url(), outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


@pytest.mark.parametrize("chk", ALL, ids=lambda c: c.id)
def test_no_https_answer_is_error_pointing_at_availability(chk: Check) -> None:
    result = run_one(chk, TARGET, ended(https_url(), HttpOutcome.REFUSED))
    assert result.status is Status.ERROR
    assert "see web.https.available" in result.summary


@pytest.mark.parametrize("chk", ALL, ids=lambda c: c.id)
def test_headers_after_a_redirect_back_to_http_are_not_judged(chk: Check) -> None:
    good = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'",
        "Referrer-Policy": "no-referrer",
    }
    chain = fetched(https_url(), redirect(https_url(), http_url()), hop(http_url(), headers=good))
    result = run_one(chk, TARGET, chain)
    assert result.status is Status.ERROR
    assert "plain HTTP" in result.summary


# --- web.headers.content_type_options --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Content-Type-Options": "nosniff"},
        {"X-Content-Type-Options": "NoSniff"},
        [("x-content-type-options", " nosniff ")],
        {"X-Content-Type-Options": ["nosniff", "nosniff"]},
        {"X-Content-Type-Options": "nosniff, other"},
    ],
    ids=["plain", "any-case", "lower-name-spaces", "repeated", "first-item"],
)
def test_nosniff_passes(headers: Headers) -> None:
    assert judge(content_type_options, headers) is Status.PASS


def test_no_nosniff_header_fails() -> None:
    result = run_one(content_type_options, TARGET, https_page())
    assert result.status is Status.FAIL
    assert "X-Content-Type-Options: nosniff" in result.summary


@pytest.mark.parametrize(
    "value",
    ['"nosniff"', "sniff", "", "other, nosniff", ["other", "nosniff"]],
    ids=["quoted", "other-word", "empty", "second-item", "second-header"],
)
def test_a_value_browsers_do_not_read_as_nosniff_fails(value: str | list[str]) -> None:
    # Fetch "determine nosniff" reads only the first item, and a quoted value is not "nosniff".
    result = run_one(content_type_options, TARGET, https_page({"X-Content-Type-Options": value}))
    assert result.status is Status.FAIL
    assert "browsers ignore it" in result.summary


# --- web.headers.frame_options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Frame-Options": "DENY"},
        {"X-Frame-Options": "sameorigin"},
        {"X-FRAME-OPTIONS": ["SAMEORIGIN", "sameorigin"]},
        {"Content-Security-Policy": "frame-ancestors 'self'"},
        {"Content-Security-Policy": "frame-ancestors 'none'"},
        {"Content-Security-Policy": "default-src 'self'; frame-ancestors https://www.alder.test"},
        {"Content-Security-Policy": ["frame-ancestors *", "frame-ancestors 'self'"]},
    ],
    ids=["deny", "sameorigin", "repeated-same", "csp-self", "csp-none", "csp-host", "csp-two-policies"],
)
def test_framing_forbidden_passes(headers: Headers) -> None:
    assert judge(frame_options, headers) is Status.PASS


def test_conflicting_frame_options_refuse_every_frame_and_pass() -> None:
    result = run_one(frame_options, TARGET, https_page({"X-Frame-Options": ["DENY", "SAMEORIGIN"]}))
    assert result.status is Status.PASS
    assert "conflicting" in result.summary


def test_no_framing_rule_fails() -> None:
    result = run_one(frame_options, TARGET, https_page({"Content-Security-Policy": "default-src 'self'"}))
    assert result.status is Status.FAIL
    assert "Any site may show this page" in result.summary


@pytest.mark.parametrize("value", ["ALLOW-FROM https://a.test/", "ALLOWALL", "yes", '"DENY"'])
def test_frame_options_other_than_deny_or_sameorigin_fail(value: str) -> None:
    assert judge(frame_options, {"X-Frame-Options": value}) is Status.FAIL


@pytest.mark.parametrize("sources", ["*", "https:", "https://*"])
def test_frame_ancestors_open_to_all_fails_even_with_x_frame_options(sources: str) -> None:
    # HTML: frame-ancestors replaces X-Frame-Options, so DENY here does not help.
    headers = {"Content-Security-Policy": f"frame-ancestors {sources}", "X-Frame-Options": "DENY"}
    result = run_one(frame_options, TARGET, https_page(headers))
    assert result.status is Status.FAIL
    assert "frame-ancestors" in result.evidence


def test_a_csp_too_long_to_read_is_error_not_fail() -> None:
    huge = "default-src " + "https://a.test " * 5000
    assert judge(frame_options, {"Content-Security-Policy": huge}) is Status.ERROR


# --- web.headers.csp -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "default-src 'self'",
        "script-src 'self' https://cdn.alder.test; object-src 'none'",
        "script-src 'nonce-abc123' 'unsafe-inline' 'strict-dynamic' https:",
        "DEFAULT-SRC 'self'",
    ],
    ids=["self", "listed-host", "strict-csp", "name-case"],
)
def test_a_policy_that_limits_scripts_passes(value: str) -> None:
    result = run_one(csp, TARGET, https_page({"Content-Security-Policy": value}))
    assert result.status is Status.PASS
    assert "script-src" in result.evidence or "default-src" in result.evidence


def test_no_policy_warns() -> None:
    result = run_one(csp, TARGET, https_page())
    assert result.status is Status.WARN
    assert "no Content-Security-Policy" in result.summary


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("script-src 'self' 'unsafe-inline'", "'unsafe-inline'"),
        ("default-src 'self' 'unsafe-eval'", "'unsafe-eval'"),
        ("script-src *", "any website"),
        ("script-src 'self' https:", "any website"),
        ("frame-ancestors 'self'", "does not limit scripts"),
        ("  ;  ", "an empty Content-Security-Policy"),
    ],
    ids=["unsafe-inline", "unsafe-eval", "star", "bare-https", "no-script-rule", "empty"],
)
def test_a_policy_that_lets_scripts_through_warns(value: str, words: str) -> None:
    result = run_one(csp, TARGET, https_page({"Content-Security-Policy": value}))
    assert result.status is Status.WARN
    assert words in result.summary


def test_every_policy_is_enforced_so_one_strict_policy_is_enough() -> None:
    pair = https_page({"Content-Security-Policy": ["script-src * 'unsafe-inline'", "script-src 'self'"]})
    assert run_one(csp, TARGET, pair).status is Status.PASS


def test_policies_joined_by_a_comma_are_each_enforced() -> None:
    pair = https_page({"Content-Security-Policy": "frame-ancestors 'self', script-src 'self'"})
    assert run_one(csp, TARGET, pair).status is Status.PASS


def test_a_report_only_policy_does_not_count() -> None:
    pair = https_page({"Content-Security-Policy-Report-Only": "default-src 'self'"})
    assert run_one(csp, TARGET, pair).status is Status.WARN


def test_a_csp_too_long_to_read_is_error_not_warn() -> None:
    huge = "default-src " + "https://a.test " * 5000
    assert judge(csp, {"Content-Security-Policy": huge}) is Status.ERROR


# --- web.headers.referrer_policy -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["strict-origin-when-cross-origin", "no-referrer", "Same-Origin", ["unsafe-url", "strict-origin"]],
    ids=["default", "no-referrer", "any-case", "last-wins"],
)
def test_a_policy_that_keeps_addresses_passes(value: str | list[str]) -> None:
    assert judge(referrer_policy, {"Referrer-Policy": value}) is Status.PASS


@pytest.mark.parametrize(
    "value",
    ["unsafe-url", "no-referrer-when-downgrade", "no-referrer, unsafe-url", "unsafe-url, made-up"],
    ids=["unsafe-url", "downgrade", "last-wins", "unknown-skipped"],
)
def test_a_policy_that_sends_full_addresses_warns(value: str) -> None:
    result = run_one(referrer_policy, TARGET, https_page({"Referrer-Policy": value}))
    assert result.status is Status.WARN
    assert "full address" in result.summary


def test_no_referrer_policy_warns() -> None:
    result = run_one(referrer_policy, TARGET, https_page())
    assert result.status is Status.WARN
    assert "no Referrer-Policy" in result.summary


@pytest.mark.parametrize("value", ['"no-referrer"', "never", ""])
def test_a_referrer_policy_browsers_do_not_know_warns(value: str) -> None:
    result = run_one(referrer_policy, TARGET, https_page({"Referrer-Policy": value}))
    assert result.status is Status.WARN
    assert "no value browsers know" in result.summary
