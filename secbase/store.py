"""The store: every scan, its results, and each finding's life (opened, seen, resolved, reopened, accepted).

SQLite by default through SQLAlchemy Core; the schema is Alembic's, so an old store opens in a new version.
One scan is written in one transaction: a scan killed half-way leaves nothing of itself behind.

Here: `Store` (opening and migrating, scans and results, accepting risks, restore tests) and
`read_restore_tests`, which reads a store without migrating or creating it. The rest is beside it:
`_store_schema.py` the tables, their UTC datetime type and the revisions known; `_store_findings.py` each
finding's life (opening, refreshing, closing, reopening, accepting, reading back as `StoredFinding`s);
`_store_engine.py` the store's URL (`db_url`, `default_db_url`, `store_exists`) and its engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import alembic.util
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection

from secbase._store_engine import _engine, _safe, db_url, default_db_url, store_exists
from secbase._store_findings import (
    _NO_ACCEPTANCE,
    ACCEPT_MIN_PREFIX,
    Acceptance,
    StoredFinding,
    _accepted_on,
    _close_unjudged,
    _one_year_after,
    _read_findings,
    _resolve,
    _update_findings,
)
from secbase._store_schema import _REVISIONS, findings, restore_tests, results, scans
from secbase.errors import SecbaseError, StoreError
from secbase.facts import RestoreTest
from secbase.model import Result, Severity, Status
from secbase.scan import ScanOutcome

__all__ = [
    "ACCEPT_MIN_PREFIX",
    "RESTORE_NOTE_CHARS",
    "Acceptance",
    "ScanRecord",
    "Store",
    "StoredFinding",
    "db_url",
    "default_db_url",
    "read_restore_tests",
    "store_exists",
]


@dataclass(frozen=True)
class ScanRecord:
    """A stored scan, as listed."""

    id: int
    started_at: datetime
    finished_at: datetime
    organisations: list[str]
    checks: list[str]
    config_digest: str


RESTORE_NOTE_CHARS = 2000


class Store:
    """Opens (creating or migrating) the store and reads and writes scans and findings."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        try:
            self._migrate()
        except StoreError:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def _migrate(self) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", "secbase:migrations")
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot open the store at {_safe(self.url)}: {reason}") from exc
        except alembic.util.CommandError as exc:  # a revision we do not know: a newer secbase made it
            raise StoreError(
                f"the store at {_safe(self.url)} was made by a newer secbase ({exc}); upgrade secbase"
            ) from exc

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot write the store at {_safe(self.url)}: {exc.orig}") from exc

    def record_scan(self, outcome: ScanOutcome, *, config_digest: str, tool_version: str) -> int:
        """Store a scan and move each finding along its life, all in one transaction; return the scan id."""
        with self._tx() as conn:
            inserted = conn.execute(
                scans.insert().values(
                    started_at=outcome.started_at,
                    finished_at=outcome.finished_at,
                    tool_version=tool_version,
                    config_digest=config_digest,
                    organisations=json.dumps(list(outcome.organisations)),
                    checks=json.dumps(list(outcome.checks)),
                )
            )
            scan_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            if outcome.results:
                conn.execute(
                    results.insert(),
                    [{"scan_id": scan_id, **_result_row(r)} for r in outcome.results],
                )
            _update_findings(conn, outcome.results, scan_id, outcome.started_at)
            _close_unjudged(conn, outcome, scan_id)
        return int(scan_id)

    def scans(self) -> list[ScanRecord]:
        """Every stored scan, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(scans).order_by(scans.c.id)).mappings().all()
        return [
            ScanRecord(
                id=r["id"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                organisations=json.loads(r["organisations"]),
                checks=json.loads(r["checks"]),
                config_digest=r["config_digest"],
            )
            for r in rows
        ]

    def results(self, scan_id: int) -> list[Result]:
        """The results of one stored scan, in the order they were written."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(results).where(results.c.scan_id == scan_id).order_by(results.c.id))
            return [
                Result(
                    organisation=r.organisation,
                    check=r.check_id,
                    target=r.target,
                    subject=r.subject,
                    status=Status(r.status),
                    severity=Severity(r.severity),
                    summary=r.summary,
                    evidence=r.evidence,
                )
                for r in rows
            ]

    def findings(
        self,
        *,
        organisation: str | None = None,
        include_resolved: bool = False,
        accepted: bool | None = False,
        now: datetime | None = None,
    ) -> list[StoredFinding]:
        """Findings, open ones first by severity, each with the time it has been open in total.

        Args:
            accepted: False (the default) leaves out the findings accepted as known risks today;
                True lists only those; None lists both.
            now: the moment of reading (default: now, in local time). An acceptance runs through its
                day in ``now``'s time zone, so it ends by itself: nothing has to run on that day.
        """
        now = now or datetime.now().astimezone()
        conditions: list[sa.ColumnElement[bool]] = []
        if organisation is not None:
            conditions.append(findings.c.organisation == organisation)
        if not include_resolved and accepted is not True:
            conditions.append(findings.c.resolved_at.is_(None))
        if accepted is True:
            conditions.append(_accepted_on(now.date()))
        elif accepted is False:
            conditions.append(sa.not_(_accepted_on(now.date())))
        with self.engine.connect() as conn:
            out = _read_findings(conn, conditions, now)
        out.sort(
            key=lambda f: (
                not f.is_open,
                Severity(f.severity).rank,
                f.organisation,
                f.check,
                f.target,
                f.subject,
            )
        )
        return out

    def accept(
        self, fingerprint: str, *, reason: str, until: date, by: str, now: datetime | None = None
    ) -> StoredFinding:
        """Accept an open finding as a known risk through ``until`` (at most one year away); return it.

        ``fingerprint`` may be the first characters (at least six) of one finding's fingerprint.
        Accepting again replaces the earlier acceptance.

        Example:
            store.accept("3f9c2a", reason="Replaced in February.", until=date(2027, 3, 1), by="ana")
        """
        now = now or datetime.now().astimezone()
        today = now.date()
        reason, by = reason.strip(), by.strip()
        if not reason:
            raise SecbaseError("give a reason: why is this risk accepted for now?")
        if not by:
            raise SecbaseError("give the name of who accepts the risk")
        if len(by) > 128:
            raise SecbaseError("the name of who accepts the risk is longer than 128 characters")
        if until < today:
            raise SecbaseError(f"{until} is in the past: give a day from today ({today}) on")
        latest = _one_year_after(today)
        if until > latest:
            raise SecbaseError(
                f"{until} is more than one year away: a risk is accepted for one year at most "
                f"({latest} at the latest), then looked at again"
            )
        with self._tx() as conn:
            fpr = _resolve(conn, fingerprint)
            resolved_at = conn.execute(
                sa.select(findings.c.resolved_at).where(findings.c.fingerprint == fpr)
            ).scalar_one()
            if resolved_at is not None:
                raise SecbaseError(
                    f"finding {fpr} was fixed on {resolved_at:%Y-%m-%d}: only an open finding is accepted"
                )
            conn.execute(
                findings.update()
                .where(findings.c.fingerprint == fpr)
                .values(accepted_until=until, accepted_reason=reason, accepted_by=by, accepted_at=now)
            )
            [found] = _read_findings(conn, [findings.c.fingerprint == fpr], now)
        return found

    def revoke(
        self, fingerprint: str, *, now: datetime | None = None
    ) -> tuple[StoredFinding, Acceptance | None]:
        """Remove a finding's acceptance, so that it is listed again at once.

        Returns:
            The finding as it is now, and the acceptance removed (None if it had none).
        """
        now = now or datetime.now().astimezone()
        with self._tx() as conn:
            fpr = _resolve(conn, fingerprint)
            [before] = _read_findings(conn, [findings.c.fingerprint == fpr], now)
            conn.execute(findings.update().where(findings.c.fingerprint == fpr).values(**_NO_ACCEPTANCE))
            [after] = _read_findings(conn, [findings.c.fingerprint == fpr], now)
        return after, before.acceptance

    def record_restore(
        self,
        organisation: str,
        source: str,
        *,
        tested_on: date,
        note: str,
        by: str,
        worked: bool = True,
        now: datetime | None = None,
    ) -> RestoreTest:
        """Record a restore test of one backup source, made on ``tested_on`` (today or before); return it.

        The caller makes sure the organisation declares that source (see `backup_sources`).

        Example:
            store.record_restore("alder", "fileserver", tested_on=date(2026, 11, 20),
                                 note="Restored /finance to a spare disk; files opened.", by="ana")
        """
        now = now or datetime.now().astimezone()
        note, by = " ".join(note.split()), by.strip()  # one line, however it was typed
        if not note:
            raise SecbaseError("give a note: what was restored, where to, and did it open?")
        if len(note) > RESTORE_NOTE_CHARS:
            raise SecbaseError(f"the note is longer than {RESTORE_NOTE_CHARS} characters; keep it short")
        if not by:
            raise SecbaseError("give the name of who made the restore test")
        if len(by) > 128:
            raise SecbaseError("the name of who made the restore test is longer than 128 characters")
        if tested_on > now.date():
            raise SecbaseError(f"{tested_on} is in the future: record a restore test once it is done")
        test = RestoreTest(
            organisation=organisation,
            source=source,
            tested_on=tested_on,
            worked=worked,
            note=note,
            by=by,
            recorded_at=now.astimezone(UTC),
        )
        with self._tx() as conn:
            conn.execute(
                restore_tests.insert().values(
                    organisation=organisation,
                    source=source,
                    tested_on=tested_on,
                    worked=worked,
                    note=note,
                    recorded_by=by,
                    recorded_at=test.recorded_at,
                )
            )
        return test

    def restore_tests(self, *, organisation: str | None = None) -> list[RestoreTest]:
        """The restore tests recorded (of one organisation, or all), oldest first."""
        query = sa.select(restore_tests).order_by(
            restore_tests.c.tested_on, restore_tests.c.recorded_at, restore_tests.c.id
        )
        if organisation is not None:
            query = query.where(restore_tests.c.organisation == organisation)
        with self.engine.connect() as conn:
            return [_restore_test(r) for r in conn.execute(query).mappings()]

    def backup_sources(self, organisation: str) -> set[str]:
        """The backup sources of an organisation that some stored scan has looked at."""
        query = (
            sa.select(results.c.target)
            .where(results.c.organisation == organisation, results.c.check_id.startswith("backup."))
            .distinct()
        )
        with self.engine.connect() as conn:
            return {str(t) for t in conn.execute(query).scalars()}


