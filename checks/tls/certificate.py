"""tls.certificate.*: is the certificate of each website and mail server trusted, for its name, current, strong?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from secbase import Facts, Result, Status, Target, check
from secbase.facts import TlsAnswer, TlsCertificate

from .._text import clean
from ._endpoints import NAME_CHARS, REASON_CHARS, Verdict, judge_all, some

TARGETS = ("website", "domain")
FACTS = ("dns", "smtp", "tls")
NO_CERTIFICATE: Verdict = (Status.ERROR, "the server sent no certificate")
WEAK_HASHES = frozenset({"md2", "md4", "md5", "sha1"})  # collisions can be made: signatures can be forged
# Hashes known to be sound; "" is a signature algorithm that hashes internally (Ed25519, Ed448).
GOOD_HASHES = frozenset(
    {"", "sha224", "sha256", "sha384", "sha512", "sha3-224", "sha3-256", "sha3-384", "sha3-512"}
)
HASH_NAMES = {"sha1": "SHA-1", "md5": "MD5", "md4": "MD4", "md2": "MD2"}
SAFE_KEY_TYPES = frozenset({"ED25519", "ED448"})  # fixed sizes, both strong
# The attribute people recognise in a distinguished name (RFC 4514), escapes kept as they are.
_ATTRIBUTE = re.compile(r"(?:^|,)\s*(CN|O)=((?:\\.|[^,+\\])*)", re.IGNORECASE)


def display_name(dn: str) -> str:
    """A certificate's subject or issuer as people know it: its common name, else its organisation."""
    found = {key.upper(): value for key, value in reversed(_ATTRIBUTE.findall(dn))}
    return clean(found.get("CN") or found.get("O") or dn or "(no name)", NAME_CHARS)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(moment: datetime) -> str:
    return _utc(moment).astimezone(UTC).date().isoformat()


# --- tls.certificate.trusted ------------------------------------------------------------------------


def _why_untrusted(chain: tuple[TlsCertificate, ...]) -> str:
    """What an untrusted chain looks like: self-signed, missing an intermediate, or from an unknown CA."""
    leaf = chain[0]
    if leaf.self_signed:
        return (
            "The certificate is self-signed (made by the server itself, not by a certificate authority), "
            "so browsers and mail servers cannot trust it"
        )
    if leaf.issuer not in {c.subject for c in chain[1:]}:
        return (
            f"The certificate is not trusted: its issuer ({display_name(leaf.issuer)}) is not among the "
            "certificates the server sends, so either the server leaves out an intermediate certificate "
            "(a common setup mistake) or the issuer is an unknown certificate authority"
        )
    top = chain[-1]
    if top.self_signed:
        return (
            f"The certificate comes from a certificate authority ({display_name(top.subject)}) that "
            "browsers and mail servers do not trust"
        )
    return (
        "The certificate chain does not lead to a certificate authority that browsers and mail servers trust"
    )


def _trusted_verdict(answer: TlsAnswer) -> Verdict:
    if not answer.chain:
        return NO_CERTIFICATE
    said = f" (the verifier says: {clean(answer.trust_error, REASON_CHARS)})" if answer.trust_error else ""
    if answer.trusted is None:
        return Status.ERROR, f"whether the certificate is trusted could not be told{said}"
    if answer.trusted:
        issuer = display_name(answer.chain[0].issuer)
        return Status.PASS, f"The certificate was issued by a trusted certificate authority ({issuer})."
    return Status.FAIL, f"{_why_untrusted(answer.chain)}{said}."


def _chain_line(answer: TlsAnswer) -> str:
    if not answer.chain:
        return "no certificate"
    names = " < ".join(display_name(c.subject) for c in answer.chain)
    trust = {True: "trusted", False: "not trusted", None: "trust unknown"}[answer.trusted]
    said = f" ({clean(answer.trust_error, REASON_CHARS)})" if answer.trust_error else ""
    return f"{names}; {trust}{said}"


