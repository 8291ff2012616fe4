"""backup.retention: do the snapshots reach back far enough, and are there daily ones? Words: retention.yml.

Judged from the snapshots, and from the borgmatic or resticprofile file's keep_* settings where the source
names one. Each clause is a fail, a warn, a pass or unknown; the result is the worst problem, and a
clause that cannot be judged keeps the result from passing (`error`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from secbase import (
    BackupAnswer,
    BackupConfigAnswer,
    BackupPlan,
    BackupRetention,
    BackupSpec,
    Facts,
    Result,
    Status,
    Target,
    check,
)
from secbase.parse import mask

from ._source import age_text, config_of, look, names_repository, reason, when

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
            "cannot be told here: it may be new. "
            f"If the repository is older than {spec.retention_days} days, its keep settings delete too much."
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
    plans = [
        p
        for p in config.plans
        if names_repository(spec.location, [r.location for r in p.repositories], config_path=config.path)
    ]
    if not plans:  # another profile's settings say nothing about this repository
        return [
            (
                Status.ERROR,
                f"{config.path} names no repository at {mask(spec.location)}, so its keep settings cannot be "
                "judged for this backup. Check that the source's config_file is the file that backs it up.",
            )
        ]
    found: list[tuple[Status, str]] = []
    for plan in plans:
        found += _plan(spec, plan, config.path, daily_min)
    return found


def _plan(spec: BackupSpec, plan: BackupPlan, path: str, daily_min: int) -> list[tuple[Status, str]]:
    where = f"{path} (profile {plan.name})" if plan.name else path
    keep = plan.retention
    if keep is None:
        return [
            (Status.PASS, f"{where} has no rules to delete old backups (prune/forget), so it keeps them all.")
        ]
    unread = keep.not_understood
    if unread or keep.is_empty:
        what = ", ".join(unread) if unread else "its keep settings"
        return [
            (
                Status.ERROR,
                f"secbase cannot judge how far back {where} keeps backups: it does not understand {what}. "
                f"Check by hand that the settings keep at least {spec.retention_days} days of backups.",
            )
        ]
    found = [_keep_reach(spec, keep, where)]
    daily = keep.daily_kept
    # the last N snapshots may be N daily ones: the snapshots themselves show whether they are (_daily)
    counted = max((n for _, n in keep.snapshot_counts), default=0)
    if spec.rpo_hours <= DAILY_RPO_HOURS and daily < daily_min and counted < daily_min:
        found.append((Status.WARN, f"{where} keeps {daily:g} daily snapshots, under {daily_min}."))
    return found


def _keep_reach(spec: BackupSpec, keep: BackupRetention, where: str) -> tuple[Status, str]:
    """How far back the keep settings reach, against the source's goal.

    Rules counting snapshots (keep_last, borg's keep_secondly and keep_minutely: no backup runs more than
    once a minute) reach as far as that many backups do. The source's recovery point objective bounds how
    far apart its backups are, so N of them reach at most N objectives back: under the goal is a fail,
    beyond it cannot be told.
    """
    goal = spec.retention_days
    reach = keep.reach_days
    if reach == float("inf"):
        forever = ", ".join(keep.keeps_every_one)
        return Status.PASS, f"{where} keeps some backups without limit ({forever})."
    if reach >= goal:
        return Status.PASS, f"{where} keeps about {_days(reach)} of backups."
    if not keep.snapshot_counts:
        return Status.FAIL, f"{where} keeps about {_days(reach)} of backups, under {goal} days."
    name, count = max(keep.snapshot_counts, key=lambda c: c[1])
    most = count * spec.rpo_hours / 24
    counted = f"the last {count} snapshots ({name}), which secbase cannot turn into days"
    if max(reach, most) < goal:
        return Status.FAIL, (
            f"{where} keeps about {_days(max(reach, most))} of backups at most, under {goal} days: the last "
            f"{count} snapshots ({name}) reach about {_days(most)} even at one backup every "
            f"{spec.rpo_hours:g} hours (the recovery point objective)."
        )
    return Status.ERROR, (
        f"{where} keeps {counted}: how far back they reach depends on how often backups run. "
        f"At one backup a day that is about {count} days; make sure it is at least {goal}."
    )


def _days(days: float) -> str:
    if days < 1:
        return f"{days * 24:.0f} hours" if round(days * 24) != 1 else "1 hour"
    return "1 day" if round(days, 1) == 1 else f"{round(days, 1):g} days"
