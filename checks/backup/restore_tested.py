"""backup.restore_tested: has someone restored from this backup lately, and did it work? Words: restore_tested.yml.

No repository can show that its backups restore, so a person records each test with
`secbase backup restored ORG SOURCE --date ... --note ...`; the scan reads those records from the store.
A recent test that worked passes only while the backup itself can still be looked at: a test of a
repository that cannot be read today says nothing about today's backups. A test's day is a calendar day
of this machine's time zone, as `secbase backup restored` takes it, and is counted the same way here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secbase import Facts, Result, Target, check

from .._text import clean
from ._source import look, reason, spec_of

NOTE_CHARS = 300


@check(
    id="backup.restore_tested",
    severity="medium",
    target="backup",
    facts=("restore", "backup"),
    defaults={"restore_max_age_days": 90},
)
def restore_tested(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
    """A restore test that worked is recorded for this source within restore_max_age_days."""
    spec = spec_of(target)
    records = facts.restores(target.organisation, spec.name)
    if records.error:
        return [Result.error(restore_tested, target, clean(records.error, NOTE_CHARS))]
    record = records.latest
    max_days = int(limits["restore_max_age_days"])
    how_to = (
        f"After the next test, record it: secbase backup restored {target.organisation} {spec.name} "
        '--date YYYY-MM-DD --note "what you restored and where".'
    )
    if record is None:
        summary = f"No restore test is recorded for this backup. {how_to}"
        return [Result.warn(restore_tested, target, summary)]
    days = (facts.now.astimezone().date() - record.tested_on).days  # calendar days where the clerk is
    note = clean(record.note, NOTE_CHARS)
    evidence = f"{record.tested_on:%Y-%m-%d}, tested by {clean(record.by, 64)}: {note}"
    if days > max_days:
        summary = (
            f"The last restore test was on {record.tested_on:%Y-%m-%d}, {days} days ago: "
            f"more than {max_days} days. {how_to}"
        )
        return [Result.warn(restore_tested, target, summary, evidence=evidence)]
    if not record.worked:
        summary = (
            f"The last restore test, on {record.tested_on:%Y-%m-%d}, did not work. Find out why, fix it and "
            f"test again. {how_to}"
        )
        return [Result.warn(restore_tested, target, summary, evidence=evidence)]
    _, answer = look(target, facts)
    if answer.error:  # the tested backup cannot be seen today
        return [Result.error(restore_tested, target, reason(answer), evidence=evidence)]
    ago = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
    summary = f"A restore from this backup worked on {record.tested_on:%Y-%m-%d} ({ago})."
    return [Result.passed(restore_tested, target, summary, evidence=evidence)]
