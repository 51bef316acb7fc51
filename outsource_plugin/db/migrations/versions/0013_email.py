"""The e-mail partner: replies kept aside (a stranger's, or one that answers no open engagement).

Revision ID: 0013_email
Revises: 0012_leave
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_email"
down_revision = "0012_leave"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables made by create_all from today's models (stamped at 0001 when adopted) have it already
    if sa.inspect(op.get_bind()).has_table("outsource_unmatched_mail"):
        return
    op.create_table(
        "outsource_unmatched_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("engagement_uid", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["outsource_partner.id"],
            name=op.f("fk_outsource_unmatched_mail_partner_id_outsource_partner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_unmatched_mail")),
        sa.UniqueConstraint("partner_id", "message_id", name=op.f("uq_outsource_unmatched_mail_partner_id")),
    )


def downgrade() -> None:
    op.drop_table("outsource_unmatched_mail")
