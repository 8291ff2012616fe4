"""What the backup checks share: a backup target's settings, the look at it, and ages in words."""

from __future__ import annotations

import os.path
import re
from datetime import UTC, datetime, timedelta

from secbase import BackupAnswer, BackupConfigAnswer, BackupSpec, Facts, Target
from secbase.parse import mask

from .._text import clean

REASON_CHARS = 300
EVIDENCE_CHARS = 1000
CONFIG_TOOL = {"borg": "borgmatic", "restic": "resticprofile"}  # the file each kind's config_file is


def spec_of(target: Target) -> BackupSpec:
    """The source settings the scan put on a backup target; a target without them is our bug."""
    if target.backup is None:
        raise ValueError(f"the backup target {target.name} carries no source settings (Target.backup)")
    return target.backup


def look(target: Target, facts: Facts) -> tuple[BackupSpec, BackupAnswer]:
    """The source's settings and the read-only look at it."""
    spec = spec_of(target)
    return spec, facts.backup(spec.kind, spec.location, spec.check)


def reason(answer: BackupAnswer | BackupConfigAnswer) -> str:
    """Why a fact says "could not tell", cleaned for a report."""
    return clean(answer.error or "", REASON_CHARS)


def config_of(spec: BackupSpec, facts: Facts) -> BackupConfigAnswer | None:
    """The reading of the source's borgmatic or resticprofile file, or None when it names none."""
    if spec.config_file is None or spec.kind not in CONFIG_TOOL:
        return None
    return facts.backup_config(CONFIG_TOOL[spec.kind], spec.config_file)


def age_text(delta: timedelta) -> str:
    """An age in plain words: "5 hours", "3.5 days"."""
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} hours".replace(".0 hours", " hours")
    return f"{hours / 24:.1f} days".replace(".0 days", " days")


def when(moment: datetime) -> str:
    """A moment for evidence, to the minute, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_NOT_A_PATH = re.compile(r"^[^/~.][^/]*:")  # rest:..., s3:..., ssh://..., borg's user@host:path


def repository_keys(location: str, *, folder: str | None = None) -> frozenset[str]:
    """Ways of writing one repository that name the same one: a password in a URL masked (a config file's
    repositories are read masked), restic's "local:" and borg's "file://" dropped, a trailing "/" dropped,
    a path made absolute. A relative path in a configuration file (`folder`: the file's folder) may be
    meant from that folder or from where the tool runs, so both are kept.
    """
    text = mask(location.strip())
    for prefix in ("local:", "file://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if not text:
        return frozenset()
    if _NOT_A_PATH.match(text):
        return frozenset({text.rstrip("/") or text})
    path = os.path.expanduser(text)
    bases = [folder] if folder and not os.path.isabs(path) else []
    return frozenset({os.path.normpath(os.path.join(b, path)) for b in bases} | {os.path.abspath(path)})


def names_repository(location: str, repositories: list[str], *, config_path: str) -> bool:
    """True when one of a configuration file's repositories is the one at `location`."""
    here = repository_keys(location)
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(config_path)))
    return any(here & repository_keys(r, folder=folder) for r in repositories)
