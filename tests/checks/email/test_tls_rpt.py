"""email.tls_rpt: a _smtp._tls record tells senders where to report failed secure deliveries (RFC 8460)."""

from __future__ import annotations

import pytest
from secbase_checks.email.tls_rpt import tls_rpt

from secbase import DnsOutcome, Status
from tests.checks.factories import Pair, domain, failed, nodata, nx, run_one, txt

D = "alder.test"
TARGET = domain(D)
NAME = f"_smtp._tls.{D}"


@pytest.mark.parametrize(
    "record",
    [
        f"v=TLSRPTv1; rua=mailto:tlsrpt@{D}",
        "v=TLSRPTv1;rua=https://reports.example/tlsrpt",
        f"v=TLSRPTv1; rua=mailto:tlsrpt@{D},https://reports.example/tlsrpt",
    ],
    ids=["mailto", "https", "both"],
)
def test_a_record_with_rua_passes(record: str) -> None:
    result = run_one(tls_rpt, TARGET, txt(NAME, record))
    assert result.status is Status.PASS
    assert result.evidence == record


def test_the_report_address_is_named() -> None:
    result = run_one(tls_rpt, TARGET, txt(NAME, f"v=TLSRPTv1; rua=mailto:tlsrpt@{D}"))
    assert f"mailto:tlsrpt@{D}" in result.summary


@pytest.mark.parametrize(
    "fact",
    [
        nx(NAME, "TXT"),
        nodata(NAME, "TXT"),
        txt(NAME, "v=spf1 -all"),
        txt(NAME, "v=TLSRPTv2; rua=mailto:a@b.example"),
    ],
    ids=["nxdomain", "nodata", "other-txt", "other-version"],
)
def test_no_record_warns(fact: Pair) -> None:
    result = run_one(tls_rpt, TARGET, fact)
    assert result.status is Status.WARN
    assert "No TLS reporting record" in result.summary


@pytest.mark.parametrize(
    "record",
    ["v=TLSRPTv1;", "v=TLSRPTv1; rua=ftp://reports.example/", "v=TLSRPTv1; rua=mailto:nobody"],
    ids=["no-rua", "bad-scheme", "no-at"],
)
def test_a_record_without_a_usable_rua_warns(record: str) -> None:
    result = run_one(tls_rpt, TARGET, txt(NAME, record))
    assert result.status is Status.WARN
    assert "cannot be read" in result.summary


def test_two_tls_rpt_records_count_as_none_and_warn() -> None:
    result = run_one(
        tls_rpt,
        TARGET,
        txt(NAME, f"v=TLSRPTv1; rua=mailto:tlsrpt@{D}", "v=TLSRPTv1; rua=https://reports.example/tlsrpt"),
    )
    assert result.status is Status.WARN


@pytest.mark.parametrize("outcome", [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL, DnsOutcome.REFUSED])
def test_dns_timeout_is_error_not_warn(outcome: DnsOutcome) -> None:
    result = run_one(tls_rpt, TARGET, failed(NAME, "TXT", outcome))
    assert result.status is Status.ERROR
    assert result.summary.startswith("Could not check:")


def test_a_non_mail_domain_is_not_applicable() -> None:
    assert run_one(tls_rpt, domain(D, sends_mail=False)).status is Status.NOT_APPLICABLE
