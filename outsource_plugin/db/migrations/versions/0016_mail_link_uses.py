"""The e-mail partner's used links: each link works once (issue 19).

Revision ID: 0016_mail_link_uses
Revises: 0015_counters
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_mail_link_uses"
down_revision = "0015_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables made by create_all from today's models (stamped when adopted) have it already
    if sa.inspect(op.get_bind()).has_table("outsource_mail_link_use"):
        return
    op.create_table(
        "outsource_mail_link_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=False),
        sa.Column("engagement_uid", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_mail_link_use")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_outsource_mail_link_use_link_hash")),
    )
    op.create_index(
        op.f("ix_outsource_mail_link_use_engagement_uid"), "outsource_mail_link_use", ["engagement_uid"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outsource_mail_link_use_engagement_uid"), table_name="outsource_mail_link_use")
    op.drop_table("outsource_mail_link_use")
