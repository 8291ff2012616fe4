"""tls.ciphers.weak: broken suites fail, dated ones warn; and the grading of suites by their IANA names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from secbase_checks.tls.ciphers import Grade, Rating, ciphers_weak, rate_suite

from secbase import Severity, Status
from secbase.facts import TlsOutcome
from tests.checks.factories import GOOD_SUITES, run_one
from tests.checks.tls.factories import MAIL, MX1, SITE_IP, SITE_IP6, WEBSITE, mail, mx_tls, site, site_tls

WEAK, DATED, GOOD = Grade.WEAK, Grade.DATED, Grade.GOOD

# --- grading suites ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "grade", "why"),
    [
        ("TLS_NULL_WITH_NULL_NULL", WEAK, "no encryption"),
        ("TLS_RSA_WITH_NULL_SHA256", WEAK, "no encryption"),
        ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", WEAK, "no encryption"),
        ("TLS_SHA256_SHA256", WEAK, "no encryption"),  # RFC 9150, integrity only
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", WEAK, "export"),
        ("TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", WEAK, "export"),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", WEAK, "anyone can pose"),
        ("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", WEAK, "anyone can pose"),
        ("TLS_DH_anon_WITH_AES_128_GCM_SHA256", WEAK, "anyone can pose"),
        ("TLS_RSA_WITH_RC4_128_SHA", WEAK, "RC4"),
        ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", WEAK, "RC4"),
        ("SSL_CK_RC4_128_WITH_MD5", WEAK, "RC4"),
        ("TLS_RSA_WITH_DES_CBC_SHA", WEAK, "the broken DES"),
        ("TLS_DHE_RSA_WITH_DES_CBC_SHA", WEAK, "the broken DES"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", WEAK, "3DES"),
        ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", WEAK, "3DES"),
        ("SSL_CK_DES_192_EDE3_CBC_WITH_MD5", WEAK, "3DES"),
        ("TLS_RSA_WITH_AES_128_CBC_SHA", DATED, "CBC mode"),
        ("TLS_RSA_WITH_AES_128_CBC_SHA", DATED, "no forward secrecy"),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", DATED, "CBC mode"),
        ("TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", DATED, "CBC mode"),
        ("TLS_RSA_WITH_AES_256_GCM_SHA384", DATED, "no forward secrecy"),
        ("TLS_RSA_WITH_AES_128_CCM", DATED, "no forward secrecy"),
        ("TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", DATED, "no forward secrecy"),  # static ECDH
        ("TLS_PSK_WITH_AES_128_GCM_SHA256", DATED, "no forward secrecy"),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", GOOD, ""),
        ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", GOOD, ""),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", GOOD, ""),
        ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", GOOD, ""),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM", GOOD, ""),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", GOOD, ""),
        ("TLS_AES_128_GCM_SHA256", GOOD, ""),
        ("TLS_AES_256_GCM_SHA384", GOOD, ""),
        ("TLS_CHACHA20_POLY1305_SHA256", GOOD, ""),
        ("TLS_AES_128_CCM_SHA256", GOOD, ""),
        ("TLS_AES_128_CCM_8_SHA256", GOOD, ""),
    ],
)
def test_suites_are_graded_by_their_iana_names(name: str, grade: Grade, why: str) -> None:
    rating = rate_suite(name)
    assert rating.grade is grade
    assert why in " ".join(rating.reasons)
    assert bool(rating.reasons) is (grade is not GOOD)


WEAK_PARTS = ("NULL", "EXPORT", "EXPORT1024", "anon", "RC4", "DES", "DES40", "3DES")
EXCHANGES = ("RSA", "DH_RSA", "ECDH_ECDSA", "DHE_RSA", "ECDHE_RSA", "ECDHE_ECDSA", "PSK", "DHE_PSK")
CIPHERS = (
    "AES_128_GCM",
    "AES_256_CBC",
    "CHACHA20_POLY1305",
    "AES_128_CCM",
    "CAMELLIA_128_CBC",
    "ARIA_128_GCM",
)
MACS = ("SHA", "SHA256", "SHA384", "MD5", "")


def _name(exchange: str, cipher: str, mac: str) -> str:
    return f"TLS_{exchange}_WITH_{cipher}" + (f"_{mac}" if mac else "")


@given(st.text())
def test_any_text_gets_a_rating_and_unknown_text_is_never_good(text: str) -> None:
    rating = rate_suite(text)
    assert isinstance(rating, Rating)
    if rating.grade is GOOD:
        assert {"GCM", "CCM", "POLY1305", "SCSV"} & set(re.split(r"[_\-\s]+", text.upper()))


@given(
    st.sampled_from(EXCHANGES), st.sampled_from(CIPHERS), st.sampled_from(MACS), st.sampled_from(WEAK_PARTS)
)
def test_a_weak_part_anywhere_makes_a_suite_weak(exchange: str, cipher: str, mac: str, weak: str) -> None:
    assert rate_suite(_name(f"{exchange}_{weak}", cipher, mac)).grade is WEAK
    assert rate_suite(_name(exchange, f"{weak}_{cipher}", mac)).grade is WEAK


@given(st.sampled_from(EXCHANGES), st.sampled_from(CIPHERS), st.sampled_from(MACS))
def test_good_means_forward_secret_and_aead(exchange: str, cipher: str, mac: str) -> None:
    forward_secret = exchange.split("_")[0] in ("ECDHE", "DHE")
    aead = "CBC" not in cipher
    expected = GOOD if forward_secret and aead else DATED
    assert rate_suite(_name(exchange, cipher, mac)).grade is expected
    assert rate_suite(_name(exchange, cipher, mac).lower()).grade is expected


# --- tls.ciphers.weak -------------------------------------------------------------------------------

GCM_12 = ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
CBC_12 = ("TLS 1.2", "TLS_RSA_WITH_AES_128_CBC_SHA")
RC4 = ("TLS 1.0", "TLS_RSA_WITH_RC4_128_SHA")
TRIPLE_DES = ("TLS 1.2", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")


def test_only_modern_suites_pass_and_say_how_hard_we_looked() -> None:
    result = run_one(ciphers_weak, WEBSITE, site())
    assert result.status is Status.PASS and result.severity is Severity.HIGH
    assert "the usual weak suites were tried" in result.summary
    assert "accepted: 3 good" in result.evidence
    full = run_one(ciphers_weak, WEBSITE, site(site_tls(full_enumeration=True)))
    assert "every suite was tried" in full.summary


def test_a_broken_suite_fails_and_is_named_with_why() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[*GOOD_SUITES, RC4, TRIPLE_DES])))
    assert result.status is Status.FAIL
    assert "TLS_RSA_WITH_RC4_128_SHA and TLS_RSA_WITH_3DES_EDE_CBC_SHA" in result.summary
    assert "RC4 cipher" in result.summary and "3DES cipher" in result.summary


def test_many_broken_suites_are_named_a_few_then_counted() -> None:
    weak = [("TLS 1.0", f"TLS_RSA_EXPORT_WITH_RC4_{n}_MD5") for n in range(6)]
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=weak)))
    assert result.status is Status.FAIL
    assert "and 3 more" in result.summary and "TLS_RSA_EXPORT_WITH_RC4_3_MD5" not in result.summary


def test_a_suite_accepted_at_two_versions_is_named_once() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[RC4, ("TLS 1.1", RC4[1])])))
    assert result.summary.count(RC4[1]) == 1


def test_dated_suites_beside_modern_ones_warn() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[GCM_12, CBC_12])))
    assert result.status is Status.WARN
    assert result.summary.startswith("Besides modern encryption, the server accepts dated encryption")
    assert "CBC mode" in result.summary and "forward secrecy" in result.summary


def test_only_dated_suites_warn_and_say_so() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[CBC_12])))
    assert result.status is Status.WARN
    assert result.summary.startswith("The server only accepts dated encryption")


def test_unfinished_suite_tests_are_an_error_unless_a_broken_suite_was_seen() -> None:
    unfinished = "the server stopped answering after 40 handshakes"
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[GCM_12], suites_error=unfinished)))
    assert result.status is Status.ERROR and unfinished in result.summary
    seen = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[GCM_12, RC4], suites_error=unfinished)))
    assert seen.status is Status.FAIL and unfinished in seen.evidence


def test_unfinished_suite_tests_hide_dated_suites_too() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[CBC_12], suites_error="time-out")))
    assert result.status is Status.ERROR


def test_no_recorded_suite_is_an_error_not_a_pass() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(suites=[])))
    assert result.status is Status.ERROR


def test_a_probe_error_is_an_error() -> None:
    result = run_one(ciphers_weak, WEBSITE, site(site_tls(outcome=TlsOutcome.REFUSED)))
    assert result.status is Status.ERROR


def test_a_broken_suite_at_one_address_fails_the_site() -> None:
    facts = site(site_tls(SITE_IP), site_tls(SITE_IP6, suites=[GCM_12, RC4]), ips=(SITE_IP, SITE_IP6))
    result = run_one(ciphers_weak, WEBSITE, facts)
    assert result.status is Status.FAIL and result.summary.endswith(f"Seen at {SITE_IP6}.")


def test_an_mx_host_with_a_broken_suite_fails_under_its_name() -> None:
    result = run_one(ciphers_weak, MAIL, mail(mx_tls(suites=[GCM_12, TRIPLE_DES])))
    assert (result.subject, result.status) == (MX1, Status.FAIL)
