"""The HTTP probe against real servers on loopback: its own resolver, hop-by-hop redirects, caps and time-outs."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from secbase.facts import DnsAnswer, DnsOutcome, FactKey, HttpAnswer, HttpOutcome, dns_key, http_key
from secbase.lab.pki import LabPki, server_context
from secbase.probes import Limiter
from secbase.probes.http import HOP_BUDGET, MAX_BODY, MAX_HEADER_VALUE, USER_AGENT, HttpProbe

WWW, OTHER, SELF_SIGNED, HANGUP = "127.44.90.1", "127.44.90.2", "127.44.90.3", "127.44.90.4"
REFUSING = "127.44.90.5"  # nothing listens here: connecting is refused at once
SILENT = "127.44.90.6"  # a listener whose queue is full: connecting times out
PORT_HTTPS, PORT_HTTP = 8443, 8080
SEEN: list[dict[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet tests

    def do_GET(self) -> None:
        SEEN.append(
            {
                "path": self.path,
                "host": self.headers.get("Host", ""),
                "ua": self.headers.get("User-Agent", ""),
            }
        )
        tls = isinstance(self.connection, ssl.SSLSocket)
        if not tls:
            self._send(
                301, {"Location": f"https://{self.headers['Host'].split(':')[0]}:{PORT_HTTPS}{self.path}"}
            )
            return
        if self.path == "/elsewhere":
            self._send(302, {"Location": f"https://other.test:{PORT_HTTPS}/"})
        elif self.path == "/loop":
            self._send(302, {"Location": "/loop"})
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                return
        elif self.path == "/redirect-endless":
            # A redirect whose body never ends: the probe must follow it without reading the body.
            self.send_response(302)
            self.send_header("Location", "/")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                return
        elif self.path == "/trickle":
            # The status line and headers a byte every 0.2 s: no read ever waits a whole time-out.
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + b"X-Filler: yyyyyyyy\r\n" * 20 + b"\r\n"
            )
            try:
                for i in range(len(head)):
                    self.wfile.write(head[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
        elif self.path == "/folded":
            # obs-fold (RFC 9112 5.2): one value over two 40,000-character lines, over what the probe reads.
            self.send_response(200)
            self.send_header("X-Long", "\r\n ".join(["z" * 40_000] * 2))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/charset":
            body = "<html>café</html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=\x1b[31mno-such-codec")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/bad-status":
            self.wfile.write(b"XTTP/1.1 200 \x1b]0;pwned\x07OK\r\n\r\n")  # http.client quotes it raw
            self.close_connection = True
        elif self.path == "/escape":
            self._send(302, {"Location": "https://\x1b[2Jevil.test/"})
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
        else:
            headers = {"Content-Type": "text/html; charset=utf-8", "Strict-Transport-Security": "max-age=300"}
            body = b"<html><head><meta name=generator content='WordPress 6.1'></head><body>\xff\xfe bad utf-8</body></html>"
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Set-Cookie", "a=1; Path=/")
            self.send_header("Set-Cookie", "b=2, with a comma; Secure")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _send(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return LabPki(tmp_path_factory.mktemp("pki"), now=datetime.now(UTC))


@pytest.fixture(scope="module")
def servers(pki: LabPki) -> Iterator[None]:
    good = pki.issue("www", sans=["www.alder.test", "other.test", "two.test", "stalls.test", "half.test"])
    bad = pki.issue("self", sans=["selfsigned.test"], kind="self_signed")
    running = []
    for address, cert in ((WWW, good), (OTHER, good), (SELF_SIGNED, bad)):
        https = ThreadingHTTPServer((address, PORT_HTTPS), _Handler)
        https.socket = server_context(cert).wrap_socket(https.socket, server_side=True)
        http = ThreadingHTTPServer((address, PORT_HTTP), _Handler)
        running += [https, http]
    for server in running:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    for server in running:
        server.shutdown()
        server.server_close()


class _Dns:
    """The scan's fact source, with the lab's names: the probe must resolve through it, not the system."""

    def __init__(self) -> None:
        self.asked: list[FactKey] = []
        self.zone: dict[tuple[str, str], tuple[str, ...] | DnsOutcome] = {
            ("www.alder.test", "A"): (WWW,),
            ("other.test", "A"): (OTHER,),
            ("selfsigned.test", "A"): (SELF_SIGNED,),
            ("hangup.test", "A"): (HANGUP,),
            ("two.test", "A"): (REFUSING, WWW),  # the first address refuses, the second answers
            ("stalls.test", "A"): (SILENT, WWW),  # the first address never answers
            ("refuses.test", "A"): (REFUSING,),
            ("refuses.test", "AAAA"): ("::1",),  # nothing listens on ::1 port 8443 either
            ("broken.test", "A"): DnsOutcome.SERVFAIL,
            ("broken.test", "AAAA"): DnsOutcome.SERVFAIL,
            ("half.test", "A"): (WWW,),
            ("half.test", "AAAA"): DnsOutcome.TIMEOUT,
            ("v6-only-known.test", "A"): DnsOutcome.SERVFAIL,
            ("v6-only-known.test", "AAAA"): ("::1",),
        }

    async def fact(self, key: FactKey) -> object:
        self.asked.append(key)
        name, rdtype = key.args
        planted = self.zone.get((name, rdtype), DnsOutcome.NXDOMAIN)
        if isinstance(planted, tuple):
            return DnsAnswer(name, rdtype, DnsOutcome.OK, records=planted)
        return DnsAnswer(name, rdtype, planted, reason=f"{planted} for {name} {rdtype}")


def get(pki: LabPki, url: str, *, timeout_s: float = 2.0) -> tuple[HttpAnswer, _Dns]:
    source = _Dns()

    async def main() -> HttpAnswer:
        probe = HttpProbe(
            timeout_s=timeout_s, limiter=Limiter(total=4, per_server=2), ca_file=pki.ca_pem_path
        )
        try:
            return await probe.fetch(http_key(url), source)
        finally:
            probe.close()

    return asyncio.run(main()), source


def test_http_is_followed_hop_by_hop_to_https_with_the_real_name(pki: LabPki, servers: None) -> None:
    SEEN.clear()
    answer, dns = get(pki, f"http://www.alder.test:{PORT_HTTP}/")
    assert answer.outcome is HttpOutcome.OK
    assert [h.status for h in answer.hops] == [301, 200]
    assert answer.final is not None and answer.final.url == f"https://www.alder.test:{PORT_HTTPS}/"
    assert answer.final.address == WWW
    assert dns.asked[0] == dns_key("www.alder.test", "A")
    assert all(s["host"].startswith("www.alder.test") and s["ua"] == USER_AGENT for s in SEEN)


def test_repeated_headers_stay_apart_and_names_are_lower_case(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/")
    assert answer.final is not None
    assert answer.final.header("Set-Cookie") == ["a=1; Path=/", "b=2, with a comma; Secure"]
    assert answer.final.header("strict-transport-security") == ["max-age=300"]
    assert "WordPress 6.1" in answer.body and "\ufffd" in answer.body  # invalid UTF-8 replaced, not a crash


def test_a_redirect_to_another_host_resolves_that_host_too(pki: LabPki, servers: None) -> None:
    answer, dns = get(pki, f"https://www.alder.test:{PORT_HTTPS}/elsewhere")
    assert [h.address for h in answer.hops] == [WWW, OTHER]
    assert dns_key("other.test", "A") in dns.asked


def test_a_redirect_loop_is_detected(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/loop")
    assert answer.outcome is HttpOutcome.REDIRECT_LOOP and answer.error is None


def test_a_certificate_not_accepted_is_a_tls_error_observation(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://selfsigned.test:{PORT_HTTPS}/")
    assert answer.outcome is HttpOutcome.TLS_ERROR
    assert "certificate" in answer.reason and answer.error is None


def test_nothing_listening_is_refused(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, "https://www.alder.test:9/")
    assert answer.outcome is HttpOutcome.REFUSED


def test_a_name_without_address_and_a_failing_resolver_differ(pki: LabPki) -> None:
    assert get(pki, "https://nowhere.test/")[0].outcome is HttpOutcome.NO_ADDRESS
    failed = get(pki, "https://broken.test/")[0]
    assert failed.outcome is HttpOutcome.DNS_ERROR and failed.error is not None


def test_an_endless_body_is_cut_at_one_mebibyte(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/huge")
    assert answer.outcome is HttpOutcome.OK and answer.body_truncated
    assert len(answer.body) == MAX_BODY


@pytest.mark.slow
def test_a_body_still_coming_at_the_deadline_is_a_time_out_not_a_page(pki: LabPki, servers: None) -> None:
    # A page cut by the clock is not the page: judging its first bytes could pass what was never read.
    began = time.monotonic()
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/slow", timeout_s=1.0)
    assert answer.outcome is HttpOutcome.TIMEOUT and answer.error is not None
    assert f"within {HOP_BUDGET * 1.0:g} s" in answer.error
    assert answer.final is not None and answer.final.status == 200 and answer.body_truncated
    assert time.monotonic() - began < 10  # the deadline is 3 x the time-out, not 60 x 0.2 s


@pytest.mark.slow
def test_headers_trickling_a_byte_at_a_time_cost_one_deadline_not_a_hang(pki: LabPki, servers: None) -> None:
    # Each byte comes well within the read time-out; only the hop's deadline ends this.
    began = time.monotonic()
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/trickle", timeout_s=0.5)
    assert answer.outcome is HttpOutcome.TIMEOUT and answer.final is None
    assert f"within {HOP_BUDGET * 0.5:g} s" in answer.reason
    assert time.monotonic() - began < 10  # 700 bytes at 0.2 s each would take over two minutes


def test_a_redirect_with_an_endless_body_is_followed_without_reading_it(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/redirect-endless")
    assert answer.outcome is HttpOutcome.OK
    assert [h.status for h in answer.hops] == [302, 200]


def test_a_header_longer_than_the_cap_is_could_not_check_not_cut(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/folded")
    assert answer.outcome is HttpOutcome.ERROR
    assert f"x-long header longer than {MAX_HEADER_VALUE}" in answer.reason


def test_an_unknown_charset_is_read_as_utf8(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}/charset")
    assert answer.outcome is HttpOutcome.OK and "café" in answer.body


@pytest.mark.parametrize("path", ["/escape", "/bad-status"])
def test_a_reason_quoting_a_server_escapes_its_control_characters(
    pki: LabPki, servers: None, path: str
) -> None:
    answer, _ = get(pki, f"https://www.alder.test:{PORT_HTTPS}{path}")
    assert answer.outcome is HttpOutcome.ERROR, answer
    assert "\x1b" not in answer.reason and "\\x1b" in answer.reason


def test_proxies_from_the_environment_are_not_used(
    pki: LabPki, servers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.44.90.5:9")  # would be refused, were it used
    answer, _ = get(pki, f"http://www.alder.test:{PORT_HTTP}/")
    assert answer.outcome is HttpOutcome.OK


# -- several addresses ----------------------------------------------------------------------------


def test_an_address_that_refuses_is_passed_over_for_the_next(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://two.test:{PORT_HTTPS}/")
    assert answer.outcome is HttpOutcome.OK
    assert answer.final is not None and answer.final.address == WWW


@pytest.fixture
def stalling() -> Iterator[None]:
    """A listener whose one-place queue is taken: the kernel drops further connections, which time out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((SILENT, PORT_HTTPS))
    listener.listen(0)
    queued = socket.create_connection((SILENT, PORT_HTTPS), timeout=5)
    yield
    queued.close()
    listener.close()


