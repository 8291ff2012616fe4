"""The SMTP probe against real mail servers on loopback: STARTTLS, certificates, and every way it ends."""

from __future__ import annotations

import asyncio
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


def talk(pki: LabPki, mx: str, last: str) -> SmtpAnswer:
    async def main() -> SmtpAnswer:
        probe = SmtpProbe(timeout_s=2, limiter=Limiter(total=4, per_server=1), ca_file=pki.ca_pem_path)
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
