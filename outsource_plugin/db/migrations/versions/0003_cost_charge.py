"""The lead engagement remembers its "Outsourcing cost" charge, so hosts can hide its amounts.

Revision ID: 0003_cost_charge
Revises: 0002_entrylife
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_cost_charge"
down_revision = "0002_entrylife"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables that ``create_all`` made are adopted at 0001 and may have the column already
    if "cost_charge_id" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outsource_engagement")}:
        return
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.add_column(sa.Column("cost_charge_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.drop_column("cost_charge_id")
