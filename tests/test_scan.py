"""The scan: facts gathered once, concurrently; a check or probe that breaks becomes `error`, the scan goes on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase.config import Config, LoadedConfig
from secbase.facts import FactKey, Facts
from secbase.lab import Lab
from secbase.model import Result, Status, Target
from secbase.plugins import CheckRegistry, check
from secbase.probes import Probe
from secbase.probes.restore import NOT_READ
from secbase.scan import default_probes, run_scan


def two_towns_sharing_a_domain(lab_config: LoadedConfig) -> Config:
    raw = lab_config.config.model_dump()
    alder = next(o for o in raw["organisations"] if o["id"] == "alder")
    twin = {**alder, "id": "alder-twin", "name": "Alder's twin"}
    raw["organisations"] = [alder, twin]
    return Config.model_validate(raw)


def test_each_name_and_type_is_asked_once_per_scan_across_organisations(
    lab: Lab, lab_config: LoadedConfig, registry: CheckRegistry
) -> None:
    assert lab.dns is not None
    lab.dns.reset_queries()
    outcome = run_scan(two_towns_sharing_a_domain(lab_config), registry.select())
    assert outcome.stats["dns_repeated"] == 0
    assert outcome.stats["dns_queries"] > 0
    # The server agrees: apart from the SOA asked of each name server directly, no question came twice.
    repeated = {k: n for k, n in lab.dns.queries.items() if n > 1 and k[1] != "SOA"}
    assert repeated == {}
    # And both organisations got their own results from the same facts.
    by_org = {
        o: sorted((r.check, r.target, r.subject, r.status) for r in outcome.results if r.organisation == o)
        for o in ("alder", "alder-twin")
    }
    assert by_org["alder"] == by_org["alder-twin"]


def test_a_check_that_raises_is_an_error_result_and_the_scan_goes_on(
    lab: Lab, lab_config: LoadedConfig, registry: CheckRegistry
) -> None:
    @check(id="test.broken", severity="low", target="domain")
    def broken(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
        raise ZeroDivisionError("oops")

    outcome = run_scan(lab_config.config, [broken, registry.checks["dns.caa"]], org_ids=["alder"])
    statuses = {(r.check, r.target): r.status for r in outcome.results}
    assert statuses[("test.broken", "alder.test")] is Status.ERROR
    assert statuses[("dns.caa", "alder.test")] is Status.PASS
    error = next(r for r in outcome.results if r.check == "test.broken")
    assert "ZeroDivisionError: oops" in error.summary


def test_a_probe_that_raises_is_an_error_result(lab_config: LoadedConfig, registry: CheckRegistry) -> None:
    class Exploding:
        kinds = ("dns", "dns_at")

        async def fetch(self, key: FactKey, facts: object) -> object:
            raise RuntimeError(f"boom on {key}")

    probes: dict[str, Probe] = {"dns": Exploding(), "dns_at": Exploding()}
    outcome = run_scan(lab_config.config, registry.select(["email.mx"]), org_ids=["alder"], probes=probes)
    assert {r.status for r in outcome.results} == {Status.ERROR, Status.NOT_APPLICABLE}
    assert "boom on dns(alder.test, MX)" in next(
        r.summary for r in outcome.results if r.status is Status.ERROR
    )


def test_org_and_check_selection_narrow_the_scan(lab_config: LoadedConfig, registry: CheckRegistry) -> None:
    outcome = run_scan(lab_config.config, registry.select(["dns.caa"]), org_ids=["birch", "dogwood"])
    assert outcome.organisations == ("birch", "dogwood")
    assert {(r.organisation, r.target) for r in outcome.results} == {
        ("birch", "birch.test"),
        ("birch", "birch-library.test"),
        ("dogwood", "dogwood.county.test"),
    }


def test_progress_is_reported_up_to_the_total(lab_config: LoadedConfig, registry: CheckRegistry) -> None:
    seen: list[tuple[int, int]] = []
    run_scan(
        lab_config.config,
        registry.select(["email.mx"]),
        org_ids=["alder"],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)


def test_default_probes_serve_every_fact_kind_the_checks_read(
    lab_config: LoadedConfig, registry: CheckRegistry
) -> None:
    import asyncio

    async def kinds() -> set[str]:
        return set(default_probes(lab_config.config))

    assert {kind for c in registry.select() for kind in c.facts} <= asyncio.run(kinds())


def test_a_derived_value_is_kept_only_once_it_is_finished() -> None:
    from secbase.facts import DnsAnswer, DnsOutcome, NeedFacts, dns_key

    facts = Facts()
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return facts.dns("alder.test", "TXT").outcome.value

    try:
        facts.derive(("x", "alder.test"), compute)
    except NeedFacts as need:
        assert need.keys == (dns_key("alder.test", "TXT"),)
    facts.add(dns_key("alder.test", "TXT"), DnsAnswer("alder.test", "TXT", DnsOutcome.NODATA))
    assert facts.derive(("x", "alder.test"), compute) == "nodata"
    assert facts.derive(("x", "alder.test"), compute) == "nodata"
    assert len(calls) == 2  # once unfinished, once finished, never again


def test_without_restore_records_restore_tested_says_it_could_not_check(
    lab_config: LoadedConfig, registry: CheckRegistry
) -> None:
    outcome = run_scan(lab_config.config, registry.select(["backup.restore_tested"]), org_ids=["birch"])
    [result] = outcome.results
    assert result.status is Status.ERROR
    assert result.summary == "Could not check: " + NOT_READ


def test_a_check_that_reports_every_subject_says_so_only_where_it_judged_them(
    lab_config: LoadedConfig, registry: CheckRegistry
) -> None:
    outcome = run_scan(lab_config.config, registry.select(["net.*"]), org_ids=["dogwood", "elm"])
    hosts = {(r.organisation, r.target) for r in outcome.results}
    judged = {(o, t) for o, t in hosts if o == "dogwood"}
    assert judged and {("elm", "gw.elm.test")} <= hosts
    # Dogwood's hosts were scanned: every port is a subject. Elm's host does not resolve: one result about
    # the whole host, which promises nothing about its ports' findings.
    assert outcome.every_subject == {
        (o, check, t) for o, t in judged for check in ("net.service.risky", "net.service.unexpected")
    }


def test_need_facts_names_its_keys_only_when_shown_and_survives_pickling() -> None:
    import pickle

    from secbase.facts import NeedFacts, dns_key

    need = NeedFacts([dns_key("alder.test", "mx"), dns_key("alder.test", "mx")])
    assert str(need) == "dns(alder.test, MX)" and repr(need) == "NeedFacts('dns(alder.test, MX)')"
    again = pickle.loads(pickle.dumps(need))
    assert isinstance(again, NeedFacts) and again.keys == need.keys
