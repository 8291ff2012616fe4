"""Certificates parsed and verified apart from name and clock, with certificates made here (no network)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Store

from secbase.probes._deadline import Deadline
from secbase.probes._x509 import read_chain, trust_words, verify

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
Key = ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca() -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("test root"))
        .issuer_name(_name("test root"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(ca: x509.Certificate, ca_key: Key, names: list[str] | None, **dates: datetime) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else "no-san.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(dates.get("start", NOW - timedelta(days=1)))
        .not_valid_after(dates.get("end", NOW + timedelta(days=90)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if names is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def test_a_host_name_the_verifier_refuses_is_judged_by_a_name_the_certificate_covers() -> None:
    ca, key = _ca()
    leaf = _leaf(ca, key, ["www.alder.test"])
    # An underscore is allowed in our config but not by the verifier: trust is still told, the name too.
    trusted, why, matches = verify([leaf], "my_host.alder.test", NOW, Store([ca]))
    assert (trusted, why, matches) == (True, "", False)


def test_an_unusable_san_entry_is_skipped_for_the_next() -> None:
    ca, key = _ca()
    leaf = _leaf(ca, key, ["bad_name.alder.test", "www.alder.test"])
    assert verify([leaf], "other.test", NOW, Store([ca]))[0] is True


def test_a_certificate_without_alternative_names_is_not_known_rather_than_untrusted() -> None:
    ca, key = _ca()
    trusted, why, matches = verify([_leaf(ca, key, None)], "no-san.test", NOW, Store([ca]))
    assert trusted is None and matches is False and "subjectAltName" in why


def test_an_expired_leaf_is_judged_for_trust_at_a_moment_it_was_valid() -> None:
    ca, key = _ca()
    leaf = _leaf(ca, key, ["www.alder.test"], start=NOW - timedelta(days=100), end=NOW - timedelta(days=10))
    assert verify([leaf], "www.alder.test", NOW, Store([ca]))[0] is True
    other_ca, _ = _ca()
    assert verify([leaf], "www.alder.test", NOW, Store([other_ca]))[0] is False


def test_an_unreadable_chain_is_reported_not_raised() -> None:
    certs, facts, why = read_chain(["-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"])
    assert certs == [] and facts == () and "cannot be read" in why


def test_verifier_texts_lose_python_reprs() -> None:
    raw = "invalid extension: 2.5.29.35: Certificate is missing required extension (encountered processing <Certificate(subject=<Name(CN=a.test)>, ...)>)"
    said = trust_words(raw)
    assert "lacks a field browsers require" in said and "<Certificate" not in said


def test_a_released_socket_really_closes_when_its_owner_closes_it() -> None:
    ours, theirs = socket.socketpair()
    deadline = Deadline(60)
    try:
        deadline.release(deadline.watch(ours))
        ours.close()
        theirs.settimeout(2)
        assert theirs.recv(1) == b""  # the peer sees the end: no duplicate keeps the connection alive
    finally:
        deadline.close()
        theirs.close()
