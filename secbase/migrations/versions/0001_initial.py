"""The first schema: scans, results, findings and their open periods.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

WHEN = sa.String(32)  # UTC ISO text: see secbase._store_schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=False),
        sa.Column("tool_version", sa.String(32), nullable=False),
        sa.Column("config_digest", sa.String(64), nullable=False),
        sa.Column("organisations", sa.Text, nullable=False),
        sa.Column("checks", sa.Text, nullable=False),
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        sa.Column("fingerprint", sa.String(40), nullable=False),
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_results_scan_id", "results", ["scan_id"])
    op.create_index("ix_results_fingerprint", "results", ["fingerprint"])
    op.create_table(
        "findings",
        sa.Column("fingerprint", sa.String(40), primary_key=True),
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("first_seen", WHEN, nullable=False),
        sa.Column("last_seen", WHEN, nullable=False),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("times_reopened", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_findings_organisation", "findings", ["organisation"])
    op.create_table(
        "finding_periods",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(40), sa.ForeignKey("findings.fingerprint"), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("opened_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        sa.Column("closed_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=True),
    )
    op.create_index("ix_finding_periods_fingerprint", "finding_periods", ["fingerprint"])


def downgrade() -> None:
    op.drop_table("finding_periods")
    op.drop_table("findings")
    op.drop_table("results")
    op.drop_table("scans")
