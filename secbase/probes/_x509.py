"""Certificates a server sent: parsed into facts, and verified apart from the name and the clock.

Trust, name and expiry are three facts, judged by three checks: the chain is verified for a name the
certificate does cover, at a moment its leaf is valid, so that a wrong name or an expired certificate does
not also read as "not trusted". A certificate we cannot read or verify is "not known", never "not trusted".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from ipaddress import ip_address

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from secbase.facts import TlsCertificate
from secbase.parse import clip, ip_literal

TEXT_CHARS = 300
_PYTHON_REPR = re.compile(r"\s*\(encountered processing <.*", re.S)


def read_chain(pems: Sequence[str]) -> tuple[list[x509.Certificate], tuple[TlsCertificate, ...], str]:
    """The chain as cryptography objects and as facts, or why it cannot be read (then both are empty)."""
    try:
        certs = [x509.load_pem_x509_certificate(p.encode("ascii")) for p in pems]
        return certs, tuple(certificate_fact(c) for c in certs), ""
    except (ValueError, UnicodeError, UnsupportedAlgorithm) as exc:
        return [], (), f"a certificate the server sent cannot be read: {clip(str(exc), TEXT_CHARS)}"


def certificate_fact(cert: x509.Certificate) -> TlsCertificate:
    """One certificate as a fact: names, dates, key, signature hash. Texts are the server's: clipped."""
    dns_names, ips = san(cert)
    key_type, bits = _key(cert)
    try:
        algorithm = cert.signature_hash_algorithm
        signature = algorithm.name if algorithm is not None else ""
    except UnsupportedAlgorithm:  # MD2, MD4 and the like: named by their OID, which no check calls good
        signature = cert.signature_algorithm_oid.dotted_string
    return TlsCertificate(
        subject=clip(_name(cert.subject), TEXT_CHARS),
        issuer=clip(_name(cert.issuer), TEXT_CHARS),
        dns_names=tuple(clip(n, 255) for n in dns_names[:100]),
        ip_addresses=ips[:100],
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=bits,
        signature_hash=signature,
        self_signed=cert.issuer == cert.subject,
        sha256=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
    )


def verify(
    certs: Sequence[x509.Certificate], host: str, now: datetime, store: Store
) -> tuple[bool | None, str, bool | None]:
    """Whether the chain verifies to `store` (whatever the name and the date), why not, and whether the
    leaf covers `host`. None: it could not be told."""
    leaf = certs[0]
    dns_names, ips = san(leaf)
    name_matches = covers(dns_names, ips, host)
    # Judge the chain at a moment the leaf is valid: expiry is tls.certificate.expiry's business.
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now > end:
        now = end - timedelta(seconds=1)
    elif now < start:
        now = start + timedelta(seconds=1)
    tried: list[str] = []
    for make, value in _subjects(host, name_matches, dns_names, ips):
        try:
            subject = DNSName(value) if make == "dns" else IPAddress(ip_address(value))
            verifier = PolicyBuilder().store(store).time(now).build_server_verifier(subject)
        except ValueError as exc:  # a name the verifier cannot take (an underscore, say): try the next
            tried.append(str(exc))
            continue
        try:
            verifier.verify(leaf, list(certs[1:]))
        except VerificationError as exc:
            return False, trust_words(str(exc)), name_matches
        except ValueError as exc:  # an extension the verifier cannot parse: our limit, not a verdict
            return None, f"the certificate could not be verified: {trust_words(str(exc))}", name_matches
        return True, "", name_matches
    if not dns_names and not ips:
        return (
            None,
            "the certificate names no host (it has no subjectAltName), so its chain was not checked",
            False,
        )
    why = clip("; ".join(tried), TEXT_CHARS) or "no name to check it for"
    return None, f"the certificate's names cannot be checked ({why})", name_matches


def trust_words(message: str) -> str:
    """The verifier's reason in words a reader can act on; its own text (without Python's repr) otherwise."""
    if "Forbidden signature algorithm" in message:
        return "a certificate in the chain is signed with an algorithm browsers refuse (such as SHA-1 or MD5)"
    if "candidates exhausted" in message and "no interior errors" in message:
        return (
            "no chain leads to a trusted root: the certificate is self-signed, comes from an unknown "
            "authority, or the server leaves out an intermediate certificate"
        )
    if "missing required extension" in message:
        return "a certificate in the chain lacks a field browsers require (" + _plain(message) + ")"
    return _plain(message)


def covers(dns_names: Iterable[str], ips: Iterable[str], host: str) -> bool:
    """Whether a certificate's names cover `host` (RFC 6125 6.4: a wildcard stands for one whole left label)."""
    host = host.lower().rstrip(".")
    literal = ip_literal(host)
    if literal is not None:  # an address is covered by an IP entry only, never by a DNS name
        return literal in set(ips)
    for name in dns_names:
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == name[2:] and rest.count(".") >= 1:
                return True
    return False


def san(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subjectAltName's DNS names (lower-case) and IP addresses."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return (), ()
    dns_names = tuple(n.lower().rstrip(".") for n in ext.get_values_for_type(x509.DNSName))
    ips = tuple(str(a) for a in ext.get_values_for_type(x509.IPAddress))
    return dns_names, ips


def _plain(message: str) -> str:
    return clip(_PYTHON_REPR.sub("", message), TEXT_CHARS)


def _subjects(
    host: str, name_matches: bool, dns_names: tuple[str, ...], ips: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Names to verify the chain for ("dns" or "ip", value): the host itself when the certificate covers
    it, then the names it does cover, so that trust is judged apart from the name."""
    out = []
    if name_matches:
        try:
            out.append(("ip", str(ip_address(host))))
        except ValueError:
            out.append(("dns", host.lower().rstrip(".")))
    out += [("dns", "wildcard." + n[2:] if n.startswith("*.") else n) for n in dns_names]
    out += [("ip", ip) for ip in ips]
    return out


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cn[0].value) if cn else "?"


def _key(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0
