"""The lab's towns, scanned end to end: every planted problem is found, and every check passes somewhere.

This table is the lab's specification: Alder passes everything, Birch, Cedar and Dogwood carry the
problems listed in secbase/lab/towns.py and secbase/lab/sites.py, and Elm's DNS fails so that every check
says it could not check.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from secbase.config import LoadedConfig
from secbase.lab import Lab
from secbase.model import Status
from secbase.plugins import CheckRegistry
from secbase.scan import ScanOutcome, run_scan

EXPECTED = {
    ("alder", "alder.test", "dns.caa", ""): "pass",
    ("alder", "alder.test", "dns.dnssec", ""): "pass",
    ("alder", "alder.test", "dns.nameservers", ""): "pass",
    ("alder", "alder.test", "email.dkim", "s1"): "pass",
    ("alder", "alder.test", "email.dmarc.policy", ""): "pass",
    ("alder", "alder.test", "email.dmarc.present", ""): "pass",
    ("alder", "alder.test", "email.dmarc.reporting", ""): "pass",
    ("alder", "alder.test", "email.dmarc.syntax", ""): "pass",
    ("alder", "alder.test", "email.mta_sts", ""): "pass",
    ("alder", "alder.test", "email.mx", ""): "pass",
    ("alder", "alder.test", "email.spf.lookups", ""): "pass",
    ("alder", "alder.test", "email.spf.policy", ""): "pass",
    ("alder", "alder.test", "email.spf.present", ""): "pass",
    ("alder", "alder.test", "email.spf.syntax", ""): "pass",
    ("alder", "alder.test", "email.starttls", "mail.alder.test"): "pass",
    ("alder", "alder.test", "email.tls_rpt", ""): "pass",
    ("alder", "old-alder.test", "dns.caa", ""): "pass",
    ("alder", "old-alder.test", "dns.dnssec", ""): "pass",
    ("alder", "old-alder.test", "dns.nameservers", ""): "pass",
    ("alder", "old-alder.test", "email.dkim", ""): "not_applicable",
    ("alder", "old-alder.test", "email.dmarc.policy", ""): "pass",
    ("alder", "old-alder.test", "email.dmarc.present", ""): "pass",
    ("alder", "old-alder.test", "email.dmarc.reporting", ""): "pass",
    ("alder", "old-alder.test", "email.dmarc.syntax", ""): "pass",
    ("alder", "old-alder.test", "email.mta_sts", ""): "not_applicable",
    ("alder", "old-alder.test", "email.mx", ""): "not_applicable",
    ("alder", "old-alder.test", "email.non_mail_domain", ""): "pass",
    ("alder", "old-alder.test", "email.spf.lookups", ""): "pass",
    ("alder", "old-alder.test", "email.spf.policy", ""): "pass",
    ("alder", "old-alder.test", "email.spf.present", ""): "pass",
    ("alder", "old-alder.test", "email.spf.syntax", ""): "pass",
    ("alder", "old-alder.test", "email.starttls", ""): "not_applicable",
    ("alder", "old-alder.test", "email.tls_rpt", ""): "not_applicable",
    ("alder", "www.alder.test", "web.cookies.secure", "sid"): "pass",
    ("alder", "www.alder.test", "web.headers.content_type_options", ""): "pass",
    ("alder", "www.alder.test", "web.headers.csp", ""): "pass",
    ("alder", "www.alder.test", "web.headers.frame_options", ""): "pass",
    ("alder", "www.alder.test", "web.headers.referrer_policy", ""): "pass",
    ("alder", "www.alder.test", "web.hsts", ""): "pass",
    ("alder", "www.alder.test", "web.https.available", ""): "pass",
    ("alder", "www.alder.test", "web.https.redirect", ""): "pass",
    ("alder", "www.alder.test", "web.security_txt", ""): "pass",
    ("alder", "www.alder.test", "web.software.disclosed", ""): "pass",
    ("birch", "birch-library.test", "dns.caa", ""): "warn",
    ("birch", "birch-library.test", "dns.dnssec", ""): "warn",
    ("birch", "birch-library.test", "dns.nameservers", ""): "warn",
    ("birch", "birch-library.test", "email.dkim", "s1"): "fail",
    ("birch", "birch-library.test", "email.dmarc.policy", ""): "error",
    ("birch", "birch-library.test", "email.dmarc.present", ""): "fail",
    ("birch", "birch-library.test", "email.dmarc.reporting", ""): "error",
    ("birch", "birch-library.test", "email.dmarc.syntax", ""): "error",
    ("birch", "birch-library.test", "email.mta_sts", ""): "warn",
    ("birch", "birch-library.test", "email.mx", ""): "pass",
    ("birch", "birch-library.test", "email.spf.lookups", ""): "error",
    ("birch", "birch-library.test", "email.spf.policy", ""): "error",
    ("birch", "birch-library.test", "email.spf.present", ""): "fail",
    ("birch", "birch-library.test", "email.spf.syntax", ""): "error",
    ("birch", "birch-library.test", "email.starttls", "mail.birch.test"): "fail",
    ("birch", "birch-library.test", "email.tls_rpt", ""): "warn",
    ("birch", "birch.test", "dns.caa", ""): "warn",
    ("birch", "birch.test", "dns.dnssec", ""): "warn",
    ("birch", "birch.test", "dns.nameservers", ""): "warn",
    ("birch", "birch.test", "email.dkim", "s1"): "fail",
    ("birch", "birch.test", "email.dmarc.policy", ""): "fail",
    ("birch", "birch.test", "email.dmarc.present", ""): "pass",
    ("birch", "birch.test", "email.dmarc.reporting", ""): "warn",
    ("birch", "birch.test", "email.dmarc.syntax", ""): "pass",
    ("birch", "birch.test", "email.mta_sts", ""): "fail",
    ("birch", "birch.test", "email.mx", ""): "warn",
    ("birch", "birch.test", "email.spf.lookups", ""): "fail",
    ("birch", "birch.test", "email.spf.policy", ""): "warn",
    ("birch", "birch.test", "email.spf.present", ""): "pass",
    ("birch", "birch.test", "email.spf.syntax", ""): "pass",
    ("birch", "birch.test", "email.starttls", "backup-mx.birch.test"): "error",
    ("birch", "birch.test", "email.starttls", "mail.birch.test"): "fail",
    ("birch", "birch.test", "email.tls_rpt", ""): "warn",
    ("birch", "www.birch.test", "web.cookies.secure", "PHPSESSID"): "fail",
    ("birch", "www.birch.test", "web.headers.content_type_options", ""): "fail",
    ("birch", "www.birch.test", "web.headers.csp", ""): "warn",
    ("birch", "www.birch.test", "web.headers.frame_options", ""): "fail",
    ("birch", "www.birch.test", "web.headers.referrer_policy", ""): "warn",
    ("birch", "www.birch.test", "web.hsts", ""): "warn",
    ("birch", "www.birch.test", "web.https.available", ""): "pass",
    ("birch", "www.birch.test", "web.https.redirect", ""): "fail",
    ("birch", "www.birch.test", "web.security_txt", ""): "warn",
    ("birch", "www.birch.test", "web.software.disclosed", ""): "warn",
    ("cedar", "cedar.test", "dns.caa", ""): "pass",
    ("cedar", "cedar.test", "dns.dnssec", ""): "fail",
    ("cedar", "cedar.test", "dns.nameservers", ""): "fail",
    ("cedar", "cedar.test", "email.dkim", "s1"): "fail",
    ("cedar", "cedar.test", "email.dkim", "s2"): "warn",
    ("cedar", "cedar.test", "email.dkim", "s3"): "warn",
    ("cedar", "cedar.test", "email.dmarc.policy", ""): "error",
    ("cedar", "cedar.test", "email.dmarc.present", ""): "pass",
    ("cedar", "cedar.test", "email.dmarc.reporting", ""): "error",
    ("cedar", "cedar.test", "email.dmarc.syntax", ""): "fail",
    ("cedar", "cedar.test", "email.mta_sts", ""): "warn",
    ("cedar", "cedar.test", "email.mx", ""): "pass",
    ("cedar", "cedar.test", "email.spf.lookups", ""): "error",
    ("cedar", "cedar.test", "email.spf.policy", ""): "error",
    ("cedar", "cedar.test", "email.spf.present", ""): "pass",
    ("cedar", "cedar.test", "email.spf.syntax", ""): "fail",
    ("cedar", "cedar.test", "email.starttls", "mail.cedar.test"): "error",
    ("cedar", "cedar.test", "email.tls_rpt", ""): "warn",
    ("cedar", "cedar.test", "web.cookies.secure", ""): "error",
    ("cedar", "cedar.test", "web.headers.content_type_options", ""): "error",
    ("cedar", "cedar.test", "web.headers.csp", ""): "error",
    ("cedar", "cedar.test", "web.headers.frame_options", ""): "error",
    ("cedar", "cedar.test", "web.headers.referrer_policy", ""): "error",
    ("cedar", "cedar.test", "web.hsts", ""): "error",
    ("cedar", "cedar.test", "web.https.available", ""): "fail",
    ("cedar", "cedar.test", "web.https.redirect", ""): "warn",
    ("cedar", "cedar.test", "web.security_txt", ""): "error",
    ("cedar", "cedar.test", "web.software.disclosed", ""): "error",
    ("cedar", "old-cedar.test", "dns.caa", ""): "warn",
    ("cedar", "old-cedar.test", "dns.dnssec", ""): "warn",
    ("cedar", "old-cedar.test", "dns.nameservers", ""): "fail",
    ("cedar", "old-cedar.test", "email.dkim", ""): "not_applicable",
    ("cedar", "old-cedar.test", "email.dmarc.policy", ""): "error",
    ("cedar", "old-cedar.test", "email.dmarc.present", ""): "fail",
    ("cedar", "old-cedar.test", "email.dmarc.reporting", ""): "error",
    ("cedar", "old-cedar.test", "email.dmarc.syntax", ""): "error",
    ("cedar", "old-cedar.test", "email.mta_sts", ""): "not_applicable",
    ("cedar", "old-cedar.test", "email.mx", ""): "not_applicable",
    ("cedar", "old-cedar.test", "email.non_mail_domain", ""): "fail",
    ("cedar", "old-cedar.test", "email.spf.lookups", ""): "error",
    ("cedar", "old-cedar.test", "email.spf.policy", ""): "error",
    ("cedar", "old-cedar.test", "email.spf.present", ""): "fail",
    ("cedar", "old-cedar.test", "email.spf.syntax", ""): "error",
    ("cedar", "old-cedar.test", "email.starttls", ""): "not_applicable",
    ("cedar", "old-cedar.test", "email.tls_rpt", ""): "not_applicable",
    ("cedar", "www.cedar.test", "web.cookies.secure", "session"): "warn",
    ("cedar", "www.cedar.test", "web.headers.content_type_options", ""): "pass",
    ("cedar", "www.cedar.test", "web.headers.csp", ""): "warn",
    ("cedar", "www.cedar.test", "web.headers.frame_options", ""): "pass",
    ("cedar", "www.cedar.test", "web.headers.referrer_policy", ""): "pass",
    ("cedar", "www.cedar.test", "web.hsts", ""): "pass",
    ("cedar", "www.cedar.test", "web.https.available", ""): "pass",
    ("cedar", "www.cedar.test", "web.https.redirect", ""): "pass",
    ("cedar", "www.cedar.test", "web.security_txt", ""): "warn",
    ("cedar", "www.cedar.test", "web.software.disclosed", ""): "warn",
    ("dogwood", "dogwood.county.test", "dns.caa", ""): "pass",
    ("dogwood", "dogwood.county.test", "dns.dnssec", ""): "warn",
    ("dogwood", "dogwood.county.test", "dns.nameservers", ""): "pass",
    ("dogwood", "dogwood.county.test", "email.dkim", ""): "not_applicable",
    ("dogwood", "dogwood.county.test", "email.dmarc.policy", ""): "fail",
    ("dogwood", "dogwood.county.test", "email.dmarc.present", ""): "pass",
    ("dogwood", "dogwood.county.test", "email.dmarc.reporting", ""): "warn",
    ("dogwood", "dogwood.county.test", "email.dmarc.syntax", ""): "pass",
    ("dogwood", "dogwood.county.test", "email.mta_sts", ""): "warn",
    ("dogwood", "dogwood.county.test", "email.mx", ""): "fail",
    ("dogwood", "dogwood.county.test", "email.spf.lookups", ""): "fail",
    ("dogwood", "dogwood.county.test", "email.spf.policy", ""): "fail",
    ("dogwood", "dogwood.county.test", "email.spf.present", ""): "pass",
    ("dogwood", "dogwood.county.test", "email.spf.syntax", ""): "fail",
    ("dogwood", "dogwood.county.test", "email.starttls", ""): "error",
    ("dogwood", "dogwood.county.test", "email.tls_rpt", ""): "pass",
    ("dogwood", "www.dogwood.county.test", "web.cookies.secure", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.headers.content_type_options", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.headers.csp", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.headers.frame_options", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.headers.referrer_policy", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.hsts", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.https.available", ""): "fail",
    ("dogwood", "www.dogwood.county.test", "web.https.redirect", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.security_txt", ""): "error",
    ("dogwood", "www.dogwood.county.test", "web.software.disclosed", ""): "error",
    ("elm", "elm.test", "dns.caa", ""): "error",
    ("elm", "elm.test", "dns.dnssec", ""): "error",
    ("elm", "elm.test", "dns.nameservers", ""): "error",
    ("elm", "elm.test", "email.dkim", "s1"): "error",
    ("elm", "elm.test", "email.dmarc.policy", ""): "error",
    ("elm", "elm.test", "email.dmarc.present", ""): "error",
    ("elm", "elm.test", "email.dmarc.reporting", ""): "error",
    ("elm", "elm.test", "email.dmarc.syntax", ""): "error",
    ("elm", "elm.test", "email.mta_sts", ""): "error",
    ("elm", "elm.test", "email.mx", ""): "error",
    ("elm", "elm.test", "email.spf.lookups", ""): "error",
    ("elm", "elm.test", "email.spf.policy", ""): "error",
    ("elm", "elm.test", "email.spf.present", ""): "error",
    ("elm", "elm.test", "email.spf.syntax", ""): "error",
    ("elm", "elm.test", "email.starttls", ""): "error",
    ("elm", "elm.test", "email.tls_rpt", ""): "error",
    ("elm", "www.elm.test", "web.cookies.secure", ""): "error",
    ("elm", "www.elm.test", "web.headers.content_type_options", ""): "error",
    ("elm", "www.elm.test", "web.headers.csp", ""): "error",
    ("elm", "www.elm.test", "web.headers.frame_options", ""): "error",
    ("elm", "www.elm.test", "web.headers.referrer_policy", ""): "error",
    ("elm", "www.elm.test", "web.hsts", ""): "error",
    ("elm", "www.elm.test", "web.https.available", ""): "error",
    ("elm", "www.elm.test", "web.https.redirect", ""): "error",
    ("elm", "www.elm.test", "web.security_txt", ""): "error",
    ("elm", "www.elm.test", "web.software.disclosed", ""): "error",
}


@pytest.fixture(scope="module")
def outcome(lab: Lab, lab_config: LoadedConfig, registry: CheckRegistry) -> ScanOutcome:
    return run_scan(lab_config.config, registry.select())


def test_every_lab_result_is_the_planted_one(outcome: ScanOutcome) -> None:
    got = {(r.organisation, r.target, r.check, r.subject): str(r.status) for r in outcome.results}
    wrong = {k: (EXPECTED.get(k), v) for k, v in got.items() if EXPECTED.get(k) != v}
    missing = set(EXPECTED) - set(got)
    assert wrong == {} and missing == set()


def test_every_check_both_passes_and_finds_a_problem_in_the_lab(registry: CheckRegistry) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for (_, _, check_id, _), status in EXPECTED.items():
        seen[check_id].add(status)
    for check_id in registry.checks:
        assert "pass" in seen[check_id], check_id
        assert seen[check_id] & {"fail", "warn"}, check_id


def test_every_check_says_could_not_check_for_the_town_whose_dns_fails(outcome: ScanOutcome) -> None:
    elm = [r for r in outcome.results if r.organisation == "elm"]
    assert elm and all(r.status is Status.ERROR for r in elm)
    assert all(r.summary.startswith("Could not check: ") for r in elm)
