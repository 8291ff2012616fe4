"""backup.restore_tested: a restore test that worked, recorded in the last 90 days, of a backup we can see."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from secbase_checks.backup.restore_tested import restore_tested

from secbase import Status
from secbase.facts import BackupOutcome
from tests.checks.factories import (
    backup_answer,
    backup_spec,
    backup_target,
    daily,
    restore_test,
    restores,
    run_one,
)

FILES = backup_spec("files")
DUMPS = backup_spec("dumps", kind="folder", location="/srv/dumps")
LISTED = backup_answer(FILES, snaps=daily(7))


def test_no_restore_test_recorded_warns_and_says_how_to_record_one() -> None:
    result = run_one(restore_tested, backup_target(FILES), restores(FILES))
    assert result.status is Status.WARN
    assert result.severity.value == "medium"
    assert "No restore test is recorded" in result.summary
    assert "secbase backup restored alder files --date" in result.summary


def test_a_recent_restore_that_worked_passes_with_its_note() -> None:
    test = restore_test(FILES, 20, note="Restored /finance to a spare disk.")
    result = run_one(restore_tested, backup_target(FILES), restores(FILES, test), LISTED)
    assert result.status is Status.PASS
    assert "20 days ago" in result.summary
    assert "Restored /finance to a spare disk." in result.evidence and "ana" in result.evidence


def test_the_ninetieth_day_still_passes_and_the_ninety_first_warns() -> None:
    on_the_edge = run_one(
        restore_tested, backup_target(FILES), restores(FILES, restore_test(FILES, 90)), LISTED
    )
    assert on_the_edge.status is Status.PASS
    too_old = run_one(restore_tested, backup_target(FILES), restores(FILES, restore_test(FILES, 91)))
    assert too_old.status is Status.WARN
    assert "91 days ago: more than 90 days" in too_old.summary


def test_the_limit_can_be_set() -> None:
    test = restore_test(FILES, 40)
    result = run_one(
        restore_tested, backup_target(FILES), restores(FILES, test), limits={"restore_max_age_days": 30}
    )
    assert result.status is Status.WARN


def test_the_latest_test_counts_even_when_an_older_one_worked() -> None:
    failed = restore_test(FILES, 5, worked=False, note="Half the files were empty.")
    result = run_one(
        restore_tested, backup_target(FILES), restores(FILES, restore_test(FILES, 30), failed), LISTED
    )
    assert result.status is Status.WARN
    assert "did not work" in result.summary and "Half the files were empty." in result.evidence


def test_a_new_test_that_worked_after_a_failed_one_passes() -> None:
    tests = (restore_test(FILES, 1), restore_test(FILES, 10, worked=False))  # in any order
    result = run_one(restore_tested, backup_target(FILES), restores(FILES, *tests), LISTED)
    assert result.status is Status.PASS
    assert "yesterday" in result.summary


def test_a_test_of_a_backup_that_cannot_be_read_today_is_could_not_check_never_pass() -> None:
    gone = backup_answer(
        FILES, outcome=BackupOutcome.NOT_FOUND, reason="there is no restic repository at /srv/x"
    )
    result = run_one(restore_tested, backup_target(FILES), restores(FILES, restore_test(FILES, 3)), gone)
    assert result.status is Status.ERROR
    assert "no restic repository" in result.summary


def test_records_that_could_not_be_read_are_could_not_check() -> None:
    result = run_one(
        restore_tested, backup_target(FILES), restores(FILES, reason="the store could not be read: locked")
    )
    assert result.status is Status.ERROR
    assert "locked" in result.summary


def test_a_folder_of_dumps_is_judged_like_any_source() -> None:
    dumps = backup_answer(DUMPS, snaps=daily(3, at_hours=5))
    result = run_one(restore_tested, backup_target(DUMPS), restores(DUMPS, restore_test(DUMPS, 7)), dumps)
    assert result.status is Status.PASS


def test_a_note_with_control_characters_is_cleaned() -> None:
    test = restore_test(FILES, 2, note="ok\x1b[2J\u202e done")
    result = run_one(restore_tested, backup_target(FILES), restores(FILES, test), LISTED)
    assert "\x1b" not in result.evidence and "\u202e" not in result.evidence


@pytest.fixture
def in_toronto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Toronto")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_days_are_counted_in_the_local_calendar_like_the_recorded_day(in_toronto: None) -> None:
    # 02:00 UTC on 1 June is 22:00 on 31 May in Toronto: a test recorded "today" there is today.
    now = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    test = replace(restore_test(FILES, 0, now=now), tested_on=date(2025, 5, 31))
    result = run_one(restore_tested, backup_target(FILES), restores(FILES, test), LISTED, now=now)
    assert result.status is Status.PASS and "(today)" in result.summary
