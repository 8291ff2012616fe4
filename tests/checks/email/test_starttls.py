"""email.starttls: each MX host offers STARTTLS, its handshake works, and its certificate holds."""

from __future__ import annotations

from typing import Any

from secbase_checks.email.starttls import starttls

from secbase import Result, Status
from secbase.facts import FactKey, SmtpAnswer, SmtpOutcome, smtp_key
from tests.checks.factories import Pair, answer, domain, failed, host, nx, run, run_one

D = "alder.test"
TARGET = domain(D)
MX1, MX2 = "mx1.alder.test", "mx2.alder.test"
IP1, IP2 = "192.0.2.25", "2001:db8::25"
BANNER = f"220 {MX1} ESMTP ready"


def smtp(
    mx: str = MX1, address: str = IP1, outcome: SmtpOutcome = SmtpOutcome.OK, **kw: Any
) -> tuple[FactKey, SmtpAnswer]:
    """One SMTP conversation as the probe writes it: by default a good STARTTLS with a trusted certificate."""
    good: dict[str, Any] = {}
    if outcome is SmtpOutcome.OK:
        good = dict(
            banner=BANNER,
            ehlo=(f"250-{mx}", "250-STARTTLS", "250 8BITMIME"),
            starttls_offered=True,
            tls_ok=True,
            tls_version="TLSv1.3",
            cert_trusted=True,
            cert_name_matches=True,
        )
    fact = SmtpAnswer(mx, address, 25, outcome, **{**good, **kw})
    return smtp_key(mx, address), fact


def mx(*hosts: str) -> Pair:
    return answer(D, "MX", *(f"{10 * (i + 1)} {h}." for i, h in enumerate(hosts)))


def scan(*conversation: tuple[FactKey, SmtpAnswer]) -> Result:
    """MX1 at IP1 alone, with the given conversation (the good one by default)."""
    return run_one(starttls, TARGET, mx(MX1), host(MX1, IP1), conversation or smtp())


def test_starttls_with_a_trusted_certificate_passes() -> None:
    result = scan()
    assert result.status is Status.PASS, result.summary
    assert result.subject == MX1
    assert "TLSv1.3" in result.evidence and BANNER in result.evidence


def test_a_long_banner_is_cut_in_the_evidence() -> None:
    result = scan(smtp(banner="220 " + "x" * 500))
    assert result.status is Status.PASS
    assert "x" * 190 in result.evidence and "x" * 201 not in result.evidence


def test_a_server_without_starttls_fails() -> None:
    result = scan(smtp(starttls_offered=False, tls_ok=None, tls_version="", cert_trusted=None))
    assert result.status is Status.FAIL
    assert "does not offer STARTTLS" in result.summary and result.subject == MX1


def test_a_failing_handshake_fails_with_its_reason() -> None:
    result = scan(smtp(tls_ok=False, tls_version="", cert_error="handshake failure: no shared cipher"))
    assert result.status is Status.FAIL
    assert "handshake fails" in result.summary and "no shared cipher" in result.summary


def test_an_untrusted_certificate_warns() -> None:
    result = scan(smtp(cert_trusted=False, cert_error="self-signed certificate"))
    assert result.status is Status.WARN
    assert "not trusted" in result.summary and "self-signed" in result.summary


def test_a_certificate_for_another_name_warns() -> None:
    result = scan(smtp(cert_name_matches=False, cert_error="issued for mail.hoster.example"))
    assert result.status is Status.WARN
    assert f"does not match the name {MX1}" in result.summary and "mail.hoster.example" in result.summary


def test_a_time_out_is_an_error_not_a_pass() -> None:
    result = scan(smtp(outcome=SmtpOutcome.TIMEOUT, reason=f"{MX1} ({IP1}) did not answer within 30 s"))
    assert result.status is Status.ERROR
    assert "did not answer within 30 s" in result.summary and result.subject == MX1


def test_a_dropped_connection_is_an_error() -> None:
    result = scan(smtp(outcome=SmtpOutcome.DROPPED))
    assert result.status is Status.ERROR
    assert "dropped" in result.summary


