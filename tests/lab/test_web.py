"""The lab's web servers, seen through http.client, ssl and sslyze on 127.44.2.0/24 and 127.44.3.0/24."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sslyze import (
    ScanCommand,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
)

from secbase.errors import LabError
from secbase.lab.pki import LabPki
from secbase.lab.web import HUGE_HEADER_COUNT, LabSite, LabWebServer, Misbehaviour

SHARED = "127.44.2.1"  # www.alder.test and www.birch.test: one address, told apart by SNI and Host
CEDAR = "127.44.2.3"
DOGWOOD = "127.44.2.4"
TLS12 = "127.44.2.5"
LEGACY = "127.44.2.6"
HOSTILE: dict[Misbehaviour, str] = {
    "huge_headers": "127.44.3.1",
    "huge_body": "127.44.3.2",
    "slow": "127.44.3.3",
    "bad_utf8": "127.44.3.4",
}
SECURITY_TXT = "Contact: mailto:security@alder.test\nExpires: 2030-01-01T00:00:00Z\n"
MTA_STS = "version: STSv1\nmode: enforce\nmx: mail.alder.test\nmax_age: 86400\n"
COOKIES = ["session=abc; Secure; HttpOnly; SameSite=Lax", "tracker=1"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return LabPki(tmp_path_factory.mktemp("web-pki"), now=datetime.now(UTC))


@pytest.fixture(scope="module")
def web(pki: LabPki) -> Iterator[LabWebServer]:
    sites = [
        LabSite(
            "www.alder.test",
            SHARED,
            pki.issue("alder", sans=["www.alder.test", "alder.test"]),
            aliases=("alder.test",),
            headers={
                "Strict-Transport-Security": ["max-age=31536000; includeSubDomains"],
                "X-Repeated": ["one", "two"],
            },
            cookies=COOKIES,
            security_txt=SECURITY_TXT,
            mta_sts_policy=MTA_STS,
        ),
        LabSite(
            "www.birch.test",
            SHARED,
            pki.issue("birch", sans=["www.birch.test"]),
            http_behaviour="no_redirect",
        ),
        LabSite(
            "www.cedar.test",
            CEDAR,
            pki.issue("cedar", sans=["www.cedar.test"]),
            http_behaviour="redirect_other_host",
            redirect_to="https://www.elsewhere.test/landing",
        ),
        LabSite(
            "www.dogwood.test",
            DOGWOOD,
            pki.issue("dogwood", sans=["www.dogwood.test"]),
            http_behaviour="none",
        ),
        LabSite(
            "www.elm.test",
            TLS12,
            pki.issue("elm", sans=["www.elm.test"]),
            tls_max_version=ssl.TLSVersion.TLSv1_2,
            http_behaviour="none",
        ),
        LabSite(
            "old.elm.test",
            LEGACY,
            pki.issue("legacy", sans=["old.elm.test"], key_type="rsa"),
            tls_min_version=ssl.TLSVersion.TLSv1,
            ciphers="AES128-SHA",  # RSA key exchange, CBC, SHA-1 MAC: what old servers still offer
            http_behaviour="none",
        ),
        *(
            LabSite(
                f"{name.replace('_', '-')}.hostile.test",
                address,
                None,
                http_behaviour="no_redirect",
                misbehaviour=name,
            )
            for name, address in HOSTILE.items()
        ),
    ]
    with LabWebServer(sites) as server:
        yield server


def _client_context(pki: LabPki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_pem_path))


def _get(
    address: str,
    host: str,
    path: str = "/",
    *,
    tls: ssl.SSLContext | None = None,
    method: str = "GET",
    timeout: float = 5,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request to `address`, with `host` as SNI and Host; the response is read to the end."""
    sock = socket.create_connection((address, 443 if tls else 80), timeout=timeout)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=host)
    with sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response, response.read()


@pytest.fixture
def client(pki: LabPki, web: LabWebServer) -> ssl.SSLContext:
    return _client_context(pki)


# -- plain HTTP ----------------------------------------------------------------------------------------


def test_http_redirects_to_https_keeping_path_and_query(client: ssl.SSLContext) -> None:
    response, body = _get(SHARED, "www.alder.test", "/news/item?id=7")
    assert response.status == 301
    assert response.headers["Location"] == "https://www.alder.test/news/item?id=7"
    assert body == b""


