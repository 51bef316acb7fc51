"""A partner's entry held on the plugin's side: its values on its entry link.

A host whose notes cannot be marked internal, mounted with ``partner_entries="held"``,
never gets the partner's notes, internal notes and time in its own rows (host.privacy).

Revision ID: 0008_held_entries
Revises: 0007_deleted_ticket
Create Date: 2026-12-03 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_held_entries"
down_revision = "0007_deleted_ticket"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables made by create_all from today's models (stamped at 0001 when adopted) have it already
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outsource_entry_link")}
    if "held" in columns:
        return
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.add_column(sa.Column("held", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.drop_column("held")
