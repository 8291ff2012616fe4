"""What the borgmatic and resticprofile parsers share: one YAML reader (with borgmatic's !include) and keep rules.

The keep rules (retention) come out as (name, value) pairs, names with underscores ("keep_daily",
"keep_within_daily"). A count is a whole number 0 or more, or "unlimited" (restic writes "unlimited" or -1,
borg -1: keep every one); a duration is kept as written ("30d"); a keep setting the tool does not have is
kept too, named as the file spells it and its value as text, so that a reader can say it does not
understand it instead of dropping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from secbase.facts import KEEP_COUNT_KEYS, KEEP_WITHIN_KEYS
from secbase.parse import ParseError, clip

UNLIMITED = "unlimited"
MAX_INCLUDE_DEPTH = 8  # borgmatic files include a common file, which may include one more: 8 is plenty
MAX_INCLUDE_BYTES = 1_000_000
KEEP_ORDER = KEEP_WITHIN_KEYS + KEEP_COUNT_KEYS  # the order they are reported in
_NUMBER = re.compile(r"^-?\d+$")
_DURATION = re.compile(r"^(\d+\s*[A-Za-z]\s*)+$")  # "30d", "1y2m", "2w"; which letters mean what: facts.py


def is_set(value: Any) -> bool:
    """A password setting that is given: not missing, empty or false (its value is never kept)."""
    return value is not None and value != "" and value is not False


def keep_rules(
    settings: Mapping[str, Any],
    *,
    durations: Iterable[str],
    counts: Iterable[str],
    error: type[ParseError],
    spelling: str = "_",
) -> tuple[tuple[str, int | str], ...]:
    """The keep settings among `settings` (keys already lower-case, words joined by `spelling`).

    `durations` and `counts` are the keep settings the tool has (underscore names); any other key starting
    with "keep" is kept with its value as text, for the reader to name as not understood.
    """
    known_durations, known_counts = frozenset(durations), frozenset(counts)
    found: dict[str, int | str] = {}
    unknown: list[tuple[str, int | str]] = []
    other = "-" if spelling == "_" else "_"
    for raw_key, value in settings.items():
        written = str(raw_key).strip().lower()
        key = written.replace("-", "_")
        if not key.startswith("keep_") or value is None:
            continue
        shown = key.replace("_", spelling)
        if other in written:  # spelt the way the tool does not read ("keep-daily" in borgmatic)
            unknown.append((written, clip(" ".join(str(value).split()), 40)))
        elif key in known_durations:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise error(f'"{shown}" is a duration like "30d"')
            found[key] = clip(str(value).strip(), 40)
        elif key in known_counts:
            found[key] = _count(shown, value, error)
        else:  # named as written, so that a reader can point at it
            unknown.append((shown, clip(" ".join(str(value).split()), 40)))
    return tuple((k, found[k]) for k in KEEP_ORDER if k in found) + tuple(unknown)


def _count(shown: str, value: Any, error: type[ParseError]) -> int | str:
    """A count: 0 or more, or "unlimited" (a negative number, or the word, means keep every one)."""
    if isinstance(value, bool):
        raise error(f'"{shown}" must be a whole number, not {value}')
    if isinstance(value, int):
        return UNLIMITED if value < 0 else value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and _NUMBER.match(text):
            number = int(text)
            return UNLIMITED if number < 0 else number
        if text.lower() == UNLIMITED:
            return UNLIMITED
        if text.isascii() and _DURATION.match(text):  # borg 2 takes "number or time interval"
            return clip(text, 40)
    raise error(f'"{shown}" must be a whole number, not {clip(repr(value), 30)}')


# --- YAML, with borgmatic's !include -----------------------------------------------------------------


class _MergeKey:
    """Stands for a `<<: !include file` key until the includes are merged in (each one unique)."""


class _Kept(dict[Any, Any]):
    """A mapping tagged !retain: it replaces what an include says instead of merging with it."""


class _KeptList(list[Any]):
    """A list tagged !retain: it replaces the included list instead of adding to it."""


class _Omit(str):
    """A list item tagged !omit: it removes the same item from the included list."""

    __slots__ = ()


_MERGE_TAG = "tag:yaml.org,2002:merge"
_INCLUDE_KEY_TAG = "!secbase/include-key"


class _Loader(yaml.SafeLoader):
    """The safe loader, with borgmatic's !include, !retain and !omit when reading from a file."""

    folder: Path | None = None
    chain: tuple[Path, ...] = ()
    error: type[ParseError] = ParseError

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # `<<: !include common.yaml` (or a list of them): PyYAML's own merge wants mappings, so the include
        # is set aside under a key of its own and merged, deeply as borgmatic does, once everything is read.
        includes, rest = [], []
        for key, value in node.value:
            if key.tag == _MERGE_TAG and _is_include(value):
                includes.append((yaml.ScalarNode(_INCLUDE_KEY_TAG, ""), value))
            else:
                rest.append((key, value))
        node.value = rest
        super().flatten_mapping(node)
        node.value = includes + node.value


