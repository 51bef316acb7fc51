"""Entry links keep a partner entry's origin (user and time) for the ticket entries' JSON.

Links and keys made before this revision stay valid: a key is looked up as
the string it is, whatever its form, and the new columns are empty on them.

Revision ID: 0002_entrylife
Revises: 0001
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_entrylife"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables that ``create_all`` made are adopted at 0001 and may have the columns already
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outsource_entry_link")}
    with op.batch_alter_table("outsource_entry_link") as batch:
        if "origin_user" not in present:
            batch.add_column(sa.Column("origin_user", sa.String(length=200), nullable=True))
        if "origin_at" not in present:
            batch.add_column(sa.Column("origin_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.drop_column("origin_at")
        batch.drop_column("origin_user")
