"""backup.integrity, from backup facts written by hand: this scan's check, a recorded one, none allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from secbase_checks.backup.integrity import integrity

from secbase import Status
from secbase.facts import BackupOutcome
from tests.checks.factories import NOW, backup_answer, backup_spec, backup_target, daily, run_one

LOCAL = backup_spec()
REMOTE = backup_spec("cloud", location="s3:s3.example.test/alder", remote=True)


def test_a_check_that_ran_clean_passes() -> None:
    facts = backup_answer(
        LOCAL, snaps=daily(3), check_ran=True, check_ok=True, check_summary="no errors were found"
    )
    result = run_one(integrity, backup_target(LOCAL), facts)
    assert result.status is Status.PASS
    assert "no errors were found" in result.evidence


def test_a_check_reporting_errors_fails() -> None:
    facts = backup_answer(
        LOCAL,
        snaps=daily(3),
        check_ran=True,
        check_ok=False,
        check_summary="Fatal: repository contains errors",
    )
    result = run_one(integrity, backup_target(LOCAL), facts)
    assert result.status is Status.FAIL
    assert result.severity.value == "high"
    assert "repository contains errors" in result.evidence


def test_a_check_that_could_not_finish_is_error() -> None:
    facts = backup_answer(
        LOCAL, check_ran=True, check_ok=None, check_summary="restic check did not finish within 600 s"
    )
    result = run_one(integrity, backup_target(LOCAL), facts)
    assert result.status is Status.ERROR
    assert "600 s" in result.summary


@pytest.mark.parametrize("check", ["auto", "never"])
def test_a_remote_repository_not_checked_warns_that_no_check_ran(check: str) -> None:
    spec = backup_spec("cloud", location="s3:s3.example.test/alder", remote=True, check=check)
    result = run_one(integrity, backup_target(spec), backup_answer(spec, snaps=daily(3)))
    assert result.status is Status.WARN
    assert "did not check this repository for damage" in result.summary
    assert f"check: {check}" in result.summary


def test_a_local_repository_with_check_never_warns() -> None:
    spec = backup_spec(check="never")
    result = run_one(integrity, backup_target(spec), backup_answer(spec, snaps=daily(3)))
    assert result.status is Status.WARN


@pytest.mark.parametrize(
    ("days", "status"),
    [(1, Status.PASS), (30, Status.PASS), (30.001, Status.WARN), (90, Status.WARN)],
)
def test_a_check_the_tool_recorded_counts_for_30_days(days: float, status: Status) -> None:
    facts = backup_answer(REMOTE, snaps=daily(3), last_check_at=NOW - timedelta(days=days))
    assert run_one(integrity, backup_target(REMOTE), facts).status is status


def test_a_folder_of_dumps_has_no_check_of_its_own() -> None:
    spec = backup_spec("dumps", kind="folder", location="/srv/dumps")
    result = run_one(integrity, backup_target(spec), backup_answer(spec, snaps=daily(2)))
    assert result.status is Status.NOT_APPLICABLE


def test_a_look_that_failed_is_error() -> None:
    result = run_one(integrity, backup_target(LOCAL), backup_answer(LOCAL, outcome=BackupOutcome.NOT_FOUND))
    assert result.status is Status.ERROR


def test_a_local_borg_repository_under_check_auto_warns_with_borgs_own_next_steps() -> None:
    # borg's check rewrites the repository's config file, so the probe runs it only with check: always.
    spec = backup_spec("mail", kind="borg", location="/srv/borg/mail")
    why = "borg check rewrites the repository's config file (same content); set check: always to run it"
    facts = backup_answer(spec, snaps=daily(3), check_skipped=why)
    result = run_one(integrity, backup_target(spec), facts)
    assert result.status is Status.WARN
    assert "borg's own check rewrites a file in the repository" in result.summary
    assert "check: always" in result.summary and "borg check on the backup server" in result.summary
    assert "borgmatic: list repository and archives under checks" in result.summary
    assert "restic" not in result.summary
    assert why in result.evidence


def test_a_remote_repository_not_checked_says_what_to_run_instead() -> None:
    result = run_one(integrity, backup_target(REMOTE), backup_answer(REMOTE, snaps=daily(3)))
    assert result.summary.startswith("secbase did not check this repository for damage: it is stored over")
    assert "Add check: always to this backup in the secbase config" in result.summary
    assert "accept this finding with secbase accept" in result.summary
