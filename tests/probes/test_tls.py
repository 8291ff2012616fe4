"""The TLS probe against real TLS and SMTP servers on loopback: versions, suites, certificates, and failures."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.facts import TlsAnswer, TlsOutcome, tls_key
from secbase.lab.mail import LabMailServer
from secbase.lab.pki import LabPki
from secbase.lab.web import LabSite, LabWebServer
from secbase.probes import Limiter
from secbase.probes._x509 import covers
from secbase.probes.tls import TlsProbe, medium_offer, socket_watch_installed, weak_offer

NET = "127.47.0."
NOW = datetime.now(UTC)
MAX_HANDSHAKES = 20  # the issue's budget per endpoint, by default


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return LabPki(tmp_path_factory.mktemp("pki"), now=NOW)


SITES = {  # name -> (last octet, certificate kind, key type, site settings)
    "good.test": (1, "good", "ec", {}),
    "old.test": (
        2,
        "expiring",
        "rsa",
        {"tls_min_version": ssl.TLSVersion.TLSv1, "tls_max_version": ssl.TLSVersion.TLSv1_2},
    ),
    "null.test": (
        3,
        "weak_key",
        "rsa",
        {"tls_max_version": ssl.TLSVersion.TLSv1_2, "ciphers": "NULL-SHA256:ECDHE-RSA-AES128-GCM-SHA256"},
    ),
    "cbc.test": (
        4,
        "good",
        "rsa",
        {"tls_max_version": ssl.TLSVersion.TLSv1_2, "ciphers": "AES128-SHA:AES256-GCM-SHA384"},
    ),
    "self.test": (5, "self_signed", "ec", {}),
    "wrong.test": (6, "wrong_name", "ec", {}),
    "chain.test": (7, "missing_intermediate", "ec", {}),
    "sha1.test": (8, "sha1", "rsa", {}),
    "expired.test": (9, "expired", "ec", {}),
    "anon.test": (
        10,
        "good",
        "ec",
        {"tls_max_version": ssl.TLSVersion.TLSv1_2, "ciphers": "aNULL:@SECLEVEL=0"},
    ),
}


@pytest.fixture(scope="module")
def servers(pki: LabPki) -> Iterator[None]:
    sites = [
        LabSite(
            name,
            NET + str(n),
            pki.issue(name, sans=[name], kind=kind, key_type=key),  # type: ignore[arg-type]
            **settings,  # type: ignore[arg-type]
        )
        for name, (n, kind, key, settings) in SITES.items()
    ]
    mail = [
        LabMailServer(
            "mail.good.test", NET + "25", starttls=True, cert=pki.issue("m", sans=["mail.good.test"])
        ),
        LabMailServer("mail.plain.test", NET + "26", starttls=False, cert=None),
    ]
    with LabWebServer(sites):
        for server in mail:
            server.start()
        try:
            yield
        finally:
            for server in mail:
                server.stop()


def probe(
    pki: LabPki,
    host: str,
    address: str,
    port: int = 443,
    starttls: str = "",
    *,
    timeout_s: float = 2,
    **kw: object,
) -> TlsAnswer:
    async def main() -> TlsAnswer:
        tls = TlsProbe(
            timeout_s=timeout_s,
            limiter=Limiter(total=8, per_server=4),
            ca_file=pki.ca_pem_path,
            **kw,  # type: ignore[arg-type]
        )
        try:
            return await tls.fetch(tls_key(host, address, port, starttls))
        finally:
            tls.close()

    return asyncio.run(main())


def site(pki: LabPki, name: str, **kw: object) -> TlsAnswer:
    return probe(pki, name, NET + str(SITES[name][0]), **kw)


def accepted(answer: TlsAnswer) -> set[str]:
    return {p.name for p in answer.protocols if p.accepted}


@pytest.mark.usefixtures("servers")
class TestAgainstLabServers:
    def test_a_modern_site_shows_its_versions_suites_and_a_trusted_chain(self, pki: LabPki) -> None:
        a = site(pki, "good.test")
        assert a.outcome is TlsOutcome.OK and a.error is None
        assert accepted(a) == {"TLS 1.2", "TLS 1.3"}
        assert all(p.accepted is False for p in a.protocols if p.name not in ("TLS 1.2", "TLS 1.3"))
        assert all(
            not weak_offer(s.name) and not medium_offer(s.name) for s in a.suites if s.protocol == "TLS 1.2"
        )
        assert a.trusted is True and a.name_matches is True and a.trust_error == ""
        assert a.leaf is not None and a.leaf.dns_names == ("good.test",) and a.leaf.key_type == "EC"
        assert len(a.chain) == 2 and a.chain[1].subject.startswith("CN=secbase lab issuing CA")
        assert 0 < a.handshakes <= MAX_HANDSHAKES

    def test_legacy_versions_and_their_cbc_suites_are_seen(self, pki: LabPki) -> None:
        a = site(pki, "old.test")
        assert {"TLS 1.0", "TLS 1.1", "TLS 1.2"} <= accepted(a) and "TLS 1.3" not in accepted(a)
        assert any(s.protocol == "TLS 1.0" and "_CBC_" in s.name for s in a.suites)
        assert a.leaf is not None and a.leaf.not_after - NOW < timedelta(days=11)
        assert a.trusted is True  # expiring soon is still trusted: expiry is judged apart
        assert a.handshakes <= MAX_HANDSHAKES

    def test_a_null_suite_is_found_by_the_targeted_offer(self, pki: LabPki) -> None:
        a = site(pki, "null.test")
        assert ("TLS 1.2", "TLS_RSA_WITH_NULL_SHA256") in {(s.protocol, s.name) for s in a.suites}
        assert a.leaf is not None and (a.leaf.key_type, a.leaf.key_bits) == ("RSA", 1024)
        assert a.handshakes <= MAX_HANDSHAKES and a.suites_error == ""

    def test_cbc_and_non_forward_secret_suites_are_named(self, pki: LabPki) -> None:
        a = site(pki, "cbc.test")
        names = {s.name for s in a.suites}
        assert "TLS_RSA_WITH_AES_128_CBC_SHA" in names or "TLS_RSA_WITH_AES_256_GCM_SHA384" in names
        assert not any(weak_offer(n) for n in names)

    def test_an_anonymous_only_server_shows_the_suite_and_no_certificate(self, pki: LabPki) -> None:
        a = site(pki, "anon.test")
        assert a.outcome is TlsOutcome.OK
        assert any("anon" in s.name for s in a.suites)
        assert a.chain == () and a.trusted is None and a.name_matches is None

    def test_a_self_signed_certificate_is_not_trusted(self, pki: LabPki) -> None:
        a = site(pki, "self.test")
        assert a.trusted is False and "self-signed" in a.trust_error
        assert len(a.chain) == 1 and a.chain[0].self_signed and a.name_matches is True

    def test_a_missing_intermediate_is_not_trusted_but_not_self_signed(self, pki: LabPki) -> None:
        a = site(pki, "chain.test")
        assert a.trusted is False and len(a.chain) == 1 and not a.chain[0].self_signed

    def test_a_wrong_name_is_told_apart_from_trust(self, pki: LabPki) -> None:
        a = site(pki, "wrong.test")
        assert a.name_matches is False and a.trusted is True
        assert a.leaf is not None and "wrong.test" not in a.leaf.dns_names

    def test_an_expired_chain_is_still_judged_for_trust(self, pki: LabPki) -> None:
        a = site(pki, "expired.test")
        assert a.leaf is not None and a.leaf.not_after < NOW
        assert a.trusted is True and a.name_matches is True

    def test_a_sha1_signature_is_named_and_refused(self, pki: LabPki) -> None:
        a = site(pki, "sha1.test")
        assert a.leaf is not None and a.leaf.signature_hash == "sha1"
        assert a.trusted is False and "SHA-1" in a.trust_error

    @pytest.mark.slow
    def test_full_enumeration_tries_every_suite(self, pki: LabPki) -> None:
        targeted = site(pki, "null.test")
        full = site(pki, "null.test", full_enumeration=True)
        assert full.full_enumeration and full.handshakes > MAX_HANDSHAKES
        assert {s.name for s in targeted.suites} <= {s.name for s in full.suites}
        assert "TLS_RSA_WITH_NULL_SHA256" in {s.name for s in full.suites}

    def test_starttls_on_a_mail_server(self, pki: LabPki) -> None:
        a = probe(pki, "mail.good.test", NET + "25", 25, "smtp")
        assert a.outcome is TlsOutcome.OK and "TLS 1.3" in accepted(a)
        assert a.trusted is True and a.name_matches is True
        assert a.handshakes <= MAX_HANDSHAKES

    def test_a_mail_server_without_starttls_is_could_not_check(self, pki: LabPki) -> None:
        a = probe(pki, "mail.plain.test", NET + "26", 25, "smtp")
        assert a.outcome is TlsOutcome.NO_STARTTLS and a.error is not None and "STARTTLS" in a.error.upper()


def test_nothing_listening_is_refused(pki: LabPki) -> None:
    a = probe(pki, "none.test", NET + "99")
    assert a.outcome is TlsOutcome.REFUSED and a.error is not None and "refused" in a.error
    assert a.protocols == () and a.chain == ()


def test_a_server_that_never_answers_the_handshake_is_a_time_out(pki: LabPki) -> None:
    listener = socket.create_server((NET + "98", 443))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # take the connection, say nothing
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        a = probe(pki, "silent.test", NET + "98")
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    assert a.outcome is TlsOutcome.TIMEOUT and a.error is not None and "within" in a.error
    assert a.chain == () and a.trusted is None


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (["www.alder.test"], "www.alder.test", True),
        (["WWW.Alder.Test"], "www.alder.test", False),  # the probe lower-cases SAN names before this
        (["*.alder.test"], "www.alder.test", True),
        (["*.alder.test"], "alder.test", False),
        (["*.alder.test"], "a.b.alder.test", False),
        (["*.test"], "alder.test", False),  # a wildcard never covers a whole top-level domain's children
        (["alder.test"], "www.alder.test", False),
    ],
)
def test_names_a_certificate_covers(names: list[str], host: str, expected: bool) -> None:
    assert covers(names, [], host) is expected


def test_an_ip_address_is_covered_only_by_an_ip_entry() -> None:
    assert covers([], ["127.0.0.1"], "127.0.0.1")
    assert not covers(["127.0.0.1"], [], "127.0.0.1")


@given(st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True))
def test_a_name_always_covers_itself_and_its_wildcard_covers_its_children(name: str) -> None:
    assert covers([name], [], name)
    assert covers([f"*.{name}"], [], f"x.{name}")
    assert not covers([f"*.{name}"], [], f"x.y.{name}")


def test_a_server_trickling_its_handshake_is_cut_off_by_the_endpoint_budget(pki: LabPki) -> None:
    """Each byte comes well within the read time-out, so only the endpoint's budget can end it."""
    listener = socket.create_server((NET + "97", 443))
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KiB is coming...
                while not stop.is_set():
                    conn.sendall(b"\x00")  # ...a byte at a time
                    stop.wait(0.2)
            except OSError:
                return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                threading.Thread(target=trickle, args=(listener.accept()[0],), daemon=True).start()
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        a = probe(pki, "trickle.test", NET + "97", timeout_s=0.5)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert a.outcome is TlsOutcome.TIMEOUT, a
    assert a.error is not None and "did not finish within 4 s" in a.error


def test_a_tls_probe_routes_sslyze_sockets_through_the_deadline_watch(pki: LabPki) -> None:
    TlsProbe(timeout_s=1, limiter=Limiter(total=1, per_server=1)).close()
    assert socket_watch_installed()
