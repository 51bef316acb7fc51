"""Maintained status counts for the dashboard, and an index per sort order (issue 18, target 4).

``outsource_status_count`` holds changes to the number of engagements per
(role, status); the counts are their sums. This revision starts it with one
row per (role, status) counted from the engagements there are. The dashboard's
"created" sort gets its index beside the "updated" one.

Revision ID: 0015_counters
Revises: 0014_notify
Create Date: 2026-12-04 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_counters"
down_revision = "0014_notify"
branch_labels = None
depends_on = None


def _varchar_enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    # a database made by create_all from today's models (stamped when adopted) has both already
    if "outsource_status_count" not in inspector.get_table_names():
        op.create_table(
            "outsource_status_count",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("role", _varchar_enum("outsource_side", "lead", "service", "system"), nullable=False),
            sa.Column(
                "status",
                _varchar_enum(
                    "outsource_status",
                    "unsent",
                    "assigned",
                    "declined",
                    "canceled",
                    "accepted",
                    "in_progress",
                    "waiting_approval",
                    "complete",
                ),
                nullable=False,
            ),
            sa.Column("amount", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_outsource_status_count"),
        )
        op.create_index("ix_outsource_status_count_key", "outsource_status_count", ["role", "status"])
        bind.execute(
            sa.text(
                "INSERT INTO outsource_status_count (role, status, amount) "
                "SELECT role, status, COUNT(*) FROM outsource_engagement GROUP BY role, status"
            )
        )
    op.create_index(
        "ix_outsource_engagement_folder_created",
        "outsource_engagement",
        ["role", "status", "created_at", "id"],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_outsource_engagement_folder_created", table_name="outsource_engagement")
    op.drop_table("outsource_status_count")
