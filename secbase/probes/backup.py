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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from secbase.config import BackupSource, is_remote_location
from secbase.facts import (
    BACKUP_TOOL_FIX,
    BORG_PLAIN_MODES,
    BackupAnswer,
    BackupConfigAnswer,
    BackupOutcome,
    BackupSnapshot,
    FactKey,
)
from secbase.parse import UNSAFE_CHARS, clip, mask
from secbase.probes import FactSource, Limiter
from secbase.probes.backup_config import read_backup_config

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 300.0  # listing snapshots of a big remote repository takes a while
CHECK_TIMEOUT_S = 3600.0  # a structure check reads every index and tree
MAX_RUNS = 4  # tool processes at the same time (each uses several cores for its key derivation)
MAX_DUMPS = 10_000  # files read from a folder of dumps, the newest
REASON_CHARS = 300
# Whatever could let ssh (restic's sftp:, borg's ssh://) ask for a password on a screen.
_PROMPTERS = frozenset({"DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE"})
CHANGED_DURING_CHECK = "the repository changed while it was being checked; checked again next scan"
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class ToolRun:
    """One restic or borg process: what it was asked (no secret is ever in it), how long it took."""

    tool: str
    command: str  # "snapshots", "cat config", "check", "list"...
    seconds: float
    returncode: int | None  # None: killed at its time-out


@dataclass(frozen=True)
class _Secret:
    env: dict[str, str]
    value: str  # to scrub from whatever a tool says; "" when no password is set


