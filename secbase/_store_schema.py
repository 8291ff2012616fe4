"""The store's schema: its tables (SQLAlchemy Core), the UTC datetime type they use, and the revisions known.

Alembic's migrations (secbase/migrations/) build these tables; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


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

_REVISIONS = frozenset(
    {"0001", "0002", "0003"}
)  # every revision this version knows (tested against Alembic's)
