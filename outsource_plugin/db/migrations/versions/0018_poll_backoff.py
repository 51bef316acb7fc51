"""The poll job's backoff from a partner whose polls fail (issue 19): the failures and the next attempt.

Revision ID: 0018_poll_backoff
Revises: 0017_question_index
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_poll_backoff"
down_revision = "0017_question_index"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    """Fresh columns for each use: a column belongs to one table once added."""
    return [
        sa.Column("poll_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("poll_due_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    # a database made by create_all from today's models (stamped when adopted) has them already
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outsource_partner")}
    with op.batch_alter_table("outsource_partner") as batch:
        for column in _columns():
            if column.name not in present:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("outsource_partner") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
