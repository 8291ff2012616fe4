"""backup.fresh: is the newest snapshot within the source's recovery point objective? Words: fresh.yml."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from secbase import Facts, Result, Target, check

from ._source import age_text, look, reason, when

CLOCK_SLACK = timedelta(hours=1)  # a snapshot up to this far ahead is a clock a little off, not a wrong one


@check(
    id="backup.fresh",
    severity="critical",
    target="backup",
    facts=("backup",),
    defaults={"warn_at_pct": 80},  # warn once the newest snapshot has used this share of the objective
)
def fresh(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The newest snapshot (a folder: the newest dump) not dated ahead of our clock is younger than rpo_hours,
    with a margin; snapshots dated further ahead than CLOCK_SLACK warn at least (a clock is wrong)."""
    spec, answer = look(target, facts)
    if answer.error:  # no listing is not "no snapshot": say we could not look
        return [Result.error(fresh, target, reason(answer))]
    rpo = f"the recovery point objective of {spec.rpo_hours:g} hours"
    if not answer.snapshots:
        what = "dump file" if spec.kind == "folder" else "snapshot"
        return [Result.fail(fresh, target, f"There is no {what} at all in {answer.location}.")]
    # A snapshot dated ahead of our clock would stay "the newest" for good, hiding a backup that stopped:
    # judge by the newest one not later than now (a small slack for clocks a little apart), and name the rest.
    latest_ok = facts.now + CLOCK_SLACK
    ahead = [s for s in answer.snapshots if s.time > latest_ok]
    dated = [s for s in answer.snapshots if s.time <= latest_ok]
    clock = ""
    if ahead:
        first = min(s.time for s in ahead)
        n = len(ahead)
        clock = (
            f"{n} backup{'s are' if n > 1 else ' is'} dated ahead of this computer's clock (from {when(first)}):"
            " a clock is wrong, here or on the machine that makes the backups: set both to take the time from the internet (NTP)."
        )
    evidence = "\n".join(
        [
            *([f"newest not dated ahead: {when(dated[-1].time)}"] if dated else []),
            *([f"dated ahead: {', '.join(when(s.time) for s in ahead[:5])}"] if ahead else []),
            f"{len(answer.snapshots)} in all",
        ]
    )
    if not dated:  # the age of the last real backup cannot be told: the wrong clock is the thing to fix
        summary = f"Every backup is dated ahead of this computer's clock, so its age cannot be told. {clock}"
        return [Result.warn(fresh, target, summary, evidence=evidence)]
    newest = dated[-1]
    age = max(facts.now - newest.time, timedelta(0))
    hours = age.total_seconds() / 3600
    if hours > spec.rpo_hours:
        summary = f"The newest backup is {age_text(age)} old, older than {rpo}."
        return [Result.fail(fresh, target, _join(summary, clock), evidence=evidence)]
    if hours > spec.rpo_hours * limits["warn_at_pct"] / 100:
        summary = f"The newest backup is {age_text(age)} old, close to {rpo}: the next one is due."
        return [Result.warn(fresh, target, _join(summary, clock), evidence=evidence)]
    if newest.time > facts.now:  # within the slack: clocks a few minutes apart
        summary = (
            f"The newest backup is dated {age_text(newest.time - facts.now)} ahead of this computer's clock."
        )
    else:
        summary = f"The newest backup is {age_text(age)} old, within {rpo}."
    if ahead:
        return [Result.warn(fresh, target, _join(summary, clock), evidence=evidence)]
    return [Result.passed(fresh, target, summary, evidence=evidence)]


def _join(summary: str, clock: str) -> str:
    return f"{summary} {clock}" if clock else summary
