"""Two transitions that cross in flight, in one process: each side acts on its own copy, then
each hears of the other's act, in either order. Both copies must end in the status that
docs/races.md names, with no sync error, and the losing side's ticket says what happened.

The two copies live in one database (the lead's engagement and a service engagement of
the same partner), so the relayed messages are applied as the federation API applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from examples.helpdesk.models import Customer, Note, db
from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.core.engagements import Actor, perform
from outsource_plugin.db.models import AuditEvent, Engagement, OutboxMessage, new_id, utcnow
from outsource_plugin.errors import TransitionRefused
from outsource_plugin.host.protocol import HostChanges
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.capture import on_host_changes
from outsource_plugin.sync.inbound import Receipt, apply_change
from outsource_plugin.workflow import TRANSITIONS, Action, Side, Status

L, S, SYS = Side.LEAD, Side.SERVICE, Side.SYSTEM


@dataclass(frozen=True)
class Move:
    """One act: on which side's copy it is taken, as which side, and the status it leads to there."""

    name: str
    role: Side
    action: Action
    side: Side
    to: Status


CANCEL = Move("cancel", L, Action.CANCEL, L, Status.CANCELED)
AUTO_DECLINE = Move("auto_decline", L, Action.AUTO_DECLINE, SYS, Status.DECLINED)
ACCEPT = Move("accept", S, Action.ACCEPT, S, Status.ACCEPTED)
DECLINE = Move("decline", S, Action.DECLINE, S, Status.DECLINED)
SUBMIT = Move("submit", S, Action.SUBMIT, S, Status.WAITING_APPROVAL)
COMPLETE = Move("complete", L, Action.COMPLETE, L, Status.COMPLETE)
APPROVE = Move("approve", L, Action.APPROVE, L, Status.COMPLETE)
REJECT = Move("reject", L, Action.REJECT, L, Status.IN_PROGRESS)
LEAD_TICKET_COMPLETE = Move("lead_ticket_complete", L, Action.TICKET_COMPLETE, SYS, Status.COMPLETE)
SERVICE_TICKET_COMPLETE = Move("service_ticket_complete", S, Action.TICKET_COMPLETE, SYS, Status.COMPLETE)

#: (start, the lead side's act, the service side's act, where both end, the compensation the loser applies)
CROSSING: list[tuple[Status, Move, Move, Status, Action | None]] = [
    (Status.ASSIGNED, CANCEL, ACCEPT, Status.CANCELED, Action.WITHDRAW),
    (Status.ASSIGNED, CANCEL, DECLINE, Status.CANCELED, Action.WITHDRAW),
    (Status.ASSIGNED, AUTO_DECLINE, ACCEPT, Status.DECLINED, Action.LAPSE),
    (Status.ASSIGNED, AUTO_DECLINE, DECLINE, Status.DECLINED, None),
    *[
        (start, lead, service, Status.COMPLETE, compensation)
        for start in (Status.ACCEPTED, Status.IN_PROGRESS)
        for lead, service, compensation in (
            (COMPLETE, SUBMIT, Action.OVERRULE),
            (LEAD_TICKET_COMPLETE, SUBMIT, None),
            (COMPLETE, SERVICE_TICKET_COMPLETE, None),
        )
    ],
    (Status.WAITING_APPROVAL, REJECT, SERVICE_TICKET_COMPLETE, Status.COMPLETE, None),
    (Status.WAITING_APPROVAL, APPROVE, SERVICE_TICKET_COMPLETE, Status.COMPLETE, None),
]

#: pairs taken on one host: whichever commits first wins, the other is refused
ONE_HOST: list[tuple[Status, Move, Move]] = [
    (Status.ASSIGNED, CANCEL, AUTO_DECLINE),
    (Status.ASSIGNED, ACCEPT, DECLINE),
    (Status.ACCEPTED, SUBMIT, SERVICE_TICKET_COMPLETE),
    (Status.IN_PROGRESS, COMPLETE, LEAD_TICKET_COMPLETE),
    (Status.WAITING_APPROVAL, REJECT, APPROVE),
    (Status.WAITING_APPROVAL, REJECT, LEAD_TICKET_COMPLETE),
    (Status.WAITING_APPROVAL, APPROVE, LEAD_TICKET_COMPLETE),
]


