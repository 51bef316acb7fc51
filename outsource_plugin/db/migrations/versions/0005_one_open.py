"""At most one open engagement per ticket and role, enforced by the database (issue 13).

A partial unique index on (ticket_id, role) over the open statuses: two
configures of one ticket at once can no longer both insert, and the loser gets
a clean 409. Declined, canceled and complete engagements stay as history
beside it. Works on SQLite and PostgreSQL (both have partial indexes).

Revision ID: 0005_one_open
Revises: 0004_causal
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from outsource_plugin.errors import MigrationFailed

revision = "0005_one_open"
down_revision = "0004_causal"
branch_labels = None
depends_on = None

#: the open statuses as stored, frozen here as they were when this revision was written
OPEN = sa.text("status IN ('accepted', 'assigned', 'in_progress', 'unsent', 'waiting_approval')")


def upgrade() -> None:
    _refuse_duplicates()
    # a database whose tables create_all made (adopted at 0001) has the index already
    op.create_index(
        "uq_outsource_engagement_open_ticket",
        "outsource_engagement",
        ["ticket_id", "role"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
        if_not_exists=True,
    )


def _refuse_duplicates() -> None:
    """Before this revision two configures at once could both insert; such a pair would fail the
    index with the database's own error. Name the tickets and what to do instead."""
    engagements = sa.table("outsource_engagement", sa.column("ticket_id"), sa.column("role"), sa.column("status"))
    count = sa.func.count()
    twice = (
        op.get_bind()
        .execute(
            sa.select(engagements.c.ticket_id, engagements.c.role, count)
            .where(OPEN)
            .group_by(engagements.c.ticket_id, engagements.c.role)
            .having(count > 1)
            .order_by(engagements.c.ticket_id, engagements.c.role)
        )
        .all()
    )
    if twice:
        listed = ", ".join(f"ticket {ticket} ({count} open as {role})" for ticket, role, count in twice)
        raise MigrationFailed(
            f"cannot allow only one open engagement per ticket: {listed}; cancel or complete all but one "
            "engagement of each ticket, then upgrade again"
        )


def downgrade() -> None:
    op.drop_index("uq_outsource_engagement_open_ticket", table_name="outsource_engagement")
