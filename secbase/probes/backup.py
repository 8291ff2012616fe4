"""Backup facts: a read-only look at restic and borg repositories, folders of dumps, and their configuration.

Read-only, always: restic runs with `--no-lock` and borg with `--bypass-lock` (a read takes a lock
otherwise, LAB.md 9); nothing is ever written, pruned or unlocked. restic's own check (`check --no-lock`,
without `--read-data`: it writes nothing to the repository) runs on a local repository, or on a remote one
only when the source says `check: always` (it downloads from cloud storage). borg's (`check
--repository-only`) runs only under `check: always`: borg check rewrites the repository's config file
(same content), and fails on a read-only mount. Passwords come from the file or environment variable the
config names and reach the tools through their environment only: never a command line, a reason, a log
line or a fact. Each tool runs in a cache, base and temporary folder of ours (removed by `close`), with
TZ=UTC (borg's zone-less times are UTC) and nothing that lets ssh ask for a password.

This module holds the probe: which repository to look at and how, the tools' answers and checks turned
into facts, and folders of dumps. Running the tools (their environment and passwords, time-outs, the
process-group kill), telling their failures apart in plain words, scrubbing secrets and reading their
snapshot listings live in `_backup_tool.py`; reading borgmatic and resticprofile files in `backup_config.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from secbase.config import BackupSource, is_remote_location
from secbase.facts import (
    BORG_PLAIN_MODES,
    BackupAnswer,
    BackupConfigAnswer,
    BackupOutcome,
    BackupSnapshot,
    FactKey,
)
from secbase.parse import clip, mask, one_line
from secbase.probes import FactSource, Limiter
from secbase.probes._backup_tool import (
    Secret,
    Stop,
    ToolRun,
    ToolRunner,
    borg_archive,
    broken,
    clean,
    failed,
    restic_snapshots,
    scrubbed,
    secret_for,
    snapshot_time,
    summarise,
)
from secbase.probes.backup_config import read_backup_config

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 300.0  # listing snapshots of a big remote repository takes a while
CHECK_TIMEOUT_S = 3600.0  # a structure check reads every index and tree
MAX_RUNS = 4  # tool processes at the same time (each uses several cores for its key derivation)
MAX_DUMPS = 10_000  # files read from a folder of dumps, the newest
CHANGED_DURING_CHECK = "the repository changed while it was being checked; checked again next scan"


class BackupProbe:
    """Answers backup(kind, location, check) and backup_config(tool, path)."""

    kinds: tuple[str, ...] = ("backup", "backup_config")

    def __init__(
        self,
        *,
        limiter: Limiter,
        sources: Iterable[BackupSource] = (),
        list_timeout_s: float = LIST_TIMEOUT_S,
        check_timeout_s: float = CHECK_TIMEOUT_S,
        max_runs: int = MAX_RUNS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.limiter = limiter
        self.list_timeout_s = list_timeout_s
        self.check_timeout_s = check_timeout_s
        self.environ = dict(os.environ if environ is None else environ)
        self._tools = ToolRunner(environ=self.environ, max_runs=max_runs)
        self.runs: list[ToolRun] = self._tools.runs  # every process, in the order they ended (stats, bench)
        self._sources: dict[tuple[str, str], BackupSource] = {}
        for source in sources:  # the first declaration of a repository names its password
            self._sources.setdefault((source.kind, source.location.strip()), source)

    def close(self) -> None:
        """Remove the tools' caches and base folder."""
        self._tools.close()

    @property
    def _workdir(self) -> Path:
        return self._tools.workdir

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> BackupAnswer | BackupConfigAnswer:
        """The fact for a backup(...) or backup_config(...) key."""
        if key.kind == "backup_config":
            return await asyncio.to_thread(read_backup_config, key.args[0], key.args[1])
        kind, location, check = key.args
        secrets: list[Secret] = []
        try:
            return await self._look(kind, location, check, secrets)
        except Exception as exc:  # the probe boundary: a bug of ours becomes a fact, its words masked
            where = mask(location)
            said = clean(f"{type(exc).__name__}: {exc}", *secrets)
            log.error("the backup probe failed on %s %s: %s", kind, where, said)
            return BackupAnswer(
                kind,
                where,
                BackupOutcome.ERROR,
                is_remote_location(kind, location),
                reason=scrubbed(f"looking at the {kind} backup {where} failed: {said}", *secrets),
            )

    async def _look(self, kind: str, location: str, check: str, secrets: list[Secret]) -> BackupAnswer:
        remote = is_remote_location(kind, location)
        if kind == "folder":
            return await asyncio.to_thread(look_at_folder, location)
        skipped = _why_no_check(kind, remote, check)
        async with self.limiter.slot(_server_of(location) if remote else None):
            try:
                secret = secret_for(kind, location, self._sources.get((kind, location)), self.environ)
                secrets.append(secret)
                if kind == "restic":
                    answer = await self._restic(location, remote, not skipped, secret)
                else:
                    answer = await self._borg(location, remote, not skipped, secret)
            except Stop as stop:
                return stop.answer
        return replace(answer, check_skipped=skipped)

    # -- restic ---------------------------------------------------------------------------------------

    async def _restic(self, location: str, remote: bool, run_check: bool, secret: Secret) -> BackupAnswer:
        env = self._tools.env(
            secret,
            {"RESTIC_REPOSITORY": location, "RESTIC_CACHE_DIR": str(self._workdir / "restic-cache")},
        )
        shown = mask(location)
        base = BackupAnswer("restic", shown, BackupOutcome.OK, remote)
        snaps, config = await asyncio.gather(
            self._tools.run(base, secret, env, ["snapshots", "--json", "--no-lock"], self.list_timeout_s),
            self._tools.run(base, secret, env, ["cat", "config", "--no-lock"], self.list_timeout_s),
            return_exceptions=True,
        )
        if isinstance(snaps, BaseException):
            raise snaps
        rc, out, err = snaps
        if rc != 0:
            raise Stop(failed(base, "restic snapshots", err, secret))
        try:
            snapshots = restic_snapshots(out)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise Stop(broken(base, "restic snapshots --json", exc)) from None
        encrypted, encryption = True, "restic repository (always encrypted)"  # restic has no plain mode
        if not isinstance(config, BaseException) and config[0] == 0:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                encryption = f"restic repository version {int(json.loads(config[1])['version'])} (AES-256)"
        answer = replace(
            base,
            snapshots=snapshots,
            encrypted=encrypted,
            encryption=encryption,
            created_at=None if remote else _mtime(Path(location.removeprefix("local:")) / "config"),
        )
        if run_check:
            answer = await self._check(
                answer, secret, env, ["check", "--no-lock"], "repository contains errors"
            )
            # restic's docs: a check beside a running prune (or backup) can report errors that are not
            # there. If the snapshots changed meanwhile, the errors prove nothing either way.
            if answer.check_ok is False and await self._restic_changed(answer, secret, env):
                answer = replace(answer, check_ok=None, check_summary=CHANGED_DURING_CHECK)
        return answer

    async def _restic_changed(self, answer: BackupAnswer, secret: Secret, env: dict[str, str]) -> bool:
        """True when the snapshots listed now differ from those listed before the check."""
        try:
            rc, out, _ = await self._tools.run(
                answer, secret, env, ["snapshots", "--json", "--no-lock"], self.list_timeout_s
            )
            return rc == 0 and restic_snapshots(out) != answer.snapshots
        except (Stop, ValueError, TypeError, KeyError, AttributeError):
            return False  # no second listing: the check's own verdict stands

    # -- borg -----------------------------------------------------------------------------------------

    async def _borg(self, location: str, remote: bool, run_check: bool, secret: Secret) -> BackupAnswer:
        env = self._tools.env(
            secret,
            {
                "BORG_REPO": location,  # not on the command line: a URL may hold a user name
                "BORG_BASE_DIR": str(self._workdir / "borg"),
                "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
                "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
                "BORG_RSH": "ssh -o BatchMode=yes",  # ssh fails rather than asks for a password
            },
        )
        base = BackupAnswer("borg", mask(location), BackupOutcome.OK, remote)
        # `list --json` gives the encryption mode too (LAB.md 9); `info` is not run: on a fresh cache it
        # syncs the metadata of every archive, which is a download from a remote repository.
        rc, out, err = await self._tools.run(
            base, secret, env, ["list", "--json", "--bypass-lock"], self.list_timeout_s
        )
        if rc != 0:
            raise Stop(failed(base, "borg list", err, secret))
        try:
            listing = json.loads(out)
            snapshots = tuple(
                sorted((borg_archive(a) for a in listing.get("archives") or []), key=snapshot_time)
            )
            mode = str(listing.get("encryption", {}).get("mode", ""))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise Stop(broken(base, "borg list --json", exc)) from None
        answer = replace(
            base,
            snapshots=snapshots,
            encrypted=(mode.lower() not in BORG_PLAIN_MODES) if mode else None,  # authenticated: signed only
            encryption=clip(mode, 60),
            created_at=None if remote else _mtime(Path(location.removeprefix("file://")) / "README"),
        )
        if run_check:
            answer = await self._check(
                answer, secret, env, ["check", "--repository-only", "--bypass-lock", "--info"], "errors found"
            )
        return answer

    # -- both -----------------------------------------------------------------------------------------

    async def _check(
        self, answer: BackupAnswer, secret: Secret, env: dict[str, str], args: list[str], bad: str
    ) -> BackupAnswer:
        try:
            rc, out, err = await self._tools.run(answer, secret, env, args, self.check_timeout_s)
        except Stop as stop:  # a check that could not finish: the listing still stands
            return replace(answer, check_ran=True, check_ok=None, check_summary=stop.answer.reason)
        said = f"{out}\n{err}"
        if rc != 0 and "read-only file system" in said.lower():
            summary = f"the {answer.kind} check could not run: the repository is on a read-only file system"
            if answer.kind == "borg":
                summary += ", and borg check rewrites the repository's config file (same content)"
            return replace(answer, check_ran=True, check_ok=None, check_summary=summary)
        ok: bool | None = True if rc == 0 else (False if bad in said or "integrity error" in said else None)
        return replace(answer, check_ran=True, check_ok=ok, check_summary=summarise(said, secret))


