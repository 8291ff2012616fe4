"""CHECKS.md's Email and DNS rows, case by case: every status a row promises is reached from facts.

Each catalogued id gets a pass case, a fail case for each clause of its "fails when" column, a warn case
for each clause of its "warns when" column, and an error case (a lookup that could not be done). The
thresholds and their edges are tested in each check's own module; this file keeps the catalogue honest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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

from secbase import Check, DnsOutcome, Status, Target
from tests.checks.factories import (
    FactsArg,
    answer,
    answer_at,
    domain,
    failed,
    failed_at,
    host,
    nodata,
    nx,
    rsa_public_key,
    run,
    signed_zone,
    txt,
)

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
