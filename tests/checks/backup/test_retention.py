"""backup.retention, from backup facts and configuration files written by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from secbase_checks.backup.retention import retention

from secbase import Status
from secbase.facts import (
    BackupConfigOutcome,
    BackupOutcome,
    BackupPlan,
    BackupRepository,
    BackupRetention,
)
from secbase.model import BackupSpec
from secbase.parse.borgmatic import parse_borgmatic
from secbase.parse.resticprofile import parse_resticprofile
from tests.checks.factories import (
    NOW,
    backup_answer,
    backup_config,
    backup_spec,
    backup_target,
    daily,
    run_one,
    snapshots,
)
from tests.checks.factories import retention as keep

D = timedelta(days=1)
LOCAL = backup_spec()
OLD = NOW - 400 * D  # the local repository was made long ago


def week_and(oldest: timedelta) -> tuple[timedelta, ...]:
    """A snapshot each of the last seven days, and one `oldest` ago."""
    return (oldest, *(timedelta(days=d, hours=2) for d in range(7)))


def test_a_month_of_daily_snapshots_passes() -> None:
    result = run_one(retention, backup_target(LOCAL), backup_answer(LOCAL, snaps=daily(40), created_at=OLD))
    assert result.status is Status.PASS
    assert result.severity.value == "medium"


@pytest.mark.parametrize(
    ("oldest", "status"),
    [(30 * D, Status.PASS), (30 * D - timedelta(seconds=1), Status.FAIL), (10 * D, Status.FAIL)],
)
def test_the_oldest_snapshot_must_reach_the_retention_goal(oldest: timedelta, status: Status) -> None:
    facts = backup_answer(LOCAL, snaps=snapshots(*week_and(oldest)), created_at=OLD)
    assert run_one(retention, backup_target(LOCAL), facts).status is status


def test_the_sources_own_goal_is_used() -> None:
    spec = backup_spec(retention_days=90)
    facts = backup_answer(spec, snaps=snapshots(*week_and(60 * D)), created_at=OLD)
    result = run_one(retention, backup_target(spec), facts)
    assert result.status is Status.FAIL
    assert "90 days" in result.summary


@pytest.mark.parametrize(("made_days", "status"), [(30, Status.PASS), (30.001, Status.FAIL)])
def test_a_repository_younger_than_the_goal_is_not_short_of_history(made_days: float, status: Status) -> None:
    facts = backup_answer(LOCAL, snaps=daily(7), created_at=NOW - timedelta(days=made_days))
    assert run_one(retention, backup_target(LOCAL), facts).status is status


def test_a_repository_of_unknown_age_short_of_the_goal_is_error_not_pass() -> None:
    spec = backup_spec("cloud", location="s3:s3.example.test/alder", remote=True)
    result = run_one(retention, backup_target(spec), backup_answer(spec, snaps=daily(10)))
    assert result.status is Status.ERROR
    assert "may be new" in result.summary


@pytest.mark.parametrize(("missing_day", "status"), [(None, Status.PASS), (0, Status.WARN), (6, Status.WARN)])
def test_fewer_than_seven_daily_snapshots_in_the_last_week_warns(
    missing_day: int | None, status: Status
) -> None:
    ages = [timedelta(days=d, hours=2) for d in range(40) if d != missing_day]
    result = run_one(
        retention, backup_target(LOCAL), backup_answer(LOCAL, snaps=snapshots(*ages), created_at=OLD)
    )
    assert result.status is status
    if status is Status.WARN:
        assert "6 of the last 7 days" in result.summary


@pytest.mark.parametrize(
    ("last_age", "status"), [(7 * D - timedelta(seconds=1), Status.PASS), (7 * D, Status.WARN)]
)
def test_the_last_week_is_the_seven_days_before_the_scan(last_age: timedelta, status: Status) -> None:
    ages = [*(timedelta(days=d, hours=2) for d in range(6)), last_age, 40 * D]
    facts = backup_answer(LOCAL, snaps=snapshots(*ages), created_at=OLD)
    assert run_one(retention, backup_target(LOCAL), facts).status is status


def test_a_weekly_source_is_not_asked_for_daily_snapshots() -> None:
    spec = backup_spec(rpo_hours=170)
    ages = [timedelta(days=7 * w, hours=2) for w in range(6)]
    facts = backup_answer(spec, snaps=snapshots(*ages), created_at=OLD)
    assert run_one(retention, backup_target(spec), facts).status is Status.PASS


def test_a_fail_outranks_a_warn_and_both_are_said() -> None:
    facts = backup_answer(LOCAL, snaps=snapshots(3 * D, 10 * D), created_at=OLD)
    result = run_one(retention, backup_target(LOCAL), facts)
    assert result.status is Status.FAIL
    assert "only" in result.summary and "of the last 7 days" in result.summary


def test_no_snapshot_is_error_pointing_at_backup_fresh() -> None:
    result = run_one(retention, backup_target(LOCAL), backup_answer(LOCAL))
    assert result.status is Status.ERROR
    assert "backup.fresh" in result.summary


def test_a_look_that_failed_is_error() -> None:
    result = run_one(retention, backup_target(LOCAL), backup_answer(LOCAL, outcome=BackupOutcome.AUTH_FAILED))
    assert result.status is Status.ERROR


# --- from the configuration file ----------------------------------------------------------------------

BORG = backup_spec("mail", kind="borg", location="/srv/borg/mail", config_file="/etc/borgmatic/mail.yaml")
GOOD_HISTORY = dict(snaps=daily(40), created_at=OLD)


@pytest.mark.parametrize(
    ("settings", "status"),
    [
        ({"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6}, Status.PASS),
        ({"keep_within": "30d"}, Status.PASS),
        ({"keep_within": "29d", "keep_daily": 7}, Status.FAIL),  # a day short of the goal
        ({"keep_daily": 7, "keep_weekly": 2}, Status.FAIL),  # 14 days
        ({"keep_daily": 6, "keep_monthly": 12}, Status.WARN),  # reaches far, too few dailies
        ({"keep_hourly": 24 * 7, "keep_monthly": 2}, Status.PASS),
        ({"keep_last": 30}, Status.ERROR),  # a count, not a time
    ],
)
def test_the_configured_keep_settings_are_judged(settings: dict[str, object], status: Status) -> None:
    facts = [backup_answer(BORG, **GOOD_HISTORY), backup_config(BORG, keep=keep(**settings))]
    result = run_one(retention, backup_target(BORG), *facts)
    assert result.status is status, result.summary
    if status is not Status.PASS:
        assert "/etc/borgmatic/mail.yaml" in result.summary


def test_a_configuration_that_never_prunes_passes() -> None:
    facts = [backup_answer(BORG, **GOOD_HISTORY), backup_config(BORG, keep=None)]
    assert run_one(retention, backup_target(BORG), *facts).status is Status.PASS


def test_only_the_profiles_writing_to_this_repository_count() -> None:
    spec = backup_spec(config_file="/etc/resticprofile/profiles.toml")
    plans = [
        BackupPlan(
            "files",
            repositories=(BackupRepository(spec.location, False),),
            retention=keep(keep_daily=7, keep_monthly=3),
        ),
        BackupPlan(
            "other", repositories=(BackupRepository("/srv/other", False),), retention=keep(keep_daily=2)
        ),
    ]
    facts = [backup_answer(spec, **GOOD_HISTORY), backup_config(spec, plans=plans)]
    assert run_one(retention, backup_target(spec), *facts).status is Status.PASS


def test_an_unreadable_configuration_is_error_unless_something_else_is_wrong() -> None:
    unread = backup_config(BORG, outcome=BackupConfigOutcome.NOT_FOUND)
    result = run_one(retention, backup_target(BORG), backup_answer(BORG, **GOOD_HISTORY), unread)
    assert result.status is Status.ERROR
    assert "no such file" in result.summary
    short = backup_answer(BORG, snaps=daily(10), created_at=OLD)
    assert run_one(retention, backup_target(BORG), short, unread).status is Status.FAIL


def test_a_repository_made_after_its_oldest_snapshot_counts_from_that_snapshot() -> None:
    # Snapshots can be dated back (restic --time) or a repository copied: it is as old as its oldest one.
    result = run_one(
        retention,
        backup_target(LOCAL),
        backup_answer(LOCAL, snaps=daily(40), created_at=NOW - timedelta(hours=1)),
    )
    assert result.status is Status.PASS, result.summary
    assert "reach back" in result.summary and "each of the last 7 days" in result.summary


def test_a_repository_less_than_a_day_old_is_worded_for_one_day() -> None:
    made = NOW - timedelta(hours=20)
    result = run_one(
        retention,
        backup_target(LOCAL),
        backup_answer(LOCAL, snaps=snapshots(timedelta(hours=10), now=NOW), created_at=made),
    )
    assert result.status is Status.PASS, result.summary
    assert "A snapshot was taken in the last day." in result.summary


# --- keep settings read honestly ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "status", "said"),
    [
        # restic 0.17+ and borg: a negative count (restic also "unlimited") keeps every one
        ({"keep_daily": -1}, Status.PASS, "without limit (keep_daily)"),
        ({"unlimited": ("keep_daily",)}, Status.PASS, "without limit (keep_daily)"),
        ({"keep_monthly": -1, "keep_daily": 7}, Status.PASS, "without limit"),
        # restic's keep-within-* reach as far as their duration
        ({"keep_within_daily": "60d"}, Status.PASS, "about 60 days"),
        ({"keep_within_daily": "7d", "keep_within_monthly": "1y"}, Status.PASS, "about 365 days"),
        ({"keep_within_daily": "10d"}, Status.FAIL, "about 10 days of backups, under 30 days"),
        ({"keep_within_weekly": "8w", "keep_daily": 7}, Status.PASS, "about 56 days"),
        # borg's quarterly rules
        ({"keep_daily": 7, "keep_13weekly": 4}, Status.PASS, "about 364 days"),
        ({"keep_daily": 7, "keep_3monthly": 1}, Status.PASS, "about 90 days"),
        # borg's keep_minutely and keep_secondly keep the last N backups, whatever their age
        ({"keep_minutely": 60}, Status.ERROR, "which secbase cannot turn into days"),
        ({"keep_secondly": 5}, Status.FAIL, "about 5.4 days of backups at most, under 30 days"),
        ({"keep_minutely": 5, "keep_daily": 7}, Status.FAIL, "the last 5 snapshots (keep_minutely)"),
        ({"keep_last": 3, "keep_daily": 7}, Status.FAIL, "about 7 days of backups at most"),
        ({"keep_last": 40, "keep_daily": 7}, Status.ERROR, "At one backup a day that is about 40 days"),
        # anything not understood is "cannot judge", never a pass
        ({"keep_daily": 7, "keep_monthly": 12, "unknown": ("keep-tag: monthly",)}, Status.ERROR, "keep-tag"),
        ({"keep_within": "30"}, Status.ERROR, "does not understand keep_within: 30"),
        ({}, Status.ERROR, "does not understand its keep settings"),
    ],
)
def test_every_keep_setting_is_read_or_named_as_not_understood(
    settings: dict[str, object], status: Status, said: str
) -> None:
    facts = [backup_answer(BORG, **GOOD_HISTORY), backup_config(BORG, keep=keep(**settings))]
    result = run_one(retention, backup_target(BORG), *facts)
    assert result.status is status, result.summary
    assert said in result.summary
    assert "/etc/borgmatic/mail.yaml" in result.summary


def test_keep_settings_straight_from_the_parsers() -> None:
    restic = parse_resticprofile(
        "p:\n  repository: /srv/backup/files\n  retention: {keep-within-daily: 45d, keep-weekly: -1}\n"
    )
    borg = parse_borgmatic("repositories: [/srv/borg/mail]\nkeep_minutely: 60\nkeep_fortnightly: 3\n")
    read = [BackupRetention.from_pairs(restic[0].retention), BackupRetention.from_pairs(borg.retention)]
    assert read[0] == keep(keep_within_daily="45d", unlimited=("keep_weekly",))
    assert read[1] == keep(keep_minutely=60, unknown=("keep_fortnightly: 3",))
    facts = [backup_answer(BORG, **GOOD_HISTORY), backup_config(BORG, keep=read[1])]
    result = run_one(retention, backup_target(BORG), *facts)
    assert result.status is Status.ERROR and "keep_fortnightly" in result.summary


def test_never_deleting_explains_prune_and_forget() -> None:
    facts = [backup_answer(BORG, **GOOD_HISTORY), backup_config(BORG, keep=None)]
    result = run_one(retention, backup_target(BORG), *facts)
    assert "no rules to delete old backups (prune/forget)" in result.summary


def test_an_unknown_age_says_what_it_means_for_the_keep_settings() -> None:
    spec = backup_spec("cloud", location="s3:s3.example.test/alder", remote=True)
    result = run_one(retention, backup_target(spec), backup_answer(spec, snaps=daily(10)))
    assert "If the repository is older than 30 days, its keep settings delete too much." in result.summary


# --- which profile writes to this source ------------------------------------------------------------------

PROFILES = "/etc/resticprofile/profiles.yaml"


def _two_plans(spec_location: str, written: str) -> tuple[BackupSpec, list[BackupPlan]]:
    """This source's profile (keeping enough, its repository spelt `written`) and an unrelated one keeping 2 days."""
    spec = backup_spec(location=spec_location, config_file=PROFILES)
    plans = [
        BackupPlan("files", (BackupRepository(written, False),), keep(keep_daily=7, keep_monthly=3)),
        BackupPlan("other", (BackupRepository("/srv/other", False),), keep(keep_daily=2)),
    ]
    return spec, plans


