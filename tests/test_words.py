"""Meta-tests for the words beside each check: every catalogued check has them, and they read plainly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secbase.plugins import BUILTIN_SOURCE, Check, CheckRegistry, load_checks

# The ids of CHECKS.md built so far (net.* and backup.* come with issue 5).
CATALOGUE_IDS = (
    "web.https.available",
    "web.https.redirect",
    "web.hsts",
    "web.headers.content_type_options",
    "web.headers.frame_options",
    "web.headers.csp",
    "web.headers.referrer_policy",
    "web.cookies.secure",
    "web.security_txt",
    "web.software.disclosed",
    "tls.protocols.legacy",
    "tls.protocols.modern",
    "tls.ciphers.weak",
    "tls.certificate.trusted",
    "tls.certificate.hostname",
    "tls.certificate.expiry",
    "tls.certificate.strength",
    "email.mx",
    "email.spf.present",
    "email.spf.policy",
    "email.spf.syntax",
    "email.spf.lookups",
    "email.dmarc.present",
    "email.dmarc.policy",
    "email.dmarc.reporting",
    "email.dmarc.syntax",
    "email.dkim",
    "email.tls_rpt",
    "email.non_mail_domain",
    "email.starttls",
    "email.mta_sts",
    "dns.dnssec",
    "dns.caa",
    "dns.nameservers",
    "net.service.risky",
    "net.service.unexpected",
    "backup.fresh",
    "backup.encrypted",
    "backup.integrity",
    "backup.retention",
    "backup.offsite",
    "backup.restore_tested",
)
LATER_IDS: frozenset[str] = frozenset()  # catalogue ids not built yet

# CHECKS.md sits in shared/, beside the repository (CI copies it there too).
CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "CHECKS.md"
CATALOGUE_ROW = re.compile(r"^\|\s*`([a-z]+\.[a-z0-9_.]+)`\s*\|", re.MULTILINE)

# Jargon a clerk may not know: each use in a check's risk or fix needs "TERM (what it is)" or
# "TERM record (what it is)" somewhere in that check's title, risk or fix.
JARGON = ("SPF", "DMARC", "DKIM", "MX", "DNSSEC", "CAA", "HSTS", "CSP", "HTTPS", "STARTTLS", "MTA-STS")
PROVIDERS = frozenset({"microsoft365", "google_workspace", "web_host"})
MAX_RISK_CHARS = 350
MAX_FIX_CHARS = 600


@pytest.fixture(scope="module")
def registry() -> CheckRegistry:
    return load_checks()


def _builtin(registry: CheckRegistry) -> list[Check]:
    return sorted((c for c in registry.checks.values() if c.source == BUILTIN_SOURCE), key=lambda c: c.id)


def _fixes(chk: Check) -> list[str]:
    assert chk.words is not None
    return [chk.words.fix, *chk.words.fix_by_provider.values()]


@pytest.mark.parametrize("check_id", CATALOGUE_IDS)
def test_every_catalogued_check_has_words(registry: CheckRegistry, check_id: str) -> None:
    chk = registry.checks.get(check_id)
    assert chk is not None, f"{check_id} is in CHECKS.md but no module declares it"
    words = chk.words
    assert words is not None, f"{check_id} has no words"
    for name in ("title", "risk", "fix", "effort", "who"):
        assert getattr(words, name).strip(), f"{check_id}: {name} is empty"
    assert words.references and all(r.strip() for r in words.references), f"{check_id}: no references"
    assert words.area == check_id.split(".")[0], f"{check_id}: area is {words.area!r}"


def test_the_id_list_matches_the_catalogue() -> None:
    if not CATALOGUE.exists():
        pytest.skip(f"{CATALOGUE} is not beside the repository")
    listed = set(CATALOGUE_ROW.findall(CATALOGUE.read_text(encoding="utf-8"))) - LATER_IDS
    assert listed == set(CATALOGUE_IDS)


def test_the_checks_load_without_warnings(registry: CheckRegistry) -> None:
    # The loader refuses a YAML file whose ids differ from its module's; clashes become warnings.
    assert registry.warnings == []


def test_jargon_is_explained_in_the_same_check(registry: CheckRegistry) -> None:
    unexplained = []
    for chk in _builtin(registry):
        assert chk.words is not None
        used = " ".join([chk.words.risk, *_fixes(chk)])
        told = " ".join([chk.words.title, chk.words.risk, chk.words.fix])
        for term in JARGON:
            if re.search(rf"\b{term}\b", used) and not re.search(rf"\b{term}(\s+record)?\s*\(", told):
                unexplained.append(f'{chk.id}: "{term}" is used but never followed by "(what it is)"')
    assert unexplained == []


def test_words_stay_short(registry: CheckRegistry) -> None:
    long = []
    for chk in _builtin(registry):
        assert chk.words is not None
        if len(chk.words.risk) > MAX_RISK_CHARS:
            long.append(f"{chk.id}: risk has {len(chk.words.risk)} characters, over {MAX_RISK_CHARS}")
        long += [
            f"{chk.id}: a fix has {len(text)} characters, over {MAX_FIX_CHARS}"
            for text in _fixes(chk)
            if len(text) > MAX_FIX_CHARS
        ]
    assert long == []


def test_provider_variants_name_known_providers(registry: CheckRegistry) -> None:
    unknown = [
        f"{chk.id}: {name}"
        for chk in _builtin(registry)
        if chk.words is not None
        for name in chk.words.fix_by_provider
        if name not in PROVIDERS
    ]
    assert unknown == []
