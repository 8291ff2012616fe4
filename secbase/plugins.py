"""The Check interface, the words beside each check, and discovery of built-in and third-party checks."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from secbase.errors import CheckLoadError
from secbase.facts import Facts
from secbase.model import Result, Severity, Target, TargetKind

ENTRY_POINT_GROUP = "secbase.checks"
BUILTIN_PACKAGE = "secbase_checks"
BUILTIN_SOURCE = "secbase"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")

Evaluate = Callable[[Target, Facts, Mapping[str, Any]], list[Result]]


class CheckWords(BaseModel):
    """What people read about a check; kept in the YAML file beside its module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3)
    area: str
    risk: str = Field(min_length=10)  # what can go wrong, in plain language
    fix: str = Field(min_length=10)  # the concrete next step
    fix_by_provider: dict[str, str] = Field(default_factory=dict)
    effort: str  # "15 minutes", "half a day"
    who: str  # who usually does it: "whoever manages your domain's DNS"
    references: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class Check:
    """A check: metadata and a pure evaluation from facts to results."""

    id: str
    severity: Severity
    target_kinds: tuple[TargetKind, ...]  # what it looks at; tls.* look at websites and mail domains
    evaluate: Evaluate
    facts: tuple[str, ...] = ("dns",)  # the probe kinds it reads, for the catalogue
    defaults: Mapping[str, Any] = field(default_factory=dict)  # thresholds a policy may tighten
    words: CheckWords | None = None
    source: str = BUILTIN_SOURCE  # the distribution it came from
    module: str = ""
    # Each run reports every subject it judges on a target (each scanned port, say): a stored finding about
    # a subject it no longer reports there (a port dropped from the list) is closed, not left open for good.
    every_subject: bool = False

    def __call__(self, target: Target, facts: Facts, limits: Mapping[str, Any] | None = None) -> list[Result]:
        """Evaluate the check, with its default thresholds overridden by `limits`."""
        return self.evaluate(target, facts, {**self.defaults, **(limits or {})})

    @property
    def target_kind(self) -> TargetKind:
        """The first kind of target it looks at (most checks look at one)."""
        return self.target_kinds[0]

    @property
    def title(self) -> str:
        return self.words.title if self.words else self.id


def check(
    *,
    id: str,
    severity: Severity | str,
    target: TargetKind | str | Iterable[TargetKind | str],
    facts: Iterable[str] = ("dns",),
    defaults: Mapping[str, Any] | None = None,
    every_subject: bool = False,
) -> Callable[[Evaluate], Check]:
    """Declare a check: decorate its evaluate function.

    `every_subject=True` promises that, whenever it gives results about subjects on a target, they are all
    the subjects it judges there; the store then closes its findings about any other subject of that target.

    Example:
        @check(id="email.tls_rpt", severity="info", target="domain")
        def tls_rpt(target: Target, facts: Facts, limits: Mapping[str, Any]) -> list[Result]:
            ...
    """

    def wrap(fn: Evaluate) -> Check:
        if not ID_PATTERN.match(id):
            raise CheckLoadError(f"check id {id!r} must be lower-case dotted words, like 'email.spf.policy'")
        return Check(
            id=id,
            severity=Severity(severity),
            target_kinds=_kinds(target),
            evaluate=fn,
            facts=tuple(facts),
            defaults=dict(defaults or {}),
            module=fn.__module__,
            every_subject=every_subject,
        )

    return wrap


def _kinds(target: TargetKind | str | Iterable[TargetKind | str]) -> tuple[TargetKind, ...]:
    if isinstance(target, str):  # a TargetKind is a str too
        return (TargetKind(target),)
    kinds = tuple(dict.fromkeys(TargetKind(t) for t in target))
    if not kinds:
        raise CheckLoadError("a check must look at some kind of target")
    return kinds


@dataclass
class CheckRegistry:
    """Every loaded check by id, and what went wrong or clashed while loading."""

    checks: dict[str, Check] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def select(self, patterns: Iterable[str] = ()) -> list[Check]:
        """Return the checks matching any pattern ("email.*", "email.spf", "dns.caa"), all when none given.

        A pattern without a wildcard also matches the family below it: "email.spf" selects email.spf.*.
        Raises CheckLoadError naming a pattern that matches nothing.
        """
        pats = list(patterns)
        if not pats:
            return sorted(self.checks.values(), key=lambda c: c.id)
        chosen: dict[str, Check] = {}
        for pat in pats:
            hits = [
                c
                for cid, c in self.checks.items()
                if fnmatch.fnmatchcase(cid, pat) or cid.startswith(pat.rstrip(".") + ".")
            ]
            if not hits:
                raise CheckLoadError(f"no check matches {pat!r}; 'secbase checks' lists them")
            chosen.update((c.id, c) for c in hits)
        return sorted(chosen.values(), key=lambda c: c.id)


def load_checks() -> CheckRegistry:
    """Load the built-in checks, then every entry point of the group "secbase.checks"."""
    registry = CheckRegistry()
    _add_all(registry, _load_package(BUILTIN_PACKAGE), source=BUILTIN_SOURCE)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "unknown"
        if dist == BUILTIN_SOURCE:
            continue  # loaded above, also when running from a source tree without an install
        try:
            found = _load_package(ep.module)
        except CheckLoadError as exc:
            registry.warnings.append(f"checks from {dist} were not loaded: {exc}")
            continue
        _add_all(registry, found, source=dist)
    return registry


def _add_all(registry: CheckRegistry, found: list[Check], *, source: str) -> None:
    for chk in found:
        chk = replace(chk, source=source)
        old = registry.checks.get(chk.id)
        if old is not None:
            # The built-in wins, loudly: a plugin must not silently change what an id means.
            registry.warnings.append(
                f"check {chk.id} from {source} ignored: {old.source} already provides that id"
            )
            continue
        registry.checks[chk.id] = chk


def _load_package(name: str) -> list[Check]:
    module = _import(name)
    modules = [module]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, prefix=name + ".", onerror=lambda _: None):
            if info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            modules.append(_import(info.name))
    found: list[Check] = []
    for mod in modules:
        found.extend(_checks_of(mod))
    return found


def _import(name: str) -> ModuleType:
    """Import a check module; anything it raises becomes a CheckLoadError naming it."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a plugin's own bug must not stop secbase: it is reported, and skipped
        raise CheckLoadError(f"cannot import {name}: {type(exc).__name__}: {exc}") from exc


def _checks_of(module: ModuleType) -> list[Check]:
    checks = [v for v in vars(module).values() if isinstance(v, Check) and v.module == module.__name__]
    if not checks:
        return []
    words = _load_words(module)
    ids = {c.id for c in checks}
    stray = sorted(set(words) - ids)
    if stray:
        raise CheckLoadError(f"{_words_path(module)}: {stray[0]} has words but no check in {module.__name__}")
    out = []
    for chk in checks:
        if chk.id not in words:
            raise CheckLoadError(f"{_words_path(module)}: no words for {chk.id}; add title, risk, fix...")
        out.append(replace(chk, words=words[chk.id]))
    return out


def _words_path(module: ModuleType) -> Path:
    return Path(module.__file__ or "").with_suffix(".yml")


def _load_words(module: ModuleType) -> dict[str, CheckWords]:
    path = _words_path(module)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckLoadError(f"{path}: cannot read the words for {module.__name__}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CheckLoadError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CheckLoadError(f"{path}: expected a mapping of check id to words")
    out = {}
    for cid, entry in raw.items():
        try:
            out[str(cid)] = CheckWords.model_validate(entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise CheckLoadError(f"{path}: {cid}: {where}: {err['msg']}") from exc
    return out
