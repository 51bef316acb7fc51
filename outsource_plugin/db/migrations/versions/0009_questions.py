"""An entry link remembers that the partner's note was a question, for the lead's "Outsourced work" page.

Revision ID: 0009_questions
Revises: 0008_held_entries
Create Date: 2026-12-03 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_questions"
down_revision = "0008_held_entries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tables made by create_all from today's models (stamped at 0001 when adopted) have it already
    if "question" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outsource_entry_link")}:
        return
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.add_column(sa.Column("question", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("outsource_entry_link") as batch:
        batch.drop_column("question")
