"""The store: every scan, its results, and each finding's life (opened, seen, resolved, reopened, accepted).

SQLite by default through SQLAlchemy Core; the schema is Alembic's, so an old store opens in a new version.
One scan is written in one transaction: a scan killed half-way leaves nothing of itself behind.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import alembic.util
import platformdirs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from secbase.errors import SecbaseError, StoreError
from secbase.facts import RestoreTest
from secbase.model import Finding, Result, Severity, Status
from secbase.scan import ScanOutcome


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Datetimes stored as UTC ISO text and read back timezone-aware, the same on SQLite and PostgreSQL."""

    impl = sa.String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps timezone-aware datetimes only")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = sa.MetaData()

scans = sa.Table(
    "scans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=False),
    sa.Column("tool_version", sa.String(32), nullable=False),
    sa.Column("config_digest", sa.String(64), nullable=False),
    sa.Column("organisations", sa.Text, nullable=False),  # JSON list: what this scan looked at
    sa.Column("checks", sa.Text, nullable=False),  # JSON list
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(40), nullable=False, index=True),
    sa.Column("organisation", sa.String(64), nullable=False),
    sa.Column("check_id", sa.String(128), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("fingerprint", sa.String(40), primary_key=True),
    sa.Column("organisation", sa.String(64), nullable=False, index=True),
    sa.Column("check_id", sa.String(128), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # the last problem status: fail or warn
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("times_reopened", sa.Integer, nullable=False, server_default="0"),
    # Accepted as a known risk: through accepted_until (a calendar day, inclusive), then it is listed again.
    sa.Column("accepted_until", sa.Date, nullable=True),
    sa.Column("accepted_reason", sa.Text, nullable=True),
    sa.Column("accepted_by", sa.String(128), nullable=True),
    sa.Column("accepted_at", UTCDateTime, nullable=True),
)

# Each stretch of time a finding was open: remediation time counts every one of them.
finding_periods = sa.Table(
    "finding_periods",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "fingerprint", sa.String(40), sa.ForeignKey("findings.fingerprint"), nullable=False, index=True
    ),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("opened_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
    sa.Column("closed_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=True),
)

# Restore tests people record (`secbase backup restored`): no repository can show one.
restore_tests = sa.Table(
    "restore_tests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("organisation", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("tested_on", sa.Date, nullable=False),
    sa.Column("worked", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.String(128), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)


def default_db_url() -> str:
    """SECBASE_DB if set, else a SQLite file in the user's data directory."""
    env = os.environ.get("SECBASE_DB")
    if env:
        return db_url(env)
    return db_url(str(Path(platformdirs.user_data_dir("secbase")) / "secbase.db"))


def db_url(value: str) -> str:
    """Accept a SQLAlchemy URL ("sqlite:///x.db", "postgresql://...") or a plain file path."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def store_exists(url: str) -> bool:
    """False only for a SQLite file that is not there yet (opening a store creates it)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return True  # opening it says what is wrong
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).exists()


@dataclass(frozen=True)
class ScanRecord:
    """A stored scan, as listed."""

    id: int
    started_at: datetime
    finished_at: datetime
    organisations: list[str]
    checks: list[str]
    config_digest: str


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


RESTORE_NOTE_CHARS = 2000
ACCEPT_MIN_PREFIX = 6  # characters of a fingerprint that may stand for it, when they match one finding
_HEX = re.compile(r"[0-9a-f]+")
_NO_ACCEPTANCE: dict[str, Any] = {
    "accepted_until": None,
    "accepted_reason": None,
    "accepted_by": None,
    "accepted_at": None,
}


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


_REVISIONS = frozenset(
    {"0001", "0002", "0003"}
)  # every revision this version knows (tested against Alembic's)


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


def _engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"{url!r} is not a database URL; give a file path or sqlite:///path/to/secbase.db"
        ) from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for the store {path}: {exc.strerror}") from exc
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use the store at {_safe(url)}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")  # a cron scan and a person's "findings" may meet
    cur.close()


def _safe(url: str) -> str:
    """The URL without its password: secrets are never printed."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unreadable URL>"


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
