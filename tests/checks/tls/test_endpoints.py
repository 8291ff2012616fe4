"""The TLS endpoints of websites and mail domains, and how several addresses of one endpoint are judged.

Each tls.* check walks the endpoints through checks/tls/_endpoints.py; tls.certificate.trusted (one
verdict per address, pass or fail) and tls.certificate.expiry (which also warns) stand in for all seven.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from secbase_checks.tls._endpoints import some
from secbase_checks.tls.certificate import (
    certificate_expiry,
    certificate_hostname,
    certificate_strength,
    certificate_trusted,
)
from secbase_checks.tls.ciphers import ciphers_weak
from secbase_checks.tls.protocols import protocols_legacy, protocols_modern

from secbase import Check, DnsOutcome, NeedFacts, Status, TargetKind, load_checks
from secbase.facts import SmtpOutcome, TlsOutcome, smtp_key, tls_key
from tests.checks.factories import (
    NOW,
    answer,
    certificate,
    domain,
    failed,
    host,
    intermediate,
    make_facts,
    nx,
    run,
    run_one,
)
from tests.checks.tls.factories import (
    MAIL,
    MX1,
    MX1_IP,
    MX1_IP6,
    MX2,
    MX2_IP,
    SITE,
    SITE_IP,
    SITE_IP6,
    WEBSITE,
    D,
    mail,
    mx_records,
    mx_tls,
    site,
    site_tls,
    smtp,
)

SELF_SIGNED = (certificate("CN=www.alder.test", issuer="CN=www.alder.test"),)
# For each of the seven checks, what makes one address fail it.
FAILING: dict[str, dict[str, Any]] = {
    protocols_legacy.id: {"protocols": {"TLS 1.0": True}},
    protocols_modern.id: {"protocols": {"TLS 1.2": False, "TLS 1.3": False}},
    ciphers_weak.id: {"suites": [("TLS 1.0", "TLS_RSA_WITH_RC4_128_SHA")]},
    certificate_trusted.id: {"chain": SELF_SIGNED, "trusted": False},
    certificate_hostname.id: {"name_matches": False},
    certificate_expiry.id: {"chain": (certificate(not_after=NOW - timedelta(days=1)), intermediate())},
    certificate_strength.id: {"chain": (certificate(key_bits=1024), intermediate())},
}
SEVEN = (
    protocols_legacy,
    protocols_modern,
    ciphers_weak,
    certificate_trusted,
    certificate_hostname,
    certificate_expiry,
    certificate_strength,
)
EVERY_CHECK = pytest.mark.parametrize("chk", SEVEN, ids=lambda c: c.id)
TIMED_OUT = f"TLS with {SITE} ({SITE_IP6} port 443) ended in timeout: no answer within 10 s"


# --- websites ---------------------------------------------------------------------------------------


def test_a_website_is_its_host_on_port_443_with_an_empty_subject() -> None:
    result = run_one(certificate_trusted, WEBSITE, site())
    assert result.status is Status.PASS, result.summary
    assert result.subject == ""
    assert result.evidence.startswith(f"{SITE_IP}: ")


def test_a_website_whose_address_lookup_fails_is_an_error_with_the_reason() -> None:
    result = run_one(certificate_trusted, WEBSITE, failed(SITE, "A"), failed(SITE, "AAAA"))
    assert result.status is Status.ERROR
    assert "did not answer" in result.summary and SITE in result.summary


def test_a_website_without_an_address_is_an_error() -> None:
    result = run_one(certificate_trusted, WEBSITE, host(SITE))
    assert result.status is Status.ERROR
    assert result.summary == f"Could not check: {SITE} has no address"


def test_a_website_whose_tls_probe_timed_out_is_an_error_never_a_pass() -> None:
    result = run_one(certificate_trusted, WEBSITE, site(site_tls(outcome=TlsOutcome.TIMEOUT)))
    assert result.status is Status.ERROR
    assert "ended in timeout" in result.summary
    assert "could not check" in result.evidence


def test_a_website_whose_ipv6_lookup_failed_is_an_error_even_when_ipv4_passes() -> None:
    facts = [answer(SITE, "A", SITE_IP), failed(SITE, "AAAA"), site_tls(SITE_IP)]
    result = run_one(certificate_trusted, WEBSITE, facts)
    assert result.status is Status.ERROR
    assert "did not answer" in result.summary and "(at addresses not looked up)" in result.summary


def test_a_website_failing_at_its_known_address_fails_though_its_ipv6_lookup_failed() -> None:
    facts = [answer(SITE, "A", SITE_IP), failed(SITE, "AAAA"), site_tls(SITE_IP, trusted=False)]
    assert run_one(certificate_trusted, WEBSITE, facts).status is Status.FAIL


def test_an_mx_host_whose_ipv6_lookup_failed_is_an_error_unless_it_fails() -> None:
    partly = [mx_records(MX1), answer(MX1, "A", MX1_IP), failed(MX1, "AAAA"), smtp()]
    assert run_one(certificate_trusted, MAIL, partly, mx_tls()).status is Status.ERROR
    assert run_one(certificate_trusted, MAIL, partly, mx_tls(trusted=False)).status is Status.FAIL


def test_every_address_of_a_website_is_asked_for_in_one_round() -> None:
    facts = make_facts(host(SITE, SITE_IP, SITE_IP6))
    with pytest.raises(NeedFacts) as need:
        certificate_trusted(WEBSITE, facts)
    assert set(need.value.keys) == {tls_key(SITE, SITE_IP, 443), tls_key(SITE, SITE_IP6, 443)}


# --- several addresses ------------------------------------------------------------------------------


def test_a_definite_fail_at_one_address_wins_over_an_address_that_timed_out() -> None:
    facts = site(
        site_tls(SITE_IP, chain=SELF_SIGNED, trusted=False),
        site_tls(SITE_IP6, outcome=TlsOutcome.TIMEOUT),
        ips=(SITE_IP, SITE_IP6),
    )
    result = run_one(certificate_trusted, WEBSITE, facts)
    assert result.status is Status.FAIL
    assert result.summary.endswith(f"Seen at {SITE_IP}.")
    assert SITE_IP in result.evidence and SITE_IP6 in result.evidence


def test_a_pass_needs_every_address_an_unchecked_one_is_an_error_naming_it() -> None:
    facts = site(site_tls(SITE_IP), site_tls(SITE_IP6, outcome=TlsOutcome.TIMEOUT), ips=(SITE_IP, SITE_IP6))
    result = run_one(certificate_trusted, WEBSITE, facts)
    assert result.status is Status.ERROR
    assert TIMED_OUT in result.summary


def test_the_error_names_the_address_when_the_reason_does_not() -> None:
    facts = site(
        site_tls(SITE_IP),
        site_tls(SITE_IP6, outcome=TlsOutcome.REFUSED, reason="connection refused"),
        ips=(SITE_IP, SITE_IP6),
    )
    result = run_one(certificate_trusted, WEBSITE, facts)
    assert result.summary == f"Could not check: connection refused (at {SITE_IP6})"


def test_the_worst_verdict_of_the_addresses_decides_and_names_where() -> None:
    soon = (certificate(not_after=NOW + timedelta(days=20)), intermediate())
    facts = site(site_tls(SITE_IP), site_tls(SITE_IP6, chain=soon), ips=(SITE_IP, SITE_IP6))
    result = run_one(certificate_expiry, WEBSITE, facts)
    assert result.status is Status.WARN
    assert result.summary.endswith(f"Seen at {SITE_IP6}.")


def test_every_address_passing_is_a_pass_without_naming_addresses_in_the_summary() -> None:
    result = run_one(certificate_trusted, WEBSITE, site(ips=(SITE_IP, SITE_IP6)))
    assert result.status is Status.PASS
    assert SITE_IP not in result.summary
    assert result.evidence.count("\n") == 1


def test_server_sent_text_reaches_the_summary_cleaned() -> None:
    hostile = "bad\x1b[31m chain\r\nInjected: yes " + "x" * 1000
    result = run_one(certificate_trusted, WEBSITE, site(site_tls(trusted=False, trust_error=hostile)))
    assert result.status is Status.FAIL
    assert "\x1b" not in result.summary and "\n" not in result.summary and "\r" not in result.summary
    assert len(result.summary) < 1000


# --- mail domains -----------------------------------------------------------------------------------


def test_a_mail_domain_is_each_mx_host_after_starttls_on_port_25() -> None:
    result = run_one(certificate_trusted, MAIL, mail())
    assert result.status is Status.PASS, result.summary
    assert result.subject == MX1


def test_a_domain_declared_without_mail_is_not_applicable() -> None:
    result = run_one(certificate_trusted, domain(D, sends_mail=False))
    assert result.status is Status.NOT_APPLICABLE


def test_a_null_mx_is_not_applicable() -> None:
    result = run_one(certificate_trusted, MAIL, answer(D, "MX", "0 ."))
    assert result.status is Status.NOT_APPLICABLE
    assert "null MX" in result.summary


def test_no_mx_at_all_is_an_error_so_no_finding_is_closed() -> None:
    result = run_one(certificate_trusted, MAIL, nx(D, "MX"))
    assert result.status is Status.ERROR
    assert result.summary == "Could not check: no mail servers to check; see email.mx"


def test_an_mx_lookup_failure_is_an_error() -> None:
    result = run_one(certificate_trusted, MAIL, failed(D, "MX", DnsOutcome.SERVFAIL))
    assert result.status is Status.ERROR and "SERVFAIL" in result.summary


def test_an_mx_host_without_an_address_is_an_error_for_that_host() -> None:
    result = run_one(certificate_trusted, MAIL, mx_records(MX1), host(MX1))
    assert result.status is Status.ERROR and result.subject == MX1
    assert "has no address; see email.mx" in result.summary


def test_an_mx_host_without_starttls_is_an_error_pointing_to_email_starttls() -> None:
    # No TLS fact is given: run() fails the test if the check asks for one.
    result = run_one(certificate_trusted, MAIL, mail(smtp(starttls=False)))
    assert result.status is Status.ERROR and result.subject == MX1
    assert "does not offer STARTTLS; see email.starttls" in result.summary


def test_an_smtp_conversation_that_failed_is_an_error_with_its_reason() -> None:
    dropped = smtp(outcome=SmtpOutcome.TEMPFAIL, reason="421 too busy, try later")
    result = run_one(certificate_trusted, MAIL, mail(dropped))
    assert result.status is Status.ERROR and "421 too busy" in result.summary


def test_a_definite_fail_at_one_mx_address_wins_over_another_without_starttls() -> None:
    untrusted = mx_tls(address=MX1_IP6, trusted=False, trust_error="unable to get local issuer certificate")
    facts = mail(smtp(MX1, MX1_IP, starttls=False), untrusted, ips=(MX1_IP, MX1_IP6))
    result = run_one(certificate_trusted, MAIL, facts)
    assert result.status is Status.FAIL
    assert "does not offer STARTTLS" in result.evidence


def test_two_mx_hosts_give_one_result_each_named_by_host() -> None:
    results = run(
        certificate_trusted,
        MAIL,
        mx_records(MX2, MX1),
        host(MX1, MX1_IP),
        host(MX2, MX2_IP),
        smtp(MX1, MX1_IP),
        smtp(MX2, MX2_IP),
        mx_tls(MX1, MX1_IP),
        mx_tls(MX2, MX2_IP, trusted=False),
    )
    assert [(r.subject, r.status) for r in results] == [(MX1, Status.PASS), (MX2, Status.FAIL)]


def test_smtp_then_tls_of_every_mx_address_are_asked_for_in_two_rounds() -> None:
    facts = make_facts(mx_records(MX1, MX2), host(MX1, MX1_IP, MX1_IP6), host(MX2, MX2_IP))
    with pytest.raises(NeedFacts) as need:
        certificate_trusted(MAIL, facts)
    assert set(need.value.keys) == {smtp_key(MX1, MX1_IP), smtp_key(MX1, MX1_IP6), smtp_key(MX2, MX2_IP)}
    for key, fact in (smtp(MX1, MX1_IP), smtp(MX1, MX1_IP6, starttls=False), smtp(MX2, MX2_IP)):
        facts.add(key, fact)
    with pytest.raises(NeedFacts) as need:
        certificate_trusted(MAIL, facts)
    assert set(need.value.keys) == {tls_key(MX1, MX1_IP, 25, "smtp"), tls_key(MX2, MX2_IP, 25, "smtp")}


# --- the same walk for every check -----------------------------------------------------------------


@EVERY_CHECK
def test_every_check_says_not_applicable_for_a_domain_without_mail(chk: Check) -> None:
    assert run_one(chk, domain(D, sends_mail=False)).status is Status.NOT_APPLICABLE


@EVERY_CHECK
def test_every_check_says_not_applicable_for_a_null_mx(chk: Check) -> None:
    assert run_one(chk, MAIL, answer(D, "MX", "0 .")).status is Status.NOT_APPLICABLE


@EVERY_CHECK
def test_every_check_says_error_for_an_mx_host_without_starttls(chk: Check) -> None:
    result = run_one(chk, MAIL, mail(smtp(starttls=False)))
    assert (result.status, result.subject) == (Status.ERROR, MX1)
    assert "see email.starttls" in result.summary


@EVERY_CHECK
def test_every_check_says_error_when_the_tls_probe_failed(chk: Check) -> None:
    result = run_one(
        chk, WEBSITE, site(site_tls(outcome=TlsOutcome.NO_HANDSHAKE, reason="no handshake worked"))
    )
    assert result.status is Status.ERROR and result.summary == "Could not check: no handshake worked"


@EVERY_CHECK
def test_every_check_fails_when_one_address_fails_and_another_could_not_be_checked(chk: Check) -> None:
    facts = site(
        site_tls(SITE_IP6, outcome=TlsOutcome.TIMEOUT),
        site_tls(SITE_IP, **FAILING[chk.id]),
        ips=(SITE_IP6, SITE_IP),
    )
    failed_ = [r for r in run(chk, WEBSITE, facts) if r.status is Status.FAIL]
    assert len(failed_) == 1 and failed_[0].summary.endswith(f"Seen at {SITE_IP}.")


@EVERY_CHECK
def test_every_check_errs_when_one_address_passes_and_another_could_not_be_checked(chk: Check) -> None:
    facts = site(site_tls(SITE_IP), site_tls(SITE_IP6, outcome=TlsOutcome.TIMEOUT), ips=(SITE_IP, SITE_IP6))
    results = run(chk, WEBSITE, facts)
    assert results and all(r.status is Status.ERROR and TIMED_OUT in r.summary for r in results)


@EVERY_CHECK
def test_every_check_fails_an_mx_host_under_its_name(chk: Check) -> None:
    failed_ = [r for r in run(chk, MAIL, mail(mx_tls(**FAILING[chk.id]))) if r.status is Status.FAIL]
    assert len(failed_) == 1 and failed_[0].subject.startswith(MX1)


# --- helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "text"),
    [
        ([], ""),
        (["a"], "a"),
        (["a", "b"], "a and b"),
        (["a", "b", "c"], "a, b and c"),
        (["a", "b", "c", "d", "e"], "a, b, c and 2 more"),
        (["a", "a", "b"], "a and b"),
        (["bad\nname"], "bad name"),
    ],
)
def test_some_names_a_few_and_counts_the_rest(items: list[str], text: str) -> None:
    assert some(items) == text


def test_the_seven_catalogued_tls_checks_are_the_ones_loaded() -> None:
    loaded = {c.id for c in load_checks().select(["tls"])}
    assert loaded == {c.id for c in SEVEN} == set(FAILING)
    assert all(
        c.target_kinds == (TargetKind.WEBSITE, TargetKind.DOMAIN) for c in load_checks().select(["tls"])
    )
