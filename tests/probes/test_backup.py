"""Backup probe: real restic and borg repositories made in temporary folders, looked at read-only."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import logging
import os
import shutil
import socket
import string
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secbase.config import BackupSource, load_config
from secbase.facts import (
    BackupAnswer,
    BackupConfigOutcome,
    BackupOutcome,
    FactKey,
    backup_config_key,
    backup_key,
    http_key,
)
from secbase.parse import mask
from secbase.plugins import CheckRegistry
from secbase.probes import Limiter
from secbase.probes.backup import CHANGED_DURING_CHECK, BackupProbe
from secbase.probes.restore import RestoreProbe
from secbase.scan import run_scan

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
    # keyfile mode keeps the key under BORG_BASE_DIR (here the test's own), never in the repository;
    # authenticated mode signs the archives without encrypting them.
    for name, mode in (("keyfile", "keyfile"), ("signed", "authenticated")):
        _run(["borg", "init", f"--encryption={mode}", str(tmp / name)], borg)
        stamp = (NOW - AGES[-1]).strftime("%Y-%m-%dT%H:%M:%S")
        _run(["borg", "create", "--timestamp", stamp, f"{tmp / name}::a0", str(data)], borg)
    (made,) = (tmp / "borgbase").rglob("keys/*")
    shutil.copy(made, tmp / "town.key")
    return {
        "tmp": tmp,
        "pw": pw,
        "data": data,
        "restic": tmp / "restic",
        "borg": tmp / "borg",
        "plain": tmp / "plain",
        "keyfile": tmp / "keyfile",
        "key": tmp / "town.key",
        "signed": tmp / "signed",
    }


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
        "always",  # borg's check writes (its config file): it runs only when the source says always
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
    answer = fetch(probe_of(), "borg", repo, "always")
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


# -- a tool that cannot start, and passwords in URLs ----------------------------------------------------

URL_PASSWORD = "Hunter2secret"
URL_LOCATION = f"rest:https://town:{URL_PASSWORD}@127.0.0.1:9/repo"


def stub(folder: Path, tool: str, body: str) -> dict[str, str]:
    """A `tool` script first on PATH; the environment for a probe that should run it."""
    folder.mkdir(exist_ok=True)
    script = folder / tool
    script.write_text(body)
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "TOWN_PW": PASSWORD}


def test_a_tool_that_cannot_start_is_a_fact_that_shows_no_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, registry: CheckRegistry
) -> None:
    caplog.set_level(logging.DEBUG)
    environ = stub(tmp_path / "bin", "restic", "#!/nonexistent\n")  # exec fails: no such interpreter
    src = source("restic", URL_LOCATION, password_env="TOWN_PW", check="never")
    answer = fetch(probe_of(src, environ=environ), "restic", URL_LOCATION, "never")
    assert answer.outcome is BackupOutcome.ERROR
    assert "could not be run" in answer.reason and "town:***@127.0.0.1:9" in answer.reason

    config = tmp_path / "town.yml"
    config.write_text(
        "version: 1\norganisations:\n  - id: town\n    name: Town\n    backups:\n"
        f"      - {{name: offsite, kind: restic, location: '{URL_LOCATION}', password_env: TOWN_PW,"
        " check: never}\n"
    )
    loaded = load_config(config).config
    probe = probe_of(*loaded.organisations[0].backups, environ=environ)
    outcome = run_scan(
        loaded, registry.select(["backup.*"]), probes={"backup": probe, "restore": RestoreProbe()}
    )
    assert outcome.results and all(r.target == "offsite" for r in outcome.results)
    assert any("could not be run" in r.summary for r in outcome.results)
    texts = [*_texts(answer), *map(repr, outcome.results), caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    assert [t for t in texts if URL_PASSWORD in t] == []


def test_the_probe_boundary_turns_a_bug_into_a_fact_with_the_password_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)

    async def broken(self: BackupProbe, location: str, *args: Any) -> BackupAnswer:
        raise RuntimeError(f"a bug of ours on {location} with {PASSWORD}")

    monkeypatch.setattr(BackupProbe, "_restic", broken)
    src = source("restic", URL_LOCATION, password_env="TOWN_PW")
    answer = fetch(probe_of(src, environ={"TOWN_PW": PASSWORD}), "restic", URL_LOCATION, "never")
    assert answer.outcome is BackupOutcome.ERROR and "RuntimeError: a bug of ours" in answer.reason
    texts = [*_texts(answer), caplog.text]
    assert [t for t in texts if URL_PASSWORD in t or PASSWORD in t] == []
    assert "town:***@" in caplog.text


def test_a_fact_key_never_shows_a_password_written_in_a_url() -> None:
    assert str(backup_key("restic", URL_LOCATION, "never")) == (
        "backup(restic, rest:https://town:***@127.0.0.1:9/repo, never)"
    )
    assert str(http_key("https://u:p@ss/w rd@www.alder.test/")) == "http(https://u:***@www.alder.test/)"
    assert str(FactKey("dns", ("alder.test", "A"))) == "dns(alder.test, A)"
    key = backup_key("restic", URL_LOCATION, "never")
    assert URL_PASSWORD not in repr(key) and "town:***@" in repr(key)
    assert repr(FactKey("dns", ("alder.test", "A"))) == "FactKey('dns', ('alder.test', 'A'))"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rest:https://u:p@ss@host/r", "rest:https://u:***@host/r"),
        ("rest:https://u:pa/ss@host:8000/r", "rest:https://u:***@host:8000/r"),
        ("rest:https://u:pa ss@host/r", "rest:https://u:***@host/r"),
        ("s3:https://KEY:se:cr@t/x@s3.example/bucket", "s3:https://KEY:***@s3.example/bucket"),
        ("sftp://town@nas.example//srv/restic", "sftp://town@nas.example//srv/restic"),  # no password
        ("ssh://town@nas.example/./borg", "ssh://town@nas.example/./borg"),
        ("/srv/backup/restic", "/srv/backup/restic"),
    ],
)
def test_mask_hides_passwords_holding_at_slash_colon_or_space(url: str, shown: str) -> None:
    assert mask(url) == shown


_USER = st.text(string.ascii_lowercase + string.digits + "._-", min_size=0, max_size=12)
_HOST = st.text(string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=20)
_PATH = st.text(string.ascii_letters + string.digits + "./_-", max_size=20)
# Any printable text, "@", "/", ":" and spaces too (restic takes "@" in a URL's password).
_PASSWORD = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("@/: :@//"), min_size=1, max_size=30
)


@given(user=_USER, password=_PASSWORD, host=_HOST, path=_PATH)
def test_mask_never_shows_a_password_of_a_url(user: str, password: str, host: str, path: str) -> None:
    url = f"rest:https://{user}:{password}@{host}/{path}"
    assert mask(url) == f"rest:https://{user}:***@{host}/{path}"
    assert mask(f"Fatal: {url} refused") == f"Fatal: rest:https://{user}:***@{host}/{path} refused"
    assert mask(mask(url)) == mask(url)


# -- read-only: nothing in a repository changes, no lock is ever taken ----------------------------------


def state_of(repo: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder of a repository: modification time, size and content hash."""
    return {
        str(p.relative_to(repo)): (
            p.lstat().st_mtime_ns,
            p.lstat().st_size,
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "",
        )
        for p in sorted(repo.rglob("*"))
    }


