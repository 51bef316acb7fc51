"""A host adapter over the demo help desk's tables, for tests that mount the plugin on a bare app."""

from __future__ import annotations

from examples.helpdesk.models import Ticket, db
from outsource_plugin import Permission, SQLAlchemyHost


def bare_host() -> SQLAlchemyHost:
    """The demo's tickets, nobody signed in."""
    return SQLAlchemyHost(
        db,
        ticket_model=Ticket,
        current_user=lambda: None,
        permission=lambda user: Permission(user.outsource_level),
    )
