"""An index of the partner's question links alone, for the header badge on every page (issue 18, target 4).

Revision ID: 0017_question_index
Revises: 0016_mail_link_uses
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_question_index"
down_revision = "0016_mail_link_uses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all from today's models (stamped when adopted) has it already
    op.create_index(
        "ix_outsource_entry_link_question",
        "outsource_entry_link",
        ["engagement_uid"],
        postgresql_where=sa.text("question"),
        sqlite_where=sa.text("question"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_outsource_entry_link_question", table_name="outsource_entry_link")
