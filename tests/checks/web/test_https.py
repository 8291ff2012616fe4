"""web.https.available and web.https.redirect: HTTPS answers with an accepted certificate; HTTP leads there."""

from __future__ import annotations

import pytest
from secbase_checks.web.https import https_available, https_redirect

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
    page,
    redirect,
    website,
)

TARGET = website(SITE)
WWW = f"www.{SITE}"
HTTP_TO_HTTPS = fetched(http_url(), redirect(http_url(), https_url()), hop(https_url()))
HTTP_ONLY = page(http_url())
NOTHING_ON_HTTP = ended(http_url(), HttpOutcome.REFUSED)


# --- web.https.available -----------------------------------------------------------------------------


def test_a_site_answering_over_https_passes() -> None:
    result = run_one(https_available, TARGET, https_page(), HTTP_TO_HTTPS)
    assert result.status is Status.PASS
    assert result.severity is Severity.HIGH
    assert f"200 {https_url()}" in result.evidence


def test_https_that_redirects_to_another_https_name_passes() -> None:
    https = fetched(https_url(), redirect(https_url(), https_url(WWW)), hop(https_url(WWW)))
    assert run_one(https_available, TARGET, https, HTTP_TO_HTTPS).status is Status.PASS


@pytest.mark.parametrize(
    "http", [HTTP_TO_HTTPS, HTTP_ONLY, NOTHING_ON_HTTP], ids=["redirect", "page", "none"]
)
def test_a_certificate_browsers_refuse_fails_whatever_http_does(http: HttpPair) -> None:
    result = run_one(https_available, TARGET, ended(https_url(), HttpOutcome.TLS_ERROR), http)
    assert result.status is Status.FAIL
    assert "certificate" in result.summary
    assert "self-signed certificate" in result.summary


def test_a_refused_certificate_after_a_redirect_fails() -> None:
    https = ended(https_url(), HttpOutcome.TLS_ERROR, redirect(https_url(), https_url(WWW)))
    result = run_one(https_available, TARGET, https, HTTP_TO_HTTPS)
    assert result.status is Status.FAIL
    assert https_url(WWW) in result.summary


@pytest.mark.parametrize(
    "http",
    [HTTP_ONLY, fetched(http_url(), redirect(http_url(), http_url(WWW)), hop(http_url(WWW)))],
    ids=["page", "redirect-to-www"],
)
def test_no_https_while_http_answers_fails(http: HttpPair) -> None:
    result = run_one(https_available, TARGET, ended(https_url(), HttpOutcome.REFUSED), http)
    assert result.status is Status.FAIL
    assert "only over plain" in result.summary
    assert "connection refused" in result.evidence


def test_http_that_only_redirects_to_a_dead_https_still_counts_as_answering() -> None:
    http = ended(http_url(), HttpOutcome.REFUSED, redirect(http_url(), https_url()))
    result = run_one(https_available, TARGET, ended(https_url(), HttpOutcome.REFUSED), http)
    assert result.status is Status.FAIL


def test_https_that_sends_visitors_back_to_http_fails() -> None:
    https = fetched(https_url(), redirect(https_url(), http_url()), hop(http_url()))
    result = run_one(https_available, TARGET, https, HTTP_ONLY)
    assert result.status is Status.FAIL
    assert "plain, unencrypted HTTP" in result.summary


@pytest.mark.parametrize("outcome", [HttpOutcome.REDIRECT_LOOP, HttpOutcome.TOO_MANY_REDIRECTS])
def test_https_redirects_that_never_reach_a_page_fail(outcome: HttpOutcome) -> None:
    https = ended(https_url(), outcome, redirect(https_url(), https_url()))
    result = run_one(https_available, TARGET, https, HTTP_TO_HTTPS)
    assert result.status is Status.FAIL
    assert "never reach a page" in result.summary


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR, HttpOutcome.ERROR])
def test_an_https_fetch_that_could_not_be_done_is_error_not_fail(outcome: HttpOutcome) -> None:
    result = run_one(https_available, TARGET, ended(https_url(), outcome), HTTP_ONLY)
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR])
def test_no_https_while_http_could_not_be_fetched_is_error(outcome: HttpOutcome) -> None:
    result = run_one(
        https_available, TARGET, ended(https_url(), HttpOutcome.REFUSED), ended(http_url(), outcome)
    )
    assert result.status is Status.ERROR


@pytest.mark.parametrize("outcome", [HttpOutcome.REFUSED, HttpOutcome.NO_ADDRESS])
def test_a_site_answering_neither_http_nor_https_is_error_not_fail(outcome: HttpOutcome) -> None:
    result = run_one(https_available, TARGET, ended(https_url(), outcome), ended(http_url(), outcome))
    assert result.status is Status.ERROR
    assert "neither HTTP nor HTTPS" in result.summary


# --- web.https.redirect ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_http_redirecting_to_https_on_the_same_name_passes(status: int) -> None:
    http = fetched(http_url(), redirect(http_url(), https_url(), status), hop(https_url()))
    result = run_one(https_redirect, TARGET, http)
    assert result.status is Status.PASS
    assert result.subject == ""
    assert result.severity is Severity.HIGH
    assert result.evidence.splitlines() == [f"{status} {http_url()}", f"200 {https_url()}"]


