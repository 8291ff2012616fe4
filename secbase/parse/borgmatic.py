"""borgmatic configuration files (YAML): repositories, retention, consistency checks, whether a passphrase is set.

Both layouts borgmatic has read are understood: the sectioned one (location:, storage:, retention:,
consistency:; before 1.8) and the flat one (1.8 and later), with `!include` files merged in as borgmatic
does when the file's path is given. A passphrase's value is never kept: only whether one (or a command
giving one) is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secbase.facts import KEEP_COUNT_KEYS
from secbase.parse import ParseError, clip
from secbase.parse._backup_config import is_set, keep_rules, load_yaml

SECTIONS = ("location", "storage", "retention", "consistency", "output", "hooks")
# borgmatic's keep settings (borg prune's --keep-*): keep_within a duration, the rest counts
DURATION_KEYS = ("keep_within",)
COUNT_KEYS = KEEP_COUNT_KEYS[1:]  # every count but keep_last
RETENTION_KEYS = DURATION_KEYS + COUNT_KEYS
NOT_RETENTION = frozenset({"keep_exclude_tags"})  # a source option ("location:"), not a keep rule
# borgmatic runs these when the configuration names no checks (its documented default).
DEFAULT_CHECKS = ("repository", "archives")
CHECK_NAMES = frozenset({"repository", "archives", "data", "extract", "spot", "disabled"})


class BorgmaticParseError(ParseError):
    """A borgmatic file that is not YAML, or not the shape borgmatic reads."""


@dataclass(frozen=True)
class BorgmaticConfig:
    """What one borgmatic file says about its backups."""

    repositories: tuple[tuple[str, str], ...]  # (path, label), label "" when none is given
    # ("keep_daily", 7), ("keep_within", "30d"), ("keep_daily", "unlimited"): see parse._backup_config
    retention: tuple[tuple[str, int | str], ...]
    checks: tuple[str, ...]  # the consistency checks borgmatic will run (its default when none is named)
    password_set: bool  # encryption_passphrase or encryption_passcommand is given


def parse_borgmatic(text: str, *, path: Path | None = None) -> BorgmaticConfig:
    """Parse a borgmatic YAML file; raises BorgmaticParseError.

    `path` is the file the text came from: its `!include other.yaml` lines are read relative to it.
    Without it an include cannot be read, and says so.
    """
    data = load_yaml(text, BorgmaticParseError, path=path)
    if not isinstance(data, dict):
        raise BorgmaticParseError("a borgmatic file is a mapping of keys (repositories:, keep_daily:...)")
    flat: dict[str, Any] = {str(k): v for k, v in data.items() if k not in SECTIONS}
    for section in SECTIONS:
        part = data.get(section)
        if part is None:
            continue
        if not isinstance(part, dict):
            raise BorgmaticParseError(f'"{section}:" must be a mapping of keys')
        for key, value in part.items():
            flat.setdefault(str(key), value)
    return BorgmaticConfig(
        repositories=_repositories(flat.get("repositories")),
        retention=_retention(flat),
        checks=_checks(flat.get("checks")),
        password_set=any(is_set(flat.get(k)) for k in ("encryption_passphrase", "encryption_passcommand")),
    )


def _repositories(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BorgmaticParseError('"repositories:" must be a list')
    out: list[tuple[str, str]] = []
    for item in value:
        if isinstance(item, str) and item.strip():
            out.append((item.strip(), ""))
        elif isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"].strip():
            label = item.get("label")
            out.append((item["path"].strip(), label.strip() if isinstance(label, str) else ""))
        else:
            raise BorgmaticParseError(
                f"a repository is a path or a mapping with path:, not {clip(repr(item), 60)}"
            )
    return tuple(out)


def _retention(flat: dict[str, Any]) -> tuple[tuple[str, int | str], ...]:
    settings = {k: v for k, v in flat.items() if k not in NOT_RETENTION}
    return keep_rules(settings, durations=DURATION_KEYS, counts=COUNT_KEYS, error=BorgmaticParseError)


def _checks(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_CHECKS
    if not isinstance(value, list):
        raise BorgmaticParseError('"checks:" must be a list')
    names: list[str] = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or name.strip().lower() not in CHECK_NAMES:
            raise BorgmaticParseError(
                f"a check is one of {', '.join(sorted(CHECK_NAMES))}, not {clip(repr(name), 40)}"
            )
        names.append(name.strip().lower())
    if "disabled" in names:
        return ()
    return tuple(dict.fromkeys(names))
