"""JSON API v1 for one ticket's outsourcing: state, configure, actions, history, the partner's entries."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from outsource_plugin.blueprints.api_common import ID, api, caller, json_body, state, ticket_or_404
from outsource_plugin.core.engagements import Actor, configure, current_engagement, edit, get_engagement, perform
from outsource_plugin.core.partner_entries import partner_entries
from outsource_plugin.core.present import audit_json, engagement_json, user_actions
from outsource_plugin.db.models import AuditEvent, Engagement
from outsource_plugin.errors import Conflict, TransitionRefused
from outsource_plugin.host.protocol import HostUser
from outsource_plugin.permissions import Permission, refuse_financial
from outsource_plugin.validation.schemas import ActionSchema, ConfigureSchema, EditSchema, load
from outsource_plugin.workflow import Action


def _ticket_state(ticket_id: str, level: Permission) -> dict[str, Any]:
    ticket = ticket_or_404(ticket_id)
    engagement = current_engagement(state().session, ticket_id)
    return {
        "ticket": {"id": ticket.id, "number": ticket.number, "status": ticket.status, "complete": ticket.is_complete},
        "engagement": engagement_json(engagement, level, ticket_complete=ticket.is_complete) if engagement else None,
        "allowed_actions": user_actions(
            engagement.status if engagement else None, engagement, level, ticket.is_complete
        ),
    }


@api.get("/tickets/<ticket_id>/outsource")
def ticket_state(ticket_id: str) -> ResponseReturnValue:
    user = caller()
    return jsonify(_ticket_state(ticket_id, user.permission))


@api.post("/tickets/<ticket_id>/outsource")
def ticket_configure(ticket_id: str) -> ResponseReturnValue:
    """Choose the partner and terms: a new Unsent engagement."""
    user = caller(Permission.OUTSOURCE)
    data = load(ConfigureSchema(), json_body())
    refuse_financial(data["terms"], user.permission, "terms")
    _refuse_on_complete_ticket(ticket_id)
    configure(state(), ticket_id, data["partner_id"], data["terms"], Actor(user.name))
    state().session.commit()
    return jsonify(_ticket_state(ticket_id, user.permission)), 201


@api.patch("/tickets/<ticket_id>/outsource")
def ticket_edit(ticket_id: str) -> ResponseReturnValue:
    """Edit the partner or terms while the engagement is Unsent."""
    user = caller(Permission.OUTSOURCE)
    data = load(EditSchema(), json_body())
    refuse_financial(data["terms"], user.permission, "terms")
    _refuse_on_complete_ticket(ticket_id)
    edit(state(), _current_or_409(ticket_id, "edit"), data.get("partner_id"), data["terms"], Actor(user.name))
    state().session.commit()
    return jsonify(_ticket_state(ticket_id, user.permission))


@api.post("/tickets/<ticket_id>/outsource/actions")
def ticket_action(ticket_id: str) -> ResponseReturnValue:
    user = caller(Permission.OUTSOURCE)
    data = load(ActionSchema(), json_body())
    _refuse_on_complete_ticket(ticket_id)
    _act(_current_or_409(ticket_id, data["action"]), user, data)
    return jsonify(_ticket_state(ticket_id, user.permission))


@api.get("/tickets/<ticket_id>/outsource/history")
def ticket_history(ticket_id: str) -> ResponseReturnValue:
    caller(Permission.OUTSOURCE)
    ticket_or_404(ticket_id)
    session = state().session
    uids = select(Engagement.uid).where(Engagement.ticket_id == ticket_id)
    events = session.scalars(
        select(AuditEvent)
        .where((AuditEvent.ticket_id == ticket_id) | AuditEvent.engagement_uid.in_(uids))
        .order_by(AuditEvent.id)
    )
    return jsonify({"history": [audit_json(e) for e in events]})


@api.get(f"/engagements/<{ID}:engagement_id>")
def engagement_read(engagement_id: int) -> ResponseReturnValue:
    user = caller(Permission.OUTSOURCE)
    return jsonify(engagement_json(get_engagement(state().session, engagement_id), user.permission))


@api.get(f"/engagements/<{ID}:engagement_id>/entries")
def engagement_entries(engagement_id: int) -> ResponseReturnValue:
    """The partner's entries, with the partner's person as author; on a host that holds them
    (``partner_entries="held"``) the only place besides the panel that shows them."""
    caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    return jsonify({"entries": partner_entries(state(), engagement)})


@api.post(f"/engagements/<{ID}:engagement_id>/actions")
def engagement_action(engagement_id: int) -> ResponseReturnValue:
    """Act on an engagement by id: how a service partner accepts an offer that has no ticket yet."""
    user = caller(Permission.OUTSOURCE)
    data = load(ActionSchema(), json_body())
    engagement = get_engagement(state().session, engagement_id)
    if engagement.ticket_id:
        _refuse_on_complete_ticket(engagement.ticket_id)
    _act(engagement, user, data)
    return jsonify(engagement_json(engagement, user.permission))


def _act(engagement: Engagement, user: HostUser, data: dict[str, Any]) -> None:
    perform(
        state(),
        engagement,
        Action(data["action"]),
        engagement.role,
        Actor(user.name),
        reason=data["reason"],
        customer_ref=data["customer_ref"],
    )
    state().session.commit()


def _current_or_409(ticket_id: str, action: str) -> Engagement:
    engagement = current_engagement(state().session, ticket_id)
    if engagement is None:
        raise TransitionRefused(
            f"'{action}' is not allowed: ticket {ticket_id} is not outsourced",
            details={"status": None, "action": action},
        )
    return engagement


def _refuse_on_complete_ticket(ticket_id: str) -> None:
    if ticket_or_404(ticket_id).is_complete:
        raise Conflict(f"ticket {ticket_id} is Complete: outsourcing actions are closed")
