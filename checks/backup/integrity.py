"""backup.integrity: does the repository's own check find it sound, and has one run lately? Words: integrity.yml.

restic and borg record no time of their last check (restic 0.14, borg 1.2), so a check that secbase ran
during this scan is what counts as "a check in the last 30 days". Where the source does not let secbase
run one (check: never; check: auto on a remote repository, or on any borg one, since borg's check rewrites
a file in the repository and secbase never writes), nobody here can show a recent check: that warns,
saying why and what to do, rather than passing unseen or erroring every scan with nothing to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import BackupAnswer, BackupSpec, Facts, Result, Target, check

from .._text import clean
from ._source import EVIDENCE_CHARS, REASON_CHARS, age_text, look, reason, when


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
            return [Result.error(integrity, target, f"the {spec.kind} check gave no verdict: {said}")]
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
    summary = f"secbase did not check this repository for damage: {_not_run(spec, answer)}"
    said = clean(answer.check_skipped, REASON_CHARS)
    return [Result.warn(integrity, target, summary, evidence=f"why not: {said}" if said else "")]


def _not_run(spec: BackupSpec, answer: BackupAnswer) -> str:
    """Why the check did not run, and what to do instead, in words for the person who runs the backups."""
    accept = "and accept this finding with secbase accept"
    if spec.check == "never":
        return (
            "the source says check: never. Remove that line, or run "
            f"{'borg' if spec.kind == 'borg' else 'restic'} check on the backup server each month {accept}."
        )
    if answer.remote or spec.remote:
        return (
            "it is stored over the network and checking it would download it (the source says check: auto). "
            "Add check: always to this "
            "backup in the secbase config, or run restic check / borg check on the backup server each "
            f"month {accept}."
        )
    if spec.kind == "borg":  # check: auto on a local borg repository
        return (
            "borg's own check rewrites a file in the repository, so secbase runs it only with check: always. "
            "Add check: always to this backup in the secbase config, or run borg check on the backup server "
            f"each month (borgmatic: list repository and archives under checks) {accept}."
        )
    return f"the check did not run. Run restic check on the backup server each month {accept}."
