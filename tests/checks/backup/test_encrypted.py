"""backup.encrypted, from backup facts written by hand."""

from __future__ import annotations

import pytest
from secbase_checks.backup.encrypted import encrypted

from secbase import Status
from secbase.facts import BackupOutcome
from tests.checks.factories import backup_answer, backup_spec, backup_target, daily, run_one

BORG = backup_spec("mail", kind="borg", location="/srv/borg/mail")


def test_restic_is_always_encrypted() -> None:
    spec = backup_spec()
    result = run_one(encrypted, backup_target(spec), backup_answer(spec, snaps=daily(3)))
    assert result.status is Status.PASS
    assert "AES-256" in result.evidence


@pytest.mark.parametrize("mode", ["repokey", "repokey-blake2", "keyfile-blake2"])
def test_borg_with_a_key_passes(mode: str) -> None:
    result = run_one(encrypted, backup_target(BORG), backup_answer(BORG, encrypted=True, encryption=mode))
    assert result.status is Status.PASS
    assert mode in result.evidence


@pytest.mark.parametrize(
    ("mode", "flag"),
    [("none", False), ("authenticated", True), ("authenticated-blake2", True)],  # signed, not encrypted
)
def test_borg_without_encryption_fails(mode: str, flag: bool) -> None:
    result = run_one(encrypted, backup_target(BORG), backup_answer(BORG, encrypted=flag, encryption=mode))
    assert result.status is Status.FAIL
    assert result.severity.value == "high"
    assert f'"{mode}"' in result.summary


def test_borg_that_did_not_say_its_mode_is_error() -> None:
    result = run_one(encrypted, backup_target(BORG), backup_answer(BORG, encrypted=None, encryption=""))
    assert result.status is Status.ERROR


def test_a_folder_of_dumps_is_not_applicable_with_the_reason() -> None:
    spec = backup_spec("dumps", kind="folder", location="/srv/dumps")
    result = run_one(encrypted, backup_target(spec), backup_answer(spec, snaps=daily(2)))
    assert result.status is Status.NOT_APPLICABLE
    assert "cannot say whether" in result.summary


@pytest.mark.parametrize(
    "outcome", [BackupOutcome.AUTH_FAILED, BackupOutcome.NOT_FOUND, BackupOutcome.TIMEOUT]
)
def test_a_look_that_failed_is_error(outcome: BackupOutcome) -> None:
    result = run_one(
        encrypted, backup_target(BORG), backup_answer(BORG, outcome=outcome, reason="wrong password")
    )
    assert result.status is Status.ERROR
    assert "wrong password" in result.summary
