"""borgmatic configuration files (YAML): repositories, retention, consistency checks, whether a passphrase is set.

Both layouts borgmatic has read are understood: the sectioned one (location:, storage:, retention:,
consistency:; before 1.8) and the flat one (1.8 and later). A passphrase's value is never kept: only
whether one (or a command giving one) is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from secbase.parse import ParseError, clip

SECTIONS = ("location", "storage", "retention", "consistency", "output", "hooks")
RETENTION_KEYS = (
    "keep_within",
    "keep_secondly",
    "keep_minutely",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
)
# borgmatic runs these when the configuration names no checks (its documented default).
DEFAULT_CHECKS = ("repository", "archives")
CHECK_NAMES = frozenset({"repository", "archives", "data", "extract", "spot", "disabled"})


class BorgmaticParseError(ParseError):
    """A borgmatic file that is not YAML, or not the shape borgmatic reads."""


@dataclass(frozen=True)
class BorgmaticConfig:
    """What one borgmatic file says about its backups."""

    repositories: tuple[tuple[str, str], ...]  # (path, label), label "" when none is given
    retention: tuple[tuple[str, int | str], ...]  # ("keep_daily", 7), ("keep_within", "30d"); as written
    checks: tuple[str, ...]  # the consistency checks borgmatic will run (its default when none is named)
    password_set: bool  # encryption_passphrase or encryption_passcommand is given


def parse_borgmatic(text: str) -> BorgmaticConfig:
    """Parse a borgmatic YAML file; raises BorgmaticParseError."""
    data = load_yaml(text, BorgmaticParseError)
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
        password_set=any(_is_set(flat.get(k)) for k in ("encryption_passphrase", "encryption_passcommand")),
    )


def load_yaml(text: str, error: type[ParseError]) -> Any:
    """YAML text as plain data (safe loader); any failure becomes `error` with one plain sentence."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise error(f"not valid YAML at {where}: {exc.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # PyYAML's constructors raise plain ValueError on a date like 2024-13-45
        raise error(f"not valid YAML: {clip(str(exc), 120)}") from None


def _is_set(value: Any) -> bool:
    return value is not None and value != "" and value is not False


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
    out: list[tuple[str, int | str]] = []
    for key in RETENTION_KEYS:
        value = flat.get(key)
        if value is None:
            continue
        if key == "keep_within":
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise BorgmaticParseError('"keep_within:" is a duration like "30d"')
            out.append((key, str(value).strip()))
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BorgmaticParseError(f'"{key}:" must be a whole number')
        number = value if isinstance(value, int) else _number(key, value)
        out.append((key, number))
    return tuple(out)


def _number(key: str, text: str) -> int:
    stripped = text.strip()
    if not stripped.lstrip("-").isdigit() or not stripped.isascii():
        raise BorgmaticParseError(f'"{key}:" must be a whole number, not "{clip(text, 30)}"')
    return int(stripped)


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
