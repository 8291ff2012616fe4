"""The lab's planted TLS problems, seen as clients see them: Python's ssl, smtplib and sslyze.

Each tls.* check needs a lab endpoint where it passes and one where it finds a problem, for websites
(HTTPS on 443) and for mail servers (STARTTLS on 25). These tests prove every plant is really served,
at the address the lab's DNS gives for the name. Python's clients pin one protocol version or one kind
of suite; ":@SECLEVEL=0" lets them speak TLS 1.0 and accept an RSA-1024 key (LAB.md 5).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from traceback import TracebackException

import dns.resolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sslyze import (
    CertificateInfoExtraArgument,
    ProtocolWithOpportunisticTlsEnum,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
)

from secbase.lab import TOWNS, Lab
from secbase.lab.pki import EXPIRING_DAYS, WRONG_NAME, LabPki
from secbase.lab.sites import DOGWOOD_TLS_SITES

pytestmark = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")

ME = "scanner.secbase.test"
WEB, SMTP = 443, 25
V = ssl.TLSVersion
VERSIONS = {V.TLSv1: "TLSv1", V.TLSv1_1: "TLSv1.1", V.TLSv1_2: "TLSv1.2", V.TLSv1_3: "TLSv1.3"}
MODERN = {"TLSv1.2", "TLSv1.3"}
ALL = set(VERSIONS.values())
Endpoint = tuple[str, int]

# What each endpoint with a protocol plant accepts, and the control (Alder) beside it.
PROTOCOLS: dict[Endpoint, set[str]] = {
    ("www.alder.test", WEB): MODERN,
    ("www.birch.test", WEB): ALL,
    ("www.cedar.test", WEB): {"TLSv1.2"},
    ("forms.dogwood.county.test", WEB): {"TLSv1.2"},
    ("archive.dogwood.county.test", WEB): {"TLSv1", "TLSv1.1"},
    ("www.dogwood.county.test", WEB): MODERN,
    ("mail.alder.test", SMTP): MODERN,
    ("mail2.cedar.test", SMTP): ALL,
    ("mail3.cedar.test", SMTP): {"TLSv1.2"},
    ("mx2.birch-library.test", SMTP): MODERN,
}

# What a verifying client (Python's defaults, the lab's CA) says of each certificate; None: accepted.
VERIFY: dict[Endpoint, str | None] = {
    ("www.alder.test", WEB): None,
    ("www.birch.test", WEB): None,  # expires in 10 days, but valid today
    ("www.cedar.test", WEB): None,
    ("forms.dogwood.county.test", WEB): None,
    ("www.dogwood.county.test", WEB): "self-signed certificate",
    ("permits.dogwood.county.test", WEB): "Hostname mismatch",
    ("pay.dogwood.county.test", WEB): "certificate has expired",
    ("library.dogwood.county.test", WEB): "unable to get local issuer certificate",
    ("maps.dogwood.county.test", WEB): "CA signature digest algorithm too weak",
    ("parks.dogwood.county.test", WEB): "EE certificate key too weak",
    ("mail.alder.test", SMTP): None,
    ("mail2.cedar.test", SMTP): "certificate has expired",
    ("mail3.cedar.test", SMTP): "EE certificate key too weak",
    ("mx2.birch-library.test", SMTP): "Hostname mismatch",
    ("mx3.birch-library.test", SMTP): "unable to get local issuer certificate",
}


def _resolve(lab: Lab, name: str) -> str:
    """The address the lab's DNS gives for `name`: the plants must be where the scans will look."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [f"127.{lab.net}.0.1"]
    resolver.timeout, resolver.lifetime = 2, 5  # generous: the lab shares this process, and the machine
    return str(resolver.resolve(name, "A")[0].address)