class _Stop(Exception):
    """Ends a look at a repository with the answer given."""

    def __init__(self, answer: BackupAnswer) -> None:
        super().__init__(answer.reason)
        self.answer = answer


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
        self.runs: list[ToolRun] = []  # every process, in the order they ended (stats, bench)
        self._sources: dict[tuple[str, str], BackupSource] = {}
        for source in sources:  # the first declaration of a repository names its password
            self._sources.setdefault((source.kind, source.location.strip()), source)
        self._processes = asyncio.Semaphore(max_runs)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        """Remove the tools' caches and base folder."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def _workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="secbase-backup-")
            (Path(self._tmp.name) / "tmp").mkdir()  # the tools' TMPDIR: a killed check leaves files there
        return Path(self._tmp.name)

    async def fetch(self, key: FactKey, facts: FactSource | None = None) -> BackupAnswer | BackupConfigAnswer:
        """The fact for a backup(...) or backup_config(...) key."""
        if key.kind == "backup_config":
            return await asyncio.to_thread(read_backup_config, key.args[0], key.args[1])
        kind, location, check = key.args
        secrets: list[_Secret] = []
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
                reason=_line(f"looking at the {kind} backup {where} failed: {said}", *secrets),
            )

    async def _look(self, kind: str, location: str, check: str, secrets: list[_Secret]) -> BackupAnswer:
        remote = is_remote_location(kind, location)
        if kind == "folder":
            return await asyncio.to_thread(look_at_folder, location)
        skipped = _why_no_check(kind, remote, check)
        async with self.limiter.slot(_server_of(location) if remote else None):
            try:
                secret = self._secret(kind, location)
                secrets.append(secret)
                if kind == "restic":
                    answer = await self._restic(location, remote, not skipped, secret)
                else:
                    answer = await self._borg(location, remote, not skipped, secret)
            except _Stop as stop:
                return stop.answer
        return replace(answer, check_skipped=skipped)

    # -- passwords ------------------------------------------------------------------------------------

    def _secret(self, kind: str, location: str) -> _Secret:
        source = self._sources.get((kind, location))

        def refuse(reason: str) -> _Stop:
            return _Stop(
                BackupAnswer(
                    kind,
                    mask(location),
                    BackupOutcome.AUTH_FAILED,
                    is_remote_location(kind, location),
                    reason=reason,
                )
            )

        key_env: dict[str, str] = {}
        if source is not None and source.key_file is not None and kind == "borg":
            key = source.key_file.expanduser().absolute()
            try:
                key.open("rb").close()
            except OSError as exc:  # the path is not printed: it names where a key lives
                why = exc.strerror or type(exc).__name__
                raise refuse(f"the key file named by key_file cannot be read ({why})") from None
            key_env["BORG_KEY_FILE"] = str(key)
        if source is not None and source.password_file is not None:
            path = source.password_file.expanduser().absolute()
            try:
                value = path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeError) as exc:
                raise refuse(
                    f"the password file {path} named by password_file cannot be read "
                    f"({type(exc).__name__}: {getattr(exc, 'strerror', None) or 'not UTF-8'})"
                ) from None
            if kind == "restic":
                return _Secret({"RESTIC_PASSWORD_FILE": str(path)}, value)
            return _Secret({"BORG_PASSCOMMAND": f"cat -- {shlex.quote(str(path))}", **key_env}, value)
        if source is not None and source.password_env is not None:
            value = self.environ.get(source.password_env, "")
            if not value:
                raise refuse(
                    f"the environment variable {source.password_env} named by password_env is not set"
                )
            name = "RESTIC_PASSWORD" if kind == "restic" else "BORG_PASSPHRASE"
            return _Secret({name: value, **key_env}, value)
        # No password named: an empty one, so that neither tool waits for one on a terminal.
        return _Secret({"RESTIC_PASSWORD" if kind == "restic" else "BORG_PASSPHRASE": "", **key_env}, "")

    def _env(self, secret: _Secret, extra: Mapping[str, str]) -> dict[str, str]:
        # Nothing of the caller's restic or borg settings leaks in: only what the config says.
        env = {
            k: v
            for k, v in self.environ.items()
            if not k.startswith(("RESTIC_", "BORG_")) and k not in _PROMPTERS
        }
        env.update({"TZ": "UTC", "LC_ALL": "C.UTF-8", "TMPDIR": str(self._workdir / "tmp")})
        env.update(extra)
        env.update(secret.env)
        return env

    # -- restic ---------------------------------------------------------------------------------------

    async def _restic(self, location: str, remote: bool, run_check: bool, secret: _Secret) -> BackupAnswer:
        env = self._env(
            secret,
            {"RESTIC_REPOSITORY": location, "RESTIC_CACHE_DIR": str(self._workdir / "restic-cache")},
        )
        shown = mask(location)
        base = BackupAnswer("restic", shown, BackupOutcome.OK, remote)
        snaps, config = await asyncio.gather(
            self._tool(base, secret, env, ["snapshots", "--json", "--no-lock"], self.list_timeout_s),
            self._tool(base, secret, env, ["cat", "config", "--no-lock"], self.list_timeout_s),
            return_exceptions=True,
        )
        if isinstance(snaps, BaseException):
            raise snaps
        rc, out, err = snaps
        if rc != 0:
            raise _Stop(_failed(base, "restic snapshots", err, secret))
        try:
            snapshots = _restic_snapshots(out)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _Stop(_broken(base, "restic snapshots --json", exc)) from None
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

    async def _restic_changed(self, answer: BackupAnswer, secret: _Secret, env: dict[str, str]) -> bool:
        """True when the snapshots listed now differ from those listed before the check."""
        try:
            rc, out, _ = await self._tool(
                answer, secret, env, ["snapshots", "--json", "--no-lock"], self.list_timeout_s
            )
            return rc == 0 and _restic_snapshots(out) != answer.snapshots
        except (_Stop, ValueError, TypeError, KeyError, AttributeError):
            return False  # no second listing: the check's own verdict stands

    # -- borg -----------------------------------------------------------------------------------------

    async def _borg(self, location: str, remote: bool, run_check: bool, secret: _Secret) -> BackupAnswer:
        env = self._env(
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
        rc, out, err = await self._tool(
            base, secret, env, ["list", "--json", "--bypass-lock"], self.list_timeout_s
        )
        if rc != 0:
            raise _Stop(_failed(base, "borg list", err, secret))
        try:
            listing = json.loads(out)
            snapshots = tuple(sorted((_borg_archive(a) for a in listing.get("archives") or []), key=_when))
            mode = str(listing.get("encryption", {}).get("mode", ""))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _Stop(_broken(base, "borg list --json", exc)) from None
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
        self, answer: BackupAnswer, secret: _Secret, env: dict[str, str], args: list[str], bad: str
    ) -> BackupAnswer:
        try:
            rc, out, err = await self._tool(answer, secret, env, args, self.check_timeout_s)
        except _Stop as stop:  # a check that could not finish: the listing still stands
            return replace(answer, check_ran=True, check_ok=None, check_summary=stop.answer.reason)
        said = f"{out}\n{err}"
        if rc != 0 and "read-only file system" in said.lower():
            summary = f"the {answer.kind} check could not run: the repository is on a read-only file system"
            if answer.kind == "borg":
                summary += ", and borg check rewrites the repository's config file (same content)"
            return replace(answer, check_ran=True, check_ok=None, check_summary=summary)
        ok: bool | None = True if rc == 0 else (False if bad in said or "integrity error" in said else None)
        return replace(answer, check_ran=True, check_ok=ok, check_summary=_summary(said, secret))

    async def _tool(
        self, base: BackupAnswer, secret: _Secret, env: dict[str, str], args: list[str], timeout_s: float
    ) -> tuple[int, str, str]:
        """Run restic or borg; its return code, stdout and stderr. Missing and time-outs end the look."""
        tool = base.kind
        exe = shutil.which(tool, path=env.get("PATH", os.defpath))
        if exe is None:
            raise _Stop(
                replace(
                    base,
                    outcome=BackupOutcome.TOOL_MISSING,
                    reason=f"{tool} is not installed here; {BACKUP_TOOL_FIX[tool]}",
                )
            )
        command = " ".join(a for a in args if not a.startswith("-"))
        async with self._processes:
            started = time.perf_counter()
            try:
                proc = await asyncio.create_subprocess_exec(
                    exe,
                    *args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=self._workdir,
                    start_new_session=True,  # its children (ssh, rclone) go with it at a time-out
                )
            except OSError as exc:  # a script with a bad "#!" line, no execute permission...
                why = exc.strerror or type(exc).__name__
                raise _Stop(
                    replace(
                        base,
                        outcome=BackupOutcome.ERROR,
                        reason=_line(
                            f"{tool} {command} on {base.location} could not be run: {exe}: {why}; "
                            f"check that it is {tool} itself ({BACKUP_TOOL_FIX[tool]})",
                            secret,
                        ),
                    )
                ) from None
            try:
                out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
            except BaseException as exc:
                _kill(proc.pid)
                await proc.wait()
                self.runs.append(ToolRun(tool, command, time.perf_counter() - started, None))
                if isinstance(exc, TimeoutError):
                    raise _Stop(
                        replace(
                            base,
                            outcome=BackupOutcome.TIMEOUT,
                            reason=f"{tool} {command} on {base.location} did not finish within {timeout_s:g} s",
                        )
                    ) from None
                raise
            seconds = time.perf_counter() - started
        self.runs.append(ToolRun(tool, command, seconds, proc.returncode))
        log.debug("%s %s on %s: exit %s in %.2f s", tool, command, base.location, proc.returncode, seconds)
        return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# Most telling first: restic says "dial tcp ...: connect: connection refused".
_UNREACHABLE = (
    "connection refused",
    "no such host",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "dial tcp",
)
_SLOW = re.compile(r"i/o timeout|timed out|deadline exceeded")
_DENIED = re.compile(r"\((401|403)\)|\b(401|403) (unauthorized|forbidden)\b")


def _failed(base: BackupAnswer, what: str, stderr: str, secret: _Secret) -> BackupAnswer:
    """Tell a refused password, an unreachable server and a missing repository apart from other failures.

    The network cases come before "not found": restic asks "Is there a repository at the following
    location?" whatever kept it from opening the repository, a refused connection too.
    """
    text = stderr.lower()
    where = base.location
    if "empty password" in text:
        outcome, reason = (
            BackupOutcome.AUTH_FAILED,
            f"no password is set for {where}; name one with password_file or password_env",
        )
    elif "wrong password" in text or "passphrase supplied" in text or "no key found" in text:
        outcome, reason = BackupOutcome.AUTH_FAILED, f"{base.kind} refused the password for {where}"
    elif "no key file for repository" in text:
        outcome, reason = (
            BackupOutcome.AUTH_FAILED,
            f"borg found no key for {where}: its key is kept in a file (keyfile mode); "
            "name that file with key_file",
        )
    elif "invalid key file for repository" in text:
        outcome, reason = BackupOutcome.AUTH_FAILED, f"the file named by key_file is not the key of {where}"
    elif (match := _DENIED.search(text)) is not None:
        code = match.group(1) or match.group(2)
        outcome, reason = (
            BackupOutcome.AUTH_FAILED,
            f"the server of {where} refused access (HTTP {code}); check the user and password it expects",
        )
    elif (found := next((p for p in _UNREACHABLE if p in text), None)) is not None:
        outcome, reason = BackupOutcome.ERROR, f"{base.kind} could not reach the server of {where} ({found})"
    elif "connection closed by remote host" in text:  # borg; it may lose ssh's own words (a race)
        outcome, reason = (
            BackupOutcome.ERROR,
            f"borg could not reach the server of {where}, or borg does not run there (the connection closed)",
        )
    elif _SLOW.search(text) is not None:
        outcome, reason = BackupOutcome.TIMEOUT, f"the server of {where} did not answer {base.kind} in time"
    elif "read-only file system" in text:
        outcome, reason = (
            BackupOutcome.ERROR,
            f"{what} on {where} failed: it needed to write, and the repository is on a read-only file system",
        )
    elif (
        "is there a repository at the following location" in text
        or "does not exist" in text
        or "is not a valid repository" in text
    ):
        outcome, reason = BackupOutcome.NOT_FOUND, f"there is no {base.kind} repository at {where}"
    else:
        outcome, reason = BackupOutcome.ERROR, f"{what} on {where} failed: {_summary(stderr, secret)}"
    return replace(base, outcome=outcome, reason=_line(reason, secret))


def _broken(base: BackupAnswer, what: str, exc: Exception) -> BackupAnswer:
    return replace(
        base,
        outcome=BackupOutcome.ERROR,
        reason=clip(f"{what} gave output we cannot read ({type(exc).__name__})", REASON_CHARS),
    )


_NOISE = re.compile(
    r"^(\[\d+:\d+\]|using temporary cache|load indexes|check all packs|check snapshots|Load\(<)"
)


def _summary(text: str, secret: _Secret) -> str:
    """A tool's own words, a few lines of them, cleaned: the first ones that matter and the last."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln.strip())]
    picked = list(dict.fromkeys([*lines[:2], *lines[-1:]]))
    return clean("; ".join(picked) or "no output", secret)