def _is_include(node: yaml.Node) -> bool:
    if isinstance(node, yaml.SequenceNode):
        return any(item.tag == "!include" for item in node.value)
    return node.tag == "!include"


def _construct_include(loader: _Loader, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise loader.error("!include takes one file name")
    name = str(loader.construct_scalar(node)).strip()
    if loader.folder is None:
        raise loader.error(
            f"it includes {clip(name, 80)}, which can only be read with the file's folder known"
        )
    if len(loader.chain) > MAX_INCLUDE_DEPTH:
        raise loader.error(f"its includes go more than {MAX_INCLUDE_DEPTH} files deep")
    path = Path(name).expanduser()
    path = path if path.is_absolute() else loader.folder / path
    shown = clip(str(path), 120)
    if path.resolve() in loader.chain:
        raise loader.error(f"{shown} includes itself, directly or through another file")
    try:
        with path.open(encoding="utf-8") as handle:
            text = handle.read(MAX_INCLUDE_BYTES + 1)
    except FileNotFoundError:
        raise loader.error(f"it includes {shown}, which does not exist") from None
    except (OSError, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise loader.error(f"it includes {shown}, which cannot be read: {why}") from None
    if len(text) > MAX_INCLUDE_BYTES:
        raise loader.error(f"it includes {shown}, which is over {MAX_INCLUDE_BYTES // 1000} kB")
    try:
        return load_yaml(text, loader.error, path=path, _chain=loader.chain)
    except ParseError as exc:
        raise loader.error(f"in the included {shown}: {exc}") from None


def _construct_retain(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _Kept(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return _KeptList(loader.construct_sequence(node, deep=True))
    raise loader.error("!retain goes on a mapping or a list")


def _construct_omit(loader: _Loader, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise loader.error("!omit goes on one list item")
    return _Omit(loader.construct_scalar(node))


_Loader.add_constructor("!include", _construct_include)
_Loader.add_constructor("!retain", _construct_retain)
_Loader.add_constructor("!omit", _construct_omit)
_Loader.add_constructor(_INCLUDE_KEY_TAG, lambda loader, node: _MergeKey())


def load_yaml(
    text: str, error: type[ParseError], *, path: Path | None = None, _chain: tuple[Path, ...] = ()
) -> Any:
    """YAML text as plain data (the safe loader); any failure becomes `error` with one plain sentence.

    With `path` (the file the text came from), borgmatic's `!include other.yaml` reads the other file
    relative to it, at most MAX_INCLUDE_DEPTH deep and never in a loop; `<<: !include` merges it under
    the file's own keys as borgmatic does (mappings deeply, lists added to, !retain and !omit obeyed).
    """
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader checks the characters at once
        loader.error = error
        if path is not None:
            loader.folder = path.parent
            loader.chain = (*_chain, path.resolve())
        return _settle(loader.get_single_data())
    except ParseError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise error(f"not valid YAML at {where}: {exc.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # PyYAML's constructors raise plain ValueError on a date like 2024-13-45
        raise error(f"not valid YAML: {clip(str(exc), 120)}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _settle(value: Any) -> Any:
    """Merge the includes set aside under _MergeKey keys; local keys win, as in borgmatic."""
    if isinstance(value, dict):
        base: Any = {}
        for key, included in value.items():
            if isinstance(key, _MergeKey):
                for part in included if isinstance(included, list) else [included]:
                    if not isinstance(part, dict):
                        raise TypeError("a file merged with <<: !include must hold a mapping of keys")
                    base = _merge(base, part)
        local = {k: _settle(v) for k, v in value.items() if not isinstance(k, _MergeKey)}
        merged = _merge(base, local)
        return _Kept(merged) if isinstance(value, _Kept) else merged
    if isinstance(value, list):
        items = [_settle(v) for v in value]
        return _KeptList(items) if isinstance(value, _KeptList) else items
    return value


def _merge(base: dict[Any, Any], over: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, dict) and not isinstance(value, _Kept) and isinstance(old, dict):
            out[key] = _merge(old, value)
        elif isinstance(value, list) and not isinstance(value, _KeptList) and isinstance(old, list):
            omitted = {str(v) for v in value if isinstance(v, _Omit)}
            out[key] = [v for v in old if str(v) not in omitted] + [
                v for v in value if not isinstance(v, _Omit)
            ]
        else:
            out[key] = value
    return {k: _plain(v) for k, v in out.items()}


def _plain(value: Any) -> Any:
    """Drop the !retain and !omit markers once merged: the parsers see plain dicts, lists and text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value if not isinstance(v, _Omit)]
    return value
