"""The SMTP probe against real mail servers on loopback: STARTTLS, certificates, and every way it ends."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from secbase.facts import SmtpAnswer, SmtpOutcome, smtp_key
from secbase.lab.mail import LabMailServer
from secbase.lab.pki import LabPki
from secbase.probes import Limiter
from secbase.probes.smtp import SmtpProbe

NET = "127.45.7."


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return LabPki(tmp_path_factory.mktemp("pki"), now=datetime.now(UTC))


@pytest.fixture(scope="module")
def servers(pki: LabPki) -> Iterator[None]:
    running = [
        LabMailServer(
            "mail.good.test", NET + "1", starttls=True, cert=pki.issue("good", sans=["mail.good.test"])
        ),
        LabMailServer("mail.plain.test", NET + "2", starttls=False, cert=None),
        LabMailServer("mail.drop.test", NET + "3", starttls=True, cert=None, behaviour="drop_after_ehlo"),
        LabMailServer("mail.busy.test", NET + "4", starttls=False, cert=None, behaviour="tempfail"),
        LabMailServer(
            "mail.name.test",
            NET + "5",
            starttls=True,
            cert=pki.issue("name", sans=["x.test"], kind="wrong_name"),
        ),
        LabMailServer(
            "mail.self.test",
            NET + "6",
            starttls=True,
            cert=pki.issue("self", sans=["mail.self.test"], kind="self_signed"),
        ),
    ]
    for server in running:
        server.start()
    yield
    for server in running:
        server.stop()


def talk(pki: LabPki, mx: str, last: str, *, timeout_s: float = 2) -> SmtpAnswer:
    async def main() -> SmtpAnswer:
        probe = SmtpProbe(
            timeout_s=timeout_s, limiter=Limiter(total=4, per_server=1), ca_file=pki.ca_pem_path
        )
        try:
            return await probe.fetch(smtp_key(mx, NET + last))
        finally:
            probe.close()

    return asyncio.run(main())


def test_starttls_with_a_trusted_certificate_for_the_mx_name(pki: LabPki, servers: None) -> None:
    answer = talk(pki, "mail.good.test", "1")
    assert answer.outcome is SmtpOutcome.OK and answer.starttls_offered and answer.tls_ok
    assert answer.cert_trusted and answer.cert_name_matches and answer.tls_version.startswith("TLS")
    assert answer.banner.startswith("mail.good.test")


def test_a_server_without_starttls_is_an_observation(pki: LabPki, servers: None) -> None:
    answer = talk(pki, "mail.plain.test", "2")
    assert answer.outcome is SmtpOutcome.OK and not answer.starttls_offered and answer.tls_ok is None


def test_a_server_that_hangs_up_is_could_not_check(pki: LabPki, servers: None) -> None:
    answer = talk(pki, "mail.drop.test", "3")
    assert answer.outcome is SmtpOutcome.DROPPED and answer.error is not None


def test_a_busy_server_4xx_is_could_not_check_with_what_it_said(pki: LabPki, servers: None) -> None:
    answer = talk(pki, "mail.busy.test", "4")
    assert answer.outcome is SmtpOutcome.TEMPFAIL and "421" in (answer.error or "")


def test_a_certificate_for_another_name_is_trusted_but_does_not_match(pki: LabPki, servers: None) -> None:
    answer = talk(pki, "mail.name.test", "5")
    assert answer.tls_ok and answer.cert_trusted is True and answer.cert_name_matches is False


def test_a_self_signed_certificate_is_not_trusted(pki: LabPki, servers: None) -> None:
    answer = talk(pki, "mail.self.test", "6")
    assert answer.tls_ok and answer.cert_trusted is False and answer.cert_error


def test_nothing_listening_is_refused_not_a_verdict(pki: LabPki) -> None:
    answer = talk(pki, "mail.none.test", "99")
    assert answer.outcome is SmtpOutcome.REFUSED and answer.error is not None


@pytest.fixture
def silent_after_banner() -> Iterator[None]:
    """A server that greets, reads what it is sent and never answers: EHLO waits for a reply in vain."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((NET + "7", 25))
    listener.listen()
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 mail.silent.test ESMTP\r\n")
            conn.settimeout(0.1)
            while not done.is_set():
                try:
                    if not conn.recv(1024):
                        return  # the probe hung up: nothing more to ignore
                except TimeoutError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield
    done.set()
    listener.close()
    thread.join(timeout=5)


def test_a_server_silent_after_its_banner_is_a_time_out_not_a_hang_up(
    pki: LabPki, silent_after_banner: None
) -> None:
    answer = talk(pki, "mail.silent.test", "7", timeout_s=0.5)
    assert answer.outcome is SmtpOutcome.TIMEOUT, answer
    assert "did not answer within 0.5 s" in (answer.error or "")
    assert "hung up" not in (answer.error or "")


@pytest.fixture
def endless_ehlo() -> Iterator[None]:
    """A server that answers EHLO with continuation lines ("250-...") forever, each well within a time-out."""
    listener = socket.create_server((NET + "8", 25))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 mail.endless.test ESMTP\r\n")
            conn.recv(1024)
            try:
                while not done.is_set():
                    conn.sendall(b"250-STILL-GOING\r\n")
                    done.wait(0.1)
            except OSError:
                return  # the probe cut the conversation off

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield
    done.set()
    listener.close()
    thread.join(timeout=5)


def test_endless_reply_lines_are_cut_off_by_the_conversation_budget(pki: LabPki, endless_ehlo: None) -> None:
    answer = talk(pki, "mail.endless.test", "8", timeout_s=0.5)
    assert answer.outcome is SmtpOutcome.TIMEOUT, answer
    assert "did not finish the conversation within 3 s" in (answer.error or "")


@pytest.fixture
def never_greets() -> Iterator[None]:
    """A server that takes the connection and never sends its 220 greeting."""
    listener = socket.create_server((NET + "9", 25))
    held: list[socket.socket] = []
    thread = threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True)
    thread.start()
    yield
    listener.close()
    thread.join(timeout=5)
    for conn in held:
        conn.close()


def test_a_server_that_never_greets_is_a_time_out_with_its_greeting(pki: LabPki, never_greets: None) -> None:
    answer = talk(pki, "mail.mute.test", "9", timeout_s=0.5)
    assert answer.outcome is SmtpOutcome.TIMEOUT, answer
    assert "within 0.5 s with its greeting" in (answer.error or "")
