"""Outsourcing mounted into Litware's module-level app: ``FLASK_APP=tests.third_host.outsourcing``.

This whole file is docs/integrating.md's "Mount it from one file", word for word.
"""

from datetime import datetime, timezone

from flask_login import current_user

from outsource_plugin import EntryKind, EntryMap, Field, Outsourcing, Permission, SQLAlchemyHost
from tests.third_host.helpdesk import app
from tests.third_host.models import Reply, Ticket, Upload, db

ROLES = {
    "viewer": Permission.NONE,
    "agent": Permission.OUTSOURCE,
    "supervisor": Permission.PARTNER_MANAGEMENT,
    "admin": Permission.ALL,
}


def now(_: object = None) -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


app.config.setdefault("OUTSOURCE_ORG_NAME", "Litware Help Desk")
app.config.setdefault("OUTSOURCE_TICKET_URL", "/tickets/{ticket_id}")
app.config.setdefault("OUTSOURCE_BASE_TEMPLATE", "litware_base.html")  # its pages in Litware's layout
Outsourcing(
    app,
    host=SQLAlchemyHost(
        db,
        ticket_model=Ticket,
        ticket_fields={
            "title": "subject",
            "description": "body",
            "status": "status_id",  # a key of the statuses table: status_name names the column to match
            **dict.fromkeys(("priority", "due", "customer", "contact")),  # what Litware does not have
        },
        status_name="name",
        complete_status="Closed",
        current_user=lambda: current_user if current_user.is_authenticated else None,
        permission=lambda user: ROLES[user.role],
        user_name="display_name",
        ticket_defaults={"status_id": 1, "category": "Outsourced", "creator_id": 1, "created_at": now},
        partner_entries="held",  # replies are public and have no internal flag
        entries={
            EntryKind.NOTE: EntryMap(
                Reply,
                {"text": "body", "author": Field(read=lambda r: r.user.display_name), "hours": "hours"},
                defaults={"user_id": 1, "created_at": now},
            ),
            EntryKind.ATTACHMENT: EntryMap(
                Upload,
                {
                    "filename": "filename",
                    "media_type": "content_type",
                    "size": "size",
                    "data": Field(Upload.content, Upload.store, watch=("stored_as",)),  # the bytes live on disk
                },
            ),
        },
    ),
)
