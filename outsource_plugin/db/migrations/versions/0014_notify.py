"""Wake-ups for new outbox rows (issue 18): a PostgreSQL trigger NOTIFYs at commit.

Workers LISTEN and run their delivery round at once, and held feed requests
(``GET /changes?wait=``) answer at once, instead of waiting for an interval.
The payload is the partner's id, so a held request wakes only for its own
feed. SQLite has no NOTIFY: there the intervals and a short check stay.

Revision ID: 0014_notify
Revises: 0013_email
Create Date: 2026-12-04 15:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0014_notify"
down_revision = "0013_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION outsource_outbox_notify() RETURNS trigger AS $$
        BEGIN
            -- one notification per partner and transaction: PostgreSQL folds identical ones at commit
            PERFORM pg_notify('outsource_outbox', NEW.partner_id::text);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER outsource_outbox_notify AFTER INSERT ON outsource_outbox "
        "FOR EACH ROW EXECUTE FUNCTION outsource_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outsource_outbox_notify ON outsource_outbox")
    op.execute("DROP FUNCTION IF EXISTS outsource_outbox_notify()")
