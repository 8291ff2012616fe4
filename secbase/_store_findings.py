"""Each finding's life in the store: opened, seen, resolved, reopened, accepted; and reading findings back.

Functions on an open connection, so that the Store runs them inside its own transactions; the records they
read back (`StoredFinding`, `Acceptance`) are here too, and `secbase.store` exports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from secbase._store_schema import finding_periods, findings
from secbase.errors import SecbaseError
from secbase.model import Finding, Result, Severity, Status
from secbase.scan import ScanOutcome


@dataclass(frozen=True)
class Acceptance:
    """A finding accepted as a known risk: through which day (inclusive), why, by whom, and when."""

    until: date
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class StoredFinding(Finding):
    """A finding as the store reads it: its life, plus its accepted risk, judged on the day it is read."""

    acceptance: Acceptance | None = None  # kept after its day has passed, so a reader can tell why it is back
    is_accepted: bool = False  # open, and its acceptance runs through today


ACCEPT_MIN_PREFIX = 6  # characters of a fingerprint that may stand for it, when they match one finding
_HEX = re.compile(r"[0-9a-f]+")
_NO_ACCEPTANCE: dict[str, Any] = {
    "accepted_until": None,
    "accepted_reason": None,
    "accepted_by": None,
    "accepted_at": None,
}


def _accepted_on(day: date) -> sa.ColumnElement[bool]:
    """Open and accepted through ``day`` or later; never NULL (the IS NOT NULL comes first), so NOT is exact."""
    return sa.and_(
        findings.c.resolved_at.is_(None),
        findings.c.accepted_until.is_not(None),
        findings.c.accepted_until >= day,
    )


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February: the year after has none
        return day.replace(year=day.year + 1, day=28)


def _resolve(conn: Connection, given: str) -> str:
    """The one fingerprint that ``given`` is, or starts with; otherwise a one-line error."""
    wanted = given.strip().lower()
    if not _HEX.fullmatch(wanted):
        raise SecbaseError(
            "a fingerprint is made of the digits 0-9 and the letters a-f; secbase findings shows each one"
        )
    if len(wanted) < ACCEPT_MIN_PREFIX:
        raise SecbaseError(
            f"give at least {ACCEPT_MIN_PREFIX} characters of the fingerprint ({wanted} is too short)"
        )
    shown = 5
    rows = conn.execute(
        sa.select(findings.c.fingerprint, findings.c.organisation, findings.c.check_id, findings.c.target)
        .where(findings.c.fingerprint.startswith(wanted, autoescape=True))
        .order_by(findings.c.fingerprint)
        .limit(shown + 1)
    ).all()
    if not rows:
        raise SecbaseError(
            f"no finding has the fingerprint {wanted}; secbase findings --all shows every fingerprint"
        )
    if len(rows) > 1:
        named = ", ".join(f"{r.fingerprint} ({r.organisation} {r.check_id} {r.target})" for r in rows[:shown])
        more = " and more" if len(rows) > shown else ""
        raise SecbaseError(f"{wanted} is the start of several findings: {named}{more}; give more characters")
    return str(rows[0].fingerprint)


def _read_findings(
    conn: Connection, conditions: Sequence[sa.ColumnElement[bool]], now: datetime
) -> list[StoredFinding]:
    """The findings matching every condition, with their open time up to ``now`` and acceptance on its day."""
    where = sa.and_(sa.true(), *conditions)
    rows = conn.execute(sa.select(findings).where(where)).mappings().all()
    periods: dict[str, float] = {}
    wanted = sa.select(findings.c.fingerprint).where(where)
    for p in conn.execute(
        sa.select(finding_periods).where(finding_periods.c.fingerprint.in_(wanted))
    ).mappings():
        end = p["closed_at"] or now
        periods[p["fingerprint"]] = (
            periods.get(p["fingerprint"], 0.0) + (end - p["opened_at"]).total_seconds()
        )
    today = now.date()
    out = []
    for r in rows:
        acceptance = (
            None
            if r["accepted_until"] is None
            else Acceptance(
                until=r["accepted_until"],
                reason=r["accepted_reason"],
                by=r["accepted_by"],
                at=r["accepted_at"],
            )
        )
        out.append(
            StoredFinding(
                fingerprint=r["fingerprint"],
                organisation=r["organisation"],
                check=r["check_id"],
                target=r["target"],
                subject=r["subject"],
                severity=Severity(r["severity"]),
                status=Status(r["status"]),
                summary=r["summary"],
                first_seen=r["first_seen"],
                last_seen=r["last_seen"],
                resolved_at=r["resolved_at"],
                times_reopened=r["times_reopened"],
                open_seconds=periods.get(r["fingerprint"], 0.0),
                acceptance=acceptance,
                is_accepted=acceptance is not None and r["resolved_at"] is None and acceptance.until >= today,
            )
        )
    return out


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _update_findings(conn: Connection, found: Sequence[Result], scan_id: int, when: datetime) -> None:
    """fail/warn opens or refreshes a finding; pass/not_applicable resolves it; error changes nothing."""
    relevant = [r for r in found if r.status is not Status.ERROR]
    prints = sorted({r.fingerprint for r in relevant})
    # Only what each step needs, kept current as the loop goes (a plugin might repeat a fingerprint).
    existing: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(prints):
        query = sa.select(findings.c.fingerprint, findings.c.resolved_at, findings.c.times_reopened)
        for fpr, resolved_at, reopened in conn.execute(query.where(findings.c.fingerprint.in_(chunk))):
            existing[fpr] = {"resolved_at": resolved_at, "times_reopened": reopened}
    for r in relevant:
        row = existing.get(r.fingerprint)
        fp = findings.c.fingerprint == r.fingerprint
        if r.is_problem:
            values = {
                "severity": str(r.severity),
                "status": str(r.status),
                "summary": r.summary,
                "last_seen": when,
            }
            if row is None:
                conn.execute(
                    findings.insert().values(
                        fingerprint=r.fingerprint,
                        organisation=r.organisation,
                        check_id=r.check,
                        target=r.target,
                        subject=r.subject,
                        first_seen=when,
                        resolved_at=None,
                        times_reopened=0,
                        **values,
                    )
                )
                _open_period(conn, r.fingerprint, when, scan_id)
                existing[r.fingerprint] = {"resolved_at": None, "times_reopened": 0}
            elif row["resolved_at"] is not None:
                reopened = row["times_reopened"] + 1
                # A finding that comes back after a fix is news: an acceptance of the old problem does
                # not hide it. It stays on the row while fixed (history), and goes on reopening.
                conn.execute(
                    findings.update()
                    .where(fp)
                    .values(resolved_at=None, times_reopened=reopened, **_NO_ACCEPTANCE, **values)
                )
                _open_period(conn, r.fingerprint, when, scan_id)
                existing[r.fingerprint] = {"resolved_at": None, "times_reopened": reopened}
            else:
                conn.execute(findings.update().where(fp).values(**values))
        elif row is not None and row["resolved_at"] is None:
            _close(conn, r.fingerprint, when, scan_id)
            existing[r.fingerprint] = {**row, "resolved_at": when}


def _close_unjudged(conn: Connection, outcome: ScanOutcome, scan_id: int) -> None:
    """Close the open findings about subjects a check no longer judges on a target where it reported every
    subject it judges (ScanOutcome.every_subject): a port taken off the list, or now judged by another check."""
    if not outcome.every_subject:
        return
    reported: dict[tuple[str, str, str], set[str]] = {unit: set() for unit in outcome.every_subject}
    for r in outcome.results:
        unit = (r.organisation, r.check, r.target)
        if unit in reported:
            reported[unit].add(r.subject)
    open_rows = conn.execute(
        sa.select(
            findings.c.fingerprint,
            findings.c.organisation,
            findings.c.check_id,
            findings.c.target,
            findings.c.subject,
        ).where(
            findings.c.resolved_at.is_(None),
            findings.c.check_id.in_(sorted({check for _, check, _ in reported})),
            findings.c.organisation.in_(sorted({org for org, _, _ in reported})),
        )
    ).all()
    for fpr, org, check_id, target, subject in open_rows:
        subjects = reported.get((org, check_id, target))
        if subjects is not None and subject not in subjects:
            _close(conn, fpr, outcome.started_at, scan_id)


def _close(conn: Connection, fpr: str, when: datetime, scan_id: int) -> None:
    """Resolve a finding and end its open period."""
    conn.execute(findings.update().where(findings.c.fingerprint == fpr).values(resolved_at=when))
    conn.execute(
        finding_periods.update()
        .where(finding_periods.c.fingerprint == fpr, finding_periods.c.closed_at.is_(None))
        .values(closed_at=when, closed_scan_id=scan_id)
    )


def _open_period(conn: Connection, fp: str, when: datetime, scan_id: int) -> None:
    conn.execute(finding_periods.insert().values(fingerprint=fp, opened_at=when, opened_scan_id=scan_id))