def test_http_redirecting_straight_to_https_on_another_name_passes() -> None:
    http = fetched(http_url(), redirect(http_url(), https_url(WWW)), hop(https_url(WWW)))
    assert run_one(https_redirect, TARGET, http).status is Status.PASS


def test_a_relative_redirect_and_a_name_in_capitals_stay_on_the_same_name() -> None:
    start = http_url(path="/index.html")
    http = fetched(
        http_url(),
        redirect(http_url(), "/index.html"),
        redirect(start, f"https://{SITE.upper()}/index.html"),
        hop(https_url(path="/index.html")),
    )
    result = run_one(https_redirect, TARGET, http)
    assert result.status is Status.PASS


def test_a_first_hop_to_another_name_before_https_warns() -> None:
    http = fetched(
        http_url(),
        redirect(http_url(), http_url(WWW)),
        redirect(http_url(WWW), https_url(WWW)),
        hop(https_url(WWW)),
    )
    result = run_one(https_redirect, TARGET, http)
    assert result.status is Status.WARN
    assert WWW in result.summary


def test_http_serving_the_page_itself_fails() -> None:
    result = run_one(https_redirect, TARGET, HTTP_ONLY)
    assert result.status is Status.FAIL
    assert "stay on an unencrypted page" in result.summary


def test_http_redirecting_to_another_http_page_fails() -> None:
    http = fetched(http_url(), redirect(http_url(), http_url(WWW)), hop(http_url(WWW)))
    assert run_one(https_redirect, TARGET, http).status is Status.FAIL


@pytest.mark.parametrize("status", [400, 404])
def test_ending_on_an_https_page_that_answers_4xx_still_redirects_as_asked(status: int) -> None:
    # CHECKS.md: the redirect fails only when http:// does not end on https://; a missing page is not it.
    http = fetched(http_url(), redirect(http_url(), https_url()), hop(https_url(), status))
    assert run_one(https_redirect, TARGET, http).status is Status.PASS


@pytest.mark.parametrize("status", [500, 503])
def test_ending_on_an_https_server_error_is_could_not_check(status: int) -> None:
    http = fetched(http_url(), redirect(http_url(), https_url()), hop(https_url(), status))
    result = run_one(https_redirect, TARGET, http)
    assert result.status is Status.ERROR
    assert str(status) in result.summary


def test_ending_on_an_https_page_with_status_399_passes() -> None:
    http = fetched(http_url(), redirect(http_url(), https_url()), hop(https_url(), 399))
    assert run_one(https_redirect, TARGET, http).status is Status.PASS


@pytest.mark.parametrize("outcome", [HttpOutcome.REDIRECT_LOOP, HttpOutcome.TOO_MANY_REDIRECTS])
def test_redirects_that_never_end_fail(outcome: HttpOutcome) -> None:
    http = ended(http_url(), outcome, redirect(http_url(), http_url()))
    assert run_one(https_redirect, TARGET, http).status is Status.FAIL


@pytest.mark.parametrize("outcome", [HttpOutcome.TLS_ERROR, HttpOutcome.REFUSED, HttpOutcome.NO_ADDRESS])
def test_a_redirect_to_another_name_that_does_not_work_fails(outcome: HttpOutcome) -> None:
    http = ended(http_url(), outcome, redirect(http_url(), "https://elsewhere.test/"))
    result = run_one(https_redirect, TARGET, http)
    assert result.status is Status.FAIL
    assert "does not lead to a working HTTPS page" in result.summary


@pytest.mark.parametrize("outcome", [HttpOutcome.TLS_ERROR, HttpOutcome.REFUSED])
def test_a_redirect_to_the_sites_own_broken_https_is_error_pointing_at_availability(
    outcome: HttpOutcome,
) -> None:
    http = ended(http_url(), outcome, redirect(http_url(), https_url()))
    result = run_one(https_redirect, TARGET, http)
    assert result.status is Status.ERROR
    assert "see web.https.available" in result.summary


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR, HttpOutcome.ERROR])
def test_an_http_fetch_that_could_not_be_done_is_error_not_fail(outcome: HttpOutcome) -> None:
    result = run_one(https_redirect, TARGET, ended(http_url(), outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_a_timeout_after_the_first_redirect_is_error_not_fail() -> None:
    http = ended(http_url(), HttpOutcome.TIMEOUT, redirect(http_url(), https_url()))
    assert run_one(https_redirect, TARGET, http).status is Status.ERROR


def test_no_plain_http_at_all_while_https_answers_is_not_applicable() -> None:
    result = run_one(https_redirect, TARGET, NOTHING_ON_HTTP, https_page())
    assert result.status is Status.NOT_APPLICABLE
    assert "Nothing answers on plain HTTP" in result.summary


def test_neither_http_nor_https_answering_is_error() -> None:
    result = run_one(https_redirect, TARGET, NOTHING_ON_HTTP, ended(https_url(), HttpOutcome.REFUSED))
    assert result.status is Status.ERROR
    assert "neither HTTP nor HTTPS" in result.summary


def test_no_plain_http_while_https_times_out_is_error() -> None:
    result = run_one(https_redirect, TARGET, NOTHING_ON_HTTP, ended(https_url(), HttpOutcome.TIMEOUT))
    assert result.status is Status.ERROR