def _client(
    lab: Lab, *, version: ssl.TLSVersion | None = None, ciphers: str | None = None, verify: bool = False
) -> ssl.SSLContext:
    """A client context: pinned to `version` and offering only `ciphers` if given, verifying if asked."""
    ctx = ssl.create_default_context(cafile=str(lab.workdir / "pki" / "lab-root-ca.pem"))
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers(f"{ciphers or 'ALL'}:@SECLEVEL=0")
    elif ciphers is not None:
        ctx.set_ciphers(ciphers)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def _handshake(lab: Lab, endpoint: Endpoint, ctx: ssl.SSLContext) -> tuple[str, str, x509.Certificate]:
    """TLS with `endpoint` (STARTTLS on port 25): (protocol version, suite, the server's certificate)."""
    host, port = endpoint
    address = _resolve(lab, host)
    if port == SMTP:
        with smtplib.SMTP(address, SMTP, local_hostname=ME, timeout=5) as smtp:
            smtp.ehlo()
            smtp._host = host  # type: ignore[attr-defined]  # the name for SNI and verification (LAB.md 7)
            smtp.starttls(context=ctx)
            assert isinstance(smtp.sock, ssl.SSLSocket)
            return _seen(smtp.sock)
    with (
        socket.create_connection((address, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return _seen(tls)


def _seen(tls: ssl.SSLSocket) -> tuple[str, str, x509.Certificate]:
    der = tls.getpeercert(binary_form=True)
    assert der is not None
    return str(tls.version()), (tls.cipher() or ("",))[0], x509.load_der_x509_certificate(der)


def _accepts(lab: Lab, endpoint: Endpoint, ctx: ssl.SSLContext) -> str | None:
    """The suite negotiated with `ctx`, or None if the server refused the handshake."""
    try:
        return _handshake(lab, endpoint, ctx)[1]
    except (ssl.SSLError, smtplib.SMTPServerDisconnected):
        return None


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint[0]}:{endpoint[1]}"


# -- names -------------------------------------------------------------------------------------------


def test_every_plant_has_its_name_in_dns_and_in_the_config(lab: Lab) -> None:
    for host, port in {**PROTOCOLS, **VERIFY}:
        third = "30" if port == WEB else "40"
        assert _resolve(lab, host).startswith(f"127.{lab.net}.{third}."), host
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [f"127.{lab.net}.0.1"]
    mx = {
        d: {str(r.exchange).rstrip(".") for r in resolver.resolve(d, "MX")}
        for d in ("cedar.test", "birch-library.test")
    }
    assert {"mail.cedar.test", "mail2.cedar.test", "mail3.cedar.test"} == mx["cedar.test"]
    assert {"mx2.birch-library.test", "mx3.birch-library.test"} < mx["birch-library.test"]
    (dogwood,) = [t for t in TOWNS if t.id == "dogwood"]
    assert {f"{n}.dogwood.county.test" for n in DOGWOOD_TLS_SITES} < set(dogwood.websites)
    assert "archive.dogwood.county.test" in lab.config_path.read_text(encoding="utf-8")


# -- protocol versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(PROTOCOLS), ids=_id)
def test_each_server_accepts_exactly_its_planted_versions(lab: Lab, endpoint: Endpoint) -> None:
    accepted = set()
    for version, name in VERSIONS.items():
        try:
            got = _handshake(lab, endpoint, _client(lab, version=version))[0]
        except (ssl.SSLError, smtplib.SMTPServerDisconnected):
            continue
        assert got == name
        accepted.add(name)
    assert accepted == PROTOCOLS[endpoint]


# -- cipher suites (TLS 1.2: TLS 1.3 has only AEAD suites with ECDHE or DHE) ---------------------------

NULL = "eNULL"
RSA_KX = "kRSA"  # RSA key exchange: no forward secrecy
ECDHE_CBC = "ECDHE+AES:!AESGCM:!AESCCM"
SUITES = [  # endpoint, what the client offers, the suite the server picks (None: refused)
    (("www.alder.test", WEB), NULL, None),
    (("www.alder.test", WEB), RSA_KX, None),
    (("www.alder.test", WEB), ECDHE_CBC, None),
    (("mail.alder.test", SMTP), NULL, None),
    (("mail.alder.test", SMTP), RSA_KX, None),
    (("mail.alder.test", SMTP), ECDHE_CBC, None),
    (("www.cedar.test", WEB), NULL, "NULL-SHA256"),
    (("mail3.cedar.test", SMTP), NULL, "NULL-SHA256"),
    (("www.birch.test", WEB), NULL, None),
    (("www.birch.test", WEB), ECDHE_CBC, "ECDHE-ECDSA-AES256-SHA384"),
    (("mail2.cedar.test", SMTP), ECDHE_CBC, "ECDHE-ECDSA-AES256-SHA384"),
    (("forms.dogwood.county.test", WEB), NULL, None),
    (("forms.dogwood.county.test", WEB), RSA_KX, "AES256-GCM-SHA384"),
    (("forms.dogwood.county.test", WEB), "AES128-SHA", "AES128-SHA"),
]


@pytest.mark.parametrize(
    ("endpoint", "offer", "picked"), SUITES, ids=lambda v: _id(v) if isinstance(v, tuple) else v
)
def test_weak_suites_are_accepted_only_where_planted(
    lab: Lab, endpoint: Endpoint, offer: str, picked: str | None
) -> None:
    assert _accepts(lab, endpoint, _client(lab, version=V.TLSv1_2, ciphers=offer)) == picked


@pytest.mark.parametrize(
    "endpoint", [("www.alder.test", WEB), ("mail.alder.test", SMTP), ("www.cedar.test", WEB)], ids=_id
)
def test_a_modern_client_gets_ecdhe_with_aead(lab: Lab, endpoint: Endpoint) -> None:
    version, suite, _ = _handshake(lab, endpoint, _client(lab, version=V.TLSv1_2, verify=True))
    assert version == "TLSv1.2" and suite.startswith("ECDHE-") and ("GCM" in suite or "CHACHA" in suite)


# -- certificates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(VERIFY), ids=_id)
def test_a_verifying_client_sees_the_planted_certificate_problem(lab: Lab, endpoint: Endpoint) -> None:
    problem = VERIFY[endpoint]
    if problem is None:
        _handshake(lab, endpoint, _client(lab, verify=True))
        return
    with pytest.raises(ssl.SSLCertVerificationError, match=problem):
        _handshake(lab, endpoint, _client(lab, verify=True))


def _cert(lab: Lab, endpoint: Endpoint) -> x509.Certificate:
    return _handshake(lab, endpoint, _client(lab))[2]


def test_certificate_dates(lab: Lab) -> None:
    now = datetime.now(UTC)
    for good in (("www.alder.test", WEB), ("mail.alder.test", SMTP)):
        assert _cert(lab, good).not_valid_after_utc > now + timedelta(days=30)
    expiring = _cert(lab, ("www.birch.test", WEB)).not_valid_after_utc
    assert now < expiring < now + timedelta(days=EXPIRING_DAYS + 1)
    for expired in (("pay.dogwood.county.test", WEB), ("mail2.cedar.test", SMTP)):
        assert _cert(lab, expired).not_valid_after_utc < now


def test_certificate_keys_and_signatures(lab: Lab) -> None:
    for good in (("www.alder.test", WEB), ("mail.alder.test", SMTP)):
        cert = _cert(lab, good)
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.key_size == 256
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    for rsa_2048 in (("www.cedar.test", WEB), ("forms.dogwood.county.test", WEB)):  # RSA key exchange
        key = _cert(lab, rsa_2048).public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    for weak in (("parks.dogwood.county.test", WEB), ("mail3.cedar.test", SMTP)):
        key = _cert(lab, weak).public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024
    assert isinstance(_cert(lab, ("maps.dogwood.county.test", WEB)).signature_hash_algorithm, hashes.SHA1)


def test_certificate_names(lab: Lab) -> None:
    for wrong in (("permits.dogwood.county.test", WEB), ("mx2.birch-library.test", SMTP)):
        san = _cert(lab, wrong).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [WRONG_NAME]
    own = _cert(lab, ("mx3.birch-library.test", SMTP))
    assert own.issuer != own.subject  # not self-signed: its issuer just is not sent


def test_the_sha1_plant_works_again_in_a_used_work_directory(tmp_path: Path) -> None:
    # `secbase lab up --dir D` twice: the second PKI must sign with its own intermediate, not the key
    # the first one left on disk.
    for _ in range(2):
        pki = LabPki(tmp_path, now=datetime.now(UTC))
        leaf = x509.load_pem_x509_certificate(
            pki.issue("maps", sans=["maps.test"], kind="sha1").cert_path.read_bytes()
        )
        assert isinstance(leaf.signature_hash_algorithm, hashes.SHA1)
        issuer_key = pki.intermediate.public_key()
        assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
        issuer_key.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))


