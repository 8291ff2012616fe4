"""Backup configuration facts: what a borgmatic or resticprofile file says (no secret kept)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from secbase.config import is_remote_location
from secbase.facts import (
    BackupConfigAnswer,
    BackupConfigOutcome,
    BackupPlan,
    BackupRepository,
    BackupRetention,
)
from secbase.parse import ParseError, clip, mask, one_line
from secbase.parse.borgmatic import parse_borgmatic
from secbase.parse.resticprofile import parse_resticprofile

REASON_CHARS = 300


def read_backup_config(tool: str, path: str) -> BackupConfigAnswer:
    """Read a borgmatic or resticprofile file: repositories, retention, schedule, checks (no secret kept)."""
    file = Path(path).expanduser()
    base = BackupConfigAnswer(tool, path, BackupConfigOutcome.OK)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return replace(base, outcome=BackupConfigOutcome.NOT_FOUND, reason=f"there is no {tool} file {path}")
    except (OSError, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        return replace(
            base, outcome=BackupConfigOutcome.ERROR, reason=f"the {tool} file {path} cannot be read: {why}"
        )
    try:
        if tool == "borgmatic":
            parsed = parse_borgmatic(text, path=file)  # its !include lines are read beside it
            kind = "borg"
            plans = [
                BackupPlan(
                    name="",
                    repositories=tuple(
                        BackupRepository(mask(loc), is_remote_location(kind, loc), clip(label, 60))
                        for loc, label in parsed.repositories
                    ),
                    retention=BackupRetention.from_pairs(parsed.retention),
                    consistency_checks=parsed.checks,
                    password_set=parsed.password_set,
                )
            ]
        else:
            syntax: Literal["yaml", "toml"] = "toml" if file.suffix.lower() in (".toml", ".conf") else "yaml"
            plans = [
                BackupPlan(
                    name=clip(p.name, 60),
                    repositories=tuple(
                        BackupRepository(mask(loc), is_remote_location("restic", loc))
                        for loc in p.repositories
                    ),
                    retention=BackupRetention.from_pairs(p.retention),
                    schedule=p.schedule,
                    consistency_checks=p.checks,
                    password_set=p.password_set,
                )
                for p in parse_resticprofile(text, syntax=syntax)
            ]
    except ParseError as exc:
        reason = one_line(mask(f"{path}: {exc}"), REASON_CHARS)
        return replace(base, outcome=BackupConfigOutcome.INVALID, reason=reason)
    return replace(base, plans=tuple(plans))
