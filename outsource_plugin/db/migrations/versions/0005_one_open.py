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

revision = "0005_one_open"
down_revision = "0004_causal"
branch_labels = None
depends_on = None

#: the open statuses as stored, frozen here as they were when this revision was written
OPEN = sa.text("status IN ('accepted', 'assigned', 'in_progress', 'unsent', 'waiting_approval')")


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("uq_outsource_engagement_open_ticket", table_name="outsource_engagement")
