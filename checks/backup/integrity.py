"""backup.integrity: does the repository's own check find it sound, and has one run lately? Words: integrity.yml.

restic and borg record no time of their last check (restic 0.14, borg 1.2), so a check that secbase ran
during this scan is what counts as "a check in the last 30 days". Where the source does not let secbase
run one (a remote repository with check auto, or check never), nobody here can show a recent check: that
warns, saying so, rather than passing unseen or erroring every scan with nothing to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check

from ..web.https import clean
from ._source import EVIDENCE_CHARS, age_text, look, reason, when


@check(
    id="backup.integrity",
    severity="high",
    target="backup",
    facts=("backup",),
    defaults={"check_max_age_days": 30},
)
def integrity(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """The repository's check ran without errors, in this scan or within check_max_age_days."""
    spec, answer = look(target, facts)
    if answer.error:
        return [Result.error(integrity, target, reason(answer))]
    if spec.kind == "folder":
        why = (
            "A folder of dumps has no check of its own; test a dump by restoring it (backup.restore_tested)."
        )
        return [Result.not_applicable(integrity, target, why)]
    said = clean(answer.check_summary, EVIDENCE_CHARS)
    if answer.check_ran:
        if answer.check_ok is False:
            summary = f"The {spec.kind} check reports errors in the repository: its backups may not restore."
            return [Result.fail(integrity, target, summary, evidence=said)]
        if answer.check_ok is None:
            return [Result.error(integrity, target, f"the {spec.kind} check did not finish: {said}")]
        summary = f"The {spec.kind} check ran during this scan and found no errors."
        return [Result.passed(integrity, target, summary, evidence=said)]
    max_days = limits["check_max_age_days"]
    if answer.last_check_at is not None:  # a tool that records its checks (none yet)
        age = facts.now - answer.last_check_at
        evidence = f"last check: {when(answer.last_check_at)}"
        if age.total_seconds() > max_days * 86400:
            summary = f"The last {spec.kind} check ran {age_text(age)} ago, more than {max_days} days."
            return [Result.warn(integrity, target, summary, evidence=evidence)]
        summary = f"The {spec.kind} check ran {age_text(age)} ago."
        return [Result.passed(integrity, target, summary, evidence=evidence)]
    if spec.check == "never":
        why = "the source says check: never"
    else:
        why = "the repository is remote and the source says check: auto (a check downloads from it)"
    summary = (
        f"No check of the repository ran, so nothing shows one in the last {max_days} days: {why}. "
        "Set check: always, or run the check where the repository lives and accept this finding."
    )
    return [Result.warn(integrity, target, summary)]
