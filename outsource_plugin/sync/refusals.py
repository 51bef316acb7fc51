"""Entries that could not cross: an attachment over ``OUTSOURCE_MAX_ATTACHMENT_BYTES``.

An entry that does not arrive must not vanish without a word. The side that
finds it cannot sync (the sender, over its own limit, or the receiver, over a
smaller one) records the error on its engagement, writes a note on the ticket
if it is the lead, and tells the partner with an entry message whose ``op`` is
``refused``; the partner records the same error, so both sides show it and the
lead ticket says so, whichever side found it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.adapters.base import Capability
from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.db import outbox
from outsource_plugin.db.models import Engagement, EntryLink, Partner, utcnow
from outsource_plugin.host.entries import EntryKind, keep_local
from outsource_plugin.wire import EntryMessage, Origin, WireOp
from outsource_plugin.workflow import Side

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


def over_limit(state: OutsourceState, kind: EntryKind, values: dict[str, Any]) -> bool:
    """An attachment whose bytes (or declared size) exceed this host's limit."""
    if kind is not EntryKind.ATTACHMENT:
        return False
    limit = int(state.config["OUTSOURCE_MAX_ATTACHMENT_BYTES"])
    return max(len(values.get("data") or b""), int(values.get("size") or 0)) > limit


def refuse(
    state: OutsourceState, engagement: Engagement, entry_key: str, values: dict[str, Any], *, sent: bool
) -> None:
    """This side cannot sync the attachment ``values``: record it here and tell the partner.

    ``sent`` is whether it was on its way to the partner (we are the sender) or from it.
    """
    partner = engagement.partner
    size = int(values.get("size") or len(values.get("data") or b""))
    limit = int(state.config["OUTSOURCE_MAX_ATTACHMENT_BYTES"])
    how = f"was not sent to {partner.name}" if sent else f"from {partner.name} was not received"
    reason = f"Attachment {values.get('filename')!r} ({size} bytes) {how}: it is over the size limit of {limit} bytes."
    record(state, engagement, reason)
    if Capability.REFUSALS not in adapter_class(partner.adapter).capabilities:
        return
    origin = Origin(side=engagement.role, org=state.config["OUTSOURCE_ORG_NAME"], at=utcnow().isoformat())
    data = {"filename": values.get("filename"), "size": size}
    refusal = EntryMessage(entry_key, WireOp.REFUSED, EntryKind.ATTACHMENT, data, origin, reason)
    outbox.enqueue(state.session, engagement, refusal)


def refused_by_partner(state: OutsourceState, partner: Partner, engagement: Engagement, refusal: EntryMessage) -> None:
    """The partner could not sync one of the entries: the same error, on this side."""
    record(state, engagement, f"{partner.name}: {refusal.reason or 'an entry did not sync'}")
    link = state.session.scalars(
        select(EntryLink).where(EntryLink.engagement_uid == engagement.uid, EntryLink.entry_key == refusal.entry_key)
    ).first()
    if link is not None:
        link.sent = False  # the partner holds no copy: reconciliation must not expect one


def record(state: OutsourceState, engagement: Engagement, reason: str) -> None:
    """The engagement's last sync error, and on the lead a note on the lead ticket (never synced)."""
    engagement.last_sync_error = reason
    if engagement.role is Side.LEAD and engagement.ticket_id is not None:
        note = state.host.add_note(engagement.ticket_id, reason, author=f"Outsourcing ({engagement.partner.name})")
        if note is not None:
            keep_local(state.session, note)