def _ids(value: Any) -> str:
    return str(getattr(value, "name", None) or getattr(value, "value", value))


def _engagement(app: Flask, partner_id: int, role: Side, status: Status) -> int:
    """A copy of the engagement on ``role``'s side; a service copy past Assigned has its ticket."""
    with app.app_context():
        state = current_outsource()
        ticket_id = None
        if role is L or status is not Status.ASSIGNED:
            ticket_id = state.host.create_ticket({"title": "Server down", "description": "down"}, None).id
        engagement = Engagement(
            uid=new_id(),
            role=role,
            ticket_id=ticket_id,
            ticket_number=f"T{ticket_id}",
            partner_id=partner_id,
            status=status,
            terms={"acceptance_hours": 24},
            frozen_terms={"acceptance_hours": 24},
            offer={"title": "Server down", "description": "down", "priority": "High"},
            accepted_at=None if status is Status.ASSIGNED else utcnow() - timedelta(hours=1),
            suspended_at=utcnow() - timedelta(minutes=5) if status is Status.WAITING_APPROVAL else None,
        )
        db.session.add(engagement)
        db.session.commit()
        return engagement.id


def _act(app: Flask, engagement_id: int, move: Move) -> dict[str, Any]:
    """Take ``move`` on one copy; the message it relays to the other side."""
    with app.app_context():
        state = current_outsource()
        engagement = state.session.get(Engagement, engagement_id)
        assert engagement is not None
        customer = str(db.session.scalars(select(Customer.id)).first())
        perform(state, engagement, move.action, move.side, Actor("Ann"), reason="why not", customer_ref=customer)
        state.session.commit()
        message = state.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.engagement_uid == engagement.uid)
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None
        return dict(message.payload)


def _hear(app: Flask, engagement_id: int, payload: dict[str, Any], kind: ChangeKind = ChangeKind.ACTION) -> Receipt:
    """The partner's relayed message reaches this copy, as the federation API applies it."""
    with app.app_context():
        state = current_outsource()
        engagement = state.session.get(Engagement, engagement_id)
        assert engagement is not None
        change = RemoteChange(
            kind=kind,
            engagement_uid=engagement.uid,
            change_id=new_id(),
            action=Action(payload["action"]) if kind is ChangeKind.ACTION else None,
            reason=payload.get("reason"),
            actor=payload.get("actor"),
            data=payload if kind is ChangeKind.ENTRY else {},
        )
        receipt = apply_change(state, engagement.partner, change)
        state.session.commit()
        return receipt


def _copy(app: Flask, engagement_id: int) -> Engagement:
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        assert engagement is not None
        db.session.expunge(engagement)
        return engagement


def _notes(app: Flask, ticket_id: str | None) -> list[str]:
    with app.app_context():
        return [n.body for n in db.session.scalars(select(Note).where(Note.ticket_id == int(ticket_id or 0)))]


def _audit(app: Flask, uid: str) -> list[tuple[str, str, str | None, str | None]]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.engagement_uid == uid).order_by(AuditEvent.id))
        return [
            (e.action.value, e.side.value, e.from_status and e.from_status.value, e.to_status and e.to_status.value)
            for e in events
        ]


@pytest.mark.parametrize("lead_hears_first", [True, False], ids=["lead-hears-first", "service-hears-first"])
@pytest.mark.parametrize(("start", "lead", "service", "end", "compensation"), CROSSING, ids=_ids)
def test_crossing_acts_settle_on_the_rules_winner_in_either_order(
    app: Flask,
    partner_id: int,
    start: Status,
    lead: Move,
    service: Move,
    end: Status,
    compensation: Action | None,
    lead_hears_first: bool,
) -> None:
    lead_id = _engagement(app, partner_id, L, start)
    service_id = _engagement(app, partner_id, S, start)
    to_service = _act(app, lead_id, lead)
    to_lead = _act(app, service_id, service)

    if lead_hears_first:
        at_lead, at_service = _hear(app, lead_id, to_lead), _hear(app, service_id, to_service)
    else:
        at_service, at_lead = _hear(app, service_id, to_service), _hear(app, lead_id, to_lead)

    lead_copy, service_copy = _copy(app, lead_id), _copy(app, service_id)
    assert lead_copy.status is service_copy.status is end
    assert lead_copy.last_sync_error is None and service_copy.last_sync_error is None
    # the loser's act is superseded where the winner's record stands; the winner's act applies
    loser = service if end is not service.to else lead
    expected = {lead: Receipt.APPLIED, service: Receipt.APPLIED}
    if lead.to is not service.to:
        expected[loser] = Receipt.SUPERSEDED
    assert (at_lead, at_service) == (expected[service], expected[lead])
    if compensation is not None:
        assert _audit(app, service_copy.uid)[-1] == (compensation.value, "system", service.to.value, end.value)
        if service_copy.ticket_id is not None:
            note = _notes(app, service_copy.ticket_id)[-1]
            assert "before your" in note and ("withdrawn" in note or compensation is Action.OVERRULE), note


