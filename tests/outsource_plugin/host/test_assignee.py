"""A ticket's assignee, with the e-mail address and level the notifier needs, through the host adapter."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Ticket, User, db
from outsource_plugin.host.protocol import HostUser, ticket_assignee
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource


def test_the_demo_host_names_the_assignee_with_email_and_level(app: Flask, ticket_id: str) -> None:
    with app.app_context():
        host = current_outsource().host
        assert ticket_assignee(host, ticket_id) is None
        ticket = db.session.get(Ticket, int(ticket_id))
        ticket.assignee_id = db.session.scalars(select(User.id).where(User.email == "manager@t.example")).one()
        db.session.commit()
        assert ticket_assignee(host, ticket_id) == HostUser(
            id=str(ticket.assignee_id),
            name="Manager",
            permission=Permission.PARTNER_MANAGEMENT,
            email="manager@t.example",
        )
        assert ticket_assignee(host, "999999") is None


def test_a_host_adapter_without_the_hook_names_nobody() -> None:
    assert ticket_assignee(SimpleNamespace(), "1") is None  # type: ignore[arg-type]
