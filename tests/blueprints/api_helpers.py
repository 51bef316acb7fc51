"""Helpers shared by the JSON API tests: row counts, engagement rows, error shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from examples.helpdesk.models import Ticket, db
from outsource_plugin.core.status_counts import count_change
from outsource_plugin.db.models import Base, Engagement, MessageKind, MessageState, OutboxMessage, Partner, new_id
from outsource_plugin.partnership.invitations import create_invitation
from outsource_plugin.state import current_outsource
from outsource_plugin.validation.schemas import FINANCIAL_TERMS
from outsource_plugin.workflow import Side, Status


def row_counts(app: Flask) -> dict[str, int]:
    """Rows in every table of the plugin and of the help desk, by table name."""
    tables = [*Base.metadata.sorted_tables, *db.metadata.sorted_tables]
    assert len({t.name for t in tables}) == len(tables), "a table name is shared between the two metadatas"
    with app.app_context():
        counts = {t.name: db.session.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
        db.session.rollback()
    return counts


def table_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary key order: catches updates that keep the counts."""
    tables = [*Base.metadata.sorted_tables, *db.metadata.sorted_tables]
    with app.app_context():
        rows = {
            t.name: [tuple(r) for r in db.session.execute(select(t).order_by(*t.primary_key.columns))] for t in tables
        }
        db.session.rollback()
    return rows


def add_engagement(
    app: Flask,
    partner_id: int,
    *,
    status: Status,
    role: Side = Side.LEAD,
    ticket_id: str | None = None,
    terms: dict[str, Any] | None = None,
) -> int:
    """Insert an engagement row directly, as if it had got to ``status`` through the workflow."""
    terms = dict(terms if terms is not None else {"acceptance_hours": 24})
    with app.app_context():
        engagement = Engagement(
            uid=new_id(),
            role=role,
            ticket_id=ticket_id,
            ticket_number=f"T{int(ticket_id):05d}" if ticket_id else None,
            partner_id=partner_id,
            status=status,
            terms=terms,
            frozen_terms=None if status is Status.UNSENT else dict(terms),
            offer={"title": "Printer on fire", "description": "smoke", "priority": "High", "number": "L-7"},
            remote_ticket_number="L-7" if role is Side.SERVICE else None,
        )
        db.session.add(engagement)
        count_change(db.session, role, None, status)
        db.session.commit()
        return engagement.id


def add_outbox_message(app: Flask, partner_id: int, state: MessageState = MessageState.DEAD) -> int:
    """An outbox message; by default a dead letter, as left after the partner kept refusing it."""
    with app.app_context():
        partner = db.session.get(Partner, partner_id)
        partner.outbound_seq += 1
        seq = partner.outbound_seq
        message = OutboxMessage(
            partner_id=partner_id,
            seq=seq,
            engagement_uid=new_id(),
            kind=MessageKind.ACTION,
            payload={"action": "cancel"},
            state=state,
            attempts=12 if state is MessageState.DEAD else 0,
            last_error="partner refused" if state is MessageState.DEAD else None,
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def add_ticket(app: Flask, title: str = "Mail bounces") -> str:
    with app.app_context():
        ticket = Ticket(title=title, description=f"{title}, since this morning", status="New")
        db.session.add(ticket)
        db.session.commit()
        return str(ticket.id)


def engagement_status(app: Flask, engagement_id: int) -> Status | None:
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        status = engagement.status if engagement is not None else None
        db.session.rollback()
        return status


def assert_error(response: Any, status: int, error: str | None = None) -> dict[str, Any]:
    """A JSON error answer: the status, and a body with ``error`` and a non-empty ``message``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("message"), str) and body["message"].strip()
    if error is not None:
        assert body["error"] == error, body
    return body


def keys_in(value: Any) -> Iterator[str]:
    """Every dictionary key anywhere in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from keys_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_in(item)


def financial_keys(value: Any) -> set[str]:
    return set(keys_in(value)) & FINANCIAL_TERMS


def add_invitation(app: Flask, name: str = "Fabrikam Invited") -> int:
    """An open invitation, as a partner manager would leave it; its code is not kept."""
    with app.app_context():
        invitation, _code = create_invitation(current_outsource(), {"name": name}, "http://x.test/outsource")
        db.session.commit()
        return invitation.id
