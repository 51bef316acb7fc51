"""A host deletes a ticket through its own session (issue 15, item 4).

The host never has to ask first: the plugin sees the delete in the flush it
already watches, refuses it while the ticket holds accepted work, and otherwise
closes the ticket's engagements (the partner is told of a cancelled offer)
and detaches them, so that a new ticket on a reused id inherits nothing.

The demo host is the lead, or the service partner, of the memory adapter.
On SQLite the demo's tickets reuse the id of a deleted newest row (INTEGER
PRIMARY KEY without AUTOINCREMENT); PostgreSQL's sequences never do, so there
the new ticket takes the old id explicitly, as a host numbering its own rows would.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from examples.helpdesk.models import Note, Ticket, db
from outsource_plugin.db.models import AuditEvent, Engagement, EntryLink, OutboxMessage
from outsource_plugin.errors import Conflict
from outsource_plugin.permissions import Permission
from outsource_plugin.wire import MessageKind
from outsource_plugin.workflow import Action, Status
from tests.blueprints.page_helpers import html, page_client
from tests.conftest import Api, memory_partner
from tests.outsource_plugin.engagement_helpers import accepted, act, note, sync
from tests.outsource_plugin.sync_rule_helpers import service_link


def offered(app: Flask, api: Api, ticket_id: str, partner_id: int) -> str:
    """The ticket is outsourced to the memory partner, which has the offer but has not answered."""
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    assert created.status_code == 201, created.get_json()
    uid = str(act(api, ticket_id, "send")["engagement"]["uid"])
    sync(app)
    return uid


def delete_ticket(app: Flask, ticket_id: str) -> None:
    """The host's own delete: its entries, then the ticket, in one commit."""
    with app.app_context():
        ticket = db.session.get(Ticket, int(ticket_id))
        for entry in (*ticket.notes, *ticket.time_entries, *ticket.charges, *ticket.attachments):
            db.session.delete(entry)
        db.session.delete(ticket)
        db.session.commit()


def refused_delete(app: Flask, ticket_id: str) -> str:
    """The host's delete, which the plugin refuses inside the commit; the error's message."""
    with pytest.raises(Conflict) as refused:
        delete_ticket(app, ticket_id)
    with app.app_context():
        db.session.rollback()
    return refused.value.message


def engagement(app: Flask, uid: str) -> Engagement | None:
    with app.app_context():
        found = db.session.scalars(select(Engagement).where(Engagement.uid == uid)).first()
        if found is not None:
            db.session.expunge(found)
        return found