def _why_no_check(kind: str, remote: bool, check: str) -> str:
    """Why the repository's own check will not run, in plain words; "" when it will."""
    if check == "never":
        return "the source says check: never"
    if check == "always":
        return ""
    if remote:
        return "the repository is remote and the source says check: auto (a check downloads from it)"
    if kind == "borg":
        return (
            "borg check rewrites the repository's config file (same content), and under check: auto "
            "secbase never writes to a repository; set check: always to run it"
        )
    return ""


def _server_of(location: str) -> str | None:
    """The host a remote repository is on, for the per-server bound."""
    text = (
        location.split(":", 1)[1]
        if location.split(":", 1)[0] in ("sftp", "rest", "s3", "rclone")
        else location
    )
    if "://" in text:
        try:  # the password masked first: one holding "/" or "@" would hide the host from urlsplit
            return urlsplit(mask(text)).hostname
        except ValueError:
            return None
    head = text.split(":", 1)[0]
    return head.rpartition("@")[2] or None


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def look_at_folder(location: str) -> BackupAnswer:
    """A folder of dumps: each file's name, size and modification time (the newest MAX_DUMPS)."""
    folder = Path(location).expanduser()
    base = BackupAnswer("folder", location, BackupOutcome.OK, False)
    if not folder.exists():
        return replace(base, outcome=BackupOutcome.NOT_FOUND, reason=f"there is no folder {location}")
    dumps: list[BackupSnapshot] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                info = entry.stat()
                dumps.append(
                    BackupSnapshot(
                        time=datetime.fromtimestamp(info.st_mtime, UTC),
                        name=one_line(entry.name, 200),
                        size=info.st_size,
                    )
                )
    except OSError as exc:
        return replace(
            base,
            outcome=BackupOutcome.ERROR,
            reason=f"the folder {location} cannot be read: {exc.strerror or type(exc).__name__}",
        )
    dumps.sort(key=lambda s: (s.time, s.name))
    return replace(base, snapshots=tuple(dumps[-MAX_DUMPS:]))
