"""web.cookies.secure: each cookie set over HTTPS is Secure (else fail), HttpOnly and SameSite (else warn)."""

from __future__ import annotations

import pytest
from secbase_checks.web.cookies import cookies_secure

from secbase import Result, Severity, Status
from secbase.facts import HttpOutcome
from tests.checks.factories import run, run_one
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
GOOD = "session=abc123; Path=/; Secure; HttpOnly; SameSite=Lax"


def cookies(*values: str) -> HttpPair:
    return https_page({"Set-Cookie": list(values)})


def by_subject(results: list[Result]) -> dict[str, Result]:
    subjects = [r.subject for r in results]
    assert len(subjects) == len(set(subjects)), "one result per cookie"
    return {r.subject: r for r in results}


def test_a_site_without_cookies_gives_one_pass_without_subject() -> None:
    result = run_one(cookies_secure, TARGET, https_page())
    assert result.status is Status.PASS
    assert result.subject == ""
    assert result.severity is Severity.MEDIUM


@pytest.mark.parametrize(
    "value",
    [GOOD, "id=1; secure; httponly; samesite=strict", "ID=1;SECURE;HTTPONLY;SAMESITE=None"],
    ids=["lax", "lower-case-attributes", "upper-case-none"],
)
def test_a_cookie_with_secure_httponly_and_samesite_passes(value: str) -> None:
    result = run_one(cookies_secure, TARGET, cookies(value))
    assert result.status is Status.PASS
    assert result.subject == value.split("=", 1)[0]


def test_a_cookie_without_secure_fails() -> None:
    result = run_one(cookies_secure, TARGET, cookies("session=abc123; Path=/; HttpOnly; SameSite=Lax"))
    assert result.status is Status.FAIL
    assert result.subject == "session"
    assert '"session" lacks Secure' in result.summary


def test_a_cookie_without_any_attribute_fails_and_names_all_three() -> None:
    result = run_one(cookies_secure, TARGET, cookies("tracker=1"))
    assert result.status is Status.FAIL
    assert "lacks Secure, HttpOnly and SameSite" in result.summary


@pytest.mark.parametrize(
    ("value", "lacking"),
    [
        ("session=1; Secure; SameSite=Lax", "HttpOnly"),
        ("session=1; Secure; HttpOnly", "SameSite"),
        ("session=1; Secure; HttpOnly; SameSite=sometimes", "SameSite"),
        ("session=1; Secure", "HttpOnly and SameSite"),
    ],
    ids=["no-httponly", "no-samesite", "unknown-samesite", "neither"],
)
def test_a_secure_cookie_without_httponly_or_samesite_warns(value: str, lacking: str) -> None:
    result = run_one(cookies_secure, TARGET, cookies(value))
    assert result.status is Status.WARN
    assert result.summary == f'The cookie "session" lacks {lacking}.'


def test_the_secure_word_inside_a_value_does_not_count() -> None:
    result = run_one(cookies_secure, TARGET, cookies("note=Secure; HttpOnly; SameSite=Lax"))
    assert result.status is Status.FAIL


def test_each_cookie_gets_its_own_result() -> None:
    results = run(cookies_secure, TARGET, cookies(GOOD, "lang=fr; Secure", "tracker=1"))
    statuses = {s: r.status for s, r in by_subject(results).items()}
    assert statuses == {"session": Status.PASS, "lang": Status.WARN, "tracker": Status.FAIL}


def test_cookies_from_repeated_headers_given_with_any_name_case_are_all_judged() -> None:
    pair = https_page([("Set-Cookie", GOOD), ("SET-COOKIE", "lang=fr; Secure; HttpOnly; SameSite=Lax")])
    assert set(by_subject(run(cookies_secure, TARGET, pair))) == {"session", "lang"}


def test_the_cookie_value_is_hidden_in_the_evidence() -> None:
    result = run_one(cookies_secure, TARGET, cookies(GOOD))
    assert "abc123" not in result.evidence
    assert result.evidence == "Set-Cookie: session=(value hidden); Path=/; Secure; HttpOnly; SameSite=Lax"


def test_a_cookie_set_by_an_https_redirect_counts_too() -> None:
    www = https_url(f"www.{SITE}")
    chain = fetched(
        https_url(),
        redirect(https_url(), www, headers={"Set-Cookie": "first=1"}),
        hop(www, headers={"Set-Cookie": GOOD}),
    )
    statuses = {s: r.status for s, r in by_subject(run(cookies_secure, TARGET, chain)).items()}
    assert statuses == {"first": Status.FAIL, "session": Status.PASS}


def test_the_same_cookie_set_twice_is_reported_once_at_its_weakest() -> None:
    www = https_url(f"www.{SITE}")
    chain = fetched(
        https_url(),
        redirect(https_url(), www, headers={"Set-Cookie": "session=1; HttpOnly"}),
        hop(www, headers={"Set-Cookie": GOOD}),
    )
    result = run_one(cookies_secure, TARGET, chain)
    assert result.status is Status.FAIL


@pytest.mark.parametrize("value", ["no-equals-sign", "=", "old=; Max-Age=0", "old=; Max-Age=-1"])
def test_headers_browsers_ignore_and_deletions_are_not_cookies(value: str) -> None:
    result = run_one(cookies_secure, TARGET, cookies(value))
    assert result.status is Status.PASS
    assert result.subject == ""


def test_a_cookie_without_a_name_gets_a_subject_of_its_own() -> None:
    result = run_one(cookies_secure, TARGET, cookies("=abc"))
    assert result.status is Status.FAIL
    assert result.subject == "(no name)"


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR])
def test_a_fetch_that_could_not_be_done_is_error_not_pass(outcome: HttpOutcome) -> None:
    result = run_one(cookies_secure, TARGET, ended(https_url(), outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_no_https_answer_is_error_not_pass() -> None:
    result = run_one(cookies_secure, TARGET, ended(https_url(), HttpOutcome.TLS_ERROR))
    assert result.status is Status.ERROR
    assert "see web.https.available" in result.summary


def test_https_sending_visitors_back_to_http_is_error_not_pass() -> None:
    chain = fetched(
        https_url(), redirect(https_url(), http_url()), hop(http_url(), headers={"Set-Cookie": "a=1"})
    )
    assert run_one(cookies_secure, TARGET, chain).status is Status.ERROR
