"""email.mta_sts: a _mta-sts record and a policy file tell senders to insist on encryption (RFC 8461)."""

from __future__ import annotations

from secbase_checks.email.mta_sts import mta_sts

from secbase import Status
from secbase.facts import HttpOutcome
from tests.checks.factories import Pair, answer, domain, failed, run_one, txt
from tests.checks.web.factories import HttpPair, ended, fetched, hop, page, redirect

D = "alder.test"
TARGET = domain(D)
NAME = f"_mta-sts.{D}"
URL = f"https://mta-sts.{D}/.well-known/mta-sts.txt"
RECORD = "v=STSv1; id=20250601"
MX = answer(D, "MX", "10 mx1.mail.example.", "20 mx2.mail.example.")


def policy(mode: str = "enforce", *mx: str) -> str:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx or ("*.mail.example",))]
    return "\r\n".join([*lines, "max_age: 604800", ""])


def served(body: str) -> HttpPair:
    return page(URL, {"content-type": "text/plain"}, body=body)


def scan(fetch: HttpPair, *, record: Pair | None = None, mx: Pair = MX) -> tuple[Status, str, str]:
    result = run_one(mta_sts, TARGET, record or txt(NAME, RECORD), fetch, mx)
    return result.status, result.summary, result.evidence


def test_an_enforced_policy_matching_the_mx_hosts_by_wildcard_passes() -> None:
    status, summary, evidence = scan(served(policy("enforce")))
    assert status is Status.PASS, summary
    assert RECORD in evidence and "mx: *.mail.example" in evidence


def test_a_policy_in_mode_none_warns() -> None:
    status, summary, _ = scan(served(policy("none")))
    assert status is Status.WARN
    assert "mode none" in summary


def test_a_policy_in_mode_testing_warns() -> None:
    status, summary, _ = scan(served(policy("testing")))
    assert status is Status.WARN
    assert "mode testing" in summary


def test_a_domain_without_mta_sts_warns() -> None:
    status, summary, _ = scan(served(policy()), record=txt(NAME, "v=spf1 -all"))
    assert status is Status.WARN
    assert summary.startswith("No MTA-STS")


def test_a_policy_listing_none_of_the_mx_hosts_fails() -> None:
    status, summary, _ = scan(served(policy("enforce", "mx.other.example", "*.alder.test")))
    assert status is Status.FAIL
    assert "mx1.mail.example" in summary and "mx.other.example" in summary


def test_a_missing_policy_file_fails() -> None:
    status, summary, _ = scan(page(URL, status=404, body="Not Found"))
    assert status is Status.FAIL
    assert "cannot be fetched" in summary and "404" in summary


def test_a_policy_behind_a_refused_certificate_fails() -> None:
    status, summary, _ = scan(ended(URL, HttpOutcome.TLS_ERROR))
    assert status is Status.FAIL
    assert "cannot be fetched" in summary and "certificate" in summary


def test_a_policy_host_that_refuses_is_could_not_check_not_a_fail() -> None:
    # A refused connection may be our network, not theirs.
    status, _, _ = scan(ended(URL, HttpOutcome.REFUSED))
    assert status is Status.ERROR


def test_a_redirected_policy_fails_even_when_the_target_serves_it() -> None:
    elsewhere = f"https://www.{D}/mta-sts.txt"
    fetch = fetched(URL, redirect(URL, elsewhere), hop(elsewhere), body=policy())
    status, summary, _ = scan(fetch)
    assert status is Status.FAIL
    assert "must not be redirected" in summary


def test_an_unreadable_policy_fails_with_the_reason() -> None:
    status, summary, _ = scan(served("version: STSv1\nmode: enforce\nmx: *.mail.example\n"))
    assert status is Status.FAIL
    assert "max_age" in summary


def test_two_mta_sts_records_fail_because_senders_ignore_them() -> None:
    status, _, evidence = scan(served(policy()), record=txt(NAME, RECORD, "v=STSv1; id=2"))
    assert status is Status.FAIL
    assert "id=2" in evidence


def test_a_record_that_cannot_be_read_fails() -> None:
    status, summary, _ = scan(served(policy()), record=txt(NAME, "v=STSv1; id=not-valid!"))
    assert status is Status.FAIL
    assert "cannot be read" in summary


def test_a_txt_lookup_timeout_is_an_error() -> None:
    status, summary, _ = scan(served(policy()), record=failed(NAME, "TXT"))
    assert status is Status.ERROR
    assert summary.startswith("Could not check:")


def test_a_policy_fetch_timeout_is_an_error() -> None:
    status, summary, _ = scan(ended(URL, HttpOutcome.TIMEOUT))
    assert status is Status.ERROR
    assert summary.startswith("Could not check:")


def test_an_mx_lookup_timeout_is_an_error() -> None:
    status, _, _ = scan(served(policy()), mx=failed(D, "MX"))
    assert status is Status.ERROR


def test_a_non_mail_domain_is_not_applicable() -> None:
    assert run_one(mta_sts, domain(D, sends_mail=False)).status is Status.NOT_APPLICABLE
