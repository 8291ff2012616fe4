"""From an organisation's targets and the selected checks to results: gathers facts concurrently, then judges."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from secbase.config import BackupSource, Config, Organisation
from secbase.facts import FactKey, Facts, NeedFacts
from secbase.model import BackupSpec, Result, Status, Target, TargetKind
from secbase.parse import one_line
from secbase.plugins import Check
from secbase.probes import Limiter, Probe, ProbeFailure
from secbase.probes.backup import BackupProbe
from secbase.probes.dns import DnsProbe
from secbase.probes.http import HttpProbe
from secbase.probes.ports import PortsProbe
from secbase.probes.restore import RestoreBook, RestoreProbe
from secbase.probes.smtp import SmtpProbe
from secbase.probes.tls import TlsProbe

log = logging.getLogger(__name__)

MAX_ROUNDS = 40  # a check that keeps asking for new facts past this is looping: an SPF include loop, say

Progress = Callable[[int, int], None]


class FactUnavailable(Exception):
    """A fact whose probe broke; the check reading it ends in `error` with this reason."""


@dataclass(frozen=True)
class ScanOutcome:
    """What one scan produced, before it is stored."""

    started_at: datetime
    finished_at: datetime
    organisations: tuple[str, ...]
    checks: tuple[str, ...]
    results: list[Result]
    stats: dict[str, Any] = field(default_factory=dict)
    # (organisation, check, target) where the check reported every subject it judges (Check.every_subject):
    # the store closes that check's findings about other subjects of the target.
    every_subject: frozenset[tuple[str, str, str]] = frozenset()

    @property
    def has_failures(self) -> bool:
        return any(r.status is Status.FAIL for r in self.results)


def targets_of(org: Organisation) -> list[Target]:
    """Every target an organisation declares, in config order."""
    out = [Target(org.id, TargetKind.DOMAIN, d, dkim_selectors=org.selectors_for(d)) for d in org.domains]
    out += [Target(org.id, TargetKind.DOMAIN, d, sends_mail=False) for d in org.non_mail_domains]
    out += [Target(org.id, TargetKind.WEBSITE, w) for w in org.websites]
    out += [
        Target(org.id, TargetKind.HOST, h, expected_ports=tuple(sorted(set(org.expected_ports.get(h, ())))))
        for h in org.hosts
    ]
    backups = tuple(_backup_spec(b) for b in org.backups)
    out += [Target(org.id, TargetKind.BACKUP, b.name, backup=b, org_backups=backups) for b in backups]
    return out


def _backup_spec(source: BackupSource) -> BackupSpec:
    """The settings of one declared backup source that its checks read."""
    return BackupSpec(
        name=source.name,
        kind=source.kind,
        location=source.location.strip(),
        check=source.check,
        rpo_hours=source.rpo_hours,
        retention_days=source.retention_days,
        offsite=source.offsite,
        immutable=source.immutable,
        config_file=str(source.config_file) if source.config_file is not None else None,
        remote=source.is_remote,
    )


class _FactStore(Facts):
    """The scan's facts, shared by every check; probes run once per key, whatever asks for it first."""

    def __init__(self, probes: Mapping[str, Probe], now: datetime) -> None:
        super().__init__(now=now)
        self._probes = probes
        self._pending: dict[FactKey, asyncio.Task[None]] = {}

    async def gather(self, keys: Iterable[FactKey]) -> None:
        waits = []
        for key in keys:
            if key in self:
                continue
            task = self._pending.get(key)
            if task is None:
                task = self._pending[key] = asyncio.ensure_future(self._fetch(key))
            waits.append(task)
        if len(waits) == 1:
            await waits[0]
        elif waits:
            await asyncio.gather(*waits)

    async def _fetch(self, key: FactKey) -> None:
        probe = self._probes.get(key.kind)
        fact: object
        if probe is None:
            fact = ProbeFailure(f"no probe gathers {key.kind} facts")
        else:
            try:
                fact = await probe.fetch(key, self)
            except Exception as exc:  # the probe boundary: a bug of ours becomes a fact, the scan goes on
                log.exception("probe %s failed on %s", key.kind, key)
                fact = ProbeFailure(
                    _plain(f"the {key.kind} probe failed on {key}: {type(exc).__name__}: {exc}")
                )
        self.add(key, fact)

    async def fact(self, key: FactKey) -> object:
        """Gather one fact (once per scan, whoever asks) and return it: probes use this for their inputs."""
        await self.gather([key])
        return self._known[key]

    def get(self, key: FactKey, kind: Any) -> Any:
        self.require(key)
        fact = self._known[key]
        if isinstance(fact, ProbeFailure):
            raise FactUnavailable(fact.reason)
        return super().get(key, kind)


async def _run_unit(
    check: Check, target: Target, facts: _FactStore, limits: Mapping[str, Any]
) -> list[Result]:
    """Evaluate one check on one target, gathering the facts it asks for until it has them all."""
    for _ in range(MAX_ROUNDS):
        try:
            return check.evaluate(target, facts, limits)
        except NeedFacts as need:
            await facts.gather(need.keys)
        except FactUnavailable as exc:
            return [Result.error(check, target, str(exc))]
        except Exception as exc:  # the check runner: a check that raises becomes an error result
            log.exception("check %s raised on %s", check.id, target.name)
            return [
                Result.error(check, target, _plain(f"the check itself failed ({type(exc).__name__}: {exc})"))
            ]
    return [Result.error(check, target, f"it needed more than {MAX_ROUNDS} rounds of lookups (a loop?)")]


def _plain(text: str, limit: int = 500) -> str:
    """An exception's text for the store: it may quote what a server sent, so one clean, short line."""
    return one_line(text, limit)