def outbox(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        return [(m.kind.value, m.payload) for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def ticket_exists(app: Flask, ticket_id: str) -> bool:
    with app.app_context():
        return db.session.get(Ticket, int(ticket_id)) is not None


def new_ticket(app: Flask, reuse: str) -> str:
    """A new, unrelated ticket on the id ``reuse`` of a deleted one."""
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        ticket = Ticket(title="Printer jam", description="Unrelated", status="New", id=None if sqlite else int(reuse))
        db.session.add(ticket)
        db.session.commit()
        assert str(ticket.id) == reuse, "the host did not reuse the deleted ticket's id"
        return reuse


# --- refused: the ticket holds accepted work ------------------------------------------------------


def test_a_lead_ticket_with_an_accepted_engagement_is_not_deleted(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = accepted(app, api, ticket_id, partner_id)
    note(api, ticket_id, "synced before the delete")
    before = outbox(app)

    message = refused_delete(app, ticket_id)

    assert "accepted" in message and "cannot be deleted" in message
    assert ticket_exists(app, ticket_id)
    kept = engagement(app, uid)
    assert kept is not None and kept.ticket_id == ticket_id and kept.status is Status.ACCEPTED
    assert outbox(app) == before  # not even the delete of the ticket's note went out
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Note).where(Note.ticket_id == int(ticket_id))) == 1


def test_a_service_ticket_with_an_accepted_engagement_is_not_deleted(app: Flask, api: Api, partner_id: int) -> None:
    link = service_link(app, api, partner_id)
    link.add("note", body="work started")

    message = refused_delete(app, link.ticket_id)

    assert "accepted" in message
    assert ticket_exists(app, link.ticket_id)
    kept = engagement(app, link.uid)
    assert kept is not None and kept.ticket_id == link.ticket_id and kept.status is Status.IN_PROGRESS


def test_a_refused_delete_never_commits_later_in_the_same_transaction(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    """A host that catches the error and commits again, without rolling back, still keeps the ticket."""
    accepted(app, api, ticket_id, partner_id)
    with app.app_context():
        db.session.delete(db.session.get(Ticket, int(ticket_id)))
        with pytest.raises(Conflict):
            db.session.commit()
        with pytest.raises(Conflict):
            db.session.commit()
        db.session.rollback()
    assert ticket_exists(app, ticket_id)


# --- allowed: the engagements are closed and detached -------------------------------------------


def test_deleting_a_ticket_with_an_offer_cancels_it_and_tells_the_partner(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = offered(app, api, ticket_id, partner_id)

    delete_ticket(app, ticket_id)

    assert not ticket_exists(app, ticket_id)
    closed = engagement(app, uid)
    assert closed is not None
    assert closed.status is Status.CANCELED
    assert closed.ticket_id is None and closed.deleted_ticket_id == ticket_id
    kind, payload = outbox(app)[-1]
    assert kind == MessageKind.ACTION.value and payload["action"] == Action.CANCEL.value
    sync(app)
    received = [(m.kind, m.payload.get("action")) for m in memory_partner(app, partner_id).received]
    assert received == [(MessageKind.OFFER.value, None), (MessageKind.ACTION.value, Action.CANCEL.value)]
    with app.app_context():
        # no "outsourcing was canceled" note written onto the deleted ticket's id
        assert db.session.scalar(select(func.count()).select_from(Note).where(Note.ticket_id == int(ticket_id))) == 0
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.engagement_uid == uid)).all()
        assert {e.ticket_id for e in events} == {None}
        assert {e.deleted_ticket_id for e in events} == {ticket_id}
        assert Action.TICKET_DELETED in {e.action for e in events}


def test_deleting_a_ticket_with_an_unsent_engagement_removes_it(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    created = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    uid = created.get_json()["engagement"]["uid"]

    delete_ticket(app, ticket_id)

    assert engagement(app, uid) is None
    assert outbox(app) == []  # the partner never heard of it
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.engagement_uid == uid)).all()
        assert Action.REMOVE in actions


def test_a_withdrawn_service_ticket_is_deleted_and_its_links_retired(app: Flask, api: Api, partner_id: int) -> None:
    """The lead's cancel beat our acceptance: the service ticket holds no accepted work."""
    link = service_link(app, api, partner_id)
    link.add("note", body="made before the cancel arrived")
    link.partner.act(link.uid, Action.CANCEL, reason="not needed")
    sync(app)
    assert link.status() == "canceled"

    delete_ticket(app, link.ticket_id)

    closed = engagement(app, link.uid)
    assert closed is not None and closed.ticket_id is None and closed.deleted_ticket_id == link.ticket_id
    with app.app_context():
        live = select(EntryLink).where(EntryLink.engagement_uid == link.uid, EntryLink.deleted.is_(False))
        assert db.session.scalars(live).all() == []


# --- a reused id inherits nothing ---------------------------------------------------------------


def test_a_new_ticket_on_a_deleted_tickets_id_inherits_nothing(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    uid = offered(app, api, ticket_id, partner_id)
    delete_ticket(app, ticket_id)
    reused = new_ticket(app, ticket_id)

    state = api.get(f"/tickets/{reused}/outsource").get_json()
    assert state["engagement"] is None
    assert api.get(f"/tickets/{reused}/outsource/history").get_json()["history"] == []
    page = html(page_client(app, Permission.OUTSOURCE), f"/tickets/{reused}")
    assert "outsource-bar" not in page

    # the partner accepts the old offer before it hears of the cancel: the cancel wins
    memory_partner(app, partner_id).accept(uid)
    sync(app)
    closed = engagement(app, uid)
    assert closed is not None and closed.status is Status.CANCELED and closed.ticket_id is None
    before = outbox(app)
    note(api, reused, "Reply to the printer's customer")
    assert outbox(app) == before
    assert api.get(f"/tickets/{reused}/outsource").get_json()["engagement"] is None
