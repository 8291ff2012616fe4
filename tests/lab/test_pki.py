"""The lab PKI: each planted certificate flaw, read back with cryptography and seen by sslyze and ssl clients.

Servers listen on 127.44.1.0/24 (this module's own range inside the lab tests' 127.44.0.0/16).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
)

from secbase.errors import LabError
from secbase.lab.pki import KINDS, WRONG_NAME, CertFiles, CertKind, LabPki, server_context
from secbase.lab.web import LabSite, LabWebServer

NOW = datetime.now(UTC)
ADDRESS = {kind: f"127.44.1.{i + 1}" for i, kind in enumerate(KINDS)}


def _host(kind: str) -> str:
    return f"{kind.replace('_', '-')}.alder.test"


def _load_all(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return LabPki(tmp_path_factory.mktemp("pki"), now=NOW)


@pytest.fixture(scope="module")
def issued(pki: LabPki) -> dict[CertKind, CertFiles]:
    return {kind: pki.issue(kind, sans=[_host(kind)], kind=kind) for kind in KINDS}


@pytest.fixture(scope="module")
def servers(issued: dict[CertKind, CertFiles]) -> Iterator[None]:
    sites = [LabSite(_host(k), ADDRESS[k], issued[k], http_behaviour="none") for k in KINDS]
    with LabWebServer(sites):
        yield


# -- the files ---------------------------------------------------------------------------------------


def test_root_and_intermediate_are_proper_cas(pki: LabPki) -> None:
    root, inter = pki.root, pki.intermediate
    assert _load_all(pki.ca_pem_path) == [root]
    for cert, path_length in ((root, 1), (inter, 0)):
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_length
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert inter.issuer == root.subject
    inter.verify_directly_issued_by(root)
    aki = inter.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )


@pytest.mark.parametrize("kind", KINDS)
def test_leaf_has_the_extensions_sslyze_requires(
    kind: CertKind, pki: LabPki, issued: dict[CertKind, CertFiles]
) -> None:
    leaf = x509.load_pem_x509_certificate(issued[kind].cert_path.read_bytes())
    ext = leaf.extensions
    san = ext.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    expected_names = [WRONG_NAME] if kind == "wrong_name" else [_host(kind)]
    assert san.value.get_values_for_type(x509.DNSName) == expected_names
    assert ext.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert ext.get_extension_for_class(x509.KeyUsage).critical
    assert not ext.get_extension_for_class(x509.BasicConstraints).value.ca
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    if kind == "self_signed":
        assert leaf.issuer == leaf.subject and aki == ski
        leaf.verify_directly_issued_by(leaf)
    else:
        inter_ski = pki.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        assert leaf.issuer == pki.intermediate.subject and aki == inter_ski.value.digest
        if kind != "sha1":  # cryptography cannot check SHA-1 signatures either; sslyze and openssl do below
            leaf.verify_directly_issued_by(pki.intermediate)


@pytest.mark.parametrize("kind", KINDS)
def test_chain_file_holds_the_intermediate_unless_that_is_the_flaw(
    kind: CertKind, pki: LabPki, issued: dict[CertKind, CertFiles]
) -> None:
    chain = _load_all(issued[kind].chain_path)
    leaf = x509.load_pem_x509_certificate(issued[kind].cert_path.read_bytes())
    if kind in ("missing_intermediate", "self_signed"):
        assert chain == [leaf]
    else:
        assert chain == [leaf, pki.intermediate]
    assert issued[kind].key_path.stat().st_mode & 0o077 == 0


def test_key_types_and_signature_algorithms(issued: dict[CertKind, CertFiles], pki: LabPki) -> None:
    def leaf(kind: CertKind) -> x509.Certificate:
        return x509.load_pem_x509_certificate(issued[kind].cert_path.read_bytes())

    good_key = leaf("good").public_key()
    assert isinstance(good_key, ec.EllipticCurvePublicKey) and good_key.curve.name == "secp256r1"
    weak_key = leaf("weak_key").public_key()
    assert isinstance(weak_key, rsa.RSAPublicKey) and weak_key.key_size == 1024
    assert isinstance(leaf("sha1").signature_hash_algorithm, hashes.SHA1)
    assert isinstance(leaf("good").signature_hash_algorithm, hashes.SHA256)
    rsa_files = pki.issue("rsa-leaf", sans=["rsa.alder.test"], key_type="rsa")
    rsa_key = x509.load_pem_x509_certificate(rsa_files.cert_path.read_bytes()).public_key()
    assert isinstance(rsa_key, rsa.RSAPublicKey) and rsa_key.key_size == 2048


def test_validity_windows(issued: dict[CertKind, CertFiles]) -> None:
    def after(kind: CertKind) -> datetime:
        cert = x509.load_pem_x509_certificate(issued[kind].cert_path.read_bytes())
        assert cert.not_valid_before_utc < cert.not_valid_after_utc
        return cert.not_valid_after_utc

    assert after("expiring") - NOW < timedelta(days=11)
    assert after("expiring") > NOW
    assert after("expired") < NOW
    # openssl re-signed the SHA-1 leaf but kept the dates cryptography gave it
    assert after("sha1") - NOW > timedelta(days=80)
    for kind in ("good", "wrong_name", "missing_intermediate", "self_signed", "weak_key"):
        assert after(kind) - NOW > timedelta(days=80)


def test_ip_address_sans(pki: LabPki) -> None:
    files = pki.issue("ip-leaf", sans=["127.44.1.200", "ip.alder.test"])
    san = x509.load_pem_x509_certificate(files.cert_path.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)] == ["127.44.1.200"]


def test_issue_rejects_bad_input(pki: LabPki) -> None:
    with pytest.raises(ValueError, match="already issued"):
        pki.issue("good", sans=["x.test"])
    with pytest.raises(ValueError, match="plain file name"):
        pki.issue("../escape", sans=["x.test"])
    with pytest.raises(ValueError, match="kind must be"):
        pki.issue("odd", sans=["x.test"], kind="odd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        pki.issue("empty", sans=[])
    with pytest.raises(ValueError, match="timezone-aware"):
        LabPki(Path("unused"), now=datetime(2026, 1, 1))


def test_sha1_without_openssl_is_a_clear_error(pki: LabPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("secbase.lab.pki.shutil.which", lambda _name: None)
    with pytest.raises(LabError, match="openssl is not on PATH"):
        pki.issue("sha1-again", sans=["x.test"], kind="sha1")


def test_server_context_loads_weak_leaves_and_rejects_bad_ciphers(issued: dict[CertKind, CertFiles]) -> None:
    for kind in ("weak_key", "sha1"):
        server_context(issued[kind])  # @SECLEVEL=0 is added before the chain loads
    with pytest.raises(ssl.SSLError):
        server_context(issued["good"], ciphers="NO-SUCH-CIPHER")


# -- seen by clients ---------------------------------------------------------------------------------


# sslyze's bundled Mozilla store holds a certificate with a negative serial number; not ours.
SSLYZE_STORE_WARNING = "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"


@pytest.mark.filterwarnings(SSLYZE_STORE_WARNING)
@pytest.mark.usefixtures("servers")
def test_sslyze_sees_each_planted_flaw(pki: LabPki) -> None:
    requests = [
        ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=_host(k), port=443, ip_address=ADDRESS[k]),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=_host(k), network_timeout=5, network_max_retries=1
            ),
            scan_commands={ScanCommand.CERTIFICATE_INFO},
            scan_commands_extra_arguments=ScanCommandsExtraArguments(
                certificate_info=CertificateInfoExtraArgument(custom_ca_file=pki.ca_pem_path)
            ),
        )
        for k in KINDS
    ]
    scanner = Scanner()
    scanner.queue_scans(requests)
    errors: dict[str, str | None] = {}
    chains: dict[str, list[x509.Certificate]] = {}
    for result in scanner.get_results():
        assert result.scan_result is not None, result.connectivity_error_trace
        info = result.scan_result.certificate_info.result
        assert info is not None
        deployment = info.certificate_deployments[0]
        (ours,) = [v for v in deployment.path_validation_results if v.trust_store.path == pki.ca_pem_path]
        kind = result.server_location.hostname.split(".")[0].replace("-", "_")
        errors[kind] = ours.validation_error
        chains[kind] = deployment.received_certificate_chain
    assert errors.keys() == set(KINDS)
    # sslyze judges neither key size nor remaining lifetime: those leaves validate (LAB.md 5).
    for kind in ("good", "expiring", "weak_key"):
        assert errors[kind] is None, (kind, errors[kind])
    assert "not valid at validation time" in (errors["expired"] or "")
    assert "no matching subjectAltName" in (errors["wrong_name"] or "")
    assert "Forbidden signature algorithm" in (errors["sha1"] or "")
    for kind in ("missing_intermediate", "self_signed"):
        assert "candidates exhausted" in (errors[kind] or ""), (kind, errors[kind])
    # ... told apart by the chain the server sent: a leaf whose issuer is itself, or not
    assert len(chains["missing_intermediate"]) == len(chains["self_signed"]) == 1
    assert chains["self_signed"][0].issuer == chains["self_signed"][0].subject
    assert chains["missing_intermediate"][0].issuer != chains["missing_intermediate"][0].subject
    assert len(chains["good"]) == 2


# What Python's ssl (OpenSSL 3, security level 2) says for each kind, trusting only the lab root.
STDLIB_VERDICT: dict[CertKind, str | None] = {
    "good": None,
    "expiring": None,
    "expired": "certificate has expired",
    "wrong_name": "Hostname mismatch",
    "missing_intermediate": "unable to get local issuer certificate",
    "self_signed": "self-signed certificate",
    "weak_key": "key too weak",
    "sha1": "signature digest algorithm too weak",
}


@pytest.mark.usefixtures("servers")
@pytest.mark.parametrize("kind", KINDS)
def test_stdlib_client_verdicts(kind: CertKind, pki: LabPki) -> None:
    ctx = ssl.create_default_context(cafile=str(pki.ca_pem_path))
    with socket.create_connection((ADDRESS[kind], 443), timeout=5) as raw:
        expected = STDLIB_VERDICT[kind]
        if expected is None:
            with ctx.wrap_socket(raw, server_hostname=_host(kind)) as tls:
                assert tls.version() == "TLSv1.3"
        else:
            with pytest.raises(ssl.SSLCertVerificationError, match=expected):
                ctx.wrap_socket(raw, server_hostname=_host(kind))
