"""tls.certificate.*: trusted, for the name, not expiring, strong; every one an error without a certificate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from secbase_checks.tls.certificate import (
    certificate_expiry,
    certificate_hostname,
    certificate_strength,
    certificate_trusted,
    display_name,
)

from secbase import Check, Severity, Status
from secbase.facts import TlsCertificate
from tests.checks.factories import NOW, ROOT, certificate, intermediate, run_one
from tests.checks.tls.factories import (
    MAIL,
    MX1,
    SITE,
    SITE_IP,
    SITE_IP6,
    WEBSITE,
    mail,
    mx_tls,
    site,
    site_tls,
)

CERTIFICATE_CHECKS = (certificate_trusted, certificate_hostname, certificate_expiry, certificate_strength)
LEAF = certificate()
ROOT_CERT = certificate(ROOT, issuer=ROOT, names=(), not_after=NOW + timedelta(days=5000))


def judge(chk: Check, *chain: TlsCertificate, limits: dict[str, Any] | None = None, **kw: Any) -> Any:
    """The check's one result on the website whose single address sends `chain` (LEAF + CA by default)."""
    given = chain or (LEAF, intermediate())
    return run_one(chk, WEBSITE, site(site_tls(chain=given, **kw)), limits=limits)


@pytest.mark.parametrize("chk", CERTIFICATE_CHECKS, ids=lambda c: c.id)
def test_no_certificate_at_all_is_an_error_for_every_certificate_check(chk: Check) -> None:
    result = run_one(chk, WEBSITE, site(site_tls(chain=())))
    assert result.status is Status.ERROR
    assert result.summary == "Could not check: the server sent no certificate"


@pytest.mark.parametrize("chk", CERTIFICATE_CHECKS, ids=lambda c: c.id)
def test_a_good_certificate_passes_every_certificate_check(chk: Check) -> None:
    assert judge(chk).status is Status.PASS


def test_display_name_prefers_the_common_name_then_the_organisation() -> None:
    assert display_name("CN=R11,O=Let's Encrypt,C=US") == "R11"
    assert display_name("O=Alder Test CA,C=CA") == "Alder Test CA"
    assert display_name(r"CN=Smith\, John,O=x") == r"Smith\, John"
    assert display_name("C=CA") == "C=CA"
    assert display_name("") == "(no name)"


# --- tls.certificate.trusted ------------------------------------------------------------------------


def test_a_trusted_chain_passes_naming_the_authority() -> None:
    result = judge(certificate_trusted)
    assert result.severity is Severity.HIGH
    assert "trusted certificate authority (Alder Test CA R1)" in result.summary
    assert "alder.test < Alder Test CA R1; trusted" in result.evidence


def test_a_self_signed_certificate_fails_as_self_signed() -> None:
    own = certificate(f"CN={SITE}", issuer=f"CN={SITE}")
    result = judge(certificate_trusted, own, trusted=False, trust_error="self-signed certificate")
    assert result.status is Status.FAIL
    assert result.summary.startswith("The certificate is self-signed (made by the server itself")
    assert result.summary.endswith("cannot trust it (the verifier says: self-signed certificate).")


def test_a_leaf_sent_without_its_intermediate_fails_as_missing_intermediate_or_unknown_ca() -> None:
    result = judge(
        certificate_trusted, LEAF, trusted=False, trust_error="unable to get local issuer certificate"
    )
    assert result.status is Status.FAIL
    assert "its issuer (Alder Test CA R1) is not among the certificates the server sends" in result.summary
    assert "intermediate certificate" in result.summary and "unknown certificate authority" in result.summary


def test_a_chain_ending_in_an_untrusted_root_fails_as_unknown_ca() -> None:
    result = judge(certificate_trusted, LEAF, intermediate(), ROOT_CERT, trusted=False)
    assert result.status is Status.FAIL
    assert (
        "certificate authority (Alder Test Root X1) that browsers and mail servers do not trust"
        in result.summary
    )


def test_a_complete_looking_chain_that_does_not_verify_fails_in_general_words() -> None:
    result = judge(certificate_trusted, trusted=False, trust_error="certificate has expired")
    assert result.status is Status.FAIL
    assert result.summary.startswith("The certificate chain does not lead to a certificate authority")
    assert "certificate has expired" in result.summary


def test_trust_unknown_is_an_error() -> None:
    result = judge(certificate_trusted, trusted=None)
    assert result.status is Status.ERROR
    assert "whether the certificate is trusted could not be told" in result.summary


def test_an_untrusted_mx_certificate_fails_under_the_mx_name() -> None:
    result = run_one(certificate_trusted, MAIL, mail(mx_tls(trusted=False)))
    assert (result.subject, result.status) == (MX1, Status.FAIL)


