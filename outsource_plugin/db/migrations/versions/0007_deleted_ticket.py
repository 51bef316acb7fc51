"""Engagements and audit events remember the id of a ticket the host deleted.

Their ``ticket_id`` is cleared when the host deletes the ticket, so that a new
ticket on a reused id (SQLite without AUTOINCREMENT, ``max(id) + 1`` numbering)
inherits neither; ``deleted_ticket_id`` keeps the old id for the record.

Revision ID: 0007_deleted_ticket
Revises: 0006_races
Create Date: 2026-12-03 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_deleted_ticket"
down_revision = "0006_races"
branch_labels = None
depends_on = None

TABLES = ("outsource_engagement", "outsource_audit_event")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        # tables made by create_all from today's models (stamped at 0001 when adopted) have it already
        if "deleted_ticket_id" in {c["name"] for c in inspector.get_columns(table)}:
            continue
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deleted_ticket_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted_ticket_id")