# -- sslyze, as the tls.* checks will scan ---------------------------------------------------------------


SUITE_SCANS = {
    "TLSv1": ScanCommand.TLS_1_0_CIPHER_SUITES,
    "TLSv1.1": ScanCommand.TLS_1_1_CIPHER_SUITES,
    "TLSv1.2": ScanCommand.TLS_1_2_CIPHER_SUITES,
    "TLSv1.3": ScanCommand.TLS_1_3_CIPHER_SUITES,
}


def _request(lab: Lab, endpoint: Endpoint, ca: Path) -> ServerScanRequest:
    """Suites where a protocol or suite is planted, the certificate where one is (each scan takes time)."""
    host, port = endpoint
    smtp = port == SMTP
    commands = set(SUITE_SCANS.values()) if endpoint in PROTOCOLS else set()
    extra = ScanCommandsExtraArguments()
    if endpoint in VERIFY:
        commands.add(ScanCommand.CERTIFICATE_INFO)
        extra = ScanCommandsExtraArguments(certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca))
    return ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=host, port=port, ip_address=_resolve(lab, host)),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=host,
            tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.SMTP if smtp else None,
            smtp_ehlo_hostname=ME if smtp else None,
            network_timeout=10,  # generous: a loaded machine (the lab shares the test's process)
            network_max_retries=3,
        ),
        scan_commands=commands,
        scan_commands_extra_arguments=extra,
    )


