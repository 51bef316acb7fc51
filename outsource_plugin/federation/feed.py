"""The wire form of messages between two hosts running the plugin.

The same numbered messages travel two ways: pushed by the sender's delivery
job, and pulled by the receiver's poller from the sender's feed. Either way
they become the same ``RemoteChange``, applied once, in order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marshmallow import fields, validate
from sqlalchemy import delete
from sqlalchemy.orm import Session

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.db.models import MessageKind, OutboxMessage, SeenRequest, utcnow
from outsource_plugin.errors import InvalidPartnerMessage
from outsource_plugin.federation.messages import checked, checked_action
from outsource_plugin.validation.schemas import StrictSchema, shared


class MessageSchema(StrictSchema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in MessageKind]))
    engagement_uid = fields.String(required=True, validate=validate.Length(min=1, max=32))
    payload = fields.Dict(required=True)


def message_json(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "seq": message.seq,
        "kind": message.kind.value,
        "engagement_uid": message.engagement_uid,
        "payload": message.payload,
    }


def change_from_message(item: Any) -> RemoteChange:
    """A pushed or pulled message as a neutral change; raises InvalidPartnerMessage on a bad envelope.

    The payload is checked by ``messages.checked_change`` when the change is
    applied, as every adapter's changes are.
    """
    envelope = checked(shared(MessageSchema), item, "")
    kind = MessageKind(envelope["kind"])
    payload = envelope["payload"]
    common: dict[str, Any] = {
        "engagement_uid": envelope["engagement_uid"],
        "change_id": envelope["id"],
        "sequence": envelope["seq"],
    }
    if kind is MessageKind.OFFER:
        ticket_number = payload.get("ticket_number")
        number = ticket_number if isinstance(ticket_number, str) else None
        return RemoteChange(kind=ChangeKind.OFFER, ticket_number=number, data=payload, **common)
    if kind is MessageKind.ENTRY:
        return RemoteChange(kind=ChangeKind.ENTRY, data=payload, **common)
    try:
        action = checked_action(payload)
    except InvalidPartnerMessage:
        # unreadable: applying it refuses it, naming what is wrong (a polled one is skipped)
        return RemoteChange(kind=ChangeKind.ACTION, data=payload, **common)
    return RemoteChange(
        kind=ChangeKind.ACTION,
        action=action.action,
        reason=action.reason,
        actor=action.actor,
        ticket_number=action.ticket_number,
        data=payload,
        **common,
    )


def forget_old_requests(session: Session, tolerance: float) -> int:
    """Drop request ids older than twice the clock tolerance: a replay of one would be
    refused as stale anyway, so the table stays small."""
    cutoff = utcnow() - timedelta(seconds=2 * tolerance)
    result = session.execute(delete(SeenRequest).where(SeenRequest.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
