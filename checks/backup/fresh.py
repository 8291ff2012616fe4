"""backup.fresh: is the newest snapshot within the source's recovery point objective? Words: fresh.yml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check

from ._source import age_text, look, reason, when


@check(
    id="backup.fresh",
    severity="critical",
    target="backup",
    facts=("backup",),
    defaults={"warn_at_pct": 80},  # warn once the newest snapshot has used this share of the objective
)
def fresh(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The newest snapshot (a folder: the newest dump) is younger than rpo_hours, with a margin."""
    spec, answer = look(target, facts)
    if answer.error:  # no listing is not "no snapshot": say we could not look
        return [Result.error(fresh, target, reason(answer))]
    rpo = f"the recovery point objective of {spec.rpo_hours:g} hours"
    newest = answer.newest
    if newest is None:
        what = "dump file" if spec.kind == "folder" else "snapshot"
        return [Result.fail(fresh, target, f"There is no {what} at all in {answer.location}.")]
    age = facts.now - newest.time
    hours = age.total_seconds() / 3600
    evidence = f"newest: {when(newest.time)}, {len(answer.snapshots)} in all"
    if hours > spec.rpo_hours:
        summary = f"The newest backup is {age_text(age)} old, older than {rpo}."
        return [Result.fail(fresh, target, summary, evidence=evidence)]
    if hours > spec.rpo_hours * limits["warn_at_pct"] / 100:
        summary = f"The newest backup is {age_text(age)} old, close to {rpo}: the next one is due."
        return [Result.warn(fresh, target, summary, evidence=evidence)]
    if hours < 0:  # a clock ahead of ours: still the newest there is
        summary = f"The newest backup is dated {age_text(-age)} ahead of this computer's clock."
        return [Result.passed(fresh, target, summary, evidence=evidence)]
    summary = f"The newest backup is {age_text(age)} old, within {rpo}."
    return [Result.passed(fresh, target, summary, evidence=evidence)]