def test_a_temporary_failure_is_an_error() -> None:
    result = scan(smtp(outcome=SmtpOutcome.TEMPFAIL, reason="421 too busy, try later"))
    assert result.status is Status.ERROR
    assert "421 too busy" in result.summary


def test_a_refused_connection_is_an_error_as_port_25_is_often_blocked() -> None:
    result = scan(smtp(outcome=SmtpOutcome.REFUSED))
    assert result.status is Status.ERROR


def test_two_mx_hosts_give_one_result_each_named_by_host() -> None:
    results = run(
        starttls,
        TARGET,
        mx(MX2, MX1),
        host(MX1, IP1),
        host(MX2, "198.51.100.25"),
        smtp(),
        smtp(MX2, "198.51.100.25", starttls_offered=False),
    )
    assert [(r.subject, r.status) for r in results] == [(MX1, Status.PASS), (MX2, Status.FAIL)]


def test_one_dropped_address_of_an_mx_host_makes_that_host_an_error() -> None:
    result = run_one(
        starttls, TARGET, mx(MX1), host(MX1, IP1, IP2), smtp(), smtp(address=IP2, outcome=SmtpOutcome.DROPPED)
    )
    assert result.status is Status.ERROR and result.subject == MX1
    assert IP2 in result.summary


def test_the_worst_address_of_an_mx_host_decides() -> None:
    result = run_one(
        starttls, TARGET, mx(MX1), host(MX1, IP1, IP2), smtp(), smtp(address=IP2, cert_trusted=False)
    )
    assert result.status is Status.WARN and IP2 in result.summary


def test_an_mx_host_without_an_address_is_an_error() -> None:
    result = run_one(starttls, TARGET, mx(MX1), host(MX1))
    assert result.status is Status.ERROR
    assert "has no address; see email.mx" in result.summary and result.subject == MX1


def test_an_mx_host_whose_address_lookup_times_out_is_an_error() -> None:
    result = run_one(starttls, TARGET, mx(MX1), failed(MX1, "A"), failed(MX1, "AAAA"))
    assert result.status is Status.ERROR and result.subject == MX1


def test_a_domain_without_mail_is_not_applicable() -> None:
    result = run_one(starttls, domain(D, sends_mail=False))
    assert result.status is Status.NOT_APPLICABLE


def test_a_null_mx_is_not_applicable() -> None:
    result = run_one(starttls, TARGET, answer(D, "MX", "0 ."))
    assert result.status is Status.NOT_APPLICABLE
    assert "null MX" in result.summary  # the reason: the domain says it takes no mail


def test_an_mx_lookup_time_out_is_an_error() -> None:
    result = run_one(starttls, TARGET, failed(D, "MX"))
    assert result.status is Status.ERROR


def test_no_mx_at_all_is_could_not_check_so_no_finding_is_closed() -> None:
    result = run_one(starttls, TARGET, nx(D, "MX"))
    assert result.status is Status.ERROR
    assert "see email.mx" in result.summary


def test_a_definite_fail_on_one_address_wins_over_an_unknown_one() -> None:
    plain = SmtpAnswer(MX1, "192.0.2.25", 25, SmtpOutcome.OK, starttls_offered=False)
    unknown = SmtpAnswer(MX1, "2001:db8::25", 25, SmtpOutcome.TIMEOUT, reason="no answer")
    facts = [
        answer(D, "MX", f"10 {MX1}."),
        *host(MX1, "192.0.2.25", "2001:db8::25"),
        (smtp_key(MX1, "192.0.2.25"), plain),
        (smtp_key(MX1, "2001:db8::25"), unknown),
    ]
    assert run_one(starttls, TARGET, facts).status is Status.FAIL


def test_a_failed_aaaa_lookup_keeps_a_pass_away_but_not_a_fail() -> None:
    v4_only = [answer(MX1, "A", IP1), failed(MX1, "AAAA")]
    good = run_one(starttls, TARGET, mx(MX1), v4_only, smtp())
    assert good.status is Status.ERROR and good.subject == MX1
    plain = run_one(starttls, TARGET, mx(MX1), v4_only, smtp(starttls_offered=False, tls_ok=None))
    assert plain.status is Status.FAIL, plain.summary