@check(id="tls.certificate.trusted", severity="high", target=TARGETS, facts=FACTS)
def certificate_trusted(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Each endpoint's chain verifies to the trust store (RFC 5280 section 6)."""
    return judge_all(certificate_trusted, target, facts, _trusted_verdict, _chain_line)


# --- tls.certificate.hostname -----------------------------------------------------------------------


def _covered(leaf: TlsCertificate) -> list[str]:
    """The names a certificate covers: its subjectAltName entries (RFC 6125 6.4.4: the CN only without)."""
    return [*leaf.dns_names, *leaf.ip_addresses] or [display_name(leaf.subject)]


def _hostname_verdict(answer: TlsAnswer) -> Verdict:
    leaf = answer.leaf
    if leaf is None:
        return NO_CERTIFICATE
    name = clean(answer.host, NAME_CHARS)
    if answer.name_matches is None:
        return Status.ERROR, f"whether the certificate covers {name} could not be told"
    if answer.name_matches:
        return Status.PASS, f"The certificate covers the name {name}."
    return (
        Status.FAIL,
        f"The certificate does not cover the name {name}, so browsers and mail servers may refuse it: "
        f"it is for {some(_covered(leaf))}.",
    )


def _names_line(answer: TlsAnswer) -> str:
    leaf = answer.leaf
    return f"covers {some(_covered(leaf), 8)}" if leaf is not None else "no certificate"


@check(id="tls.certificate.hostname", severity="high", target=TARGETS, facts=FACTS)
def certificate_hostname(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Each endpoint's certificate covers the name it is reached by (RFC 6125 section 6)."""
    return judge_all(certificate_hostname, target, facts, _hostname_verdict, _names_line)


# --- tls.certificate.expiry -------------------------------------------------------------------------


def _in_days(left: timedelta) -> str:
    if left.days < 1:
        return "in less than a day"
    return f"in {left.days} day{'' if left.days == 1 else 's'}"


@check(
    id="tls.certificate.expiry",
    severity="high",
    target=TARGETS,
    facts=FACTS,
    defaults={"fail_days": 14, "warn_days": 30},  # days left; a policy may raise them
)
def certificate_expiry(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """Each endpoint's certificate is valid now and for at least `warn_days` more days, by the scan's clock."""
    fail_after = timedelta(days=int(limits["fail_days"]))
    warn_after = timedelta(days=int(limits["warn_days"]))

    def verdict(answer: TlsAnswer) -> Verdict:
        leaf = answer.leaf
        if leaf is None:
            return NO_CERTIFICATE
        left = _utc(leaf.not_after) - facts.now
        end = _day(leaf.not_after)
        if left < timedelta(0):  # RFC 5280 4.1.2.5: valid up to notAfter inclusive
            return Status.FAIL, f"The certificate expired on {end}: browsers and mail servers refuse it."
        if _utc(leaf.not_before) > facts.now:
            return (
                Status.FAIL,
                f"The certificate is not valid yet: it starts on {_day(leaf.not_before)}, "
                "so browsers and mail servers refuse it until then.",
            )
        if left < fail_after:
            return Status.FAIL, f"The certificate expires on {end}, {_in_days(left)}: renew it now."
        if left < warn_after:
            return Status.WARN, f"The certificate expires on {end}, {_in_days(left)}: plan its renewal."
        return Status.PASS, f"The certificate is valid until {end}."

    def line(answer: TlsAnswer) -> str:
        leaf = answer.leaf
        if leaf is None:
            return "no certificate"
        return f"valid from {_day(leaf.not_before)} to {_day(leaf.not_after)}"

    return judge_all(certificate_expiry, target, facts, verdict, line)


# --- tls.certificate.strength -----------------------------------------------------------------------


def _judged(chain: tuple[TlsCertificate, ...]) -> list[tuple[str, TlsCertificate]]:
    """The certificates whose key and signature count, named for a sentence. A root the server sends along
    is skipped: the trust store's own copy is what clients use, and its self-signature proves nothing."""
    out = [("the server's own certificate", chain[0])] if chain else []
    out += [
        (f"the intermediate certificate {display_name(cert.subject)}", cert)
        for cert in chain[1:]
        if not cert.self_signed
    ]
    return out


def _key_problem(cert: TlsCertificate, limits: Mapping[str, Any]) -> str | None:
    """What is wrong with a certificate's key, "" when nothing, None when its type is unknown."""
    kind = cert.key_type.upper()
    minimum = {
        "RSA": limits["min_rsa_bits"],
        "DSA": limits["min_dsa_bits"],
        "EC": limits["min_ec_bits"],
        "ECDSA": limits["min_ec_bits"],
    }.get(kind)
    if minimum is None:
        return "" if kind in SAFE_KEY_TYPES else None
    if cert.key_bits < int(minimum):
        return f"a {cert.key_bits}-bit {kind} key (at least {int(minimum)} bits are needed)"
    return ""


@check(
    id="tls.certificate.strength",
    severity="medium",
    target=TARGETS,
    facts=FACTS,
    defaults={"min_rsa_bits": 2048, "min_dsa_bits": 2048, "min_ec_bits": 256},  # CA/B Forum BR 6.1.5
)
def certificate_strength(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The server's certificate and its intermediates have strong keys and SHA-2 (or better) signatures."""

    def verdict(answer: TlsAnswer) -> Verdict:
        if not answer.chain:
            return NO_CERTIFICATE
        problems: list[str] = []
        unknown: list[str] = []
        for who, cert in _judged(answer.chain):
            key = _key_problem(cert, limits)
            if key is None:
                unknown.append(f"the key type of {who} ({clean(cert.key_type, 20)}) is not one secbase knows")
            elif key:
                problems.append(f"{who} has {key}")
            hash_name = cert.signature_hash.lower()
            if hash_name in WEAK_HASHES:
                digest = HASH_NAMES.get(hash_name, cert.signature_hash.upper())
                problems.append(f"{who} is signed with {digest}, which can be forged")
            elif hash_name not in GOOD_HASHES:  # an algorithm the probe could only name by its number
                unknown.append(
                    f"{who} is signed with an algorithm secbase does not know ({clean(hash_name, 40)})"
                )
        if problems:
            return Status.FAIL, f"The certificate's protection is too weak: {'; '.join(problems[:3])}."
        if unknown:
            return Status.ERROR, "; ".join(unknown)
        leaf = answer.chain[0]
        return (
            Status.PASS,
            f"The certificate has a strong key ({leaf.key_bits}-bit {clean(leaf.key_type, 20)}) and signatures.",
        )

    return judge_all(certificate_strength, target, facts, verdict, _strength_line)


def _strength_line(answer: TlsAnswer) -> str:
    parts = []
    for position, cert in enumerate(answer.chain):
        signed = "self-signed root, not judged" if position > 0 and cert.self_signed else ""
        how = signed or f"signed with {clean(cert.signature_hash, 20) or 'its key type'}"
        parts.append(f"{display_name(cert.subject)}: {cert.key_bits}-bit {clean(cert.key_type, 20)}, {how}")
    return "; ".join(parts) or "no certificate"