# --- tls.certificate.hostname -----------------------------------------------------------------------


def test_a_certificate_for_the_name_passes() -> None:
    result = judge(certificate_hostname)
    assert result.summary == f"The certificate covers the name {SITE}."
    assert result.evidence == f"{SITE_IP}: covers alder.test and www.alder.test"


def test_a_certificate_for_other_names_fails_naming_a_few_of_them() -> None:
    names = [f"site{i}.hoster.example" for i in range(10)]
    result = judge(certificate_hostname, certificate("CN=hoster", names=names), name_matches=False)
    assert result.status is Status.FAIL and result.severity is Severity.HIGH
    assert f"does not cover the name {SITE}" in result.summary
    assert "site0.hoster.example, site1.hoster.example, site2.hoster.example and 7 more" in result.summary
    assert "and 2 more" in result.evidence


def test_a_certificate_without_alternative_names_is_shown_by_its_common_name() -> None:
    result = judge(certificate_hostname, certificate("CN=localhost", names=()), name_matches=False)
    assert result.summary.endswith("it is for localhost.")


def test_server_sent_names_are_cleaned_and_cut() -> None:
    hostile = "evil\x07.example" + "a" * 500
    result = judge(certificate_hostname, certificate(names=[hostile]), name_matches=False)
    assert "\x07" not in result.summary and "a" * 120 not in result.summary


def test_a_name_match_unknown_is_an_error() -> None:
    result = judge(certificate_hostname, name_matches=None)
    assert result.status is Status.ERROR


def test_an_mx_certificate_for_another_name_fails_under_the_mx_name() -> None:
    wrong = (certificate("CN=mail.hoster.example", names=["mail.hoster.example"]), intermediate())
    result = run_one(certificate_hostname, MAIL, mail(mx_tls(chain=wrong, name_matches=False)))
    assert (result.subject, result.status) == (MX1, Status.FAIL)
    assert f"does not cover the name {MX1}" in result.summary and "mail.hoster.example" in result.summary


# --- tls.certificate.expiry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "status"),
    [
        (-timedelta(days=400), Status.FAIL),
        (-timedelta(seconds=1), Status.FAIL),
        (
            timedelta(0),
            Status.FAIL,
        ),  # still valid this second (RFC 5280: notAfter is inclusive), not for long
        (timedelta(days=14) - timedelta(seconds=1), Status.FAIL),
        (timedelta(days=14), Status.WARN),
        (timedelta(days=30) - timedelta(seconds=1), Status.WARN),
        (timedelta(days=30), Status.PASS),
        (timedelta(days=397), Status.PASS),
    ],
)
def test_expiry_thresholds_and_their_edges(left: timedelta, status: Status) -> None:
    result = judge(certificate_expiry, certificate(not_after=NOW + left), intermediate())
    assert result.status is status, result.summary


def test_an_expired_certificate_fails_with_the_date() -> None:
    result = judge(certificate_expiry, certificate(not_after=NOW - timedelta(days=3)), intermediate())
    assert result.status is Status.FAIL and result.severity is Severity.HIGH
    assert result.summary.startswith("The certificate expired on 2025-05-29:")


def test_a_certificate_expiring_soon_fails_with_date_and_days() -> None:
    result = judge(certificate_expiry, certificate(not_after=NOW + timedelta(days=10)), intermediate())
    assert result.summary == "The certificate expires on 2025-06-11, in 10 days: renew it now."


def test_a_certificate_expiring_within_a_month_warns() -> None:
    result = judge(certificate_expiry, certificate(not_after=NOW + timedelta(days=21)), intermediate())
    assert result.summary == "The certificate expires on 2025-06-22, in 21 days: plan its renewal."


def test_a_valid_certificate_passes_with_its_end_date() -> None:
    result = judge(certificate_expiry)
    assert result.summary == "The certificate is valid until 2025-07-31."
    assert result.evidence == f"{SITE_IP}: valid from 2025-05-02 to 2025-07-31"


def test_a_certificate_not_valid_yet_fails() -> None:
    early = certificate(not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(days=92))
    result = judge(certificate_expiry, early, intermediate())
    assert result.status is Status.FAIL and "not valid yet: it starts on 2025-06-03" in result.summary


def test_the_scans_clock_is_used_not_the_systems() -> None:
    later = NOW + timedelta(days=50)
    result = run_one(certificate_expiry, WEBSITE, site(), now=later)
    assert result.status is Status.FAIL and "in 10 days" in result.summary


