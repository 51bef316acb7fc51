"""The world the permission and form-token tests act on."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement
from outsource_plugin.workflow import Side, Status
from tests.blueprints.api_helpers import add_engagement, add_invitation, add_outbox_message, add_ticket
from tests.security.helpers import COUNTS, PEER_LINK, PEER_SECRET, add_peer


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with what the security suite checked, for the report and for CI logs."""
    if COUNTS:
        terminalreporter.write_line("SECURITY " + " ".join(f"{k}={v}" for k, v in COUNTS.items()))


@pytest.fixture
def world(app: Flask, ticket_id: str, partner_id: int) -> dict[str, Any]:
    """A ticket with an Unsent engagement, a ticket never outsourced, a service engagement
    in progress (where a question can be asked), a dead letter and a peer partner with an
    engagement of its own (whose keys can be rotated): every URL value the permissions table names."""
    peer_id = add_peer(app, "Northwind IT", PEER_LINK, PEER_SECRET)
    return {
        "ticket_id": ticket_id,
        "free": add_ticket(app),
        "partner_id": partner_id,
        "engagement_id": add_engagement(app, partner_id, status=Status.UNSENT, ticket_id=ticket_id),
        "asking": add_engagement(
            app, partner_id, status=Status.IN_PROGRESS, role=Side.SERVICE, ticket_id=add_ticket(app, "Fan noise")
        ),
        "message_id": add_outbox_message(app, partner_id),
        "role": "lead",
        "folder": "unsent",
        "action": "remove",
        "send": "send",
        "filename": "outsource/outsource.css",
        "uid": peer_engagement_uid(app, peer_id),
        "peer_id": peer_id,
        "invitation_id": add_invitation(app),
    }


def peer_engagement_uid(app: Flask, peer_id: int) -> str:
    """The uid of an engagement the peer partner is party to: one it offered us."""
    engagement_id = add_engagement(app, peer_id, status=Status.ASSIGNED, role=Side.SERVICE)
    with app.app_context():
        return str(db.session.get(Engagement, engagement_id).uid)
