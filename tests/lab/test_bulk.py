"""The bulk lab: 20 generated towns served on 127.55.x and scanned end to end with every email and DNS check."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from secbase.config import Config
from secbase.lab.bulk import build_bulk
from secbase.lab.dns import LabDnsServer
from secbase.model import Status
from secbase.plugins import CheckRegistry
from secbase.scan import ScanOutcome, run_scan

NET = 55  # the session lab is on 127.53.x
TOWNS = 20


@pytest.fixture(scope="module")
def scanned(registry: CheckRegistry) -> Iterator[tuple[ScanOutcome, list[str]]]:
    now = datetime.now(UTC)
    lab = build_bulk(TOWNS, now=now, net=NET, seed=1)
    server = LabDnsServer(lab.zone_text, addresses=lab.addresses, drop=lab.drop, servfail=lab.servfail)
    server.start()
    try:
        config = Config.model_validate(lab.config(timeout_s=1.0, concurrency=64, per_server=64))
        outcome = run_scan(config, registry.select(["email.*", "dns.*"]), now=now)
        yield outcome, lab.domains
    finally:
        server.stop()


def test_build_is_deterministic_from_the_seed() -> None:
    now = datetime.now(UTC)
    a, b = build_bulk(12, now=now, seed=7), build_bulk(12, now=now, seed=7)
    assert [t.planted for t in a.towns] == [t.planted for t in b.towns]
    assert a.drop == b.drop and a.servfail == b.servfail and a.addresses == b.addresses
    assert [t.planted for t in build_bulk(12, now=now, seed=8).towns] != [t.planted for t in a.towns]


def test_build_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="from 1 to"):
        build_bulk(0, now=datetime.now(UTC))
    with pytest.raises(ValueError, match="not usable"):
        build_bulk(3, now=datetime.now(UTC), net=0)


def test_config_declares_every_town_with_its_selectors() -> None:
    lab = build_bulk(TOWNS, now=datetime.now(UTC), net=NET)
    config = Config.model_validate(lab.config(timeout_s=1.5, concurrency=32, per_server=32))
    assert [o.domains[0] for o in config.organisations] == lab.domains
    assert config.scan.resolvers == [f"127.{NET}.0.1:53"]
    assert config.scan.per_server == 32
    assert any(o.dkim_selectors for o in config.organisations)
    assert any(d.startswith("mail.") for d in lab.domains)  # DMARC found at the organisational domain
    assert lab.signed == 4 and lab.drop and lab.servfail


@pytest.mark.slow
def test_every_domain_gets_results_in_a_realistic_mix(scanned: tuple[ScanOutcome, list[str]]) -> None:
    outcome, domains = scanned
    checks = set(outcome.checks)
    by_domain: dict[str, set[str]] = {}
    for r in outcome.results:
        by_domain.setdefault(r.target, set()).add(r.check)
    assert set(by_domain) == set(domains)
    for domain in domains:
        # email.non_mail_domain returns nothing for mail domains; every other check answers for each one.
        assert checks - by_domain[domain] <= {"email.non_mail_domain"}, domain
    statuses = Counter(r.status for r in outcome.results)
    assert statuses[Status.PASS] >= 0.3 * len(outcome.results)
    assert statuses[Status.FAIL] >= 10
    assert statuses[Status.WARN] >= 10
    assert 3 <= statuses[Status.ERROR] <= 0.2 * len(outcome.results)  # mostly the dropped and SERVFAIL towns
    assert outcome.stats["dns_repeated"] == 0
    assert outcome.stats["dns_queries"] > 10 * TOWNS
