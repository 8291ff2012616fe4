"""Plain typed records shared by every part: targets, statuses, severities, results and findings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secbase.plugins import Check


class Status(StrEnum):
    """The verdict of one check on one target and subject."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # could not check: the reason says why; never a verdict
    NOT_APPLICABLE = "not_applicable"


class Severity(StrEnum):
    """How much a failing check matters, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical up to 4 for info, for sorting."""
        return list(Severity).index(self)


class TargetKind(StrEnum):
    """What a target is: the unit a check looks at."""

    DOMAIN = "domain"
    WEBSITE = "website"
    HOST = "host"
    BACKUP = "backup"


@dataclass(frozen=True)
class BackupSpec:
    """A declared backup source's settings, as the backup checks read them (from config.BackupSource).

    A plain record here, not the pydantic model: config.py imports this module.
    """

    name: str
    kind: str  # "restic", "borg" or "folder"
    location: str
    check: str = "auto"  # "auto", "always" or "never": when the repository's own check may run
    rpo_hours: float = 26
    retention_days: int = 30
    offsite: bool = False
    immutable: bool = False
    config_file: str | None = None  # the borgmatic (borg) or resticprofile (restic) file that drives it
    remote: bool = False  # reached over the network


@dataclass(frozen=True)
class Target:
    """One thing an organisation declares: a domain, a website, a host or a backup source."""

    organisation: str
    kind: TargetKind
    name: str
    sends_mail: bool = True  # False for the config's non_mail_domains
    dkim_selectors: tuple[str, ...] = ()
    expected_ports: tuple[int, ...] = ()  # a host's ports the organisation declares open on purpose
    backup: BackupSpec | None = None  # a backup target's source settings
    org_backups: tuple[BackupSpec, ...] = ()  # every backup source of the organisation (backup.offsite)


def fingerprint(organisation: str, check_id: str, target: str, subject: str) -> str:
    """Return a finding's identity: never the evidence, so it survives from scan to scan."""
    raw = "\x1f".join((organisation, check_id, target, subject))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Result:
    """One check's verdict on one target (and subject inside it) in one scan."""

    organisation: str
    check: str
    target: str
    status: Status
    severity: Severity
    summary: str
    subject: str = ""
    evidence: str = ""

    @property
    def fingerprint(self) -> str:
        """This result's finding identity: organisation, check, target and subject."""
        return fingerprint(self.organisation, self.check, self.target, self.subject)

    @property
    def is_problem(self) -> bool:
        """True for fail and warn: the statuses that open or refresh a finding."""
        return self.status in (Status.FAIL, Status.WARN)

    def to_json(self) -> dict[str, Any]:
        """The result as the documented JSON object (README, "JSON output")."""
        return {
            "organisation": self.organisation,
            "check": self.check,
            "target": self.target,
            "subject": self.subject,
            "status": str(self.status),
            "severity": str(self.severity),
            "summary": self.summary,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def make(
        cls,
        check: Check,
        target: Target,
        status: Status,
        summary: str,
        *,
        subject: str = "",
        evidence: str = "",
        severity: Severity | None = None,
    ) -> Result:
        """A result of `check` on `target`; the severity is the check's unless given."""
        return cls(
            organisation=target.organisation,
            check=check.id,
            target=target.name,
            status=status,
            severity=severity or check.severity,
            summary=summary,
            subject=subject,
            evidence=evidence,
        )

    @classmethod
    def passed(cls, check: Check, target: Target, summary: str, **kw: Any) -> Result:
        """Meets the baseline."""
        return cls.make(check, target, Status.PASS, summary, **kw)

    @classmethod
    def fail(cls, check: Check, target: Target, summary: str, **kw: Any) -> Result:
        """Does not meet the baseline: opens or refreshes a finding."""
        return cls.make(check, target, Status.FAIL, summary, **kw)

    @classmethod
    def warn(cls, check: Check, target: Target, summary: str, **kw: Any) -> Result:
        """Works, but below the baseline's recommendation: opens or refreshes a finding."""
        return cls.make(check, target, Status.WARN, summary, **kw)

    @classmethod
    def error(cls, check: Check, target: Target, reason: str, **kw: Any) -> Result:
        """Could not check: the reason says what went wrong out there (time-out, SERVFAIL...)."""
        return cls.make(check, target, Status.ERROR, f"Could not check: {reason}", **kw)

    @classmethod
    def not_applicable(cls, check: Check, target: Target, reason: str, **kw: Any) -> Result:
        """The check does not apply here (a domain without mail...): resolves an open finding."""
        return cls.make(check, target, Status.NOT_APPLICABLE, reason, **kw)


@dataclass(frozen=True)
class Finding:
    """A problem's life across scans: opened by fail/warn, resolved by a later pass or not_applicable."""

    fingerprint: str
    organisation: str
    check: str
    target: str
    subject: str
    severity: Severity
    status: Status  # the last problem status seen: fail or warn
    summary: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    times_reopened: int = 0
    open_seconds: float = field(default=0.0)  # sum of every open period up to now or to resolution

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