@pytest.mark.parametrize(
    ("location", "written"),
    [
        ("rest:https://town:s3cret@nas:8000/files", "rest:https://town:***@nas:8000/files"),  # masked
        ("/srv/backup/files", "local:/srv/backup/files"),
        ("/srv/backup/files", "/srv/backup/files/"),
        ("/srv/backup/files/", "local:/srv/backup/./files"),
        ("/srv/backup/files", "../../srv/backup/files"),  # relative to the profiles file's folder
        ("s3:s3.example.test/town/", "s3:s3.example.test/town"),
    ],
)
def test_the_sources_repository_is_found_however_it_is_spelt(location: str, written: str) -> None:
    spec, plans = _two_plans(location, written)
    facts = [backup_answer(spec, **GOOD_HISTORY), backup_config(spec, plans=plans)]
    result = run_one(retention, backup_target(spec), *facts)
    assert result.status is Status.PASS, result.summary
    assert "profile files" in result.summary and "profile other" not in result.summary


def test_a_file_naming_no_repository_of_the_source_cannot_judge_it() -> None:
    spec, plans = _two_plans("rest:https://town:s3cret@nas:8000/files", "/srv/elsewhere")
    facts = [backup_answer(spec, **GOOD_HISTORY), backup_config(spec, plans=plans)]
    result = run_one(retention, backup_target(spec), *facts)
    assert result.status is Status.ERROR, result.summary  # not the unrelated profile's fail
    assert f"{PROFILES} names no repository at rest:https://town:***@nas:8000/files" in result.summary
    assert "s3cret" not in result.summary
