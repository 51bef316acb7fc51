"""An engagement remembers when a relayed act of the partner lost a crossing here.

The partner's entries after that act were made on its losing branch and are
not applied (docs/races.md).

Revision ID: 0006_races
Revises: 0005_one_open
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_races"
down_revision = "0005_one_open"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables made by create_all from today's models (stamped at 0001 when adopted) have it already
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outsource_engagement")}
    if "superseded_at" in columns:
        return
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.drop_column("superseded_at")
