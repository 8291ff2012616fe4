"""Risky services as data: the built-in policies/risky_services.yml and the files third parties add.

A third party adds services in YAML files of the same format, inside a package it names in the entry point
group "secbase.services"; every *.yml and *.yaml file of that package is read:

    [project.entry-points."secbase.services"]
    mytown = "mytown_services"

A port and protocol the built-in file lists stays the built-in's (the other entry is ignored, with a
warning, as for check ids). A file that does not validate stops the load with one line naming the file,
the entry and the key.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.resources
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from secbase.config import read_yaml
from secbase.errors import ConfigError
from secbase.model import Severity
from secbase.parse import port_range

SERVICES_GROUP = "secbase.services"
BUILTIN_PACKAGE = "secbase_policies"
BUILTIN_FILE = "risky_services.yml"
# Scanned besides the risky services' ports, so that net.service.unexpected sees what usually answers:
# mail (SMTP, submission, IMAP, POP3, with and without TLS), DNS, the web and its usual second ports.
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
COMMON_PORTS = (25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 8080, 8443)


class RiskyService(BaseModel):
    """One port that should not answer on a town's hosts, and what to tell the town when it does."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    port: int = Field(ge=1, le=65535)
    protocol: str
    service: str  # short and stable: results' subjects use it ("3389/rdp")
    name: str = Field(min_length=2)
    severity: Severity
    why: str = Field(min_length=10)  # the risk in plain words
    fix: str = Field(min_length=10)  # the usual fix for a small town
    flagged_by: tuple[str, ...] = Field(min_length=1)
    silenced_by_expected_ports: bool = False  # a port listed in expected_ports is then a pass

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value not in ("tcp", "udp"):
            raise PydanticCustomError(
                "protocol", 'must be "tcp" or "udp" (found "{value}")', {"value": value}
            )
        return value

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise PydanticCustomError(
                "service",
                'must be a short lower-case name like "rdp" or "web-admin" (found "{value}")',
                {"value": value},
            )
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        if value not in ("critical", "high"):  # a risky service is never merely a "medium" matter
            raise PydanticCustomError(
                "severity", 'must be "critical" or "high" (found "{value}")', {"value": str(value)}
            )
        return Severity(value)

    @model_validator(mode="after")
    def _critical_is_never_silenced(self) -> RiskyService:
        if self.silenced_by_expected_ports and self.severity is Severity.CRITICAL:
            raise PydanticCustomError(
                "silenced_critical",
                "a critical service cannot be silenced by expected_ports; remove silenced_by_expected_ports",
            )
        return self

    @property
    def subject(self) -> str:
        """How results name it: "3389/rdp"."""
        return f"{self.port}/{self.service}"


class _ServiceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: list[RiskyService] = Field(min_length=1)