def _trace(trace: TracebackException | None) -> str:
    return "".join(trace.format()) if trace is not None else ""


class _Seen:
    """What sslyze found on one endpoint: accepted suites by protocol, chain validation, leaf key size."""

    def __init__(self, result: ServerScanResult, ca: Path) -> None:
        host = result.server_location.hostname
        scan = result.scan_result
        assert scan is not None, (host, _trace(result.connectivity_error_trace))
        self.suites: dict[str, set[str]] = {}
        for name, command in SUITE_SCANS.items():
            attempt = getattr(scan, command.value)
            if attempt.status is ScanCommandAttemptStatusEnum.NOT_SCHEDULED:
                continue
            assert attempt.result is not None, (host, name, _trace(attempt.error_trace))
            accepted = {s.cipher_suite.name for s in attempt.result.accepted_cipher_suites}
            if accepted:
                self.suites[name] = accepted
        self.validates: bool | None = None
        self.key_size = 0
        info = scan.certificate_info.result
        if scan.certificate_info.status is not ScanCommandAttemptStatusEnum.NOT_SCHEDULED:
            assert info is not None, (host, _trace(scan.certificate_info.error_trace))
            deployment = info.certificate_deployments[0]
            (ours,) = [v for v in deployment.path_validation_results if v.trust_store.path == ca]
            self.validates = ours.was_validation_successful
            key = deployment.received_certificate_chain[0].public_key()
            assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
            self.key_size = key.key_size


# sslyze's bundled Mozilla store holds a certificate with a negative serial number; not ours.
@pytest.mark.filterwarnings("ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.slow
def test_sslyze_sees_every_plant(lab: Lab) -> None:
    ca = lab.workdir / "pki" / "lab-root-ca.pem"
    endpoints = list(dict.fromkeys([*PROTOCOLS, *VERIFY]))
    scanner = Scanner()
    scanner.queue_scans([_request(lab, e, ca) for e in endpoints])
    seen = {(r.server_location.hostname, r.server_location.port): _Seen(r, ca) for r in scanner.get_results()}
    assert set(seen) == set(endpoints)

    for endpoint, versions in PROTOCOLS.items():
        assert set(seen[endpoint].suites) == versions, endpoint
    for control in (("www.alder.test", WEB), ("mail.alder.test", SMTP)):
        tls12 = seen[control].suites["TLSv1.2"]
        assert all(s.startswith("TLS_ECDHE_") and ("GCM" in s or "CHACHA20" in s) for s in tls12), tls12
    for null in (("www.cedar.test", WEB), ("mail3.cedar.test", SMTP)):
        assert "TLS_RSA_WITH_NULL_SHA256" in seen[null].suites["TLSv1.2"]
    assert seen[("forms.dogwood.county.test", WEB)].suites["TLSv1.2"] == {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    }
    for legacy in (("www.birch.test", WEB), ("mail2.cedar.test", SMTP), ("archive.dogwood.county.test", WEB)):
        assert all("_CBC_" in s for s in seen[legacy].suites["TLSv1"]), legacy

    # sslyze's validation refuses a wrong name, but an RSA-1024 key and a certificate that expires in
    # 10 days pass it: a check must look at key size and dates itself (LAB.md 5).
    validates = {e for e in VERIFY if seen[e].validates}
    assert validates == {e for e, problem in VERIFY.items() if problem is None} | {
        ("parks.dogwood.county.test", WEB),
        ("mail3.cedar.test", SMTP),
    }
    weak = {e for e in VERIFY if seen[e].key_size == 1024}
    assert weak == {("parks.dogwood.county.test", WEB), ("mail3.cedar.test", SMTP)}
