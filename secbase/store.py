"""The store: every scan, its results, and each finding's life (opened, seen, resolved, reopened).

SQLite by default through SQLAlchemy Core; the schema is Alembic's, so an old store opens in a new version.
One scan is written in one transaction: a scan killed half-way leaves nothing of itself behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from secbase.errors import StoreError
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


@dataclass(frozen=True)
class ScanRecord:
    """A stored scan, as listed."""

    id: int
    started_at: datetime
    finished_at: datetime
    organisations: list[str]
    checks: list[str]
    config_digest: str


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
        self, *, organisation: str | None = None, include_resolved: bool = False, now: datetime | None = None
    ) -> list[Finding]:
        """Findings, open ones first by severity, each with the time it has been open in total."""
        now = now or datetime.now(UTC)
        query = sa.select(findings)
        if organisation is not None:
            query = query.where(findings.c.organisation == organisation)
        if not include_resolved:
            query = query.where(findings.c.resolved_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            periods: dict[str, float] = {}
            wanted = sa.select(findings.c.fingerprint).where(
                query.whereclause if query.whereclause is not None else sa.true()
            )
            for p in conn.execute(
                sa.select(finding_periods).where(finding_periods.c.fingerprint.in_(wanted))
            ).mappings():
                end = p["closed_at"] or now
                periods[p["fingerprint"]] = (
                    periods.get(p["fingerprint"], 0.0) + (end - p["opened_at"]).total_seconds()
                )
        out = [
            Finding(
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
            )
            for r in rows
        ]
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
                conn.execute(
                    findings.update().where(fp).values(resolved_at=None, times_reopened=reopened, **values)
                )
                _open_period(conn, r.fingerprint, when, scan_id)
                existing[r.fingerprint] = {"resolved_at": None, "times_reopened": reopened}
            else:
                conn.execute(findings.update().where(fp).values(**values))
        elif row is not None and row["resolved_at"] is None:
            conn.execute(findings.update().where(fp).values(resolved_at=when))
            conn.execute(
                finding_periods.update()
                .where(finding_periods.c.fingerprint == r.fingerprint, finding_periods.c.closed_at.is_(None))
                .values(closed_at=when, closed_scan_id=scan_id)
            )
            existing[r.fingerprint] = {**row, "resolved_at": when}


def _open_period(conn: Connection, fp: str, when: datetime, scan_id: int) -> None:
    conn.execute(finding_periods.insert().values(fingerprint=fp, opened_at=when, opened_scan_id=scan_id))