def read_restore_tests(url: str) -> list[RestoreTest]:
    """The restore tests recorded in the store at `url`, read without migrating or creating anything (for a
    scan that stores nothing). A store from before restore tests holds none; a newer one is an error."""
    if not store_exists(url):
        return []
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if not inspector.has_table("alembic_version"):
                return []  # an empty file: nothing was ever recorded
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if version not in _REVISIONS:
                raise StoreError(
                    f"the store at {_safe(url)} was made by a newer secbase (revision {version}); upgrade secbase"
                )
            if not inspector.has_table("restore_tests"):
                return []  # made before restore tests existed
            rows = conn.execute(
                sa.select(restore_tests).order_by(
                    restore_tests.c.tested_on, restore_tests.c.recorded_at, restore_tests.c.id
                )
            ).mappings()
            return [_restore_test(r) for r in rows]
    except sa.exc.SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot read the store at {_safe(url)}: {reason}") from exc
    finally:
        engine.dispose()


def _restore_test(r: sa.RowMapping) -> RestoreTest:
    return RestoreTest(
        organisation=r["organisation"],
        source=r["source"],
        tested_on=r["tested_on"],
        worked=bool(r["worked"]),
        note=r["note"],
        by=r["recorded_by"],
        recorded_at=r["recorded_at"],
    )


def _result_row(r: Result) -> dict[str, Any]:
    return {
        "fingerprint": r.fingerprint,
        "organisation": r.organisation,
        "check_id": r.check,
        "target": r.target,
        "subject": r.subject,
        "status": str(r.status),
        "severity": str(r.severity),
        "summary": r.summary,
        "evidence": r.evidence,
    }
