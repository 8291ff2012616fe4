"""Running restic and borg for the backup probe, and reading what they say.

Each tool gets an environment of ours: the caller's `RESTIC_*`/`BORG_*` settings and whatever lets ssh ask
for a password on a screen dropped, TZ=UTC (borg's zone-less times are UTC), TMPDIR in a work folder of
ours (the probe puts the tools' caches there too; removed by `close`), and the password from the file or
environment variable the config names, never on a command line. Runs are bounded in number and each by a
time-out; at the time-out (or a cancellation) the tool and its children (ssh, rclone) are killed as a
process group. A failed run is told apart (refused password, unreachable server, no repository...) in
plain words with the password scrubbed; snapshot listings are read into `BackupSnapshot`s.
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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from secbase.config import BackupSource, is_remote_location
from secbase.facts import BACKUP_TOOL_FIX, BackupAnswer, BackupOutcome, BackupSnapshot
from secbase.parse import clip, mask, one_line

log = logging.getLogger(__name__)

REASON_CHARS = 300
# Whatever could let ssh (restic's sftp:, borg's ssh://) ask for a password on a screen.
_PROMPTERS = frozenset({"DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE"})
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class ToolRun:
    """One restic or borg process: what it was asked (no secret is ever in it), how long it took."""

    tool: str
    command: str  # "snapshots", "cat config", "check", "list"...
    seconds: float
    returncode: int | None  # None: killed at its time-out


@dataclass(frozen=True)
class Secret:
    """A password as a tool's environment, and its value to scrub from what the tool says."""

    env: dict[str, str]
    value: str  # to scrub from whatever a tool says; "" when no password is set


class Stop(Exception):
    """Ends a look at a repository with the answer given."""

    def __init__(self, answer: BackupAnswer) -> None:
        super().__init__(answer.reason)
        self.answer = answer


def secret_for(kind: str, location: str, source: BackupSource | None, environ: Mapping[str, str]) -> Secret:
    """The password (and borg key file) the source names, as the tool's environment; Stop if unreadable."""

    def refuse(reason: str) -> Stop:
        return Stop(
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
            return Secret({"RESTIC_PASSWORD_FILE": str(path)}, value)
        return Secret({"BORG_PASSCOMMAND": f"cat -- {shlex.quote(str(path))}", **key_env}, value)
    if source is not None and source.password_env is not None:
        value = environ.get(source.password_env, "")
        if not value:
            raise refuse(f"the environment variable {source.password_env} named by password_env is not set")
        name = "RESTIC_PASSWORD" if kind == "restic" else "BORG_PASSPHRASE"
        return Secret({name: value, **key_env}, value)
    # No password named: an empty one, so that neither tool waits for one on a terminal.
    return Secret({"RESTIC_PASSWORD" if kind == "restic" else "BORG_PASSPHRASE": "", **key_env}, "")


class ToolRunner:
    """restic and borg processes for one probe: their work folder, environment, bound and record."""

    def __init__(self, *, environ: dict[str, str], max_runs: int) -> None:
        self.environ = environ
        self.runs: list[ToolRun] = []  # every process, in the order they ended (stats, bench)
        self._processes = asyncio.Semaphore(max_runs)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        """Remove the tools' caches and base folder."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="secbase-backup-")
            (Path(self._tmp.name) / "tmp").mkdir()  # the tools' TMPDIR: a killed check leaves files there
        return Path(self._tmp.name)

    def env(self, secret: Secret, extra: Mapping[str, str]) -> dict[str, str]:
        # Nothing of the caller's restic or borg settings leaks in: only what the config says.
        env = {
            k: v
            for k, v in self.environ.items()
            if not k.startswith(("RESTIC_", "BORG_")) and k not in _PROMPTERS
        }
        env.update({"TZ": "UTC", "LC_ALL": "C.UTF-8", "TMPDIR": str(self.workdir / "tmp")})
        env.update(extra)
        env.update(secret.env)
        return env

    async def run(
        self, base: BackupAnswer, secret: Secret, env: dict[str, str], args: list[str], timeout_s: float
    ) -> tuple[int, str, str]:
        """Run restic or borg; its return code, stdout and stderr. Missing and time-outs end the look."""
        tool = base.kind
        exe = shutil.which(tool, path=env.get("PATH", os.defpath))
        if exe is None:
            raise Stop(
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
                    cwd=self.workdir,
                    start_new_session=True,  # its children (ssh, rclone) go with it at a time-out
                )
            except OSError as exc:  # a script with a bad "#!" line, no execute permission...
                why = exc.strerror or type(exc).__name__
                raise Stop(
                    replace(
                        base,
                        outcome=BackupOutcome.ERROR,
                        reason=scrubbed(
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
                    raise Stop(
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


def failed(base: BackupAnswer, what: str, stderr: str, secret: Secret) -> BackupAnswer:
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
        outcome, reason = BackupOutcome.ERROR, f"{what} on {where} failed: {summarise(stderr, secret)}"
    return replace(base, outcome=outcome, reason=scrubbed(reason, secret))


def broken(base: BackupAnswer, what: str, exc: Exception) -> BackupAnswer:
    return replace(
        base,
        outcome=BackupOutcome.ERROR,
        reason=clip(f"{what} gave output we cannot read ({type(exc).__name__})", REASON_CHARS),
    )


_NOISE = re.compile(
    r"^(\[\d+:\d+\]|using temporary cache|load indexes|check all packs|check snapshots|Load\(<)"
)


def summarise(text: str, secret: Secret) -> str:
    """A tool's own words, a few lines of them, cleaned: the first ones that matter and the last."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln.strip())]
    picked = list(dict.fromkeys([*lines[:2], *lines[-1:]]))
    return clean("; ".join(picked) or "no output", secret)


def clean(text: str, *secrets: Secret) -> str:
    """One short line for a fact: the password and any password in a URL masked, control characters gone."""
    return scrubbed(mask(_scrub(text, *secrets)), *secrets)


def scrubbed(text: str, *secrets: Secret) -> str:
    """One short line put together from parts masked already (a location, clean()'s output).

    Not masked again: a second URL in the line (the tool's words after our location) would make mask()
    hide everything between the first "://" and the last "@".
    """
    return one_line(_scrub(text, *secrets), REASON_CHARS)


def _scrub(text: str, *secrets: Secret) -> str:
    for secret in secrets:
        if len(secret.value) >= 3:  # shorter ones would mask every other word
            text = text.replace(secret.value, "***")
    return text


def _time(text: str) -> datetime:
    """restic's RFC 3339 time (nanoseconds), or borg's zone-less one (UTC: the tool runs with TZ=UTC)."""
    value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00")))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def snapshot_time(snapshot: BackupSnapshot) -> datetime:
    return snapshot.time


def restic_snapshots(out: str) -> tuple[BackupSnapshot, ...]:
    return tuple(sorted((_restic_snapshot(s) for s in json.loads(out) or []), key=snapshot_time))


def _restic_snapshot(item: dict[str, Any]) -> BackupSnapshot:
    return BackupSnapshot(
        time=_time(item["time"]),
        id=clip(str(item.get("short_id") or item.get("id", "")), 64),
        host=clip(str(item.get("hostname", "")), 100),
    )


def borg_archive(item: dict[str, Any]) -> BackupSnapshot:
    return BackupSnapshot(
        time=_time(item.get("start") or item["time"]),
        id=clip(str(item.get("id", "")), 64),
        name=one_line(str(item.get("name") or item.get("archive", "")), 100),
    )