@needs_tools
@pytest.mark.parametrize("kind", ["restic", "borg"])
def test_a_look_with_check_auto_changes_nothing_in_a_local_repository(
    repos: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    repo = _copy(repos, kind, tmp_path)
    before = state_of(repo)
    answer = fetch(probe_of(source(kind, repo, password_file=repos["pw"])), kind, repo, "auto")
    assert answer.error is None and answer.snapshots
    assert state_of(repo) == before
    if kind == "restic":  # restic's check writes nothing to the repository: it runs under auto
        assert answer.check_ran and answer.check_ok is True and answer.check_skipped == ""
    else:  # borg's rewrites its config file: only under check: always, and the fact says why
        assert not answer.check_ran and answer.check_ok is None
        assert "rewrites the repository's config file" in answer.check_skipped
        assert "check: always" in answer.check_skipped


@needs_tools
def test_why_a_check_did_not_run_is_in_the_fact(repos: dict[str, Path]) -> None:
    repo = repos["restic"]
    answer = fetch(probe_of(source("restic", repo, password_file=repos["pw"])), "restic", repo, "never")
    assert answer.check_skipped == "the source says check: never"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
@needs_tools
def test_borg_check_on_a_read_only_mount_says_so_in_plain_words(
    repos: dict[str, Path], tmp_path: Path
) -> None:
    repo = _copy(repos, "plain", tmp_path)
    # The real borg, in a mount namespace of its own where the repository is mounted read-only.
    real = shutil.which("borg")
    environ = stub(
        tmp_path / "bin",
        "borg",
        "#!/bin/sh\nexec unshare -m sh -c "
        f'\'mount --bind -o ro "$BORG_REPO" "$BORG_REPO" && exec {real} "$@"\' sh "$@"\n',
    )
    before = state_of(repo)
    answer = fetch(probe_of(environ=environ), "borg", repo, "always")
    assert answer.error is None and len(answer.snapshots) == 3  # listing reads only
    assert answer.check_ran and answer.check_ok is None
    assert answer.check_summary == (
        "the borg check could not run: the repository is on a read-only file system, "
        "and borg check rewrites the repository's config file (same content)"
    )
    assert state_of(repo) == before


@needs_tools
def test_every_restic_call_carries_no_lock_and_every_borg_call_bypass_lock(
    repos: dict[str, Path], tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    environ: dict[str, str] = {}
    for tool in ("restic", "borg"):
        real = shutil.which(tool)
        environ = stub(tmp_path / "bin", tool, f'#!/bin/sh\necho "{tool} $*" >> {calls}\nexec {real} "$@"\n')
    damaged = _copy(repos, "restic", tmp_path)
    biggest = max((p for p in (damaged / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    os.truncate(biggest, 10)
    looks = [  # every command each tool is given: lists, config, checks, the listing after a failed check
        ("restic", repos["restic"], "always"),
        ("restic", damaged, "auto"),
        ("borg", repos["borg"], "always"),
        ("borg", repos["plain"], "auto"),
    ]
    for kind, repo, check in looks:
        src = source(kind, repo, password_file=repos["pw"])
        assert fetch(probe_of(src, environ=environ), kind, repo, check).error is None
    lines = [line.split() for line in calls.read_text().splitlines()]
    commands = {" ".join(a for a in args[:3] if not a.startswith("-")) for args in lines}
    assert {"restic snapshots", "restic cat config", "restic check", "borg list", "borg check"} <= commands
    assert sum(args[:2] == ["restic", "snapshots"] for args in lines) == 3  # again after the failed check
    for args in lines:
        assert ("--no-lock" if args[0] == "restic" else "--bypass-lock") in args, args


# -- borg key files, the network, signed-only modes ------------------------------------------------------


@needs_tools
def test_a_borg_keyfile_repository_is_read_with_key_file(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = repos["keyfile"]
    answer = fetch(probe_of(source("borg", repo, password_file=repos["pw"])), "borg", repo)
    assert answer.outcome is BackupOutcome.AUTH_FAILED
    assert "key_file" in answer.reason and "secbase-backup" not in answer.reason
    assert "/keys" not in answer.reason and "found in" not in answer.reason  # not borg's folder

    src = source("borg", repo, password_file=repos["pw"], key_file=repos["key"])
    answer = fetch(probe_of(src), "borg", repo)
    assert answer.error is None and answer.encryption == "keyfile" and answer.encrypted is True
    assert len(answer.snapshots) == 1

    src = source("borg", repo, password_file=repos["pw"], key_file=tmp_path / "gone.key")
    answer = fetch(probe_of(src), "borg", repo)
    assert answer.outcome is BackupOutcome.AUTH_FAILED and "key_file cannot be read" in answer.reason
    assert "gone.key" not in answer.reason

    src = source("borg", repo, password_file=repos["pw"], key_file=repos["pw"])  # not a key at all
    answer = fetch(probe_of(src), "borg", repo)
    assert answer.outcome is BackupOutcome.AUTH_FAILED and "key_file is not the key" in answer.reason


@needs_tools
def test_a_borg_authenticated_repository_is_not_encrypted(repos: dict[str, Path]) -> None:
    repo = repos["signed"]
    answer = fetch(probe_of(source("borg", repo, password_file=repos["pw"])), "borg", repo)
    assert answer.error is None
    assert answer.encryption == "authenticated" and answer.encrypted is False


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nobody listens there


@needs_tools
def test_a_refused_connection_is_not_a_missing_repository(repos: dict[str, Path]) -> None:
    location = f"rest:http://127.0.0.1:{_closed_port()}/repo"
    answer = fetch(probe_of(source("restic", location, password_file=repos["pw"])), "restic", location)
    assert answer.outcome is BackupOutcome.ERROR, answer.reason
    assert "could not reach the server" in answer.reason and "connection refused" in answer.reason
    assert "no restic repository" not in answer.reason


@pytest.mark.skipif(not shutil.which("ssh"), reason="ssh is needed")
@needs_tools
def test_a_refused_ssh_connection_is_not_a_missing_borg_repository(repos: dict[str, Path]) -> None:
    location = f"ssh://town@127.0.0.1:{_closed_port()}/./repo"
    answer = fetch(probe_of(source("borg", location, password_file=repos["pw"])), "borg", location)
    assert answer.outcome is BackupOutcome.ERROR, answer.reason
    assert "could not reach the server" in answer.reason  # borg may lose ssh's "connection refused"


@pytest.fixture
def refusing_server() -> Iterator[int]:
    """A loopback HTTP server that answers 401 to everything (a rest-server with other credentials)."""

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@needs_tools
def test_a_server_refusing_the_credentials_is_auth_failed(
    repos: dict[str, Path], refusing_server: int
) -> None:
    location = f"rest:http://town:{URL_PASSWORD}@127.0.0.1:{refusing_server}/repo"
    answer = fetch(probe_of(source("restic", location, password_file=repos["pw"])), "restic", location)
    assert answer.outcome is BackupOutcome.AUTH_FAILED, answer.reason
    assert "HTTP 401" in answer.reason and URL_PASSWORD not in answer.reason


# -- the tools' environment, and a repository that changes during its check ------------------------------


def test_the_tools_run_with_our_temporary_folder_and_no_way_to_prompt(tmp_path: Path) -> None:
    dumps = tmp_path / "env"
    dumps.mkdir()
    listing = '{"archives": [], "encryption": {"mode": "repokey"}}'
    environ = stub(tmp_path / "bin", "restic", f'#!/bin/sh\nenv > {dumps}/$$\necho "[]"\n')
    stub(tmp_path / "bin", "borg", f"#!/bin/sh\nenv > {dumps}/$$\necho '{listing}'\n")
    environ.update({"DISPLAY": ":0", "SSH_ASKPASS": "/usr/bin/ssh-askpass", "RESTIC_PASSWORD": "theirs"})
    probe = probe_of(environ=environ)
    workdirs: list[Path] = []

    async def go() -> None:
        try:
            for kind in ("restic", "borg"):
                await probe.fetch(backup_key(kind, str(tmp_path / "repo"), "always"))
            workdirs.append(probe._workdir)
        finally:
            probe.close()

    asyncio.run(go())
    envs = [
        dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
        for dump in dumps.iterdir()
    ]
    assert len(envs) == 5  # restic snapshots, cat config, check; borg list, check
    for env in envs:
        assert env["TMPDIR"] == str(workdirs[0] / "tmp")
        assert "DISPLAY" not in env and "SSH_ASKPASS" not in env
        assert env.get("RESTIC_PASSWORD", "") == ""  # the caller's own settings never leak in
    borgs = [env for env in envs if "BORG_REPO" in env]
    assert len(borgs) == 2 and all(env["BORG_RSH"] == "ssh -o BatchMode=yes" for env in borgs)


@needs_tools
def test_a_failed_restic_check_while_snapshots_changed_is_could_not_tell(
    repos: dict[str, Path], tmp_path: Path
) -> None:
    damaged = _copy(repos, "restic", tmp_path)
    biggest = max((p for p in (damaged / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    os.truncate(biggest, 10)
    real = shutil.which("restic")
    # Another machine's backup lands while the check runs (the test writes it: the probe never does).
    environ = stub(
        tmp_path / "bin",
        "restic",
        f'#!/bin/sh\nif [ "$1" = check ]; then RESTIC_CACHE_DIR={tmp_path}/c {real} backup -q --host h2 '
        f'{repos["data"]} >/dev/null 2>&1 || exit 99; fi\nexec {real} "$@"\n',
    )
    answer = fetch(
        probe_of(source("restic", damaged, password_file=repos["pw"]), environ=environ), "restic", damaged
    )
    assert answer.error is None and answer.check_ran
    assert answer.check_ok is None and answer.check_summary == CHANGED_DURING_CHECK
