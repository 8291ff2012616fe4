"""The lab's SMTP servers, seen through smtplib and sslyze on 127.44.4.0/24.

smtplib is always given `local_hostname`: without it, EHLO asks the system resolver for our own name.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sslyze import (
    CertificateInfoExtraArgument,
    ProtocolWithOpportunisticTlsEnum,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
)

from secbase.errors import LabError
from secbase.lab.mail import LabMailServer
from secbase.lab.pki import LabPki

STARTTLS = "127.44.4.1"
PLAIN = "127.44.4.2"
REQUIRED = "127.44.4.3"
WRONG_NAME = "127.44.4.4"
DROP = "127.44.4.5"
TEMPFAIL = "127.44.4.6"
ME = "scanner.secbase.test"
MESSAGE = "From: a@alder.test\r\nTo: b@alder.test\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return LabPki(tmp_path_factory.mktemp("mail-pki"), now=datetime.now(UTC))


@pytest.fixture(scope="module")
def servers(pki: LabPki) -> Iterator[dict[str, LabMailServer]]:
    good = pki.issue("mail", sans=["mail.alder.test"])
    servers = {
        STARTTLS: LabMailServer("mail.alder.test", STARTTLS, starttls=True, cert=good),
        PLAIN: LabMailServer("mail.birch.test", PLAIN, starttls=False, cert=None),
        REQUIRED: LabMailServer("mail.alder.test", REQUIRED, starttls=True, cert=good, require_starttls=True),
        WRONG_NAME: LabMailServer(
            "mail.cedar.test",
            WRONG_NAME,
            starttls=True,
            cert=pki.issue("mail-wrong", sans=["mail.cedar.test"], kind="wrong_name"),
        ),
        DROP: LabMailServer("mail.dogwood.test", DROP, starttls=True, cert=None, behaviour="drop_after_ehlo"),
        TEMPFAIL: LabMailServer("mail.elm.test", TEMPFAIL, starttls=False, cert=None, behaviour="tempfail"),
    }
    started: list[LabMailServer] = []
    try:
        for server in servers.values():
            server.start()
            started.append(server)
        yield servers
    finally:
        for server in started:
            server.stop()


def _connect(address: str) -> smtplib.SMTP:
    return smtplib.SMTP(address, 25, local_hostname=ME, timeout=5)


def _starttls(smtp: smtplib.SMTP, pki: LabPki, mx_name: str) -> None:
    # smtplib checks the certificate against the host it connected to (the address): name the MX instead.
    smtp._host = mx_name  # type: ignore[attr-defined]
    smtp.starttls(context=ssl.create_default_context(cafile=str(pki.ca_pem_path)))


def test_starttls_offered_and_mail_accepted_over_tls(servers: dict[str, LabMailServer], pki: LabPki) -> None:
    with _connect(STARTTLS) as smtp:
        code, banner = smtp.ehlo()
        assert code == 250 and banner.startswith(b"mail.alder.test")
        assert smtp.has_extn("starttls")
        _starttls(smtp, pki, "mail.alder.test")
        assert isinstance(smtp.sock, ssl.SSLSocket) and smtp.sock.version() == "TLSv1.3"
        smtp.ehlo()
        assert not smtp.has_extn("starttls")  # offered once, before TLS
        smtp.sendmail("a@alder.test", ["b@alder.test"], MESSAGE)
    (mail,) = servers[STARTTLS].received
    assert (mail.mail_from, mail.rcpt_tos, mail.tls) == ("a@alder.test", ["b@alder.test"], True)
    assert b"Subject: hi" in mail.content


def test_banner_names_the_host(servers: dict[str, LabMailServer]) -> None:
    with socket.create_connection((STARTTLS, 25), timeout=5) as sock:
        assert sock.recv(200).startswith(b"220 mail.alder.test ESMTP")


def test_no_starttls_when_not_configured(servers: dict[str, LabMailServer]) -> None:
    with _connect(PLAIN) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.starttls()
        smtp.sendmail("a@birch.test", ["b@birch.test"], MESSAGE)
    assert [m.tls for m in servers[PLAIN].received] == [False]


def test_require_starttls_refuses_mail_in_clear(servers: dict[str, LabMailServer]) -> None:
    with _connect(REQUIRED) as smtp:
        smtp.ehlo()
        assert smtp.mail("a@alder.test")[0] == 530


def test_wrong_name_certificate_fails_verification(servers: dict[str, LabMailServer], pki: LabPki) -> None:
    with _connect(WRONG_NAME) as smtp:
        smtp.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            _starttls(smtp, pki, "mail.cedar.test")


def test_drop_after_ehlo(servers: dict[str, LabMailServer], pki: LabPki) -> None:
    smtp = _connect(DROP)
    assert smtp.ehlo()[0] == 250
    assert smtp.has_extn("starttls")  # offered, and then the server is gone
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _starttls(smtp, pki, "mail.dogwood.test")
    smtp.close()


def test_tempfail_greets_with_421(servers: dict[str, LabMailServer]) -> None:
    with pytest.raises(smtplib.SMTPConnectError) as caught:
        _connect(TEMPFAIL)
    assert caught.value.smtp_code == 421


def test_aborted_tls_handshake_logs_no_traceback(
    servers: dict[str, LabMailServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mail.log")
    with socket.create_connection((STARTTLS, 25), timeout=5) as sock, sock.makefile("rb") as lines:
        lines.readline()  # 220
        sock.sendall(b"EHLO scanner.secbase.test\r\n")
        while lines.readline()[3:4] == b"-":
            continue  # the EHLO reply, up to its last line
        sock.sendall(b"STARTTLS\r\n")
        assert lines.readline().startswith(b"220")
        sock.sendall(b"this is not a TLS client hello\r\n" * 4)
        lines.read()  # until the server hangs up
    with _connect(STARTTLS) as smtp:  # and goes on serving
        assert smtp.noop()[0] == 250
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


# sslyze's bundled Mozilla store holds a certificate with a negative serial number; not ours.
@pytest.mark.filterwarnings("ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning")
def test_sslyze_scans_starttls_and_sees_the_drop(servers: dict[str, LabMailServer], pki: LabPki) -> None:
    def request(address: str, name: str) -> ServerScanRequest:
        return ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=name, port=25, ip_address=address),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=name,
                tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.SMTP,
                smtp_ehlo_hostname=ME,
                network_timeout=5,
                network_max_retries=1,
            ),
            scan_commands={ScanCommand.CERTIFICATE_INFO, ScanCommand.TLS_1_3_CIPHER_SUITES},
            scan_commands_extra_arguments=ScanCommandsExtraArguments(
                certificate_info=CertificateInfoExtraArgument(custom_ca_file=pki.ca_pem_path)
            ),
        )

    scanner = Scanner()
    scanner.queue_scans([request(STARTTLS, "mail.alder.test"), request(DROP, "mail.dogwood.test")])
    results = {r.server_location.ip_address: r for r in scanner.get_results()}
    assert results[DROP].connectivity_status.name == "ERROR"
    assert results[DROP].connectivity_error_trace is not None
    scan = results[STARTTLS].scan_result
    assert scan is not None
    info = scan.certificate_info.result
    assert info is not None
    deployment = info.certificate_deployments[0]
    (ours,) = [v for v in deployment.path_validation_results if v.trust_store.path == pki.ca_pem_path]
    assert ours.was_validation_successful, ours.validation_error
    assert scan.tls_1_3_cipher_suites.result is not None
    assert scan.tls_1_3_cipher_suites.result.accepted_cipher_suites


def test_start_errors(pki: LabPki, servers: dict[str, LabMailServer]) -> None:
    with pytest.raises(LabError, match=r"127\.44\.4\.1 port 25"):
        LabMailServer("again.test", STARTTLS, starttls=False, cert=None).start()
    with pytest.raises(LabError, match=r"127\.44\.4\.5 port 25"):
        LabMailServer("again.test", DROP, starttls=False, cert=None, behaviour="tempfail").start()
    with pytest.raises(ValueError, match="needs a certificate"):
        LabMailServer("x.test", "127.44.4.50", starttls=True, cert=None)
    with pytest.raises(ValueError, match="unknown"):
        LabMailServer("x.test", "127.44.4.50", starttls=False, cert=None, behaviour="odd")  # type: ignore[arg-type]


def test_stop_frees_the_port() -> None:
    for _ in range(2):
        server = LabMailServer("again.test", "127.44.4.60", starttls=False, cert=None)
        server.start()
        with _connect("127.44.4.60") as smtp:
            assert smtp.noop()[0] == 250
        server.stop()
        server.stop()  # twice is fine
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.44.4.60", 25), timeout=2)
