"""CHECKS.md's Email and DNS rows, case by case: every status a row promises is reached from facts.

Each catalogued id gets a pass case, a fail case for each clause of its "fails when" column, a warn case
for each clause of its "warns when" column, and an error case (a lookup that could not be done). The
thresholds and their edges are tested in each check's own module; this file keeps the catalogue honest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from secbase_checks.dns.caa import caa
from secbase_checks.dns.dnssec import dnssec
from secbase_checks.dns.nameservers import nameservers
from secbase_checks.email.dkim import dkim
from secbase_checks.email.dmarc import dmarc_policy, dmarc_present, dmarc_reporting, dmarc_syntax
from secbase_checks.email.mx import mx
from secbase_checks.email.non_mail_domain import non_mail_domain
from secbase_checks.email.spf import spf_lookups, spf_policy, spf_present, spf_syntax
from secbase_checks.email.tls_rpt import tls_rpt
from secbase_checks.tls.certificate import (
    certificate_expiry,
    certificate_hostname,
    certificate_strength,
    certificate_trusted,
)
from secbase_checks.tls.ciphers import ciphers_weak
from secbase_checks.tls.protocols import protocols_legacy, protocols_modern

from secbase import Check, DnsOutcome, Status, Target
from secbase.facts import LEGACY_PROTOCOLS, TlsOutcome
from tests.checks.factories import (
    NOW,
    FactsArg,
    answer,
    answer_at,
    certificate,
    domain,
    failed,
    failed_at,
    host,
    intermediate,
    nodata,
    nx,
    rsa_public_key,
    run,
    signed_zone,
    txt,
)
from tests.checks.tls.factories import WEBSITE, mail, site, site_tls

# CHECKS.md sits in shared/, beside the repository (as for tests/test_words.py).
CATALOGUE = Path(__file__).resolve().parents[3] / "shared" / "CHECKS.md"
SECTION = re.compile(r"^## Email and DNS.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
ROW = re.compile(r"^\|\s*`((?:email|dns)\.[a-z0-9_.]+)`\s*\|([^|]*)\|([^|]*)\|", re.MULTILINE)
LATER_IDS = frozenset({"email.starttls", "email.mta_sts"})  # not built yet (see tests/test_words.py)

D = "alder.test"
MAIL = domain(D)
PARKED = domain("parked.test", sends_mail=False)
MX_HOST = f"mx.{D}"
SOA = f"ns1.{D}. hostmaster.{D}. 2025060101 7200 3600 1209600 3600"


@dataclass(frozen=True)
class Case:
    check: Check
    status: Status
    what: str  # the catalogue's clause this case stands for
    facts: Callable[[], list[FactsArg]]  # built when the case runs: keys and zones are made lazily
    target: Target = MAIL

    @property
    def name(self) -> str:
        return f"{self.check.id}:{self.status}:{self.what}"


def spf(*records: str) -> Callable[[], list[FactsArg]]:
    return lambda: [txt(D, *records)]


def a_terms(count: int, *, extra: str = "") -> list[FactsArg]:
    terms = " ".join(f"a:h{i}.{D}" for i in range(count))
    return [
        txt(D, f"v=spf1 {extra}{terms} -all"),
        *(host(f"h{i}.{D}", f"192.0.2.{i + 1}") for i in range(count)),
    ]


def dmarc(record: str) -> Callable[[], list[FactsArg]]:
    return lambda: [txt(f"_dmarc.{D}", record)]


def dkim_key(record: str) -> Callable[[], list[FactsArg]]:
    return lambda: [txt(f"s1._domainkey.{D}", record)]


def parked(spf_record: str, dmarc_record: str, *mx_records: str) -> Callable[[], list[FactsArg]]:
    name = PARKED.name
    return lambda: [
        txt(name, spf_record),
        txt(f"_dmarc.{name}", dmarc_record),
        answer(name, "MX", *mx_records),
    ]


def name_servers(ip1: str, ip2: str, *, second_answers: bool = True) -> Callable[[], list[FactsArg]]:
    def build() -> list[FactsArg]:
        facts: list[FactsArg] = [
            answer(D, "NS", f"ns1.{D}.", f"ns2.{D}."),
            host(f"ns1.{D}", ip1),
            host(f"ns2.{D}", ip2),
        ]
        facts.append(answer_at(ip1, D, "SOA", SOA))
        facts.append(answer_at(ip2, D, "SOA", SOA) if second_answers else failed_at(ip2, D, "SOA"))
        return facts

    return build


SELECTOR = domain(D, selectors=["s1"])
REVOKED = "v=DKIM1; k=rsa; p="
P, F, W, E = Status.PASS, Status.FAIL, Status.WARN, Status.ERROR

CASES = [
    # email.mx
    Case(
        mx,
        P,
        "MX hosts with addresses",
        lambda: [answer(D, "MX", f"10 {MX_HOST}."), host(MX_HOST, "192.0.2.25")],
    ),
    Case(mx, F, "no MX and not a declared non-mail domain", lambda: [nx(D, "MX")]),
    Case(mx, W, "MX hosts that do not resolve", lambda: [answer(D, "MX", f"10 {MX_HOST}."), host(MX_HOST)]),
    Case(mx, E, "MX lookup timed out", lambda: [failed(D, "MX")]),
    # email.spf.*
    Case(spf_present, P, "one SPF record", spf("v=spf1 ip4:192.0.2.10 -all")),
    Case(spf_present, F, "no SPF record", lambda: [nodata(D, "TXT")]),
    Case(spf_present, F, "more than one", spf("v=spf1 ip4:192.0.2.10 -all", "v=spf1 -all")),
    Case(spf_present, E, "TXT lookup timed out", lambda: [failed(D, "TXT")]),
    Case(spf_policy, P, "ends in -all", spf("v=spf1 ip4:192.0.2.10 -all")),
    Case(spf_policy, F, "ends in +all", spf("v=spf1 ip4:192.0.2.10 +all")),
    Case(spf_policy, F, "ends in ?all", spf("v=spf1 ip4:192.0.2.10 ?all")),
    Case(spf_policy, F, "no all and no redirect=", spf("v=spf1 ip4:192.0.2.10")),
    Case(spf_policy, W, "ends in ~all", spf("v=spf1 ip4:192.0.2.10 ~all")),
    Case(spf_policy, E, "TXT lookup failed", lambda: [failed(D, "TXT", DnsOutcome.SERVFAIL)]),
    Case(spf_syntax, P, "the record parses", spf("v=spf1 ip4:192.0.2.10 -all")),
    Case(spf_syntax, F, "unknown mechanism", spf("v=spf1 ipv4:192.0.2.10 -all")),
    Case(spf_syntax, F, "bad macro", spf("v=spf1 exists:%{q}.alder.test -all")),
    Case(
        spf_syntax,
        F,
        "a string split so the record breaks",
        lambda: [txt(D, ("v=spf1 ip4:192.0.2.10", "-all"))],
    ),
    Case(spf_syntax, E, "TXT lookup timed out", lambda: [failed(D, "TXT")]),
    Case(spf_lookups, P, "7 lookups", lambda: a_terms(7)),
    Case(spf_lookups, W, "8 or more", lambda: a_terms(8)),
    Case(spf_lookups, F, "more than 10 DNS-querying terms", lambda: a_terms(11)),
    Case(
        spf_lookups,
        F,
        "more than 2 void lookups",
        lambda: [
            txt(D, f"v=spf1 a:x.{D} a:y.{D} a:z.{D} -all"),
            host(f"x.{D}"),
            host(f"y.{D}"),
            host(f"z.{D}"),
        ],
    ),
    Case(
        spf_lookups,
        E,
        "an include timed out",
        lambda: [*a_terms(3, extra="include:_spf.slow.example "), failed("_spf.slow.example", "TXT")],
    ),
    # email.dmarc.*
    Case(dmarc_present, P, "one DMARC record", dmarc("v=DMARC1; p=reject")),
    Case(dmarc_present, F, "no DMARC record", lambda: [nx(f"_dmarc.{D}", "TXT")]),
    Case(
        dmarc_present,
        F,
        "more than one",
        lambda: [txt(f"_dmarc.{D}", "v=DMARC1; p=reject", "v=DMARC1; p=none")],
    ),
    Case(dmarc_present, E, "DMARC lookup timed out", lambda: [failed(f"_dmarc.{D}", "TXT")]),
    Case(dmarc_policy, P, "p=reject", dmarc("v=DMARC1; p=reject")),
    Case(dmarc_policy, F, "p=none", dmarc("v=DMARC1; p=none")),
    Case(dmarc_policy, F, "sp=none", dmarc("v=DMARC1; p=reject; sp=none")),
    Case(dmarc_policy, F, "pct below 100", dmarc("v=DMARC1; p=reject; pct=99")),
    Case(dmarc_policy, W, "p=quarantine", dmarc("v=DMARC1; p=quarantine")),
    Case(dmarc_policy, E, "DMARC lookup failed", lambda: [failed(f"_dmarc.{D}", "TXT", DnsOutcome.SERVFAIL)]),
    Case(dmarc_reporting, P, "rua in the own domain", dmarc(f"v=DMARC1; p=reject; rua=mailto:d@{D}")),
    Case(dmarc_reporting, W, "no rua", dmarc("v=DMARC1; p=reject")),
    Case(
        dmarc_reporting,
        W,
        "rua in another domain that has not authorised it",
        lambda: [
            txt(f"_dmarc.{D}", "v=DMARC1; p=reject; rua=mailto:d@reports.example"),
            nx(f"{D}._report._dmarc.reports.example", "TXT"),
        ],
    ),
    Case(
        dmarc_reporting,
        E,
        "authorisation lookup timed out",
        lambda: [
            txt(f"_dmarc.{D}", "v=DMARC1; p=reject; rua=mailto:d@reports.example"),
            failed(f"{D}._report._dmarc.reports.example", "TXT"),
        ],
    ),
    Case(dmarc_syntax, P, "well formed", dmarc("v=DMARC1; p=reject")),
    Case(dmarc_syntax, F, "first tag is not v=DMARC1", dmarc("p=reject; v=DMARC1")),
    Case(dmarc_syntax, F, "unknown p", dmarc("v=DMARC1; p=discard")),
    Case(dmarc_syntax, F, "malformed tags", dmarc("v=DMARC1; p=reject; rua")),
    Case(dmarc_syntax, E, "DMARC lookup timed out", lambda: [failed(f"_dmarc.{D}", "TXT")]),
    # email.dkim
    Case(dkim, P, "RSA 2048", dkim_key(f"v=DKIM1; k=rsa; p={rsa_public_key(2048)}"), SELECTOR),
    Case(dkim, F, "a declared selector has no key", lambda: [nx(f"s1._domainkey.{D}", "TXT")], SELECTOR),
    Case(dkim, F, "a revoked (empty p=) key", dkim_key(REVOKED), SELECTOR),
    Case(
        dkim, F, "RSA < 1024 bits", lambda: [txt(f"s1._domainkey.{D}", f"p={rsa_public_key(1023)}")], SELECTOR
    ),
    Case(
        dkim, W, "RSA < 2048 bits", lambda: [txt(f"s1._domainkey.{D}", f"p={rsa_public_key(2047)}")], SELECTOR
    ),
    Case(dkim, W, "t=y", lambda: [txt(f"s1._domainkey.{D}", f"t=y; p={rsa_public_key(2048)}")], SELECTOR),
    Case(dkim, E, "key lookup timed out", lambda: [failed(f"s1._domainkey.{D}", "TXT")], SELECTOR),
    # email.tls_rpt
    Case(
        tls_rpt,
        P,
        "_smtp._tls record with a rua",
        lambda: [txt(f"_smtp._tls.{D}", f"v=TLSRPTv1; rua=mailto:t@{D}")],
    ),
    Case(tls_rpt, W, "no _smtp._tls TXT record with a rua", lambda: [nx(f"_smtp._tls.{D}", "TXT")]),
    Case(tls_rpt, E, "lookup timed out", lambda: [failed(f"_smtp._tls.{D}", "TXT")]),
    # email.non_mail_domain
    Case(
        non_mail_domain,
        P,
        "v=spf1 -all, p=reject, null MX",
        parked("v=spf1 -all", "v=DMARC1; p=reject", "0 ."),
        PARKED,
    ),
    Case(non_mail_domain, F, "lacks v=spf1 -all", parked("v=spf1 ~all", "v=DMARC1; p=reject", "0 ."), PARKED),
    Case(
        non_mail_domain, F, "lacks DMARC p=reject", parked("v=spf1 -all", "v=DMARC1; p=none", "0 ."), PARKED
    ),
    Case(
        non_mail_domain,
        F,
        "lacks a null MX",
        parked("v=spf1 -all", "v=DMARC1; p=reject", "10 mx.parked.test."),
        PARKED,
    ),
    Case(
        non_mail_domain,
        E,
        "MX lookup timed out",
        lambda: [
            txt(PARKED.name, "v=spf1 -all"),
            txt(f"_dmarc.{PARKED.name}", "v=DMARC1; p=reject"),
            failed(PARKED.name, "MX"),
        ],
        PARKED,
    ),
    # dns.dnssec
    Case(dnssec, P, "signed and validates", lambda: [signed_zone(D).pairs()]),
    Case(dnssec, F, "signed but does not validate", lambda: [signed_zone(D, "bad_signature").pairs()]),
    Case(
        dnssec,
        W,
        "the zone is not signed",
        lambda: [answer(D, "NS", f"ns1.{D}."), nodata(D, "DS"), nodata(D, "DNSKEY"), answer(D, "SOA", SOA)],
    ),
    Case(
        dnssec,
        E,
        "DNSKEY lookup failed",
        lambda: [
            answer(D, "NS", f"ns1.{D}."),
            nodata(D, "DS"),
            failed(D, "DNSKEY", DnsOutcome.SERVFAIL),
            answer(D, "SOA", SOA),
        ],
    ),
    # dns.caa
    Case(caa, P, "a CAA record on the name", lambda: [answer(D, "CAA", '0 issue "letsencrypt.org"')]),
    Case(caa, W, "no CAA record on the name or its parents", lambda: [nodata(D, "CAA")]),
    Case(caa, E, "CAA lookup timed out", lambda: [failed(D, "CAA")]),
    # dns.nameservers
    Case(nameservers, P, "two answer, in different networks", name_servers("192.0.2.53", "198.51.100.53")),
    Case(
        nameservers,
        F,
        "fewer than 2 name servers answer",
        name_servers("192.0.2.53", "198.51.100.53", second_answers=False),
    ),
    Case(nameservers, W, "all name servers in one /24", name_servers("192.0.2.53", "192.0.2.54")),
    Case(nameservers, E, "NS lookup timed out", lambda: [failed(D, "NS")]),
]


def catalogue() -> dict[str, set[Status]]:
    """Each Email and DNS id of CHECKS.md and the statuses its row promises."""
    if not CATALOGUE.exists():
        pytest.skip(f"{CATALOGUE} is not beside the repository")
    section = SECTION.search(CATALOGUE.read_text(encoding="utf-8"))
    assert section is not None, "CHECKS.md has no Email and DNS section"
    promised = {}
    for check_id, fails, warns in ROW.findall(section.group(0)):
        if check_id in LATER_IDS:
            continue
        statuses = {Status.PASS, Status.ERROR}
        statuses |= {Status.FAIL} if fails.strip() else set()
        statuses |= {Status.WARN} if warns.strip() else set()
        promised[check_id] = statuses
    return promised


def test_every_catalogued_status_has_a_case() -> None:
    covered: dict[str, set[Status]] = {}
    for case in CASES:
        covered.setdefault(case.check.id, set()).add(case.status)
    assert covered == catalogue()


def test_the_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_catalogue_case(case: Case) -> None:
    results = run(case.check, case.target, *case.facts())
    assert [r.status for r in results] == [case.status], [r.summary for r in results]


# --- TLS ----------------------------------------------------------------------------------------------
# The TLS rows, judged on a website (one address); tests/checks/tls/ covers mail servers and every edge.

TLS_SECTION = re.compile(r"^## TLS.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
TLS_ROW = re.compile(r"^\|\s*`(tls\.[a-z0-9_.]+)`\s*\|([^|]*)\|([^|]*)\|", re.MULTILINE)


def tls(**kw: Any) -> Callable[[], list[FactsArg]]:
    return lambda: site(site_tls(**kw))


def one_old_version(version: str, accepted: bool | None) -> Callable[[], list[FactsArg]]:
    """Only `version` of the old ones tested, so that tls.protocols.legacy gives one result."""
    others = [v for v in LEGACY_PROTOCOLS if v != version]
    return tls(protocols={version: accepted}, untested=others)


def suites(*names: str) -> Callable[[], list[FactsArg]]:
    return tls(suites=[("TLS 1.3", "TLS_AES_128_GCM_SHA256"), *(("TLS 1.2", n) for n in names)])


def leaf(**kw: Any) -> Callable[[], list[FactsArg]]:
    return tls(chain=(certificate(**kw), intermediate()))


TLS_CASES = [
    # tls.protocols.legacy
    Case(protocols_legacy, P, "TLS 1.0 refused", one_old_version("TLS 1.0", False), WEBSITE),
    Case(protocols_legacy, F, "SSL 2.0 accepted", one_old_version("SSL 2.0", True), WEBSITE),
    Case(protocols_legacy, F, "SSL 3.0 accepted", one_old_version("SSL 3.0", True), WEBSITE),
    Case(protocols_legacy, F, "TLS 1.0 accepted", one_old_version("TLS 1.0", True), WEBSITE),
    Case(protocols_legacy, F, "TLS 1.1 accepted", one_old_version("TLS 1.1", True), WEBSITE),
    Case(protocols_legacy, E, "the TLS 1.0 test failed", one_old_version("TLS 1.0", None), WEBSITE),
    # tls.protocols.modern
    Case(protocols_modern, P, "TLS 1.3 accepted", tls(), WEBSITE),
    Case(
        protocols_modern,
        F,
        "neither TLS 1.2 nor TLS 1.3 accepted",
        tls(protocols={"TLS 1.0": True, "TLS 1.2": False, "TLS 1.3": False}),
        WEBSITE,
    ),
    Case(protocols_modern, W, "TLS 1.3 not accepted", tls(protocols={"TLS 1.3": False}), WEBSITE),
    Case(protocols_modern, E, "the TLS 1.3 test failed", tls(protocols={"TLS 1.3": None}), WEBSITE),
    # tls.ciphers.weak
    Case(
        ciphers_weak,
        P,
        "only AEAD suites with ECDHE",
        suites("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        WEBSITE,
    ),
    Case(ciphers_weak, F, "a NULL suite", suites("TLS_RSA_WITH_NULL_SHA256"), WEBSITE),
    Case(ciphers_weak, F, "an EXPORT suite", suites("TLS_RSA_EXPORT_WITH_RC4_40_MD5"), WEBSITE),
    Case(ciphers_weak, F, "an anonymous suite", suites("TLS_DH_anon_WITH_AES_128_CBC_SHA"), WEBSITE),
    Case(ciphers_weak, F, "an RC4 suite", suites("TLS_RSA_WITH_RC4_128_SHA"), WEBSITE),
    Case(ciphers_weak, F, "a DES suite", suites("TLS_RSA_WITH_DES_CBC_SHA"), WEBSITE),
    Case(ciphers_weak, F, "a 3DES suite", suites("TLS_RSA_WITH_3DES_EDE_CBC_SHA"), WEBSITE),
    Case(ciphers_weak, W, "a CBC-mode suite", suites("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"), WEBSITE),
    Case(ciphers_weak, W, "a non-forward-secret suite", suites("TLS_RSA_WITH_AES_128_GCM_SHA256"), WEBSITE),
    Case(ciphers_weak, E, "the suite tests did not finish", tls(suites_error="connection reset"), WEBSITE),
    # tls.certificate.trusted
    Case(certificate_trusted, P, "chain verifies", tls(), WEBSITE),
    Case(
        certificate_trusted,
        F,
        "self-signed",
        tls(chain=(certificate("CN=alder.test", issuer="CN=alder.test"),), trusted=False),
        WEBSITE,
    ),
    Case(
        certificate_trusted,
        F,
        "missing intermediate",
        tls(chain=(certificate(),), trusted=False),
        WEBSITE,
    ),
    Case(
        certificate_trusted,
        F,
        "unknown CA",
        tls(
            chain=(
                certificate(issuer="CN=Nobody CA"),
                certificate("CN=Nobody CA", issuer="CN=Nobody CA"),
            ),
            trusted=False,
        ),
        WEBSITE,
    ),
    Case(certificate_trusted, E, "trust not known", tls(trusted=None), WEBSITE),
    # tls.certificate.hostname
    Case(certificate_hostname, P, "covers the name", tls(), WEBSITE),
    Case(certificate_hostname, F, "does not cover the name", tls(name_matches=False), WEBSITE),
    Case(certificate_hostname, E, "the server sent no certificate", tls(chain=()), WEBSITE),
    # tls.certificate.expiry
    Case(certificate_expiry, P, "60 days left", tls(), WEBSITE),
    Case(certificate_expiry, F, "expired", leaf(not_after=NOW - timedelta(days=1)), WEBSITE),
    Case(certificate_expiry, F, "expires in < 14 days", leaf(not_after=NOW + timedelta(days=13)), WEBSITE),
    Case(certificate_expiry, W, "expires in < 30 days", leaf(not_after=NOW + timedelta(days=29)), WEBSITE),
    Case(certificate_expiry, E, "the handshake timed out", tls(outcome=TlsOutcome.TIMEOUT), WEBSITE),
    # tls.certificate.strength
    Case(certificate_strength, P, "RSA 2048 and SHA-256", tls(), WEBSITE),
    Case(certificate_strength, F, "RSA key < 2048 bits", leaf(key_bits=1024), WEBSITE),
    Case(certificate_strength, F, "EC key < 256 bits", leaf(key_type="EC", key_bits=224), WEBSITE),
    Case(certificate_strength, F, "SHA-1 signature", leaf(signature_hash="sha1"), WEBSITE),
    Case(certificate_strength, F, "MD5 signature", leaf(signature_hash="md5"), WEBSITE),
    Case(certificate_strength, E, "the server sent no certificate", tls(chain=()), WEBSITE),
    # every tls.* check also looks at the MX hosts of a mail domain
    Case(certificate_hostname, P, "an MX host's certificate covers its name", lambda: mail()),
]


def tls_catalogue() -> dict[str, set[Status]]:
    """Each TLS id of CHECKS.md and the statuses its row promises."""
    if not CATALOGUE.exists():
        pytest.skip(f"{CATALOGUE} is not beside the repository")
    section = TLS_SECTION.search(CATALOGUE.read_text(encoding="utf-8"))
    assert section is not None, "CHECKS.md has no TLS section"
    promised = {}
    for check_id, fails, warns in TLS_ROW.findall(section.group(0)):
        statuses = {Status.PASS, Status.ERROR}
        statuses |= {Status.FAIL} if fails.strip() else set()
        statuses |= {Status.WARN} if warns.strip() else set()
        promised[check_id] = statuses
    return promised


def test_every_catalogued_tls_status_has_a_case() -> None:
    covered: dict[str, set[Status]] = {}
    for case in TLS_CASES:
        covered.setdefault(case.check.id, set()).add(case.status)
    assert covered == tls_catalogue()


def test_the_tls_case_names_are_unique() -> None:
    names = [case.name for case in TLS_CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", TLS_CASES, ids=lambda case: case.name)
def test_tls_catalogue_case(case: Case) -> None:
    results = run(case.check, case.target, *case.facts())
    assert [r.status for r in results] == [case.status], [r.summary for r in results]
