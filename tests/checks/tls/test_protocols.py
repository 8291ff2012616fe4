"""tls.protocols.legacy and tls.protocols.modern: old versions refused, current ones accepted."""

from __future__ import annotations

import pytest
from secbase_checks.tls.protocols import protocols_legacy, protocols_modern

from secbase import Severity, Status
from secbase.facts import LEGACY_PROTOCOLS, TlsOutcome
from tests.checks.factories import TlsPair, run, run_one
from tests.checks.tls.factories import (
    MAIL,
    MX1,
    SITE_IP,
    SITE_IP6,
    WEBSITE,
    mail,
    mx_tls,
    site,
    site_tls,
)


def legacy(*answers: TlsPair, ips: tuple[str, ...] = (SITE_IP,)) -> dict[str, tuple[Status, str]]:
    """The legacy results of the website, by subject."""
    results = run(protocols_legacy, WEBSITE, site(*answers, ips=ips))
    assert len({r.subject for r in results}) == len(results), "one result per subject"
    return {r.subject: (r.status, r.summary) for r in results}


# --- tls.protocols.legacy ---------------------------------------------------------------------------


def test_a_server_refusing_every_old_version_passes_once_per_version_tested() -> None:
    results = legacy()
    # SSL 2.0 was not tried by the default probe: no result for it, rather than a pass.
    assert {s: status for s, (status, _) in results.items()} == {
        "SSL 3.0": Status.PASS,
        "TLS 1.0": Status.PASS,
        "TLS 1.1": Status.PASS,
    }


@pytest.mark.parametrize("version", LEGACY_PROTOCOLS)
def test_each_old_version_accepted_fails_under_its_own_subject(version: str) -> None:
    results = legacy(site_tls(protocols={version: True}))
    status, summary = results[version]
    assert status is Status.FAIL
    assert summary.startswith(f"The server still accepts {version} (a ")
    assert all(s is Status.PASS for v, (s, _) in results.items() if v != version)


def test_tls_1_0_is_explained_in_plain_words() -> None:
    result = run(protocols_legacy, WEBSITE, site(site_tls(protocols={"TLS 1.0": True})))[1]
    assert result.subject == "TLS 1.0" and result.severity is Severity.HIGH
    assert "TLS 1.0 (a 1999 encryption version browsers dropped in 2020)" in result.summary
    assert "accepts TLS 1.0, TLS 1.2, TLS 1.3" in result.evidence


def test_a_version_whose_test_failed_is_an_error_for_that_version_only() -> None:
    results = legacy(site_tls(protocols={"TLS 1.1": None}))
    assert results["TLS 1.1"] == (
        Status.ERROR,
        "Could not check: the test of TLS 1.1 failed: the TLS 1.1 test timed out",
    )
    assert results["TLS 1.0"][0] is Status.PASS


def test_a_version_unknown_at_one_address_but_accepted_at_another_fails() -> None:
    results = legacy(
        site_tls(SITE_IP, protocols={"TLS 1.0": None}),
        site_tls(SITE_IP6, protocols={"TLS 1.0": True}),
        ips=(SITE_IP, SITE_IP6),
    )
    assert results["TLS 1.0"][0] is Status.FAIL
    assert results["TLS 1.0"][1].endswith(f"Seen at {SITE_IP6}.")


def test_a_version_tested_at_one_address_only_is_an_error_not_a_pass() -> None:
    results = legacy(
        site_tls(SITE_IP, protocols={"SSL 2.0": False}),
        site_tls(SITE_IP6),
        ips=(SITE_IP, SITE_IP6),
    )
    assert results["SSL 2.0"][0] is Status.ERROR
    assert "SSL 2.0 was not tested" in results["SSL 2.0"][1]


def test_no_old_version_tested_at_all_is_one_error() -> None:
    results = legacy(site_tls(untested=LEGACY_PROTOCOLS))
    assert results == {
        "": (Status.ERROR, "Could not check: none of the old versions (SSL 2.0 to TLS 1.1) was tested")
    }


def test_a_probe_error_is_one_error_for_the_endpoint() -> None:
    results = legacy(
        site_tls(outcome=TlsOutcome.NO_HANDSHAKE, reason="no TLS handshake of any version worked")
    )
    assert results == {"": (Status.ERROR, "Could not check: no TLS handshake of any version worked")}


def test_an_mx_host_names_both_host_and_version_in_the_subject() -> None:
    results = run(protocols_legacy, MAIL, mail(mx_tls(protocols={"SSL 3.0": True})))
    assert [(r.subject, r.status) for r in results] == [
        (f"{MX1} SSL 3.0", Status.FAIL),
        (f"{MX1} TLS 1.0", Status.PASS),
        (f"{MX1} TLS 1.1", Status.PASS),
    ]
    assert "POODLE" in results[0].summary


# --- tls.protocols.modern ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tls12", "tls13", "status"),
    [
        (True, True, Status.PASS),
        (False, True, Status.PASS),
        (True, False, Status.WARN),
        (False, False, Status.FAIL),
        (True, None, Status.ERROR),  # could be pass or warn
        (None, True, Status.PASS),  # TLS 1.3 is enough, whatever TLS 1.2 does
        (None, False, Status.ERROR),  # could be warn or fail
        (False, None, Status.ERROR),  # could be pass or fail
        (None, None, Status.ERROR),
    ],
)
def test_modern_versions(tls12: bool | None, tls13: bool | None, status: Status) -> None:
    result = run_one(
        protocols_modern, WEBSITE, site(site_tls(protocols={"TLS 1.2": tls12, "TLS 1.3": tls13}))
    )
    assert result.status is status, result.summary


def test_tls_1_2_without_1_3_warns_and_explains_1_3() -> None:
    result = run_one(protocols_modern, WEBSITE, site(site_tls(protocols={"TLS 1.3": False})))
    assert result.status is Status.WARN and result.severity is Severity.MEDIUM
    assert "TLS 1.2 but not TLS 1.3 (the current encryption version, from 2018" in result.summary


def test_only_old_versions_fail_and_are_named() -> None:
    old = {"TLS 1.0": True, "TLS 1.1": True, "TLS 1.2": False, "TLS 1.3": False}
    result = run_one(protocols_modern, WEBSITE, site(site_tls(protocols=old)))
    assert result.status is Status.FAIL
    assert "neither TLS 1.2 nor TLS 1.3: only TLS 1.0, TLS 1.1" in result.summary


def test_an_untested_tls_1_3_is_an_error_saying_so() -> None:
    result = run_one(protocols_modern, WEBSITE, site(site_tls(untested=["TLS 1.3"])))
    assert result.status is Status.ERROR
    assert "TLS 1.3 was not tested" in result.summary


def test_a_probe_error_is_an_error_for_modern_too() -> None:
    result = run_one(protocols_modern, WEBSITE, site(site_tls(outcome=TlsOutcome.TIMEOUT)))
    assert result.status is Status.ERROR


def test_an_mx_host_without_tls_1_3_warns_under_its_name() -> None:
    result = run_one(protocols_modern, MAIL, mail(mx_tls(protocols={"TLS 1.3": False})))
    assert (result.subject, result.status) == (MX1, Status.WARN)