def clean(text: str, *secrets: _Secret) -> str:
    """One short line for a fact: the password and any password in a URL masked, control characters gone."""
    return _line(mask(_scrub(text, *secrets)), *secrets)


def _line(text: str, *secrets: _Secret) -> str:
    """One short line put together from parts masked already (a location, clean()'s output).

    Not masked again: a second URL in the line (the tool's words after our location) would make mask()
    hide everything between the first "://" and the last "@".
    """
    return clip(UNSAFE_CHARS.sub(" ", _scrub(text, *secrets)), REASON_CHARS)


def _scrub(text: str, *secrets: _Secret) -> str:
    for secret in secrets:
        if len(secret.value) >= 3:  # shorter ones would mask every other word
            text = text.replace(secret.value, "***")
    return text


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


def _time(text: str) -> datetime:
    """restic's RFC 3339 time (nanoseconds), or borg's zone-less one (UTC: the tool runs with TZ=UTC)."""
    value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00")))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(snapshot: BackupSnapshot) -> datetime:
    return snapshot.time


def _restic_snapshots(out: str) -> tuple[BackupSnapshot, ...]:
    return tuple(sorted((_restic_snapshot(s) for s in json.loads(out) or []), key=_when))


def _restic_snapshot(item: dict[str, Any]) -> BackupSnapshot:
    return BackupSnapshot(
        time=_time(item["time"]),
        id=clip(str(item.get("short_id") or item.get("id", "")), 64),
        host=clip(str(item.get("hostname", "")), 100),
    )


def _borg_archive(item: dict[str, Any]) -> BackupSnapshot:
    return BackupSnapshot(
        time=_time(item.get("start") or item["time"]),
        id=clip(str(item.get("id", "")), 64),
        name=clip(UNSAFE_CHARS.sub(" ", str(item.get("name") or item.get("archive", ""))), 100),
    )


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
                        name=clip(UNSAFE_CHARS.sub(" ", entry.name), 200),
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
