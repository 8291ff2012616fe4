"""backup.retention: do the snapshots reach back far enough, and are there daily ones? Words: retention.yml.

Judged from the snapshots, and from the borgmatic or resticprofile file's keep_* settings where the source
names one. Each clause is a fail, a warn, a pass or unknown; the result is the worst problem, and a
clause that cannot be judged keeps the result from passing (`error`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from secbase import Facts, Result, Status, Target, check
from secbase.facts import BackupAnswer, BackupConfigAnswer, BackupPlan, BackupRetention
from secbase.model import BackupSpec

from ._source import age_text, config_of, look, reason, when

DAY = timedelta(days=1)
DAILY_RPO_HOURS = 26  # a source whose objective allows a day's gap backs up daily; a weekly one does not
_ORDER = (Status.FAIL, Status.WARN, Status.ERROR)


@check(
    id="backup.retention",
    severity="medium",
    target="backup",
    facts=("backup", "backup_config"),
    defaults={"daily_min": 7},  # daily snapshots expected in the last week
)
def retention(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The oldest snapshot reaches retention_days back (or the repository is younger), daily ones lately."""
    spec, answer = look(target, facts)
    config = config_of(spec, facts)
    if answer.error:
        return [Result.error(retention, target, reason(answer))]
    if answer.oldest is None:
        return [Result.error(retention, target, "there is no snapshot to judge: see backup.fresh")]
    daily_min = int(limits["daily_min"])
    found = [_reach(spec, answer, facts.now), *_daily(spec, answer, facts.now, daily_min)]
    if config is not None:
        found += _configured(spec, config, daily_min)
    problems = sorted((p for p in found if p[0] is not Status.PASS), key=lambda p: _ORDER.index(p[0]))
    evidence = f"{len(answer.snapshots)} snapshots, oldest {when(answer.oldest.time)}"
    if not problems:
        summary = " ".join(text for _, text in found)
        return [Result.passed(retention, target, summary, evidence=evidence)]
    worst = problems[0][0]
    summary = " ".join(text for _, text in problems)
    if worst is Status.ERROR:  # nothing wrong seen, but a clause could not be judged
        return [Result.error(retention, target, summary[:1].lower() + summary[1:], evidence=evidence)]
    return [Result.make(retention, target, worst, summary, evidence=evidence)]


def _reach(spec: BackupSpec, answer: BackupAnswer, now: datetime) -> tuple[Status, str]:
    assert answer.oldest is not None
    reach = now - answer.oldest.time
    goal = f"the retention goal of {spec.retention_days} days"
    if reach >= spec.retention_days * DAY:
        return Status.PASS, f"The snapshots reach back {age_text(reach)}, meeting {goal}."
    began = _began(answer)
    if began is None:  # a remote repository, a folder: its age is not known
        return Status.ERROR, (
            f"The snapshots reach back only {age_text(reach)}, under {goal}, and the repository's age "
            "cannot be told here, so it may be new or it may be pruning too much."
        )
    if now - began > spec.retention_days * DAY:
        return Status.FAIL, (
            f"The snapshots reach back only {age_text(reach)}, under {goal}, though the repository is "
            f"{age_text(now - began)} old: older backups are being deleted."
        )
    return Status.PASS, f"The repository is {age_text(now - began)} old, younger than {goal}."


def _began(answer: BackupAnswer) -> datetime | None:
    """When the repository began: its creation, or its oldest snapshot if that is older (a snapshot can be
    dated back, or the repository copied); None when the creation is not known."""
    if answer.created_at is None:
        return None
    return min(answer.created_at, answer.oldest.time) if answer.oldest else answer.created_at


def _last_days(n: int) -> str:
    return "the last day" if n == 1 else f"the last {n} days"


def _daily(spec: BackupSpec, answer: BackupAnswer, now: datetime, daily_min: int) -> list[tuple[Status, str]]:
    """Snapshots in each of the last `daily_min` 24-hour slots before now, counting only slots since the
    repository began (a new repository is not short of history)."""
    if spec.rpo_hours > DAILY_RPO_HOURS:
        return []
    assert answer.oldest is not None
    began = _began(answer) or answer.oldest.time
    slots = [(now - (i + 1) * DAY, now - i * DAY) for i in range(daily_min)]
    slots = [(start, end) for start, end in slots if end > began]
    covered = sum(1 for start, end in slots if any(start < t <= end for t in answer.times))
    if covered < len(slots):
        if len(slots) == 1:
            return [(Status.WARN, "No snapshot was taken in the last day.")]
        return [(Status.WARN, f"Snapshots were taken on only {covered} of {_last_days(len(slots))}.")]
    if len(slots) == 1:
        return [(Status.PASS, "A snapshot was taken in the last day.")]
    return [(Status.PASS, f"A snapshot was taken on each of {_last_days(len(slots))}.")]


def _configured(spec: BackupSpec, config: BackupConfigAnswer, daily_min: int) -> list[tuple[Status, str]]:
    """What the configuration file's keep_* settings will keep, for the plans writing to this source."""
    if config.error:
        return [(Status.ERROR, f"The configuration file could not be read: {reason(config)}.")]
    plans = [p for p in config.plans if any(r.location == spec.location for r in p.repositories)]
    found: list[tuple[Status, str]] = []
    for plan in plans or config.plans:
        found += _plan(spec, plan, config.path, daily_min)
    return found


def _plan(spec: BackupSpec, plan: BackupPlan, path: str, daily_min: int) -> list[tuple[Status, str]]:
    where = f"{path} (profile {plan.name})" if plan.name else path
    keep = plan.retention
    if keep is None:
        return [(Status.PASS, f"{where} never prunes.")]
    reach = _reach_days(keep)
    if reach is None:
        return [
            (
                Status.ERROR,
                f"{where} keeps only the last {keep.keep_last} snapshots, which cannot be told in days.",
            )
        ]
    found = []
    if reach < spec.retention_days:
        found.append(
            (Status.FAIL, f"{where} keeps about {reach:g} days of backups, under {spec.retention_days}.")
        )
    else:
        found.append((Status.PASS, f"{where} keeps about {reach:g} days of backups."))
    daily = max(keep.keep_daily or 0, int(keep.keep_within_days or 0), (keep.keep_hourly or 0) // 24)
    if spec.rpo_hours <= DAILY_RPO_HOURS and daily < daily_min:
        found.append((Status.WARN, f"{where} keeps {daily} daily snapshots, under {daily_min}."))
    return found


def _reach_days(keep: BackupRetention) -> float | None:
    """How many days back the keep_* settings reach; None when only keep_last (a count, not a time) is set."""
    spans = [
        keep.keep_within_days or 0,
        (keep.keep_hourly or 0) / 24,
        keep.keep_daily or 0,
        (keep.keep_weekly or 0) * 7,
        (keep.keep_monthly or 0) * 30,
        (keep.keep_yearly or 0) * 365,
    ]
    if not any(spans):
        return None if keep.keep_last else 0.0
    return max(spans)