def test_http_redirects_to_another_host(client: ssl.SSLContext) -> None:
    response, _ = _get(CEDAR, "www.cedar.test", "/anything")
    assert response.status == 301
    assert response.headers["Location"] == "https://www.elsewhere.test/landing"


def test_no_redirect_serves_the_site_over_http_picked_by_host(client: ssl.SSLContext) -> None:
    response, body = _get(SHARED, "www.birch.test")
    assert response.status == 200
    assert b"<h1>www.birch.test</h1>" in body
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_http_none_means_nothing_listens_on_80(client: ssl.SSLContext) -> None:
    with pytest.raises(ConnectionRefusedError):
        _get(DOGWOOD, "www.dogwood.test")
    response, _ = _get(DOGWOOD, "www.dogwood.test", tls=client)
    assert response.status == 200


# -- HTTPS content -----------------------------------------------------------------------------------


def test_headers_repeat_and_cookies_are_sent_raw(client: ssl.SSLContext) -> None:
    response, body = _get(SHARED, "www.alder.test", tls=client)
    assert response.status == 200
    assert b"<h1>www.alder.test</h1>" in body
    assert response.headers.get_all("X-Repeated") == ["one", "two"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response.headers.get_all("Set-Cookie") == COOKIES


def test_well_known_files(client: ssl.SSLContext) -> None:
    response, body = _get(SHARED, "www.alder.test", "/.well-known/security.txt", tls=client)
    assert (response.status, body.decode()) == (200, SECURITY_TXT)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    response, body = _get(SHARED, "alder.test", "/.well-known/mta-sts.txt", tls=client)  # alias
    assert (response.status, body.decode()) == (200, MTA_STS)
    response, _ = _get(SHARED, "www.birch.test", "/.well-known/security.txt", tls=client)
    assert response.status == 404
    response, _ = _get(SHARED, "www.alder.test", "/no/such/page", tls=client)
    assert response.status == 404


def test_only_get_and_head(client: ssl.SSLContext) -> None:
    response, body = _get(SHARED, "www.alder.test", tls=client, method="HEAD")
    assert response.status == 200 and body == b""
    assert int(response.headers["Content-Length"]) > 0
    response, _ = _get(SHARED, "www.alder.test", tls=client, method="POST")
    assert response.status == 405 and response.headers["Allow"] == "GET, HEAD"
    response, _ = _get(SHARED, "www.alder.test", tls=client, method="BREW")
    assert response.status == 501


# -- TLS ---------------------------------------------------------------------------------------------


def _peer_names(address: str, server_name: str) -> list[str]:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # look at what is sent, whatever it is
    with (
        socket.create_connection((address, 443), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der or b"")
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def test_sni_picks_each_sites_certificate(client: ssl.SSLContext) -> None:
    assert _peer_names(SHARED, "www.alder.test") == ["www.alder.test", "alder.test"]
    assert _peer_names(SHARED, "alder.test") == ["www.alder.test", "alder.test"]
    assert _peer_names(SHARED, "www.birch.test") == ["www.birch.test"]
    assert _peer_names(SHARED, "unknown.test") == ["www.alder.test", "alder.test"]  # the first site
    # ... and a verifying client is satisfied for both names
    for host in ("www.alder.test", "www.birch.test"):
        response, body = _get(SHARED, host, tls=client)
        assert response.status == 200 and f"<h1>{host}</h1>".encode() in body


def test_tls_version_ceiling(client: ssl.SSLContext, pki: LabPki) -> None:
    with (
        socket.create_connection((TLS12, 443), timeout=5) as raw,
        client.wrap_socket(raw, server_hostname="www.elm.test") as tls,
    ):
        assert tls.version() == "TLSv1.2"
        suite = (tls.cipher() or ("",))[0]
        assert suite.startswith("ECDHE-") and ("GCM" in suite or "CHACHA" in suite)  # ECDHE + AEAD only
    strict = _client_context(pki)
    strict.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection((TLS12, 443), timeout=5) as raw, pytest.raises(ssl.SSLError):
        strict.wrap_socket(raw, server_hostname="www.elm.test")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")
def test_legacy_tls_1_0_with_a_cbc_suite(client: ssl.SSLContext, pki: LabPki, web: LabWebServer) -> None:
    old = _client_context(pki)
    old.set_ciphers("ALL:@SECLEVEL=0")
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1
    with (
        socket.create_connection((LEGACY, 443), timeout=5) as raw,
        old.wrap_socket(raw, server_hostname="old.elm.test") as tls,
    ):
        assert (tls.version(), (tls.cipher() or ("",))[0]) == ("TLSv1", "AES128-SHA")
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname="old.elm.test", port=443, ip_address=LEGACY),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication="old.elm.test", network_timeout=5, network_max_retries=1
        ),
        scan_commands={ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_2_CIPHER_SUITES},
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    assert result.scan_result is not None, result.connectivity_error_trace
    tls10 = result.scan_result.tls_1_0_cipher_suites.result
    tls12 = result.scan_result.tls_1_2_cipher_suites.result
    assert tls10 is not None and tls12 is not None
    assert [s.cipher_suite.name for s in tls10.accepted_cipher_suites] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    assert [s.cipher_suite.name for s in tls12.accepted_cipher_suites] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    assert web.handshake_failures > 0  # sslyze's rejected offers are counted, not logged