@dataclass(frozen=True)
class RiskyServices:
    """Every risky service known (built-in first), and what was ignored while loading them."""

    services: tuple[RiskyService, ...]
    warnings: tuple[str, ...] = ()
    # The lists below, worked out once: the net.* checks ask for them for every host of every scan.
    _memo: dict[Hashable, tuple[Any, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def tcp(self) -> tuple[RiskyService, ...]:
        """The services a TCP connect scan can see."""
        found = self._memo.get("tcp")
        if found is None:
            found = self._memo["tcp"] = tuple(s for s in self.services if s.protocol == "tcp")
        return found

    def udp(self) -> tuple[RiskyService, ...]:
        """The services a TCP connect scan cannot see: reported as not tested."""
        found = self._memo.get("udp")
        if found is None:
            found = self._memo["udp"] = tuple(s for s in self.services if s.protocol == "udp")
        return found

    def default_ports(self) -> tuple[int, ...]:
        """The scan's polite default: the risky services' TCP ports and the common web and mail ports."""
        found = self._memo.get("default_ports")
        if found is None:
            ports = tuple(sorted({s.port for s in self.tcp()} | set(COMMON_PORTS)))
            found = self._memo["default_ports"] = ports
        return found

    def scan_ports(self, extra: Iterable[int | str] = ()) -> tuple[int, ...]:
        """The default ports widened by `extra` (the config's scan.ports: 8081 or "8000-8100")."""
        extra = tuple(extra)
        try:
            key: Hashable = ("scan_ports", extra)
            found = self._memo.get(key)
        except TypeError:  # not a port at all: expand_ports says so
            key, found = None, None
        if found is None:  # a bad spec raises, and is not kept
            found = tuple(sorted(set(self.default_ports()) | set(expand_ports(extra))))
            if key is not None:
                self._memo[key] = found
        return found


def expand_ports(specs: Iterable[int | str]) -> tuple[int, ...]:
    """Ports and ranges ("8000-8100") as the ports they name, sorted; ValueError on anything else."""
    ports: set[int] = set()
    for spec in specs:
        first, last = port_range(spec)
        ports.update(range(first, last + 1))
    return tuple(sorted(ports))


def read_services(text: str, label: str) -> list[RiskyService]:
    """The services of one file's text; ConfigError with one line naming `label`, the entry and the key."""
    raw = read_yaml(text, label)
    if not isinstance(raw, dict):
        raise ConfigError(f'{label}: expected "services:" and a list of services under it')
    try:
        parsed = _ServiceFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{label}: {_describe(exc, raw)}") from exc
    seen: set[tuple[int, str]] = set()
    for i, svc in enumerate(parsed.services):
        if (svc.port, svc.protocol) in seen:
            raise ConfigError(f"{label}: services[{i}]: {svc.port}/{svc.protocol} is listed twice; keep one")
        seen.add((svc.port, svc.protocol))
    return parsed.services


def load_services(extra_files: Sequence[Path] = ()) -> RiskyServices:
    """The built-in risky services, then those of every package in the entry point group
    "secbase.services", then those of `extra_files`; the first to list a port and protocol keeps it."""
    builtin = importlib.resources.files(BUILTIN_PACKAGE) / BUILTIN_FILE
    sources: list[tuple[str, str]] = [
        (f"{BUILTIN_PACKAGE}/{BUILTIN_FILE}", builtin.read_text(encoding="utf-8"))
    ]
    for ep in sorted(importlib.metadata.entry_points(group=SERVICES_GROUP), key=lambda e: e.name):
        sources += _package_files(ep)
    for path in extra_files:
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeError) as exc:
            raise ConfigError(f"{path}: cannot read the risky services: {exc}") from exc
    services: dict[tuple[int, str], tuple[RiskyService, str]] = {}
    warnings = []
    for label, text in sources:
        for svc in read_services(text, label):
            kept = services.get((svc.port, svc.protocol))
            if kept is not None:
                warnings.append(
                    f"{label}: {svc.port}/{svc.protocol} ({svc.service}) ignored: {kept[1]} already lists it"
                )
                continue
            services[(svc.port, svc.protocol)] = (svc, label)
    return RiskyServices(tuple(s for s, _ in services.values()), tuple(warnings))


@cache
def risky_services() -> RiskyServices:
    """The risky services of this installation, loaded once per process (the checks read them)."""
    return load_services()


def _package_files(ep: importlib.metadata.EntryPoint) -> list[tuple[str, str]]:
    dist = ep.dist.name if ep.dist else "unknown"
    try:
        folder = importlib.resources.files(ep.value)
        entries = sorted(folder.iterdir(), key=lambda f: f.name)
        return [
            (f"{dist}:{ep.value}/{f.name}", f.read_text(encoding="utf-8"))
            for f in entries
            if f.name.endswith((".yml", ".yaml")) and f.is_file()
        ]
    except Exception as exc:  # a third party's package that does not import or read: name it, stop
        raise ConfigError(
            f"risky services from {dist} ({SERVICES_GROUP} entry point {ep.name} = {ep.value}) "
            f"cannot be read: {type(exc).__name__}: {exc}"
        ) from exc


def _describe(exc: ValidationError, raw: Any) -> str:
    """pydantic's first error as "services[3].severity: what is wrong; how to fix it"."""
    errors = exc.errors()
    # A misspelt key also shows as a missing one: the misspelling is what to tell.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function")))]
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
        if loc[:2] == ["services", part] and isinstance(part, int):
            entries = raw.get("services")
            entry = entries[part] if isinstance(entries, list) and part < len(entries) else None
            if isinstance(entry, dict) and "port" in entry:
                path += f" (port {entry['port']})"  # which entry, in the words of the file
    kind = err["type"]
    if kind == "extra_forbidden":
        known = sorted(RiskyService.model_fields) if len(loc) > 1 else sorted(_ServiceFile.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f'did you mean "{close[0]}"?' if close else f"known keys: {', '.join(known)}"
        return f"{path}: unknown key; {hint}"
    if kind == "missing":
        return f"{path}: required; add it"
    if kind in ("model_type", "dict_type"):
        return f"{path}: must be a mapping of port, protocol, service, name, severity, why, fix, flagged_by"
    if kind in ("list_type", "tuple_type"):
        return f"{path}: must be a list, like [a, b]"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {msg}" if path else msg
