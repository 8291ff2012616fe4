"""Backup probe: real restic and borg repositories made in temporary folders, looked at read-only."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from secbase.config import BackupSource
from secbase.facts import BackupAnswer, BackupConfigOutcome, BackupOutcome, backup_config_key, backup_key
from secbase.probes import Limiter
from secbase.probes.backup import BackupProbe, mask

pytestmark = pytest.mark.slow

PASSWORD = "Zebra-Plum-7731-planted-secret"
needs_tools = pytest.mark.skipif(
    not (shutil.which("restic") and shutil.which("borg")), reason="restic and borg are needed"
)


def _env(tmp: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BORG_"))},
        "TZ": "UTC",
        "RESTIC_CACHE_DIR": str(tmp / "cache"),
        "BORG_BASE_DIR": str(tmp / "borgbase"),
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
    }


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


DAY = timedelta(days=1)
NOW = datetime.now(UTC).replace(microsecond=0)
AGES = (DAY * 40, DAY * 2, timedelta(hours=3))


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """restic (password file) and borg (repokey, and none) repositories with snapshots at planted ages."""
    tmp = tmp_path_factory.mktemp("backups")
    data = tmp / "data"
    data.mkdir()
    (data / "big.bin").write_bytes(os.urandom(300_000))
    (data / "note.txt").write_text("town records\n")
    pw = tmp / "pw"
    pw.write_text(PASSWORD + "\n")
    env = _env(tmp)
    restic = {**env, "RESTIC_REPOSITORY": str(tmp / "restic"), "RESTIC_PASSWORD_FILE": str(pw)}
    _run(["restic", "init"], restic)
    for age in AGES:
        _run(["restic", "backup", "--time", _stamp(NOW - age), "--host", "h", str(data)], restic)
    borg = {**env, "BORG_PASSPHRASE": PASSWORD}
    _run(["borg", "init", "--encryption=repokey", str(tmp / "borg")], borg)
    _run(["borg", "init", "--encryption=none", str(tmp / "plain")], borg)
    for i, age in enumerate(AGES):
        stamp = (NOW - age).strftime("%Y-%m-%dT%H:%M:%S")
        for repo in ("borg", "plain"):
            _run(["borg", "create", "--timestamp", stamp, f"{tmp / repo}::a{i}", str(data)], borg)
    return {"tmp": tmp, "pw": pw, "restic": tmp / "restic", "borg": tmp / "borg", "plain": tmp / "plain"}


def _copy(repos: dict[str, Path], name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(repos[name], target)
    return target


def probe_of(*sources: BackupSource, environ: dict[str, str] | None = None, **kw: Any) -> BackupProbe:
    return BackupProbe(
        limiter=Limiter(total=8, per_server=2),
        sources=sources,
        environ=environ if environ is not None else dict(os.environ),
        **kw,
    )


def fetch(probe: BackupProbe, kind: str, location: Path | str, check: str = "auto") -> BackupAnswer:
    async def go() -> Any:
        try:
            return await probe.fetch(backup_key(kind, str(location), check))
        finally:
            probe.close()

    answer = asyncio.run(go())
    assert isinstance(answer, BackupAnswer)
    return answer


def source(kind: str, location: Path | str, **kw: Any) -> BackupSource:
    return BackupSource(name="main", kind=kind, location=str(location), **kw)  # type: ignore[arg-type]


def assert_no_locks(kind: str, repo: Path) -> None:
    if kind == "restic":
        assert list((repo / "locks").iterdir()) == []
    else:
        assert list(repo.glob("lock.*")) == []


@needs_tools
def test_restic_snapshots_encryption_and_check(repos: dict[str, Path]) -> None:
    repo = repos["restic"]
    answer = fetch(probe_of(source("restic", repo, password_file=repos["pw"])), "restic", repo)
    assert answer.error is None
    assert answer.times == tuple(NOW - age for age in AGES)
    assert answer.newest is not None and answer.newest.host == "h"
    assert answer.encrypted is True and "version 2" in answer.encryption
    assert answer.check_ran and answer.check_ok is True and "no errors" in answer.check_summary
    assert answer.created_at is not None and answer.remote is False
    assert_no_locks("restic", repo)


@needs_tools
@pytest.mark.parametrize("name", ["borg", "plain"])
def test_borg_archives_encryption_mode_and_check(repos: dict[str, Path], name: str) -> None:
    repo = repos[name]
    answer = fetch(
        probe_of(
            source("borg", repo, password_env="TOWN_BORG_PW"),
            environ={**os.environ, "TOWN_BORG_PW": PASSWORD},
        ),
        "borg",
        repo,
    )
    assert answer.error is None
    assert answer.times == tuple(NOW - age for age in AGES)
    assert [s.name for s in answer.snapshots] == ["a0", "a1", "a2"]
    assert answer.encrypted is (name == "borg")
    assert answer.encryption == ("repokey" if name == "borg" else "none")
    assert answer.check_ran and answer.check_ok is True
    assert_no_locks("borg", repo)


@needs_tools
def test_never_and_remote_auto_do_not_run_the_check(repos: dict[str, Path]) -> None:
    repo = repos["restic"]
    answer = fetch(probe_of(source("restic", repo, password_file=repos["pw"])), "restic", repo, "never")
    assert answer.error is None and not answer.check_ran and answer.check_ok is None


@needs_tools
@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_a_wrong_password_is_auth_failed(repos: dict[str, Path], tmp_path: Path, kind: str) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    repo = repos[kind]
    answer = fetch(probe_of(source(kind, repo, password_file=wrong)), kind, repo)
    assert answer.outcome is BackupOutcome.AUTH_FAILED, answer.reason
    assert "refused the password" in (answer.error or "")
    assert_no_locks(kind, repo)


@needs_tools
@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_no_password_named_is_auth_failed(repos: dict[str, Path], kind: str) -> None:
    answer = fetch(probe_of(), kind, repos[kind])
    assert answer.outcome is BackupOutcome.AUTH_FAILED


@needs_tools
def test_a_missing_password_file_or_variable_is_auth_failed(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = repos["restic"]
    answer = fetch(probe_of(source("restic", repo, password_file=tmp_path / "nope")), "restic", repo)
    assert answer.outcome is BackupOutcome.AUTH_FAILED and "cannot be read" in answer.reason
    answer = fetch(probe_of(source("restic", repo, password_env="NO_SUCH_VAR_X"), environ={}), "restic", repo)
    assert answer.outcome is BackupOutcome.AUTH_FAILED and "NO_SUCH_VAR_X" in answer.reason


@needs_tools
@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_no_repository_is_not_found(repos: dict[str, Path], tmp_path: Path, kind: str) -> None:
    for where in (tmp_path / "nothing-here", tmp_path):  # absent, and a folder that is no repository
        answer = fetch(probe_of(source(kind, where, password_file=repos["pw"])), kind, where)
        assert answer.outcome is BackupOutcome.NOT_FOUND, answer.reason


@needs_tools
def test_a_damaged_restic_repository_fails_its_check(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = _copy(repos, "restic", tmp_path)
    # The biggest pack holds file data: cut short, the structure check sees its size is wrong (a tree
    # pack would make restic retry its reads for a minute and more).
    biggest = max((p for p in (repo / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    os.truncate(biggest, 10)
    answer = fetch(probe_of(source("restic", repo, password_file=repos["pw"])), "restic", repo)
    assert answer.error is None and answer.check_ran and answer.check_ok is False
    assert "contains errors" in answer.check_summary
    assert_no_locks("restic", repo)


@needs_tools
def test_a_damaged_borg_repository_fails_its_check(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = _copy(repos, "plain", tmp_path)
    segment = max((p for p in (repo / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    body = bytearray(segment.read_bytes())
    body[len(body) // 2] ^= 0xFF
    segment.write_bytes(bytes(body))
    answer = fetch(probe_of(), "borg", repo)
    assert answer.check_ran and answer.check_ok is False, answer.check_summary
    assert_no_locks("borg", repo)


@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_the_tool_missing_is_a_fact_with_the_fix(tmp_path: Path, kind: str) -> None:
    answer = fetch(probe_of(environ={"PATH": str(tmp_path)}), kind, tmp_path)
    assert answer.outcome is BackupOutcome.TOOL_MISSING
    assert "apt-get install" in (answer.error or "")


def test_a_tool_that_hangs_is_a_timeout(tmp_path: Path) -> None:
    stub = tmp_path / "restic"
    stub.write_text("#!/bin/sh\nsleep 30\n")
    stub.chmod(0o755)
    probe = probe_of(environ={"PATH": f"{tmp_path}:/usr/bin:/bin"}, list_timeout_s=0.5)
    answer = fetch(probe, "restic", tmp_path)
    assert answer.outcome is BackupOutcome.TIMEOUT and "0.5 s" in answer.reason
    assert any(run.returncode is None for run in probe.runs)


def test_a_folder_of_dumps_lists_names_sizes_and_times(tmp_path: Path) -> None:
    for i, (age_h, size) in enumerate([(50, 9000), (26, 10000), (2, 120)]):
        dump = tmp_path / f"town-{i}.sql.gz"
        dump.write_bytes(b"x" * size)
        stamp = (NOW - timedelta(hours=age_h)).timestamp()
        os.utime(dump, (stamp, stamp))
    (tmp_path / ".hidden").write_text("x")
    answer = fetch(probe_of(), "folder", tmp_path)
    assert answer.error is None
    assert [s.name for s in answer.snapshots] == ["town-0.sql.gz", "town-1.sql.gz", "town-2.sql.gz"]
    assert answer.newest is not None and answer.newest.time == NOW - timedelta(hours=2)
    assert answer.newest_size_ratio == pytest.approx(0.012)
    assert fetch(probe_of(), "folder", tmp_path / "none").outcome is BackupOutcome.NOT_FOUND


def test_a_password_in_a_url_is_masked() -> None:
    assert (
        mask("rest:https://town:s3cr3t@backup.example:8000/repo")
        == "rest:https://town:***@backup.example:8000/repo"
    )


def _texts(value: Any) -> list[str]:
    out = [repr(value)]
    if hasattr(value, "__dataclass_fields__"):
        for f in fields(value):
            out += _texts(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            out += _texts(item)
    else:
        out.append(str(value))
    return out


@needs_tools
def test_a_planted_password_appears_in_no_fact_reason_or_log(
    repos: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env_pw = {**os.environ, "TOWN_PW": PASSWORD}
    wrong = tmp_path / "wrong"
    wrong.write_text(PASSWORD + "-but-wrong\n")
    damaged = _copy(repos, "restic", tmp_path)
    biggest = max((p for p in (damaged / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    os.truncate(biggest, 10)
    cases: list[tuple[BackupSource, str]] = [
        (source("restic", repos["restic"], password_file=repos["pw"]), "auto"),
        (source("restic", repos["restic"], password_env="TOWN_PW"), "always"),
        (source("restic", repos["restic"], password_file=wrong), "auto"),
        (source("restic", damaged, password_file=repos["pw"]), "auto"),
        (source("restic", tmp_path / "none", password_env="TOWN_PW"), "auto"),
        (source("borg", repos["borg"], password_env="TOWN_PW"), "auto"),
        (source("borg", repos["borg"], password_file=wrong), "auto"),
        (source("borg", repos["plain"], password_file=repos["pw"]), "auto"),
        (source("borg", f"rest:https://u:{PASSWORD}@127.0.0.1:9/x", password_env="TOWN_PW"), "never"),
    ]
    texts: list[str] = []
    for src, check in cases:
        probe = probe_of(src, environ=env_pw)
        answer = fetch(probe, src.kind, src.location, check)
        texts += [*_texts(answer), repr(probe.runs)]
        assert answer.outcome in (
            BackupOutcome.OK,
            BackupOutcome.AUTH_FAILED,
            BackupOutcome.NOT_FOUND,
            BackupOutcome.ERROR,
        )
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    leaked = [t for t in texts if PASSWORD in t]
    assert leaked == []
    assert any("refused the password" in t for t in texts)  # the cases did fail where they should


def test_borgmatic_and_resticprofile_files_become_plans(tmp_path: Path) -> None:
    borgmatic = tmp_path / "borgmatic.yaml"
    borgmatic.write_text(
        "repositories:\n  - path: /srv/backup/town.borg\n    label: local\n  - path: ssh://u@nas.example/./town\n"
        "keep_daily: 7\nkeep_within: 48H\nencryption_passphrase: " + PASSWORD + "\n"
    )
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'version = "1"\n[default]\nrepository = "local:/srv/restic"\npassword-file = "/etc/pw"\n'
        '[default.retention]\nkeep-daily = 14\n[default.backup]\nschedule = "daily"\n[default.check]\nschedule = "weekly"\n'
    )

    async def go() -> list[Any]:
        probe = probe_of()
        return [
            await probe.fetch(backup_config_key("borgmatic", str(borgmatic))),
            await probe.fetch(backup_config_key("resticprofile", str(profiles))),
            await probe.fetch(backup_config_key("borgmatic", str(tmp_path / "none.yaml"))),
        ]

    borg, restic, missing = asyncio.run(go())
    assert borg.error is None and borg.has_remote
    (plan,) = borg.plans
    assert plan.retention.keep_daily == 7 and plan.retention.keep_within_days == 2
    assert plan.password_set and plan.consistency_checks == ("repository", "archives")
    assert PASSWORD not in repr(borg)
    assert restic.error is None and not restic.has_remote
    (profile,) = restic.plans
    assert profile.schedule == ("backup: daily", "check: weekly") and profile.retention.keep_daily == 14
    assert missing.outcome is BackupConfigOutcome.NOT_FOUND