# -- hostile sites -----------------------------------------------------------------------------------


def test_huge_headers_trip_http_client(client: ssl.SSLContext) -> None:
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        _get(HOSTILE["huge_headers"], "huge-headers.hostile.test")
    with socket.create_connection((HOSTILE["huge_headers"], 80), timeout=5) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: huge-headers.hostile.test\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert raw.count(b"X-Lab-Filler-") == HUGE_HEADER_COUNT


def test_huge_body_never_ends(client: ssl.SSLContext) -> None:
    with socket.create_connection((HOSTILE["huge_body"], 80), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: huge-body.hostile.test\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200 and response.headers["Content-Length"] is None
        assert len(response.read(4 * 1024 * 1024)) == 4 * 1024 * 1024  # and it would go on


def test_slow_sends_one_byte_per_second(client: ssl.SSLContext) -> None:
    with socket.create_connection((HOSTILE["slow"], 80), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: slow.hostile.test\r\n\r\n")
        received = b""
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                received += sock.recv(100)
            except TimeoutError:
                break
    assert received in (b"H", b"HT")


def test_bad_utf8_in_headers_and_body(client: ssl.SSLContext) -> None:
    response, body = _get(HOSTILE["bad_utf8"], "bad-utf8.hostile.test")
    assert response.status == 200
    raw_header = response.headers["X-Lab-Greeting"].encode(
        "latin-1"
    )  # http.client decodes headers as latin-1
    with pytest.raises(UnicodeDecodeError):
        raw_header.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


# -- lifecycle ---------------------------------------------------------------------------------------


def test_stop_ends_stuck_connections_quickly() -> None:
    site = LabSite("stream.test", "127.44.3.10", None, http_behaviour="no_redirect", misbehaviour="huge_body")
    server = LabWebServer([site])
    server.start()
    sock = socket.create_connection(("127.44.3.10", 80), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: stream.test\r\n\r\n")
    sock.recv(1000)  # a client that stops reading: the server blocks in write()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    sock.close()
    with LabWebServer([site]):  # the port is free again at once
        assert _get("127.44.3.10", "stream.test", method="HEAD")[0].status == 200


def test_start_errors_name_the_problem(pki: LabPki) -> None:
    site = LabSite("busy.test", "127.44.3.11", None, http_behaviour="no_redirect")
    with LabWebServer([site]), pytest.raises(LabError, match=r"127\.44\.3\.11 port 80"):
        LabWebServer([site]).start()
    bad = LabSite("bad.test", "127.44.3.12", pki.issue("bad", sans=["bad.test"]), ciphers="NO-SUCH-SUITE")
    with pytest.raises(LabError, match=r"bad\.test"):
        LabWebServer([bad]).start()
    cert = pki.issue("clash", sans=["clash.test"])
    one = LabSite("one.test", "127.44.3.13", cert)
    two = LabSite("two.test", "127.44.3.13", cert, tls_max_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ValueError, match="must share TLS versions"):
        LabWebServer([one, two]).start()
    with pytest.raises(ValueError, match="same name"):
        LabWebServer([one, LabSite("one.test", "127.44.3.13", cert)]).start()
