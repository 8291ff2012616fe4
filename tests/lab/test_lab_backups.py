"""The lab's planted backups: repositories with snapshots at chosen ages, read with restic and borg themselves."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from secbase.config import LoadedConfig
from secbase.lab import Lab
from secbase.lab.backups import (
    ALDER_AGES,
    BIRCH_AGES,
    CEDAR_DUMPS,
    DOGWOOD_AGES,
    LabBackups,
    build_backups,
    init_restic_repository,
)
from secbase.parse.borgmatic import parse_borgmatic
from secbase.plugins import CheckRegistry
from secbase.scan import run_scan

pytestmark = pytest.mark.slow


def _backups(lab: Lab) -> LabBackups:
    assert lab.backups is not None
    return lab.backups


def _restic(backups: LabBackups, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**backups.tool_env(), "RESTIC_REPOSITORY": str(repo)}
    return subprocess.run(
        ["restic", *args, "--no-lock"], env=env, capture_output=True, text=True, check=False
    )


def _ages(now: datetime, times: list[datetime]) -> list[timedelta]:
    return sorted(now - t for t in times)


def _close(got: list[timedelta], want: tuple[timedelta, ...]) -> bool:
    return len(got) == len(want) and all(
        abs(g - w) < timedelta(seconds=2) for g, w in zip(got, sorted(want), strict=True)
    )


def _restic_times(backups: LabBackups, repo: Path) -> list[datetime]:
    done = _restic(backups, repo, "snapshots", "--json")
    assert done.returncode == 0, done.stderr
    return [datetime.fromisoformat(s["time"].replace("Z", "+00:00")) for s in json.loads(done.stdout)]


def test_everything_lives_under_the_lab_workdir(lab: Lab) -> None:
    backups = _backups(lab)
    assert backups.root.is_relative_to(lab.workdir.absolute())
    env = backups.tool_env()
    for name in ("RESTIC_CACHE_DIR", "BORG_BASE_DIR", "RESTIC_PASSWORD_FILE"):
        assert Path(env[name]).is_relative_to(backups.root)


def test_alder_has_fresh_daily_snapshots_over_35_days_and_a_clean_check(lab: Lab) -> None:
    backups = _backups(lab)
    assert _close(_ages(lab.now, _restic_times(backups, backups.alder_repo)), ALDER_AGES)
    assert max(ALDER_AGES) >= timedelta(days=35) and min(ALDER_AGES) == timedelta(hours=2)
    done = _restic(backups, backups.alder_repo, "check")
    assert done.returncode == 0, done.stderr


def test_dogwood_is_22_hours_old_and_fails_its_check(lab: Lab) -> None:
    backups = _backups(lab)
    assert _close(_ages(lab.now, _restic_times(backups, backups.dogwood_repo)), DOGWOOD_AGES)
    started = time.monotonic()
    done = _restic(backups, backups.dogwood_repo, "check")
    assert done.returncode != 0
    assert "unexpected file size" in done.stderr + done.stdout
    assert time.monotonic() - started < 10  # the damage is in a data pack: no read is retried


def test_restic_config_is_a_version_2_repository(lab: Lab) -> None:
    backups = _backups(lab)
    done = _restic(backups, backups.alder_repo, "cat", "config")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == 2


def test_birch_borg_is_unencrypted_and_3_days_stale(lab: Lab) -> None:
    backups = _backups(lab)
    done = subprocess.run(
        ["borg", "list", "--json", "--bypass-lock", str(backups.birch_repo)],
        env=backups.tool_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["encryption"]["mode"] == "none"
    times = [datetime.fromisoformat(a["start"]).replace(tzinfo=UTC) for a in listing["archives"]]
    assert _close(_ages(lab.now, times), BIRCH_AGES)


def test_birch_borgmatic_has_one_local_repository_and_three_days(lab: Lab) -> None:
    parsed = parse_borgmatic(_backups(lab).birch_borgmatic.read_text(encoding="utf-8"))
    assert parsed.repositories == ((str(_backups(lab).birch_repo), "local"),)
    assert parsed.retention == (("keep_daily", 3),)
    assert not parsed.password_set


def test_cedar_dumps_are_10_hours_old_and_the_newest_is_small(lab: Lab) -> None:
    folder = _backups(lab).cedar_dumps
    dumps = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    assert len(dumps) == len(CEDAR_DUMPS)
    newest, before = dumps[0].stat(), dumps[1].stat()
    age = lab.now - datetime.fromtimestamp(newest.st_mtime, UTC)
    assert abs(age - timedelta(hours=10)) < timedelta(seconds=2)
    assert newest.st_size * 10 < before.st_size


def test_elm_repository_does_not_exist(lab: Lab) -> None:
    backups = _backups(lab)
    assert not backups.elm_repo.exists() and not backups.elm_profile.exists()
    assert _restic(backups, backups.elm_repo, "snapshots", "--json").returncode != 0


def test_the_config_declares_each_towns_backups(lab_config: LoadedConfig) -> None:
    by_org = {o.id: o.backups for o in lab_config.config.organisations}
    assert {k: [(b.kind, b.offsite) for b in v] for k, v in by_org.items()} == {
        "alder": [("restic", True)],
        "birch": [("borg", False)],
        "cedar": [("folder", False)],
        "dogwood": [("restic", False)],
        "elm": [("restic", False)],
    }
    for sources in by_org.values():
        for source in sources:
            assert Path(source.location).is_absolute()


PLANTED = {
    ("alder", "backup.encrypted"): "pass",
    ("alder", "backup.fresh"): "pass",
    ("alder", "backup.integrity"): "pass",
    ("alder", "backup.offsite"): "pass",
    ("alder", "backup.retention"): "pass",
    ("birch", "backup.encrypted"): "fail",
    ("birch", "backup.fresh"): "fail",
    ("birch", "backup.offsite"): "fail",
    ("birch", "backup.retention"): "fail",
    ("cedar", "backup.fresh"): "pass",
    ("dogwood", "backup.fresh"): "warn",
    ("dogwood", "backup.integrity"): "fail",
}


def test_a_backup_scan_finds_what_is_planted(lab_config: LoadedConfig, registry: CheckRegistry) -> None:
    if not any(c.startswith("backup.") for c in registry.checks):
        pytest.skip("no backup checks yet")
    outcome = run_scan(lab_config.config, registry.select(["backup.*"]))
    got = {(r.organisation, r.check): str(r.status) for r in outcome.results}
    assert {k: got.get(k) for k in PLANTED} == PLANTED
    assert got[("cedar", "backup.encrypted")] in ("not_applicable", "error")
    elm = [r for r in outcome.results if r.organisation == "elm"]
    assert elm and all(str(r.status) == "error" for r in elm)
    assert all(r.summary.startswith("Could not check: ") for r in elm)


def test_the_backups_are_quick_to_build(tmp_path: Path) -> None:
    started = time.monotonic()
    build_backups(tmp_path, datetime.now(UTC))
    assert time.monotonic() - started < 8  # about 2.5 s on two cores


def test_a_written_restic_repository_opens_with_its_password(tmp_path: Path) -> None:
    init_restic_repository(tmp_path / "repo", "pw-for-test")
    (tmp_path / "pw").write_text("pw-for-test\n", encoding="utf-8")
    env = {"RESTIC_REPOSITORY": str(tmp_path / "repo"), "RESTIC_PASSWORD_FILE": str(tmp_path / "pw")}
    env.update({"RESTIC_CACHE_DIR": str(tmp_path / "cache"), "PATH": os.environ.get("PATH", "/usr/bin")})
    done = subprocess.run(
        ["restic", "snapshots", "--json", "--no-lock"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    (tmp_path / "pw").write_text("wrong\n", encoding="utf-8")
    done = subprocess.run(
        ["restic", "snapshots", "--json", "--no-lock"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