def _applies(check: Check, target: Target) -> bool:
    return target.kind in check.target_kinds


async def _scan(
    orgs: Sequence[Organisation],
    checks: Sequence[Check],
    probes: Mapping[str, Probe],
    now: datetime,
    progress: Progress | None,
    scan_limits: Mapping[str, Any],
) -> tuple[list[Result], frozenset[tuple[str, str, str]]]:
    facts = _FactStore(probes, now)
    units = [(chk, tgt) for org in orgs for tgt in targets_of(org) for chk in checks if _applies(chk, tgt)]
    done = 0
    total = len(units)
    if progress:
        progress(0, total)

    async def one(chk: Check, tgt: Target) -> list[Result]:
        nonlocal done
        res = await _run_unit(chk, tgt, facts, {**chk.defaults, **scan_limits})
        done += 1
        if progress:
            progress(done, total)
        return res

    batches = await asyncio.gather(*(one(c, t) for c, t in units))
    return [r for batch in batches for r in batch], _every_subject(units, batches)


def _every_subject(
    units: Sequence[tuple[Check, Target]], batches: Sequence[list[Result]]
) -> frozenset[tuple[str, str, str]]:
    """The units whose results name every subject their check judges: a check that promises it, and results
    that are each about a subject (a one-line "could not check" about the whole target promises nothing)."""
    return frozenset(
        (tgt.organisation, chk.id, tgt.name)
        for (chk, tgt), batch in zip(units, batches, strict=True)
        if chk.every_subject and batch and all(r.subject for r in batch)
    )


def run_scan(
    config: Config,
    checks: Sequence[Check],
    *,
    org_ids: Sequence[str] = (),
    probes: Mapping[str, Probe] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    restores: RestoreBook | None = None,
) -> ScanOutcome:
    """Scan the selected organisations (all when none given) with the given checks.

    `restores`: the restore tests recorded in the store (read by the caller, which holds the store); without
    them backup.restore_tested says it could not check. Ignored when `probes` is given.

    Example:
        outcome = run_scan(load_config("town.yml").config, load_checks().select(["email.*"]))
    """
    orgs = [config.organisation(i) for i in org_ids] if org_ids else list(config.organisations)
    started = datetime.now(UTC)
    clock = now or started

    async def main() -> tuple[list[Result], frozenset[tuple[str, str, str]], dict[str, Any]]:
        # Blocking probes (requests, smtplib, sslyze) run in threads: as many as the scan may have in
        # flight, so that their time-outs overlap (the default pool has only a handful of threads).
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(max_workers=config.scan.concurrency, thread_name_prefix="secbase-probe")
        )
        probe_map = dict(probes) if probes is not None else default_probes(config, restores)
        try:
            results, every_subject = await _scan(
                orgs, checks, probe_map, clock, progress, scan_limits(config)
            )
        finally:
            for probe in {id(p): p for p in probe_map.values()}.values():
                close = getattr(probe, "close", None)
                if close is not None:
                    close()
        stats: dict[str, Any] = {}
        dns_probe = probe_map.get("dns")
        if isinstance(dns_probe, DnsProbe):
            stats["dns_queries"] = sum(dns_probe.sent.values())
            stats["dns_repeated"] = sum(n - 1 for n in dns_probe.sent.values() if n > 1)
        tls_probe = probe_map.get("tls")
        if isinstance(tls_probe, TlsProbe) and tls_probe.handshakes:
            stats["tls_endpoints"] = len(tls_probe.handshakes)
            stats["tls_handshakes"] = sum(tls_probe.handshakes.values())
            stats["tls_handshakes_max"] = max(tls_probe.handshakes.values())
        return results, every_subject, stats

    results, every_subject, stats = asyncio.run(main())
    return ScanOutcome(
        started_at=started,
        finished_at=datetime.now(UTC),
        organisations=tuple(o.id for o in orgs),
        checks=tuple(c.id for c in checks),
        results=results,
        stats=stats,
        every_subject=every_subject,
    )


def scan_limits(config: Config) -> dict[str, Any]:
    """Limits the config sets for the whole scan, handed to every check over its defaults (a check reads
    the ones it knows): the extra ports of scan.ports, for the net.* checks."""
    return {"extra_ports": tuple(config.scan.ports)} if config.scan.ports else {}


def default_probes(config: Config, restores: RestoreBook | None = None) -> dict[str, Probe]:
    """The probes of a real scan, sharing one limiter; call inside the event loop that will use them."""
    limiter = Limiter(total=config.scan.concurrency, per_server=config.scan.per_server)
    dns_probe = DnsProbe(
        resolvers=config.scan.resolvers,
        timeout_s=config.scan.timeout,
        limiter=limiter,
        nameserver_port=config.scan.nameserver_port,
    )
    http_probe = HttpProbe(timeout_s=config.scan.timeout, limiter=limiter, ca_file=config.scan.ca_file)
    smtp_probe = SmtpProbe(timeout_s=config.scan.timeout, limiter=limiter, ca_file=config.scan.ca_file)
    tls_probe = TlsProbe(
        timeout_s=config.scan.timeout,
        limiter=limiter,
        ca_file=config.scan.ca_file,
        full_enumeration=config.scan.deep_tls,
    )
    ports_probe = PortsProbe(timeout_s=config.scan.timeout, limiter=limiter)
    backup_probe = BackupProbe(
        limiter=limiter, sources=[src for org in config.organisations for src in org.backups]
    )
    probes = (dns_probe, http_probe, smtp_probe, tls_probe, ports_probe, backup_probe, RestoreProbe(restores))
    return {kind: probe for probe in probes for kind in probe.kinds}
