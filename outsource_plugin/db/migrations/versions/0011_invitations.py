"""Invitations to become partners (issue 17): the token hashed, the private key encrypted.

Revision ID: 0011_invitations
Revises: 0010_mail
Create Date: 2026-12-03 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_invitations"
down_revision = "0010_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all from today's models (stamped when adopted) has it already
    if "outsource_invitation" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "outsource_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("default_terms", sa.JSON(), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "invited",
                "joined",
                "revoked",
                "locked",
                name="outsource_invitation_state",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["outsource_partner.id"],
            name="fk_outsource_invitation_partner_id_outsource_partner",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outsource_invitation"),
        sa.UniqueConstraint("public_id", name="uq_outsource_invitation_public_id"),
    )


def downgrade() -> None:
    op.drop_table("outsource_invitation")
