"""backup.fresh, from backup facts written by hand: the objective and its 80% edge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from secbase_checks.backup.fresh import fresh

from secbase import Status
from secbase.facts import BackupOutcome
from tests.checks.factories import backup_answer, backup_spec, backup_target, run_one, snapshots

H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (1 * H, Status.PASS),
        (26 * H * 0.8, Status.PASS),  # exactly 80%: not older than it
        (26 * H * 0.8 + timedelta(seconds=1), Status.WARN),
        (26 * H, Status.WARN),  # exactly the objective: not older than it
        (26 * H + timedelta(seconds=1), Status.FAIL),
        (30 * 24 * H, Status.FAIL),
    ],
)
def test_the_newest_snapshot_is_judged_against_the_default_26_hours(age: timedelta, status: Status) -> None:
    spec = backup_spec()
    result = run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(10 * 24 * H, age)))
    assert result.status is status
    assert result.severity.value == "critical"


def test_the_sources_own_objective_is_used() -> None:
    spec = backup_spec(rpo_hours=168)  # weekly
    assert (
        run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(100 * H))).status
        is Status.PASS
    )
    assert (
        run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(140 * H))).status
        is Status.WARN
    )
    assert (
        run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(169 * H))).status
        is Status.FAIL
    )


def test_a_policy_may_move_the_warning_edge() -> None:
    spec = backup_spec()
    facts = backup_answer(spec, snaps=snapshots(14 * H))
    assert run_one(fresh, backup_target(spec), facts).status is Status.PASS
    assert run_one(fresh, backup_target(spec), facts, limits={"warn_at_pct": 50}).status is Status.WARN


@pytest.mark.parametrize("kind", ["restic", "borg", "folder"])
def test_no_snapshot_at_all_fails(kind: str) -> None:
    spec = backup_spec(kind=kind)
    result = run_one(fresh, backup_target(spec), backup_answer(spec))
    assert result.status is Status.FAIL
    assert ("dump file" if kind == "folder" else "snapshot") in result.summary


def test_a_folder_of_dumps_is_judged_by_its_newest_dump() -> None:
    spec = backup_spec("dumps", kind="folder", location="/srv/dumps")
    result = run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(3 * H, 27 * H, size=10)))
    assert result.status is Status.PASS


def test_a_snapshot_dated_a_little_ahead_of_our_clock_is_still_recent() -> None:
    # Within the hour of slack two clocks a few minutes apart get; further ahead, a clock is wrong (below).
    spec = backup_spec()
    for ahead in (-0.5 * H, -1 * H):
        result = run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(ahead)))
        assert result.status is Status.PASS, result.summary
        assert "ahead" in result.summary


def test_a_snapshot_dated_years_ahead_does_not_hide_a_stale_backup() -> None:
    spec = backup_spec()
    ten_years = -10 * 365 * 24 * H
    result = run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(30 * 24 * H, ten_years)))
    assert result.status is Status.FAIL, result.summary
    assert "30 days old" in result.summary
    assert "1 backup is dated ahead of this computer's clock" in result.summary
    assert "2035" in result.evidence


def test_a_fresh_backup_with_others_dated_ahead_warns_that_a_clock_is_wrong() -> None:
    spec = backup_spec()
    facts = backup_answer(spec, snaps=snapshots(2 * H, -2 * H, -48 * H))
    result = run_one(fresh, backup_target(spec), facts)
    assert result.status is Status.WARN, result.summary
    assert "2 backups are dated ahead of this computer's clock" in result.summary
    assert "a clock is wrong" in result.summary
    assert "2025-06-01 10:00 UTC" in result.evidence  # the newest one judged


def test_every_snapshot_dated_ahead_warns_the_age_cannot_be_told() -> None:
    spec = backup_spec()
    result = run_one(fresh, backup_target(spec), backup_answer(spec, snaps=snapshots(-2 * H, -3 * H)))
    assert result.status is Status.WARN, result.summary
    assert "age cannot be told" in result.summary and "a clock is wrong" in result.summary


@pytest.mark.parametrize("outcome", [o for o in BackupOutcome if o is not BackupOutcome.OK])
def test_a_look_that_failed_is_error_not_fail(outcome: BackupOutcome) -> None:
    spec = backup_spec()
    result = run_one(
        fresh, backup_target(spec), backup_answer(spec, outcome=outcome, reason="restic timed out")
    )
    assert result.status is Status.ERROR
    assert "restic timed out" in result.summary


def test_a_missing_tool_says_how_to_install_it() -> None:
    spec = backup_spec(kind="borg", location="/srv/borg")
    result = run_one(
        fresh, backup_target(spec), backup_answer(spec, outcome=BackupOutcome.TOOL_MISSING, reason="")
    )
    assert result.status is Status.ERROR
    assert "apt-get install borgbackup" in result.summary