def test_a_policy_may_raise_the_thresholds() -> None:
    chain = (certificate(not_after=NOW + timedelta(days=40)), intermediate())
    assert judge(certificate_expiry, *chain).status is Status.PASS
    assert judge(certificate_expiry, *chain, limits={"warn_days": 60}).status is Status.WARN
    assert judge(certificate_expiry, *chain, limits={"fail_days": 45, "warn_days": 60}).status is Status.FAIL


def test_an_expiring_certificate_at_one_address_fails_the_site() -> None:
    old = (certificate(not_after=NOW - timedelta(days=1)), intermediate())
    facts = site(site_tls(SITE_IP), site_tls(SITE_IP6, chain=old), ips=(SITE_IP, SITE_IP6))
    result = run_one(certificate_expiry, WEBSITE, facts)
    assert result.status is Status.FAIL and result.summary.endswith(f"Seen at {SITE_IP6}.")


# --- tls.certificate.strength -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "bits", "status"),
    [
        ("RSA", 1024, Status.FAIL),
        ("RSA", 2047, Status.FAIL),
        ("RSA", 2048, Status.PASS),
        ("RSA", 4096, Status.PASS),
        ("DSA", 1024, Status.FAIL),
        ("DSA", 2048, Status.PASS),
        ("EC", 224, Status.FAIL),
        ("EC", 256, Status.PASS),
        ("EC", 384, Status.PASS),
        ("Ed25519", 256, Status.PASS),
        ("Ed448", 456, Status.PASS),
        ("GOST", 512, Status.ERROR),  # a key type secbase does not know is never a pass
    ],
)
def test_key_sizes_of_the_servers_certificate(key_type: str, bits: int, status: Status) -> None:
    result = judge(certificate_strength, certificate(key_type=key_type, key_bits=bits), intermediate())
    assert result.status is status, result.summary


def test_a_short_key_fails_naming_its_size_and_the_minimum() -> None:
    result = judge(certificate_strength, certificate(key_bits=1024), intermediate())
    assert result.severity is Severity.MEDIUM
    assert (
        "the server's own certificate has a 1024-bit RSA key (at least 2048 bits are needed)"
        in result.summary
    )


@pytest.mark.parametrize(("digest", "shown"), [("sha1", "SHA-1"), ("md5", "MD5"), ("SHA1", "SHA-1")])
def test_a_weak_signature_on_the_servers_certificate_fails(digest: str, shown: str) -> None:
    result = judge(certificate_strength, certificate(signature_hash=digest), intermediate())
    assert result.status is Status.FAIL
    assert f"the server's own certificate is signed with {shown}, which can be forged" in result.summary


def test_a_weak_intermediate_fails_naming_it() -> None:
    result = judge(certificate_strength, LEAF, intermediate(signature_hash="sha1", key_bits=1024))
    assert result.status is Status.FAIL
    assert "the intermediate certificate Alder Test CA R1 has a 1024-bit RSA key" in result.summary
    assert "the intermediate certificate Alder Test CA R1 is signed with SHA-1" in result.summary


def test_a_self_signed_root_sent_along_is_not_judged() -> None:
    old_root = certificate(ROOT, issuer=ROOT, names=(), signature_hash="sha1", key_bits=1024)
    result = judge(certificate_strength, LEAF, intermediate(), old_root)
    assert result.status is Status.PASS
    assert "self-signed root, not judged" in result.evidence


def test_a_self_signed_server_certificate_is_judged_by_its_own_signature() -> None:
    own = certificate(f"CN={SITE}", issuer=f"CN={SITE}", signature_hash="sha1")
    assert judge(certificate_strength, own).status is Status.FAIL


def test_an_ed25519_signature_has_no_separate_hash_and_passes() -> None:
    result = judge(certificate_strength, certificate(key_type="Ed25519", key_bits=256, signature_hash=""))
    assert result.status is Status.PASS and "signed with its key type" in result.evidence


def test_a_policy_may_ask_for_longer_keys() -> None:
    result = judge(certificate_strength, limits={"min_rsa_bits": 3072})
    assert result.status is Status.FAIL and "at least 3072 bits" in result.summary


def test_a_weak_key_wins_over_an_unknown_key_type_elsewhere_in_the_chain() -> None:
    chain = (certificate(key_bits=1024), intermediate(key_type="GOST"))
    assert judge(certificate_strength, *chain).status is Status.FAIL


def test_a_signature_algorithm_named_only_by_its_number_is_an_error_not_a_pass() -> None:
    # cryptography cannot name MD2 or MD4 signatures; the probe then writes the algorithm's OID.
    result = judge(certificate_strength, certificate(signature_hash="1.2.840.113549.1.1.2"), intermediate())
    assert result.status is Status.ERROR, result.summary
    assert "does not know" in result.summary
