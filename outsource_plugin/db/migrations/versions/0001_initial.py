"""The plugin's tables as ``Base.metadata.create_all`` made them before migrations.

Databases created that way are stamped at this revision on their first upgrade.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 04:29:06.698299
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outsource_audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_uid", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "side",
            sa.Enum("lead", "service", "system", name="outsource_side", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "action",
            sa.Enum(
                "configure",
                "edit",
                "remove",
                "send",
                "cancel",
                "decline",
                "auto_decline",
                "accept",
                "start_work",
                "submit",
                "reject",
                "approve",
                "complete",
                "ticket_complete",
                name="outsource_action",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "unsent",
                "assigned",
                "canceled",
                "declined",
                "accepted",
                "in_progress",
                "waiting_approval",
                "complete",
                name="outsource_status",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "unsent",
                "assigned",
                "canceled",
                "declined",
                "accepted",
                "in_progress",
                "waiting_approval",
                "complete",
                name="outsource_status",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_audit_event")),
    )
    op.create_index("ix_outsource_audit_engagement", "outsource_audit_event", ["engagement_uid", "id"], unique=False)
    op.create_index(op.f("ix_outsource_audit_event_ticket_id"), "outsource_audit_event", ["ticket_id"], unique=False)
    op.create_table(
        "outsource_entry_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_uid", sa.String(length=32), nullable=False),
        sa.Column("entry_key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("local_id", sa.String(length=64), nullable=True),
        sa.Column(
            "owner",
            sa.Enum("lead", "service", "system", name="outsource_side", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("in_suspension", sa.Boolean(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_entry_link")),
    )
    op.create_index("ix_outsource_entry_link_key", "outsource_entry_link", ["engagement_uid", "entry_key"], unique=True)
    op.create_index("ix_outsource_entry_link_local", "outsource_entry_link", ["kind", "local_id"], unique=False)
    op.create_table(
        "outsource_partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("adapter", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("default_terms", sa.JSON(), nullable=False),
        sa.Column("customer_ref", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_id", sa.String(length=64), nullable=True),
        sa.Column("outbound_seq", sa.Integer(), nullable=False),
        sa.Column("poll_cursor", sa.String(length=200), nullable=True),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_poll_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_partner")),
        sa.UniqueConstraint("link_id", name=op.f("uq_outsource_partner_link_id")),
        sa.UniqueConstraint("name", name=op.f("uq_outsource_partner_name")),
    )
    op.create_table(
        "outsource_seen_request",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_outsource_seen_request")),
    )
    op.create_index(op.f("ix_outsource_seen_request_seen_at"), "outsource_seen_request", ["seen_at"], unique=False)
    op.create_table(
        "outsource_engagement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column(
            "role",
            sa.Enum("lead", "service", "system", name="outsource_side", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("ticket_id", sa.String(length=64), nullable=True),
        sa.Column("ticket_number", sa.String(length=64), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "unsent",
                "assigned",
                "canceled",
                "declined",
                "accepted",
                "in_progress",
                "waiting_approval",
                "complete",
                name="outsource_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("frozen_terms", sa.JSON(), nullable=True),
        sa.Column("offer", sa.JSON(), nullable=True),
        sa.Column("remote_ref", sa.String(length=128), nullable=True),
        sa.Column("remote_ticket_number", sa.String(length=128), nullable=True),
        sa.Column("acceptance_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(length=200), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("unsent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("in_progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_approval_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["outsource_partner.id"], name=op.f("fk_outsource_engagement_partner_id_outsource_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_engagement")),
        sa.UniqueConstraint("uid", name=op.f("uq_outsource_engagement_uid")),
    )
    op.create_index(
        "ix_outsource_engagement_deadline", "outsource_engagement", ["status", "acceptance_deadline"], unique=False
    )
    op.create_index(
        "ix_outsource_engagement_folder", "outsource_engagement", ["role", "status", "updated_at", "id"], unique=False
    )
    op.create_index("ix_outsource_engagement_partner", "outsource_engagement", ["partner_id", "status"], unique=False)
    op.create_index("ix_outsource_engagement_ticket", "outsource_engagement", ["ticket_id", "role", "id"], unique=False)
    op.create_table(
        "outsource_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("engagement_uid", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("offer", "action", "entry", name="outsource_message_kind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
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
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["outsource_partner.id"], name=op.f("fk_outsource_outbox_partner_id_outsource_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outsource_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outsource_outbox_message_id")),
    )
    op.create_index("ix_outsource_outbox_due", "outsource_outbox", ["state", "next_attempt_at", "id"], unique=False)
    op.create_index("ix_outsource_outbox_engagement", "outsource_outbox", ["engagement_uid", "id"], unique=False)
    op.create_index("ix_outsource_outbox_feed", "outsource_outbox", ["partner_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_outsource_outbox_feed", table_name="outsource_outbox")
    op.drop_index("ix_outsource_outbox_engagement", table_name="outsource_outbox")
    op.drop_index("ix_outsource_outbox_due", table_name="outsource_outbox")
    op.drop_table("outsource_outbox")
    op.drop_index("ix_outsource_engagement_ticket", table_name="outsource_engagement")
    op.drop_index("ix_outsource_engagement_partner", table_name="outsource_engagement")
    op.drop_index("ix_outsource_engagement_folder", table_name="outsource_engagement")
    op.drop_index("ix_outsource_engagement_deadline", table_name="outsource_engagement")
    op.drop_table("outsource_engagement")
    op.drop_index(op.f("ix_outsource_seen_request_seen_at"), table_name="outsource_seen_request")
    op.drop_table("outsource_seen_request")
    op.drop_table("outsource_partner")
    op.drop_index("ix_outsource_entry_link_local", table_name="outsource_entry_link")
    op.drop_index("ix_outsource_entry_link_key", table_name="outsource_entry_link")
    op.drop_table("outsource_entry_link")
    op.drop_index(op.f("ix_outsource_audit_event_ticket_id"), table_name="outsource_audit_event")
    op.drop_index("ix_outsource_audit_engagement", table_name="outsource_audit_event")
    op.drop_table("outsource_audit_event")
