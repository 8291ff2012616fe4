"""The lab's private PKI: a root CA, an issuing intermediate, and server certificates with planted flaws.

Built with `cryptography`, not trustme: trustme marks subjectAltName critical and leaves out the
authority key identifier, and sslyze 6 (which validates with cryptography's verifier) rejects such
leaves. Every file is PEM in the work directory; private keys are unencrypted PKCS#8 readable by the
owner only (it is a lab). `server_context` turns a `CertFiles` into the `ssl.SSLContext` the lab's
web and mail servers present.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import ssl
import subprocess
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from secbase.errors import LabError

__all__ = ["KINDS", "CertFiles", "CertKind", "KeyType", "LabPki", "server_context"]

CertKind = Literal[
    "good", "expiring", "expired", "wrong_name", "missing_intermediate", "self_signed", "weak_key", "sha1"
]
KeyType = Literal["ec", "rsa"]
KINDS: tuple[CertKind, ...] = (
    "good",
    "expiring",
    "expired",
    "wrong_name",
    "missing_intermediate",
    "self_signed",
    "weak_key",
    "sha1",
)
WRONG_NAME = "unrelated.invalid"  # RFC 6761: can never be a real name, so never what a scan asked for
EXPIRING_DAYS = 10
_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Suites a well-run site offers today (ECDHE with AEAD only). @SECLEVEL=0 always comes last: it is
# what lets OpenSSL 3 load an RSA-1024 or SHA-1 leaf and speak TLS 1.0/1.1 at all (LAB.md 5).
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
LEGACY_CIPHERS = "DEFAULT"  # used when a site allows TLS < 1.2 and names no suites: AEAD is TLS 1.2+


@dataclass(frozen=True)
class CertFiles:
    """One issued server certificate: the leaf alone, its key, and the chain a server should present."""

    cert_path: Path
    key_path: Path
    chain_path: Path  # leaf, then the intermediate, unless the flaw is that it is missing


def _new_key(key_type: KeyType, bits: int = 2048) -> _PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "secbase lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def _ski(key: _PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _aki(issuer_key: _PrivateKey) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())


def _write_key(path: Path, key: _PrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class LabPki:
    """A private CA made when the lab starts; `issue` makes server certificates, each with one flaw.

    Root and intermediate are ECDSA P-256, valid from a year before `now` to years after it, so that
    only the leaf carries the planted problem. Trust `ca_pem_path` (sslyze's `custom_ca_file`,
    `ssl.create_default_context(cafile=...)`, requests' `verify=`).

    Example:
        pki = LabPki(tmp / "pki", now=datetime.now(UTC))
        files = pki.issue("www.alder.test", sans=["www.alder.test", "alder.test"])
        expired = pki.issue("www.birch.test", sans=["www.birch.test"], kind="expired")
    """

    def __init__(self, workdir: Path, *, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (datetime.now(UTC))")
        self.workdir = workdir
        self.now = now
        workdir.mkdir(parents=True, exist_ok=True)
        self._root_key = _new_key("ec")
        self.root = self._ca_cert(
            "secbase lab root CA", self._root_key, self._root_key, None, path_length=1, years=20
        )
        self._inter_key = _new_key("ec")
        self.intermediate = self._ca_cert(
            "secbase lab issuing CA 1", self._inter_key, self._root_key, self.root, path_length=0, years=10
        )
        self.ca_pem_path = workdir / "lab-root-ca.pem"
        self.ca_pem_path.write_bytes(_pem(self.root))
        self.intermediate_pem_path = workdir / "lab-intermediate-ca.pem"
        self.intermediate_pem_path.write_bytes(_pem(self.intermediate))
        # Only the SHA-1 leaf needs the intermediate's key on disk: openssl signs it (see _resign_sha1).
        self._inter_key_path = workdir / "lab-intermediate-ca.key"
        self._issued: set[str] = set()

    def _ca_cert(
        self,
        common_name: str,
        key: _PrivateKey,
        issuer_key: _PrivateKey,
        issuer: x509.Certificate | None,
        *,
        path_length: int,
        years: int,
    ) -> x509.Certificate:
        subject = _name(common_name)
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer is not None else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=365))
            .not_valid_after(self.now + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(_ski(key), critical=False)
            .add_extension(_aki(issuer_key), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )

    def issue(
        self, name: str, *, sans: list[str], kind: CertKind = "good", key_type: KeyType = "ec"
    ) -> CertFiles:
        """Issue a server certificate for `sans` (DNS names or IP addresses) with the flaw `kind`.

        `name` names the files (`<name>.crt`, `<name>.key`, `<name>.chain.pem`) and must be unique per
        PKI. Leaves are ECDSA P-256, or RSA 2048 with `key_type="rsa"` (needed for RSA key exchange
        suites such as AES128-SHA); "weak_key" is always RSA 1024. Kinds:
        "good": valid 90 days, signed by the intermediate; the chain file holds leaf + intermediate.
        "expiring": valid, expires EXPIRING_DAYS days after `now`.  "expired": expired 10 days ago.
        "wrong_name": the SAN (and CN) is WRONG_NAME, not `sans`.
        "missing_intermediate": signed by the intermediate, but the chain file is the leaf alone.
        "self_signed": issuer is the subject, signed by its own key; chain file = leaf.
        "weak_key": RSA 1024.  "sha1": signed with SHA-1 (by the `openssl` command: cryptography refuses).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if key_type not in ("ec", "rsa"):
            raise ValueError(f"key_type must be 'ec' or 'rsa', got {key_type!r}")
        if not _FILE_NAME.fullmatch(name):
            raise ValueError(f"name {name!r} must be a plain file name (letters, digits, '.', '_', '-')")
        if name in self._issued:
            raise ValueError(f"a certificate named {name!r} was already issued by this PKI")
        if not sans:
            raise ValueError("sans must name at least one host")
        if kind == "sha1" and shutil.which("openssl") is None:
            raise LabError(
                "the SHA-1 certificate is made by the `openssl` command (cryptography 46 refuses to sign "
                "with SHA-1), and openssl is not on PATH: install it (apt-get install openssl)"
            )
        names = [WRONG_NAME] if kind == "wrong_name" else sans
        key = _new_key("rsa", 1024) if kind == "weak_key" else _new_key(key_type)
        begins, ends = {
            "expiring": (self.now - timedelta(days=80), self.now + timedelta(days=EXPIRING_DAYS)),
            "expired": (self.now - timedelta(days=100), self.now - timedelta(days=10)),
        }.get(kind, (self.now - timedelta(days=1), self.now + timedelta(days=90)))
        self_signed = kind == "self_signed"
        issuer_key = key if self_signed else self._inter_key
        subject = _name(names[0])
        # RSA keys also encipher (RSA key exchange); ECDSA keys only sign (RFC 5480 section 3).
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=isinstance(key, rsa.RSAPrivateKey),
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(begins)
            .not_valid_after(ends)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            # Non-critical: the subject is not empty, and sslyze 6 rejects a critical SAN (RFC 5280 4.2.1.6).
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(_ski(key), critical=False)
        )
        if kind == "sha1":
            # openssl re-signs only a self-signed input (it checks that first): sign it with its own
            # key, issuer = subject and no AKI, and let openssl set the issuer and AKI (_resign_sha1).
            leaf = builder.issuer_name(subject).sign(key, hashes.SHA256())
        else:
            issuer_name = subject if self_signed else self.intermediate.subject
            builder = builder.issuer_name(issuer_name).add_extension(_aki(issuer_key), critical=False)
            leaf = builder.sign(issuer_key, hashes.SHA256())
        cert_path = self.workdir / f"{name}.crt"
        key_path = self.workdir / f"{name}.key"
        chain_path = self.workdir / f"{name}.chain.pem"
        _write_key(key_path, key)
        cert_path.write_bytes(_pem(leaf))
        if kind == "sha1":
            self._resign_sha1(cert_path)
        leaf_pem = cert_path.read_bytes()
        alone = kind in ("missing_intermediate", "self_signed")
        chain_path.write_bytes(leaf_pem if alone else leaf_pem + _pem(self.intermediate))
        self._issued.add(name)
        return CertFiles(cert_path=cert_path, key_path=key_path, chain_path=chain_path)

    def _resign_sha1(self, cert_path: Path) -> None:
        """Have the intermediate re-sign the self-signed leaf at `cert_path` with SHA-1, in place.

        `openssl x509 -CA` on an existing certificate keeps its subject, key and extensions (SAN, SKI,
        EKU...) and, with -preserve_dates, its validity; it sets the issuer, and the extfile adds the AKI.
        """
        # Always this PKI's key: a work directory used before (`secbase lab up --dir`) holds another one.
        _write_key(self._inter_key_path, self._inter_key)
        extfile = self.workdir / "lab-sha1-leaf.ext"
        extfile.write_text("authorityKeyIdentifier = keyid:always\n", encoding="ascii")
        leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
        command = [
            "openssl", "x509", "-in", str(cert_path), "-out", str(cert_path),
            "-CA", str(self.intermediate_pem_path), "-CAkey", str(self._inter_key_path),
            "-sha1", "-preserve_dates", "-set_serial", str(leaf.serial_number), "-extfile", str(extfile),
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=30)
        except subprocess.CalledProcessError as exc:
            raise LabError(f"openssl could not sign the SHA-1 certificate: {exc.stderr.strip()}") from exc
        signed = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if not isinstance(signed.signature_hash_algorithm, hashes.SHA1):
            raise LabError("openssl did not sign the lab's SHA-1 certificate with SHA-1")


def server_context(
    cert: CertFiles | None,
    *,
    min_version: ssl.TLSVersion | None = None,
    max_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    """A server-side SSLContext presenting `cert`'s chain, with the given versions and TLS 1.2- suites.

    `ciphers` is an OpenSSL cipher string (it does not touch TLS 1.3 suites); ":@SECLEVEL=0" is appended
    unless it names a level, and it is set before the chain is loaded, or OpenSSL 3 refuses the
    weak_key and sha1 leaves (LAB.md 5). Without `ciphers`: MODERN_CIPHERS, or LEGACY_CIPHERS when
    `min_version` is below TLS 1.2. Without `min_version`, Python's floor (TLS 1.2) stands.
    Raises ssl.SSLError for a cipher string that selects nothing, OSError for unreadable files.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if ciphers is None:
        old = min_version is not None and min_version < ssl.TLSVersion.TLSv1_2
        ciphers = LEGACY_CIPHERS if old else MODERN_CIPHERS
    if "@SECLEVEL=" not in ciphers:
        ciphers += ":@SECLEVEL=0"
    ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0 and 1.1; the lab plants them on purpose, so the warning is noise.
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
    if cert is not None:
        ctx.load_cert_chain(cert.chain_path, cert.key_path)
    return ctx
