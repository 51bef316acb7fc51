"""The lead engagement remembers its "Outsourcing cost" charge, so hosts can hide its amounts.

Revision ID: 0002_webb
Revises: 0001
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_webb"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.add_column(sa.Column("cost_charge_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.drop_column("cost_charge_id")
