"""resticprofile profile files (YAML or TOML): each profile's repositories, retention, schedules, checks.

Both layouts are read: version 1 (profiles at the top level) and version 2 (under `profiles:`), with
`inherit:` resolved. Keys are matched the way resticprofile writes them ("keep-daily"), and also with
underscores. A password's value is never kept: only whether a password file, command or variable is set.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any, Literal

from secbase.facts import KEEP_WITHIN_KEYS
from secbase.parse import ParseError, clip
from secbase.parse._backup_config import is_set, keep_rules, load_yaml

RESERVED = frozenset({"version", "global", "groups", "includes", "mixins", "profiles"})
# restic forget's --keep-* (resticprofile spells them keep-daily or keep_daily); keep-tag keeps snapshots
# by tag, which no number of days describes, so it is left for the reader to name as not understood.
DURATION_KEYS = KEEP_WITHIN_KEYS
COUNT_KEYS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
RETENTION_KEYS = tuple(k.replace("_", "-") for k in DURATION_KEYS + COUNT_KEYS)
PASSWORD_KEYS = ("password-file", "password-command")
PASSWORD_ENV = frozenset({"restic_password", "restic_password_file", "restic_password_command"})
MAX_INHERIT = 20


class ResticProfileParseError(ParseError):
    """A resticprofile file that is not YAML or TOML, or not the shape resticprofile reads."""


@dataclass(frozen=True)
class ResticProfile:
    """One profile, after inheritance: where it writes, what it keeps, when it runs, what it checks."""

    name: str
    repositories: tuple[str, ...]  # `repository`, then a `copy` section's repository
    # ("keep_daily", 7), ("keep_within", "30d"), ("keep_daily", "unlimited"): see parse._backup_config
    retention: tuple[tuple[str, int | str], ...]
    schedule: tuple[str, ...]  # "backup: daily", one per scheduled command and time
    checks: tuple[str, ...]  # "check" (a check section), "read-data", "check-before", "check-after"
    password_set: bool


def parse_resticprofile(text: str, *, syntax: Literal["yaml", "toml"] = "yaml") -> tuple[ResticProfile, ...]:
    """Parse a resticprofile file; the profiles that name a repository, less the bases only inherited from
    (`_is_template`). Raises ResticProfileParseError."""
    if syntax == "toml":
        try:
            data: Any = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
            raise ResticProfileParseError(f"not valid TOML: {clip(str(exc), 120)}") from None
    else:
        data = load_yaml(text, ResticProfileParseError)
    if not isinstance(data, dict):
        raise ResticProfileParseError("a resticprofile file is a mapping of profiles")
    version = str(data.get("version", "1")).strip()
    if version.startswith("2"):
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict):
            raise ResticProfileParseError('"profiles:" must be a mapping of profiles')
    else:
        profiles = {k: v for k, v in data.items() if str(k) not in RESERVED}
    raw = {str(k): _normalise(v) for k, v in profiles.items() if isinstance(v, dict)}
    parsed = {name: _profile(name, _resolve(name, raw)) for name in raw}
    return tuple(p for name, p in parsed.items() if p.repositories and not _is_template(name, raw, parsed))


def _is_template(name: str, raw: dict[str, dict[str, Any]], parsed: dict[str, ResticProfile]) -> bool:
    """A profile other profiles inherit from that writes to no repository of its own: every repository it
    has is one of its heirs' too. resticprofile runs any profile by name, but such a base (`inherit: base`)
    is the shared part of its heirs, which are the ones run; judging it as a plan of its own would judge
    settings the heirs override."""
    heirs = [p for n, p in parsed.items() if n != name and raw[n].get("inherit") == name]
    theirs = {r for heir in heirs for r in heir.repositories}
    return bool(heirs) and set(parsed[name].repositories) <= theirs


def _normalise(value: Any) -> Any:
    """Keys lower-case with dashes (resticprofile also reads keep_daily), nested mappings too."""
    if isinstance(value, dict):
        return {str(k).strip().lower().replace("_", "-"): _normalise(v) for k, v in value.items()}
    return value


def _resolve(name: str, raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The profile with its parents' keys merged under its own (`inherit:`)."""
    chain = [raw[name]]
    seen = {name}
    parent = raw[name].get("inherit")
    while isinstance(parent, str) and parent:
        if parent in seen or len(chain) > MAX_INHERIT:
            raise ResticProfileParseError(f'profile "{clip(name, 40)}" inherits from itself')
        if parent not in raw:
            raise ResticProfileParseError(
                f'profile "{clip(name, 40)}" inherits from "{clip(parent, 40)}", which is not in the file'
            )
        seen.add(parent)
        chain.append(raw[parent])
        parent = raw[parent].get("inherit")
    merged: dict[str, Any] = {}
    for layer in reversed(chain):
        merged = _merge(merged, layer)
    return merged


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _profile(name: str, p: dict[str, Any]) -> ResticProfile:
    repositories = [_text(p.get("repository"), "repository")]
    copy = p.get("copy")
    if isinstance(copy, dict):
        repositories.append(_text(copy.get("repository"), "copy.repository"))
    retention_section = p.get("retention") if isinstance(p.get("retention"), dict) else p.get("forget")
    retention = _retention(retention_section) if isinstance(retention_section, dict) else ()
    schedule: list[str] = []
    for section, body in p.items():
        if isinstance(body, dict) and "schedule" in body:
            for when in _list(body["schedule"]):
                schedule.append(f"{section}: {clip(str(when), 100)}")
    checks: list[str] = []
    check = p.get("check")
    if isinstance(check, dict):
        checks.append("check")
        if check.get("read-data") is True or check.get("read-data-subset"):
            checks.append("read-data")
    backup = p.get("backup")
    if isinstance(backup, dict):
        checks += [k for k in ("check-before", "check-after") if backup.get(k) is True]
    env = p.get("env")
    password_set = any(is_set(p.get(k)) for k in PASSWORD_KEYS) or (
        isinstance(env, dict) and any(str(k).lower().replace("-", "_") in PASSWORD_ENV for k in env)
    )
    return ResticProfile(
        name=name,
        repositories=tuple(r for r in repositories if r),
        retention=retention,
        schedule=tuple(schedule),
        checks=tuple(checks),
        password_set=password_set,
    )


def _text(value: Any, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ResticProfileParseError(f'"{key}" must be text, not {clip(repr(value), 40)}')
    return value.strip()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _retention(section: dict[str, Any]) -> tuple[tuple[str, int | str], ...]:
    return keep_rules(
        section, durations=DURATION_KEYS, counts=COUNT_KEYS, error=ResticProfileParseError, spelling="-"
    )
