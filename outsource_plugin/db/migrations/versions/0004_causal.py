"""Crossing decided causally: the feed numbers of our latest boundary act and of each entry's first message.

Revision ID: 0004_causal
Revises: 0003_cost_charge
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_causal"
down_revision = "0003_cost_charge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.add_column(sa.Column("boundary_seq", sa.Integer(), nullable=True))
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.add_column(sa.Column("first_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.drop_column("first_seq")
    with op.batch_alter_table("outsource_engagement") as batch:
        batch.drop_column("boundary_seq")
