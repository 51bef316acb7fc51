"""Leaving a partnership (issue 17, item 4): why it ended, and the notice owed to the partner.

Revision ID: 0012_leave
Revises: 0011_invitations
Create Date: 2026-12-04 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_leave"
down_revision = "0011_invitations"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    """Fresh columns for each use: a column belongs to one table once added."""
    return [
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_by_partner_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leave_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leave_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("leave_error", sa.Text(), nullable=True),
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
