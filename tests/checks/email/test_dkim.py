"""email.dkim: each declared selector publishes a usable, strong key; one result per selector.

RSA keys of 1024 bits and more are generated with cryptography, once per run (cached in factories);
cryptography refuses to generate keys under 1024 bits, so the 512 and 1023-bit keys are public keys
built from a random odd modulus of exactly that size, which is all a DKIM record carries.
"""

from __future__ import annotations

import pytest
from secbase_checks.email.dkim import dkim

from secbase import DnsOutcome, Status
from tests.checks.factories import (
    Pair,
    domain,
    ed25519_public_key,
    failed,
    nodata,
    nx,
    rsa_public_key,
    run,
    run_one,
    txt,
)

D = "alder.test"
ERRORS = [DnsOutcome.TIMEOUT, DnsOutcome.SERVFAIL]


def key(selector: str, *records: str) -> Pair:
    return txt(f"{selector}._domainkey.{D}", *records)


def rsa_record(bits: int, extra: str = "") -> str:
    return f"v=DKIM1; k=rsa; {extra}p={rsa_public_key(bits)}"


@pytest.mark.parametrize(
    ("bits", "status"),
    [
        (512, Status.FAIL),
        (1023, Status.FAIL),
        (1024, Status.WARN),
        (2047, Status.WARN),
        (2048, Status.PASS),
        (4096, Status.PASS),
    ],
)
def test_rsa_key_size_is_judged_against_1024_and_2048(bits: int, status: Status) -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), key("s1", rsa_record(bits)))
    assert result.status is status
    assert result.subject == "s1"
    assert f"{bits}" in result.summary


def test_a_2048_bit_key_split_into_255_byte_strings_is_joined_back() -> None:
    fact = key("s1", rsa_record(2048))
    assert len(fact[1].strings()[0]) > 1
    assert run_one(dkim, domain(D, selectors=["s1"]), fact).status is Status.PASS


def test_an_ed25519_key_passes() -> None:
    result = run_one(
        dkim, domain(D, selectors=["ed"]), key("ed", f"v=DKIM1; k=ed25519; p={ed25519_public_key()}")
    )
    assert result.status is Status.PASS


def test_a_policy_can_raise_the_minimum_key_size() -> None:
    result = run_one(
        dkim, domain(D, selectors=["s1"]), key("s1", rsa_record(1024)), limits={"min_rsa_bits": 2048}
    )
    assert result.status is Status.FAIL


def test_one_result_per_selector_in_declared_order() -> None:
    results = run(
        dkim,
        domain(D, selectors=["selector2", "selector1", "google"]),
        key("selector2", rsa_record(2048)),
        key("selector1", rsa_record(1024)),
        nx(f"google._domainkey.{D}", "TXT"),
    )
    assert [(r.subject, r.status) for r in results] == [
        ("selector2", Status.PASS),
        ("selector1", Status.WARN),
        ("google", Status.FAIL),
    ]
    assert len({r.fingerprint for r in results}) == 3  # one finding per selector


@pytest.mark.parametrize(
    "fact",
    [
        nx(f"s1._domainkey.{D}", "TXT"),
        nodata(f"s1._domainkey.{D}", "TXT"),
        key("s1", "google-site-verification=x"),
    ],
    ids=["nxdomain", "nodata", "no-key-among-txt"],
)
def test_a_selector_without_a_key_fails(fact: Pair) -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), fact)
    assert result.status is Status.FAIL
    assert result.subject == "s1"
    assert "No DKIM key" in result.summary


@pytest.mark.parametrize("record", ["v=DKIM1; k=rsa; p=", "v=DKIM1; p="])
def test_a_revoked_key_fails(record: str) -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), key("s1", record))
    assert result.status is Status.FAIL
    assert "revoked" in result.summary


@pytest.mark.parametrize(
    "record",
    ["v=DKIM1; k=rsa; p=not*base64", "v=DKIM1; k=rsa; p=AAAA", "v=DKIM2; p=AAAA"],
    ids=["bad-base64", "not-a-key", "bad-version"],
)
def test_an_unreadable_key_fails(record: str) -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), key("s1", record))
    assert result.status is Status.FAIL
    assert "cannot be read" in result.summary


@pytest.mark.parametrize("flags", ["t=y; ", "t=y:s; "])
def test_a_key_in_test_mode_warns(flags: str) -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), key("s1", rsa_record(2048, flags)))
    assert result.status is Status.WARN
    assert "t=y" in result.summary


def test_two_key_records_at_one_selector_fail() -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), key("s1", rsa_record(2048), rsa_record(1024)))
    assert result.status is Status.FAIL


@pytest.mark.parametrize("outcome", ERRORS)
def test_dns_timeout_is_error_not_fail(outcome: DnsOutcome) -> None:
    result = run_one(dkim, domain(D, selectors=["s1"]), failed(f"s1._domainkey.{D}", "TXT", outcome))
    assert result.status is Status.ERROR
    assert result.subject == "s1"


def test_a_timed_out_selector_does_not_hide_the_others() -> None:
    results = run(
        dkim,
        domain(D, selectors=["s1", "s2"]),
        failed(f"s1._domainkey.{D}", "TXT"),
        key("s2", rsa_record(2048)),
    )
    assert [(r.subject, r.status) for r in results] == [("s1", Status.ERROR), ("s2", Status.PASS)]


def test_no_declared_selector_is_not_applicable() -> None:
    result = run_one(dkim, domain(D))
    assert result.status is Status.NOT_APPLICABLE
    assert "dkim_selectors" in result.summary


def test_a_non_mail_domain_is_not_applicable() -> None:
    assert run_one(dkim, domain(D, sends_mail=False, selectors=["s1"])).status is Status.NOT_APPLICABLE
