"""backup.offsite, per organisation, from the declared sources and their configuration files."""

from __future__ import annotations

from secbase_checks.backup.offsite import offsite

from secbase import Status
from secbase.facts import BackupConfigOutcome, BackupRepository
from tests.checks.factories import backup_config, backup_spec, backup_target, run, run_one

FILES = backup_spec("files")
DUMPS = backup_spec("dumps", kind="folder", location="/srv/dumps")
MAIL = backup_spec("mail", kind="borg", location="/srv/borg/mail", config_file="/etc/borgmatic/mail.yaml")


def test_no_copy_away_from_the_building_fails_once_for_the_organisation() -> None:
    result = run_one(offsite, backup_target(FILES, others=[DUMPS]))
    assert result.status is Status.FAIL
    assert result.severity.value == "high"
    assert result.subject == "organisation"
    assert "files: restic /srv/backup/files" in result.evidence and "dumps" in result.evidence


def test_the_verdict_is_given_on_the_first_source_only() -> None:
    second = backup_target(DUMPS)
    second = type(second)("alder", second.kind, "dumps", backup=DUMPS, org_backups=(FILES, DUMPS))
    assert run(offsite, second) == []


def test_a_source_marked_offsite_passes() -> None:
    cloud = backup_spec("cloud", location="s3:s3.example.test/alder", remote=True, offsite=True)
    result = run_one(offsite, backup_target(FILES, others=[cloud]))
    assert result.status is Status.PASS
    assert "cloud" in result.summary


def test_a_source_marked_immutable_passes() -> None:
    locked = backup_spec("nas", location="/mnt/nas/backup", immutable=True)
    assert run_one(offsite, backup_target(locked)).status is Status.PASS


def test_a_remote_repository_in_a_configuration_counts() -> None:
    config = backup_config(
        MAIL, BackupRepository(MAIL.location, False), BackupRepository("ssh://b@offsite.test/./mail", True)
    )
    result = run_one(offsite, backup_target(FILES, others=[MAIL]), config)
    assert result.status is Status.PASS
    assert "/etc/borgmatic/mail.yaml" in result.summary


def test_a_configuration_with_only_local_repositories_fails() -> None:
    result = run_one(offsite, backup_target(MAIL), backup_config(MAIL))
    assert result.status is Status.FAIL


def test_a_declared_remote_source_not_marked_offsite_fails_with_a_hint() -> None:
    sftp = backup_spec("nas", location="sftp:nas.alder.test:/backup", remote=True)
    result = run_one(offsite, backup_target(sftp))
    assert result.status is Status.FAIL
    assert "mark it offsite: true" in result.summary


def test_a_password_in_a_location_is_never_shown() -> None:
    rest = backup_spec("rest", location="rest:https://alder:s3cret@backup.alder.test/", remote=True)
    result = run_one(offsite, backup_target(rest))
    assert "s3cret" not in result.evidence + result.summary


def test_an_unreadable_configuration_is_error_not_fail() -> None:
    unread = backup_config(MAIL, outcome=BackupConfigOutcome.NOT_FOUND)
    result = run_one(offsite, backup_target(MAIL), unread)
    assert result.status is Status.ERROR


def test_a_marked_source_passes_without_reading_any_configuration() -> None:
    cloud = backup_spec("cloud", location="s3:s3.example.test/alder", remote=True, offsite=True)
    assert run_one(offsite, backup_target(MAIL, others=[cloud])).status is Status.PASS
