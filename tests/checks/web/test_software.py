"""web.software.disclosed: the HTTPS page names no CMS and no server version."""

from __future__ import annotations

import pytest
from secbase_checks.web.software import generators, software_disclosed

from secbase import Severity, Status
from secbase.facts import HttpOutcome
from tests.checks.factories import run_one
from tests.checks.web.factories import SITE, Headers, ended, https_page, https_url, website

TARGET = website(SITE)


def html(head: str) -> str:
    return f'<!doctype html><html><head><meta charset="utf-8">{head}<title>Alder</title></head><body></body></html>'


def judge(headers: Headers = (), body: str = "") -> Status:
    return run_one(software_disclosed, TARGET, https_page(headers, body=body)).status


@pytest.mark.parametrize(
    "headers",
    [{}, {"Server": "nginx"}, {"Server": "Apache"}, {"Server": "cloudflare"}, {"Server": "AmazonS3"}],
    ids=["none", "nginx", "apache", "cloudflare", "digits-without-version"],
)
def test_a_page_that_names_no_version_passes(headers: Headers) -> None:
    result = run_one(software_disclosed, TARGET, https_page(headers, body=html("")))
    assert result.status is Status.PASS
    assert result.severity is Severity.LOW


@pytest.mark.parametrize(
    "server",
    ["Apache/2.4.57 (Debian)", "nginx/1.25.3", "Microsoft-IIS/10.0", "Apache/2", "LiteSpeed 6.1"],
)
def test_a_server_header_with_a_version_warns(server: str) -> None:
    result = run_one(software_disclosed, TARGET, https_page({"Server": server}))
    assert result.status is Status.WARN
    assert server in result.summary
    assert f"Server: {server}" in result.evidence


@pytest.mark.parametrize(
    "headers",
    [{"X-Powered-By": "PHP/8.1.2"}, {"X-Powered-By": "ASP.NET"}, {"x-powered-by": "Express"}],
    ids=["php", "aspnet", "lower-case-name"],
)
def test_any_x_powered_by_warns(headers: Headers) -> None:
    assert judge(headers) is Status.WARN


def test_x_generator_and_x_aspnet_version_warn() -> None:
    assert judge({"X-Generator": "Drupal 10 (https://www.drupal.org)"}) is Status.WARN
    assert judge({"X-AspNet-Version": "4.0.30319"}) is Status.WARN


@pytest.mark.parametrize(
    "tag",
    [
        '<meta name="generator" content="WordPress 6.4.2">',
        "<META NAME='Generator' CONTENT='Joomla! - Open Source Content Management'>",
        '<meta content="Drupal 10 (https://www.drupal.org)" name="generator" />',
        "<meta name=generator content=Hugo>",
        '<meta\n  name="generator"\n  content="Wix.com Website Builder">',
    ],
    ids=["double-quotes", "single-quotes-capitals", "content-first", "unquoted", "multi-line"],
)
def test_a_generator_tag_warns(tag: str) -> None:
    result = run_one(software_disclosed, TARGET, https_page(body=html(tag)))
    assert result.status is Status.WARN
    assert "generator" in result.evidence


@pytest.mark.parametrize(
    "tag",
    ['<meta name="description" content="WordPress 6.4.2">', '<meta name="generator" content="">'],
    ids=["other-meta", "empty-content"],
)
def test_other_meta_tags_and_empty_generators_pass(tag: str) -> None:
    assert judge(body=html(tag)) is Status.PASS


def test_everything_found_is_listed_and_the_evidence_is_cut_at_200_characters() -> None:
    headers = {"Server": "Apache/2.4.57 (Debian) " + "x" * 300, "X-Powered-By": ["PHP/8.1.2", "PleskLin"]}
    result = run_one(
        software_disclosed,
        TARGET,
        https_page(headers, body=html('<meta name="generator" content="WordPress 6.4">')),
    )
    assert result.status is Status.WARN
    assert len(result.evidence) <= 200
    assert result.evidence.startswith('<meta name="generator">: WordPress 6.4\nServer: Apache/2.4.57')


def test_control_characters_sent_by_a_server_are_not_shown() -> None:
    result = run_one(software_disclosed, TARGET, https_page({"X-Powered-By": "PHP/8\x1b[2J\r\n"}))
    assert "\x1b" not in result.evidence and "\r" not in result.evidence


def test_a_hostile_page_full_of_meta_tags_is_read_quickly() -> None:
    body = "<meta " * 200_000 + "<meta" + " name=generator" * 10_000
    # Each try stops at the next "<": a backtracking pattern would run into pytest's time-out instead.
    assert generators(body) == []


@pytest.mark.parametrize("outcome", [HttpOutcome.TIMEOUT, HttpOutcome.DNS_ERROR])
def test_a_fetch_that_could_not_be_done_is_error_not_pass(outcome: HttpOutcome) -> None:
    result = run_one(software_disclosed, TARGET, ended(https_url(), outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_no_https_answer_is_error_pointing_at_availability() -> None:
    result = run_one(software_disclosed, TARGET, ended(https_url(), HttpOutcome.REFUSED))
    assert result.status is Status.ERROR
    assert "see web.https.available" in result.summary
