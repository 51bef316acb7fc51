"""Every (status, action, side) through the API where a user can ask for it,
and through the core where only the plugin raises it (system, start of work).

An allowed triple reaches the SPEC's target and writes one audit event; any
other is refused with 409 and leaves the engagement, the audit log and the
outbox exactly as they were.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from examples.helpdesk.models import Customer, db
from outsource_plugin.core.engagements import Actor, perform
from outsource_plugin.db.models import AuditEvent, Engagement, OutboxMessage, new_id
from outsource_plugin.errors import TransitionRefused
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import TRANSITIONS, USER_ACTIONS, Action, Side, Status, target
from tests.conftest import Api

STATUSES: list[Status | None] = [None, *Status]
TRIPLES = list(itertools.product(STATUSES, Action, Side))


def _engagement(app: Flask, ticket_id: str, partner_id: int, status: Status, role: Side) -> int:
    with app.app_context():
        engagement = Engagement(
            uid=new_id(),
            role=role,
            ticket_id=ticket_id,
            ticket_number=f"T{ticket_id}",
            partner_id=partner_id,
            status=status,
            terms={"acceptance_hours": 24},
            frozen_terms=None if status is Status.UNSENT else {"acceptance_hours": 24},
            offer={"title": "Server down", "description": "down", "priority": "High"},
        )
        db.session.add(engagement)
        db.session.commit()
        return engagement.id


def _snapshot(app: Flask) -> dict[str, Any]:
    with app.app_context():
        rows = db.session.scalars(select(Engagement).order_by(Engagement.id)).all()
        return {
            "engagements": [
                {c.key: getattr(e, c.key) for c in Engagement.__table__.columns if c.key != "partner"} for e in rows
            ],
            "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
            "outbox": db.session.scalar(select(func.count()).select_from(OutboxMessage)),
        }


def _customer(app: Flask) -> str:
    with app.app_context():
        return str(db.session.scalars(select(Customer.id)).first())


def _via_api(
    api: Api, app: Flask, ticket_id: str, partner_id: int, engagement_id: int | None, action: Action
) -> tuple[int, Any]:
    if action is Action.CONFIGURE:
        response = api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id})
    elif action is Action.EDIT:
        response = api.patch(f"/tickets/{ticket_id}/outsource", json={"terms": {"instructions": "bring a ladder"}})
    else:
        body = {"action": action.value, "reason": "not what we agreed", "customer_ref": _customer(app)}
        path = f"/engagements/{engagement_id}/actions" if engagement_id else f"/tickets/{ticket_id}/outsource/actions"
        response = api.post(path, json=body)
    return response.status_code, response.get_json()


def _via_core(app: Flask, engagement_id: int | None, status: Status | None, action: Action, side: Side) -> int:
    with app.app_context():
        state = current_outsource()
        try:
            if engagement_id is None:
                target(status, action, side)
            else:
                engagement = state.session.get(Engagement, engagement_id)
                assert engagement is not None
                perform(state, engagement, action, side, Actor("system"), reason="expired")
            state.session.commit()
        except TransitionRefused as refused:
            state.session.rollback()
            return refused.status_code
        return 200


def _api_can_express(status: Status | None, action: Action, side: Side) -> bool:
    """A user acts as the side of the ticket's engagement; without one, as the lead."""
    if side is Side.SYSTEM or action not in (*USER_ACTIONS, Action.CONFIGURE, Action.EDIT):
        return False
    return status is not None or side is Side.LEAD


@pytest.mark.parametrize(("status", "action", "side"), TRIPLES, ids=lambda v: getattr(v, "value", str(v)))
def test_status_action_side(
    app: Flask, api: Api, ticket_id: str, partner_id: int, status: Status | None, action: Action, side: Side
) -> None:
    role = Side.LEAD if side is Side.SYSTEM else side
    engagement_id = _engagement(app, ticket_id, partner_id, status, role) if status else None
    allowed = (action, side) in TRANSITIONS[status]
    before = _snapshot(app)

    if _api_can_express(status, action, side):
        code, body = _via_api(api, app, ticket_id, partner_id, engagement_id, action)
    else:
        code, body = _via_core(app, engagement_id, status, action, side), None

    after = _snapshot(app)
    if not allowed:
        assert code == 409, body
        assert after == before
        return
    assert code in (200, 201), body
    assert after["audit"] == before["audit"] + 1
    expected = TRANSITIONS[status][(action, side)]
    with app.app_context():
        if action is Action.CONFIGURE:
            newest = db.session.scalars(select(Engagement).order_by(Engagement.id.desc())).first()
            assert newest is not None and newest.status is Status.UNSENT and newest.id != engagement_id
        elif expected is None:
            assert db.session.get(Engagement, engagement_id) is None
        else:
            engagement = db.session.get(Engagement, engagement_id)
            assert engagement is not None and engagement.status is expected