def test_an_address_that_does_not_answer_is_passed_over_within_the_budget(
    pki: LabPki, servers: None, stalling: None
) -> None:
    answer, _ = get(pki, f"https://stalls.test:{PORT_HTTPS}/", timeout_s=0.5)
    assert answer.outcome is HttpOutcome.OK, answer
    assert answer.final is not None and answer.final.address == WWW


def test_every_address_refusing_is_refused(pki: LabPki, servers: None) -> None:
    answer, _ = get(pki, f"https://refuses.test:{PORT_HTTPS}/")
    assert answer.outcome is HttpOutcome.REFUSED, answer
    assert REFUSING in answer.reason and "::1" in answer.reason


@pytest.mark.parametrize("name", ["half.test", "v6-only-known.test"])
def test_one_address_family_failing_to_resolve_makes_the_addresses_unknown(pki: LabPki, name: str) -> None:
    # Judging the IPv4 site alone would pass or fail a site on part of its addresses.
    answer, dns = get(pki, f"https://{name}:{PORT_HTTPS}/")
    assert answer.outcome is HttpOutcome.DNS_ERROR and answer.error is not None
    assert {dns_key(name, "A"), dns_key(name, "AAAA")} <= set(dns.asked)


def test_only_urls_we_can_follow_are_followed(pki: LabPki) -> None:
    answer, _ = get(pki, "ftp://www.alder.test/")
    assert answer.outcome is HttpOutcome.ERROR
    assert Path(__file__).exists()


def test_a_hang_up_during_the_handshake_is_could_not_check_not_a_bad_certificate(pki: LabPki) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HANGUP, PORT_HTTPS))
    listener.listen()

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(1024)  # the ClientHello
        conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        answer, _ = get(pki, f"https://hangup.test:{PORT_HTTPS}/")
    finally:
        thread.join(timeout=5)
        listener.close()
    assert answer.outcome is HttpOutcome.ERROR, answer
    assert answer.error is not None
