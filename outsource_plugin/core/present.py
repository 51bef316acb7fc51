"""How engagements look to a given user: one place decides what each level sees."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from outsource_plugin.db.models import STATUS_TIMESTAMP, AuditEvent, Engagement, Partner
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import visible_terms
from outsource_plugin.workflow import Side, Status, allowed, sync_state


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def engagement_json(engagement: Engagement, level: Permission, *, ticket_complete: bool = False) -> dict[str, Any]:
    """The engagement as ``level`` may see it.

    Everyone sees partner and status; terms and reasons need Allow
    Outsourcing; financial figures need Allow All.
    """
    body: dict[str, Any] = {
        "id": engagement.id,
        "uid": engagement.uid,
        "role": engagement.role.value,
        "status": engagement.status.value,
        "status_label": engagement.status.label,
        "partner": {"id": engagement.partner_id, "name": engagement.partner.name},
        "ticket_id": engagement.ticket_id,
        "ticket_number": engagement.ticket_number,
        "remote_ticket_number": engagement.remote_ticket_number,
        "sync_state": sync_state(engagement.status).value,
        "allowed_actions": user_actions(engagement.status, engagement, level, ticket_complete),
    }
    if level < Permission.OUTSOURCE:
        return body
    financial = level >= Permission.ALL
    body.update(
        {
            "terms": visible_terms(engagement.effective_terms, financial=financial),
            "offer": engagement.offer,
            "acceptance_deadline": _iso(engagement.acceptance_deadline),
            "accepted_by": engagement.accepted_by,
            "decline_reason": engagement.decline_reason,
            "reject_reason": engagement.reject_reason,
            "cancel_reason": engagement.cancel_reason,
            "suspended_at": _iso(engagement.suspended_at),
            "sync_ended_at": _iso(engagement.sync_ended_at),
            "last_sync_at": _iso(engagement.last_sync_at),
            "last_sync_error": engagement.last_sync_error,
            "status_times": {s.value: _iso(getattr(engagement, col)) for s, col in STATUS_TIMESTAMP.items()},
            "created_at": _iso(engagement.created_at),
            "updated_at": _iso(engagement.updated_at),
        }
    )
    return body


def user_actions(
    status: Status | None, engagement: Engagement | None, level: Permission, ticket_complete: bool
) -> list[str]:
    """The menu: the table's actions for the user's side, none without Allow Outsourcing
    or on a Complete ticket."""
    if level < Permission.OUTSOURCE or ticket_complete:
        return []
    side = engagement.role if engagement is not None else Side.LEAD
    return [a.value for a in allowed(status, side)]


def audit_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "actor": event.actor,
        "side": event.side.value,
        "action": event.action.value,
        "from": event.from_status.value if event.from_status else None,
        "to": event.to_status.value if event.to_status else None,
        "reason": event.reason,
    }


def partner_json(partner: Partner, secret_fields: frozenset[str], level: Permission) -> dict[str, Any]:
    """A partner; secret settings are write-only and only say whether they are set."""
    config = {k: v for k, v in partner.config.items() if k not in secret_fields}
    return {
        "id": partner.id,
        "name": partner.name,
        "adapter": partner.adapter,
        "config": config,
        "secrets_set": sorted(k for k in secret_fields if partner.config.get(k)),
        "default_terms": visible_terms(partner.default_terms, financial=level >= Permission.ALL),
        "customer_ref": partner.customer_ref,
        "notify_email": partner.notify_email,
        "active": partner.active,
        "last_poll_at": _iso(partner.last_poll_at),
        "last_poll_error": partner.last_poll_error,
        "disabled_reason": partner.disabled_reason,
        "disabled_by_partner_at": _iso(partner.disabled_by_partner_at),
        "leave_notice": "due" if partner.leave_due_at is not None else None,
        "leave_error": partner.leave_error,
    }
