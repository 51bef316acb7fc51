"""E-mail notifications: the mail outbox, and each partner's mailbox for its new offers.

Revision ID: 0010_mail
Revises: 0009_questions
Create Date: 2026-12-03 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_mail"
down_revision = "0009_questions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables made by create_all from today's models (stamped at 0001 when adopted) have them already
    inspector = sa.inspect(op.get_bind())
    if "notify_email" not in {c["name"] for c in inspector.get_columns("outsource_partner")}:
        with op.batch_alter_table("outsource_partner") as batch:
            batch.add_column(sa.Column("notify_email", sa.String(length=320), nullable=True))
    if inspector.has_table("outsource_mail"):
        return
    op.create_table(
        "outsource_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("engagement_uid", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "delivered", "dead", name="outsource_message_state", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_mail")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outsource_mail_message_id")),
    )
    op.create_index("ix_outsource_mail_due", "outsource_mail", ["state", "next_attempt_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outsource_mail_due", table_name="outsource_mail")
    op.drop_table("outsource_mail")
    with op.batch_alter_table("outsource_partner") as batch:
        batch.drop_column("notify_email")