@pytest.mark.parametrize(("start", "first", "second"), ONE_HOST, ids=_ids)
def test_a_stale_read_on_one_host_is_decided_on_the_committed_status(
    app: Flask, partner_id: int, start: Status, first: Move, second: Move
) -> None:
    """The second request read the engagement before the first committed: it re-reads under
    lock and is decided on the first act's status (refused, or a completion that follows it),
    instead of overwriting that status."""
    engagement_id = _engagement(app, partner_id, first.role, start)
    _act(app, engagement_id, first)
    follows = TRANSITIONS[first.to].get((second.action, second.side))
    with app.app_context():
        state = current_outsource()
        engagement = state.session.get(Engagement, engagement_id)
        assert engagement is not None
        set_committed_value(engagement, "status", start)  # what the second request read a moment before
        messages = state.session.query(OutboxMessage).count()
        if follows is None:
            with pytest.raises(TransitionRefused):
                perform(state, engagement, second.action, second.side, Actor("Bob"), reason="why not")
            state.session.rollback()
            assert state.session.query(OutboxMessage).count() == messages
        else:
            perform(state, engagement, second.action, second.side, Actor("Bob"), reason="why not")
            state.session.commit()
    copy = _copy(app, engagement_id)
    assert copy.status is (follows or first.to)
    assert _audit(app, copy.uid)[-1][2:] == (
        (first.to.value, follows.value) if follows else (start.value, first.to.value)
    )


def test_the_partners_entries_after_its_superseded_act_stay_on_its_side(app: Flask, partner_id: int) -> None:
    """The lead rejected while the service ticket completed; the lead's note written after its
    reject (before the service's completion, by the clock) is from the losing branch."""
    service_id = _engagement(app, partner_id, S, Status.WAITING_APPROVAL)
    written = utcnow().isoformat()
    _act(app, service_id, SERVICE_TICKET_COMPLETE)
    assert _hear(app, service_id, {"action": "reject", "reason": "not done"}) is Receipt.SUPERSEDED
    entry = {
        "op": "upsert",
        "kind": "note",
        "entry_key": new_id(),
        "data": {"text": "written after our reject", "internal": False},
        "origin": {"user": "Ann", "at": written},
    }
    assert _hear(app, service_id, entry, ChangeKind.ENTRY) is Receipt.APPLIED
    service_copy = _copy(app, service_id)
    assert service_copy.status is Status.COMPLETE and service_copy.superseded_at is not None
    assert not [n for n in _notes(app, service_copy.ticket_id) if "written after our reject" in n]


@pytest.mark.parametrize("change", ["completed", "reassigned"])
def test_the_plugins_follow_ups_go_by_the_committed_status(app: Flask, partner_id: int, change: str) -> None:
    """The host's request read the service engagement as Accepted; the lead's cancel withdrew it
    before the request's ticket completion (or reassignment) reached the plugin. The cascade and
    the start of work follow the committed status and do not fail the host's change."""
    service_id = _engagement(app, partner_id, S, Status.ACCEPTED)
    assert _hear(app, service_id, {"action": "cancel"}) is Receipt.APPLIED
    with app.app_context():
        state = current_outsource()
        engagement = state.session.get(Engagement, service_id)
        assert engagement is not None and engagement.ticket_id is not None
        set_committed_value(engagement, "status", Status.ACCEPTED)  # what the host's request read
        messages = state.session.query(OutboxMessage).count()
        on_host_changes(state, HostChanges(**{change: [engagement.ticket_id]}))
        state.session.commit()
        assert state.session.query(OutboxMessage).count() == messages
    assert _copy(app, service_id).status is Status.CANCELED
