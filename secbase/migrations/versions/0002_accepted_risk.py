"""Accepted risk: a finding may be accepted as a known risk through a day, with who, why and when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WHEN = sa.String(32)  # UTC ISO text: see secbase._store_schema.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("accepted_until", sa.Date, nullable=True))
        batch.add_column(sa.Column("accepted_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("accepted_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("accepted_at", WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("accepted_at")
        batch.drop_column("accepted_by")
        batch.drop_column("accepted_reason")
        batch.drop_column("accepted_until")
