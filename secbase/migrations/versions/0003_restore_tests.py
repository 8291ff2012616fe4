"""Restore tests: what people record with `secbase backup restored`, read by backup.restore_tested.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WHEN = sa.String(32)  # UTC ISO text: see secbase._store_schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "restore_tests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("tested_on", sa.Date, nullable=False),
        sa.Column("worked", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
    )
    op.create_index("ix_restore_tests_organisation", "restore_tests", ["organisation"])


def downgrade() -> None:
    op.drop_index("ix_restore_tests_organisation", table_name="restore_tests")
    op.drop_table("restore_tests")
