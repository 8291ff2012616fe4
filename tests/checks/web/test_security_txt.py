"""web.security_txt: https://HOST/.well-known/security.txt has a Contact and an Expires in the future."""

from __future__ import annotations

from datetime import timedelta

import pytest
from secbase_checks.web.security_txt import security_txt

from secbase import Severity, Status
from secbase.facts import HttpOutcome
from tests.checks.factories import NOW, run_one
from tests.checks.web.factories import (
    SITE,
    HttpPair,
    ended,
    fetched,
    hop,
    http_url,
    https_url,
    page,
    redirect,
    website,
)

TARGET = website(SITE)
PATH = "/.well-known/security.txt"
URL = https_url(path=PATH)
PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


def stamp(delta: timedelta) -> str:
    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def file(text: str, headers: dict[str, str] = PLAIN, status: int = 200) -> HttpPair:
    return page(URL, headers, status=status, body=text)


def valid(expires: str = stamp(timedelta(days=180))) -> str:
    return f"Contact: mailto:security@{SITE}\nExpires: {expires}\n"


def test_a_valid_file_passes() -> None:
    result = run_one(security_txt, TARGET, file(valid()))
    assert result.status is Status.PASS
    assert result.severity is Severity.INFO
    assert f"Contact: mailto:security@{SITE}" in result.evidence


def test_a_file_expiring_tomorrow_passes() -> None:
    result = run_one(security_txt, TARGET, file(valid(stamp(timedelta(days=1)))))
    assert result.status is Status.PASS
    assert (NOW + timedelta(days=1)).date().isoformat() in result.summary


@pytest.mark.parametrize(
    "delta",
    [timedelta(days=-1), timedelta(seconds=-1), timedelta(0)],
    ids=["yesterday", "a-second-ago", "now"],
)
def test_an_expired_file_warns(delta: timedelta) -> None:
    result = run_one(security_txt, TARGET, file(valid(stamp(delta))))
    assert result.status is Status.WARN
    assert "expired" in result.summary


def test_expiry_is_judged_by_the_scans_clock_not_the_systems() -> None:
    text = valid(stamp(timedelta(days=1)))
    later = NOW + timedelta(days=2)
    assert run_one(security_txt, TARGET, file(text), now=later).status is Status.WARN


def test_an_expires_with_an_offset_is_compared_in_utc() -> None:
    # 13:00+02:00 is 11:00 UTC, an hour before the scan's clock.
    text = valid((NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+02:00"))
    assert run_one(security_txt, TARGET, file(text)).status is Status.WARN


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"Expires: {stamp(timedelta(days=30))}\n", "no Contact"),
        (f"Contact: mailto:security@{SITE}\n", "no Expires date"),
        (f"Contact: mailto:security@{SITE}\nExpires: next year\n", "no readable Expires date"),
        ("Policy: https://alder.test/policy\n", "no Contact, no Expires date"),
    ],
    ids=["no-contact", "no-expires", "unreadable-expires", "neither"],
)
def test_a_file_missing_what_rfc_9116_requires_warns(text: str, words: str) -> None:
    result = run_one(security_txt, TARGET, file(text))
    assert result.status is Status.WARN
    assert words in result.summary


def test_field_names_are_read_in_any_case() -> None:
    text = f"CONTACT: mailto:security@{SITE}\nexpires: {stamp(timedelta(days=30))}\n"
    assert run_one(security_txt, TARGET, file(text)).status is Status.PASS


def test_minor_problems_are_shown_but_do_not_warn() -> None:
    text = valid() + "this line is not a field\n"
    result = run_one(security_txt, TARGET, file(text))
    assert result.status is Status.PASS
    assert "problem: line 3" in result.evidence


@pytest.mark.parametrize("status", [404, 403, 500])
def test_no_file_warns(status: int) -> None:
    result = run_one(security_txt, TARGET, file("Not found", status=status))
    assert result.status is Status.WARN
    assert str(status) in result.summary


def test_a_web_page_in_place_of_the_file_warns() -> None:
    result = run_one(security_txt, TARGET, file("<!doctype html><p>Welcome</p>", headers={}))
    assert result.status is Status.WARN
    assert "not a security.txt" in result.summary


def test_a_file_served_as_html_warns() -> None:
    result = run_one(security_txt, TARGET, file(valid(), headers={"Content-Type": "text/html"}))
    assert result.status is Status.WARN
    assert "text/html" in result.summary


def test_a_redirect_to_another_https_address_is_followed() -> None:
    elsewhere = "https://security.example/alder.txt"
    chain = fetched(URL, redirect(URL, elsewhere), hop(elsewhere, 200, PLAIN), body=valid())
    assert run_one(security_txt, TARGET, chain).status is Status.PASS


def test_a_redirect_to_plain_http_warns() -> None:
    chain = fetched(
        URL, redirect(URL, http_url(path=PATH)), hop(http_url(path=PATH), 200, PLAIN), body=valid()
    )
    result = run_one(security_txt, TARGET, chain)
    assert result.status is Status.WARN
    assert "plain HTTP" in result.summary


def test_a_redirect_that_leads_nowhere_warns() -> None:
    chain = ended(URL, HttpOutcome.REFUSED, redirect(URL, "https://gone.example/security.txt"))
    assert run_one(security_txt, TARGET, chain).status is Status.WARN


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR])
def test_a_fetch_that_could_not_be_done_is_error_not_warn(outcome: HttpOutcome) -> None:
    result = run_one(security_txt, TARGET, ended(URL, outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


@pytest.mark.parametrize("outcome", [HttpOutcome.REFUSED, HttpOutcome.TLS_ERROR, HttpOutcome.NO_ADDRESS])
def test_no_https_answer_at_all_is_error_pointing_at_availability(outcome: HttpOutcome) -> None:
    result = run_one(security_txt, TARGET, ended(URL, outcome))
    assert result.status is Status.ERROR
    assert "see web.https.available" in result.summary
