"""Backup facts: the keys and records of the backup, backup_config and restore probes, and retention arithmetic.

Re-exported by secbase.facts, where checks and probes import them from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

# facts.py imports this module at its end, once FactKey is defined, so this import never sees it half-made.
from secbase.facts import FactKey


def backup_key(kind: str, location: str, check: str = "auto") -> FactKey:
    """Key of a read-only look at one declared backup: a restic or borg repository, or a folder of dumps.

    `check` is the source's setting: "auto" runs restic's own check on a local repository only (borg's
    check rewrites the repository's config file, so never under "auto"), "always" on any, "never" on none. The password is no part of the key: the probe finds it from the
    config's password_file or password_env for this (kind, location).
    """
    if kind not in BACKUP_KINDS:
        raise ValueError(f"a backup is one of {', '.join(BACKUP_KINDS)}, not {kind!r}")
    if check not in ("auto", "always", "never"):
        raise ValueError(f'check is "auto", "always" or "never", not {check!r}')
    return FactKey("backup", (kind, location.strip(), check))


BACKUP_KINDS = ("restic", "borg", "folder")


class BackupOutcome(StrEnum):
    """How looking at a backup ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"  # the snapshots were listed (a folder: its files were read)
    TOOL_MISSING = "tool_missing"  # restic or borg is not installed here
    AUTH_FAILED = "auth_failed"  # no password, a wrong one, or its file or variable is missing
    NOT_FOUND = "not_found"  # no repository (no folder) at the location
    TIMEOUT = "timeout"
    ERROR = "error"


# borg's modes that sign the data but do not encrypt it (borg 1.x and 2.x spellings): not encrypted.
BORG_PLAIN_MODES = frozenset({"none", "authenticated", "authenticated-blake2"})

BACKUP_TOOL_FIX = {
    "restic": "install restic (apt-get install restic)",
    "borg": "install borg (apt-get install borgbackup)",
}


@dataclass(frozen=True)
class BackupSnapshot:
    """One restic snapshot, borg archive, or dump file in a folder."""

    time: datetime  # aware, UTC: when it was taken (a dump file: its modification time)
    id: str = ""  # restic's snapshot id, borg's archive id; "" for a dump file
    name: str = ""  # borg's archive name, the dump file's name; "" for restic
    host: str = ""  # restic's hostname
    size: int | None = None  # bytes, for a dump file


@dataclass(frozen=True)
class BackupAnswer:
    """What a read-only look at one backup showed. No password is ever in it."""

    kind: str  # "restic", "borg" or "folder"
    location: str  # as declared, a password written in a URL masked
    outcome: BackupOutcome
    remote: bool = False  # reached over the network
    snapshots: tuple[BackupSnapshot, ...] = ()  # oldest first
    encrypted: bool | None = None  # None: not known (a folder of dumps); borg's BORG_PLAIN_MODES: False
    encryption: str = ""  # restic's repository version, borg's encryption mode ("none", "repokey"...)
    created_at: datetime | None = None  # when the repository was made, when it can be told (local ones)
    check_ran: bool = False  # the repository's own check ran during this scan
    check_ok: bool | None = None  # None: not run, or it could not finish
    check_summary: str = ""  # the check's last lines, clipped
    check_skipped: str = ""  # why the check did not run, in plain words; "" when it ran (or no look)
    last_check_at: datetime | None = None  # a check the tool recorded (restic 0.14, borg 1.2: none)
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why this backup could not be looked at, or None when its snapshots were listed."""
        if self.outcome is BackupOutcome.OK:
            return None
        if self.outcome is BackupOutcome.TOOL_MISSING and not self.reason:
            return f"{self.kind} is not installed here; {BACKUP_TOOL_FIX.get(self.kind, '')}"
        return self.reason or f"looking at the {self.kind} backup {self.location} ended in {self.outcome}"

    @property
    def newest(self) -> BackupSnapshot | None:
        """The most recent snapshot, if there is any."""
        return self.snapshots[-1] if self.snapshots else None

    @property
    def oldest(self) -> BackupSnapshot | None:
        """The earliest snapshot kept, if there is any."""
        return self.snapshots[0] if self.snapshots else None

    @property
    def times(self) -> tuple[datetime, ...]:
        """Every snapshot's time, oldest first."""
        return tuple(s.time for s in self.snapshots)

    @property
    def newest_size_ratio(self) -> float | None:
        """A folder's newest dump's size over the one before it (0.1: ten times smaller); None if unknown."""
        sized = [s for s in self.snapshots if s.size is not None]
        if len(sized) < 2 or not sized[-2].size:
            return None
        return (sized[-1].size or 0) / sized[-2].size


def backup_config_key(tool: str, path: str) -> FactKey:
    """Key of the reading of a backup tool's configuration file: "borgmatic" or "resticprofile"."""
    if tool not in ("borgmatic", "resticprofile"):
        raise ValueError(f'a backup configuration is "borgmatic" or "resticprofile", not {tool!r}')
    return FactKey("backup_config", (tool, str(path)))


class BackupConfigOutcome(StrEnum):
    """How reading a backup configuration ended. OK is an observation; the rest mean "could not tell"."""

    OK = "ok"
    NOT_FOUND = "not_found"  # no such file
    INVALID = "invalid"  # not YAML/TOML, or not the shape the tool reads
    ERROR = "error"  # unreadable (permissions...)


@dataclass(frozen=True)
class BackupRepository:
    """A repository a configuration writes to."""

    location: str  # a password written in a URL masked
    remote: bool
    label: str = ""


_DURATION_PART = re.compile(r"(\d+)\s*([yYmMwWdDhH])")
_DAYS_PER_UNIT = {"y": 365.0, "m": 30.0, "w": 7.0, "d": 1.0, "h": 1 / 24}
_UNLIMITED = "unlimited"
# A period rule keeps the newest snapshot of each of the last N periods that hold one: N periods is the
# least it reaches back (more when backups are further apart than the period).
_PERIOD_DAYS = {
    "keep_hourly": 1 / 24,
    "keep_daily": 1.0,
    "keep_weekly": 7.0,
    "keep_13weekly": 91.0,
    "keep_monthly": 30.0,
    "keep_3monthly": 90.0,
    "keep_yearly": 365.0,
}
# Rules that keep a number of snapshots, not of periods: no backup runs more than once a minute, so the
# last N seconds or minutes that hold a snapshot are simply the last N snapshots, however far apart.
_SNAPSHOT_COUNTS = ("keep_last", "keep_secondly", "keep_minutely")
# Every keep rule secbase reads (borg prune's and restic forget's --keep-*), in the order they are reported:
# the durations, then the counts from the shortest period to the longest. Each tool takes some of them.
KEEP_WITHIN_KEYS = (
    "keep_within",
    "keep_within_hourly",
    "keep_within_daily",
    "keep_within_weekly",
    "keep_within_monthly",
    "keep_within_yearly",
)
KEEP_COUNT_KEYS = (
    "keep_last",
    "keep_secondly",
    "keep_minutely",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_13weekly",
    "keep_monthly",
    "keep_3monthly",
    "keep_yearly",
)
_WITHIN_EVERY_DAY = ("keep_within", "keep_within_hourly", "keep_within_daily")  # a snapshot of each day


def _duration_days(text: str) -> float | None:
    """A duration in days (a month as 30, a year as 365), None when empty or not understood."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        return None
    # borg: H hours, d days, w weeks, m months, y years; restic: the same letters, lower or upper case
    return sum(int(n) * _DAYS_PER_UNIT[unit.lower()] for n, unit in parts)


@dataclass(frozen=True)
class BackupRetention:
    """What a configuration keeps when it deletes old backups (borg prune / restic forget). None: not set.

    A rule that keeps every one (restic "unlimited" or -1, borg -1) is named in `unlimited`, its count left
    None; a negative count is read the same way. Settings secbase does not understand are named in
    `unknown`, never dropped: a reader says it cannot judge them.
    """

    keep_last: int | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None
    keep_within: str = ""  # as written: "30d", "2w", restic's "1y2m3d"
    keep_secondly: int | None = None  # borg
    keep_minutely: int | None = None  # borg
    keep_13weekly: int | None = None  # borg 1.4+: quarters of 13 weeks
    keep_3monthly: int | None = None  # borg 1.4+: quarters of 3 months
    keep_within_hourly: str = ""  # restic: the newest snapshot of each hour within this duration
    keep_within_daily: str = ""  # ... of each day
    keep_within_weekly: str = ""
    keep_within_monthly: str = ""
    keep_within_yearly: str = ""
    unlimited: tuple[str, ...] = ()  # count rules that keep every one: ("keep_daily",)
    unknown: tuple[str, ...] = ()  # settings not understood, as written: ("keep-tag: monthly",)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, int | str]]) -> BackupRetention | None:
        """The keep rules a parser read (parse.borgmatic, parse.resticprofile); None when there are none.

        Example: `BackupRetention.from_pairs([("keep_daily", 7), ("keep_weekly", "unlimited")])`
        """
        fields: dict[str, Any] = {}
        unlimited: list[str] = []
        unknown: list[str] = []
        for key, value in pairs:
            if key in KEEP_WITHIN_KEYS and isinstance(value, str):
                fields[key] = value
            elif (key in _PERIOD_DAYS or key in _SNAPSHOT_COUNTS) and not isinstance(value, bool):
                if isinstance(value, int) and value >= 0:
                    if value:  # 0 turns a rule off in restic and borg
                        fields[key] = value
                elif isinstance(value, int) or value.strip().lower() == _UNLIMITED:
                    unlimited.append(key)
                else:  # borg 2's "keep_daily: 30d" among them: not read yet, so named, not guessed
                    unknown.append(f"{key}: {value}")
            else:
                unknown.append(f"{key}: {value}")
        if not (fields or unlimited or unknown):
            return None
        return cls(**fields, unlimited=tuple(dict.fromkeys(unlimited)), unknown=tuple(unknown))

    @property
    def keep_within_days(self) -> float | None:
        """keep_within in days (a month as 30, a year as 365), None when not set or not understood."""
        return _duration_days(self.keep_within)

    def _count(self, key: str) -> float | None:
        """A count rule's number; infinity when it keeps every one; None when not set."""
        value = getattr(self, key)
        if key in self.unlimited or (value is not None and value < 0):
            return float("inf")
        return None if value is None else float(value)

    @property
    def keeps_every_one(self) -> tuple[str, ...]:
        """The count rules that keep every one of their snapshots: `unlimited`, and any negative count."""
        fields = (*_SNAPSHOT_COUNTS, *_PERIOD_DAYS)
        return tuple(k for k in fields if self._count(k) == float("inf"))

    @property
    def is_empty(self) -> bool:
        """No rule is set (every setting dropped before it got here): nothing can be told from it."""
        fields = (*_PERIOD_DAYS, *_SNAPSHOT_COUNTS)
        return not (
            any(getattr(self, k) is not None for k in fields)
            or any(getattr(self, k) for k in KEEP_WITHIN_KEYS)
            or self.unlimited
            or self.unknown
        )

    @property
    def not_understood(self) -> tuple[str, ...]:
        """Settings that cannot be turned into time: unknown ones, and durations that are not durations."""
        bad = tuple(
            f"{k}: {getattr(self, k)}"
            for k in KEEP_WITHIN_KEYS
            if getattr(self, k) and self._within(k) is None
        )
        return self.unknown + bad

    def _within(self, key: str) -> float | None:
        return _duration_days(getattr(self, key))

    @property
    def reach_days(self) -> float:
        """The least number of days the period and duration rules keep backups for (infinity: forever).

        Rules that count snapshots (`snapshot_counts`) and settings not understood are left out.
        """
        spans = [0.0]
        spans += [d for k in KEEP_WITHIN_KEYS if (d := self._within(k)) is not None]
        spans += [n * days for k, days in _PERIOD_DAYS.items() if (n := self._count(k)) is not None]
        spans += [float("inf") for k in _SNAPSHOT_COUNTS if self._count(k) == float("inf")]
        return max(spans)

    @property
    def snapshot_counts(self) -> tuple[tuple[str, int], ...]:
        """The rules that keep the last N snapshots, whatever their age: keep_last, keep_secondly, keep_minutely."""
        return tuple(
            (k, int(n)) for k in _SNAPSHOT_COUNTS if (n := self._count(k)) not in (None, float("inf"))
        )

    @property
    def daily_kept(self) -> float:
        """How many daily snapshots the rules keep at least (infinity: every one)."""
        hourly = self._count("keep_hourly") or 0.0
        daily = [0.0, self._count("keep_daily") or 0.0, hourly if hourly == float("inf") else hourly // 24]
        daily += [d // 1 for k in _WITHIN_EVERY_DAY if (d := self._within(k)) is not None]
        return max(daily)


@dataclass(frozen=True)
class BackupPlan:
    """One borgmatic file, or one resticprofile profile: where it writes, what it keeps, when, what it checks."""

    name: str  # the resticprofile profile; "" for borgmatic
    repositories: tuple[BackupRepository, ...] = ()
    retention: BackupRetention | None = None  # None: nothing is ever pruned
    schedule: tuple[str, ...] = ()  # as written (resticprofile's schedule; borgmatic has none of its own)
    consistency_checks: tuple[str, ...] = ()  # "repository", "archives", "data", "check"...
    password_set: bool = False  # a passphrase, passcommand or password file is given (never its value)


@dataclass(frozen=True)
class BackupConfigAnswer:
    """What a borgmatic or resticprofile configuration says. No password is ever in it."""

    tool: str  # "borgmatic" or "resticprofile"
    path: str
    outcome: BackupConfigOutcome
    plans: tuple[BackupPlan, ...] = ()
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why the configuration could not be read, or None when it was."""
        if self.outcome is BackupConfigOutcome.OK:
            return None
        return self.reason or f"reading the {self.tool} configuration {self.path} ended in {self.outcome}"

    @property
    def repositories(self) -> tuple[BackupRepository, ...]:
        """Every repository of every plan, each once."""
        return tuple(dict.fromkeys(r for p in self.plans for r in p.repositories))

    @property
    def has_remote(self) -> bool:
        """True when at least one repository is reached over the network (an off-site copy)."""
        return any(r.remote for r in self.repositories)


def restore_key(organisation: str, source: str) -> FactKey:
    """Key of the restore tests recorded (`secbase backup restored`) for one organisation's backup source."""
    return FactKey("restore", (organisation, source))


@dataclass(frozen=True)
class RestoreTest:
    """One restore test a person recorded: no repository can show that its backups restore."""

    organisation: str
    source: str  # the backup source's name in the config
    tested_on: date  # the day of the test, as the person gave it
    worked: bool  # the restored data was complete and opened
    note: str  # what was restored, where to, what was seen
    by: str  # who made the test
    recorded_at: datetime  # aware, UTC


@dataclass(frozen=True)
class RestoreAnswer:
    """The restore tests recorded for one source, oldest first; `reason` set when the store could not be read."""

    tests: tuple[RestoreTest, ...] = ()
    reason: str = ""

    @property
    def error(self) -> str | None:
        """Why the records could not be read, or None when they were (an empty list is an answer)."""
        return self.reason or None

    @property
    def latest(self) -> RestoreTest | None:
        """The most recent test by its day (of two on one day, the one recorded last)."""
        return max(self.tests, key=lambda t: (t.tested_on, t.recorded_at), default=None)
