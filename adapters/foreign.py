"""What the adapters for foreign ticket systems (Redmine, Request Tracker) share.

Those systems know nothing of outsourcing, so the adapters:

- write a marker, ``[outsource:<key> <message>]``, into everything they create
  (note text, time-entry comment, attachment description), skip what carries
  one when reading (no echo) and look for it before writing (a retried push
  whose answer was lost writes nothing twice);
- turn the partner's status changes into outsource actions through a status
  map held in the partner's settings, keeping only the actions that the
  workflow allows from where the engagement stands;
- poll with a cursor of whole-second timestamps that overlaps the previous
  poll by one second, and drop what the overlap already delivered.

``ForeignTicketAdapter`` holds all of that; a subclass reads its system's
events for one ticket and writes tickets, actions and entries.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    ChangeKind,
    DeliveryResult,
    EngagementRef,
    Outbound,
    PartnerAdapter,
    RemoteChange,
)
from outsource_plugin.core.times import human_time
from outsource_plugin.errors import PermanentAdapterError
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.wire import ActionMessage, EntryMessage, OfferMessage, Origin, WireOp
from outsource_plugin.workflow import Action, Side, Status, acting_side, permits, target

MARKER = re.compile(r"\[outsource:[^\]\s]+(?: [^\]\s]+)?\]")

#: the partner actions a status map may name
MAPPABLE = (Action.ACCEPT, Action.DECLINE, Action.START_WORK, Action.SUBMIT, Action.TICKET_COMPLETE)
#: lead actions relayed to the partner, and the setting that names the status each sets
LEAD_ACTIONS = {
    Action.CANCEL: "cancel_status",
    Action.AUTO_DECLINE: "cancel_status",
    Action.REJECT: "reopen_status",
    Action.APPROVE: "close_status",
    Action.COMPLETE: "close_status",
    Action.TICKET_COMPLETE: "close_status",
}
#: a cursor must fit the partner's ``poll_cursor`` column
CURSOR_LIMIT = 200
OVERLAP = timedelta(seconds=1)


def marker(key: str, message_id: str) -> str:
    """The marker written into what a delivery creates: the entry (or engagement) and the message."""
    return f"[outsource:{key} {message_id[:16]}]"


def has_marker(text: str | None) -> bool:
    return bool(text and MARKER.search(text))


def status_map_field(default: Mapping[str, str]) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        values=fields.String(validate=validate.OneOf([a.value for a in MAPPABLE])),
        load_default=dict(default),
    )


class ForeignConfig(Schema):
    """Settings every foreign-system partner has; subclasses add how to reach the system."""

    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    #: partner status name -> outsource action (accept, decline, start_work, submit, ticket_complete)
    status_map = fields.Dict()
    #: a partner user taking the ticket (it gets an owner/assignee) counts as accepting it
    accept_on_assign = fields.Boolean(load_default=True)
    cancel_status = fields.String(validate=validate.Length(min=1, max=100))
    reopen_status = fields.String(validate=validate.Length(min=1, max=100))
    close_status = fields.String(validate=validate.Length(min=1, max=100))

    @validates("status_map")
    def _actions(self, value: Mapping[str, Any], **_: Any) -> None:
        allowed = {a.value for a in MAPPABLE}
        bad = sorted(str(v) for v in value.values() if v not in allowed)
        if bad:
            raise ValidationError(f"unknown actions {bad}: use {sorted(allowed)}")


@dataclass(frozen=True)
class Cursor:
    """Where a poll resumes: the newest whole second seen, and the changes of that second already taken."""

    since: datetime | None = None
    seen: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        stamp, _, seen = text.partition("|")
        return cls(datetime.fromisoformat(stamp), frozenset(filter(None, seen.split(","))))

    def dump(self) -> str | None:
        if self.since is None:
            return None
        stamp = self.since.isoformat()
        seen: list[str] = []
        for digest in sorted(self.seen):
            if len(stamp) + 1 + sum(len(s) + 1 for s in seen) + len(digest) > CURSOR_LIMIT:
                break  # re-delivering the rest is harmless: applying a change twice applies it once
            seen.append(digest)
        return f"{stamp}|{','.join(seen)}"

    @property
    def window_start(self) -> datetime | None:
        return self.since - OVERLAP if self.since else None

    def may_be_new(self, at: datetime, key: str) -> bool:
        """False for what an earlier poll certainly delivered (worth knowing before a download)."""
        start = self.window_start
        return (start is None or at >= start) and digest(key) not in self.seen


def digest(key: str) -> str:
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:8]


@dataclass(order=True)
class Event:
    """One thing seen on the partner system, before the cursor and the workflow filter it."""

    at: datetime
    order: int
    key: str = field(compare=False)
    change: RemoteChange = field(compare=False)


def select_new(events: Iterable[Event], cursor: Cursor) -> tuple[list[Event], Cursor]:
    """The events the cursor has not delivered, in order, and the cursor after them."""
    start = cursor.window_start
    window = sorted(e for e in events if start is None or e.at >= start)
    fresh = [e for e in window if digest(e.key) not in cursor.seen]
    if not window:
        return [], cursor
    newest = max(e.at for e in window)
    newest = max(newest, cursor.since) if cursor.since else newest
    seen = frozenset(digest(e.key) for e in window if e.at >= newest - OVERLAP)
    return fresh, Cursor(newest, seen)


class Workflow:
    """The engagements' statuses as a batch of partner actions would move them.

    A status map turns every status change into an action, but only some apply
    where the engagement stands (``In Progress`` accepts an Assigned offer and
    means nothing later); the rest are left out rather than refused.
    """

    def __init__(self, engagements: Sequence[EngagementRef]) -> None:
        self.status = {e.uid: Status(e.status) for e in engagements}

    def allows(self, uid: str, action: Action) -> bool:
        side = acting_side(action, Side.SERVICE)
        status = self.status.get(uid)
        if status is None or not permits(status, action, side):
            return False
        after = target(status, action, side)
        if after is not None:
            self.status[uid] = after
        return True

    def accepted(self, uid: str) -> bool:
        return self.status.get(uid) is Status.ACCEPTED

    def active(self, uid: str) -> bool:
        return self.status.get(uid) in (Status.ACCEPTED, Status.IN_PROGRESS)


def action_change(uid: str, key: str, action: Action, *, actor: str, reason: str | None, number: str) -> RemoteChange:
    return RemoteChange(
        kind=ChangeKind.ACTION,
        engagement_uid=uid,
        change_id=key,
        action=action,
        reason=reason,
        actor=actor,
        ticket_number=number,
    )


def entry_change(
    uid: str, key: str, kind: str, data: Mapping[str, Any], *, org: str, user: str, at: datetime
) -> RemoteChange:
    return RemoteChange(
        kind=ChangeKind.ENTRY,
        engagement_uid=uid,
        change_id=key,
        data=EntryMessage(
            key, WireOp.UPSERT, EntryKind(kind), data, Origin(Side.SERVICE, org, user, at.isoformat())
        ).to_wire(),
    )


def parse_time(text: str) -> datetime:
    """A partner system's UTC timestamp (``2026-11-27T00:53:09Z``) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def offer_text(message: OfferMessage, key: str) -> str:
    """The service ticket's description: the lead's description, then the terms as text."""
    offer, terms = message.offer, message.terms
    lines = [str(offer.get("description") or "").strip(), "", "---", "Outsourced ticket"]
    details = {
        "Lead partner": offer.get("lead"),
        "Lead ticket": message.ticket_number or offer.get("number"),
        "Customer contact": offer.get("contact"),
        "Priority": offer.get("priority"),
        "Complete by": terms.get("complete_by") or offer.get("due"),
        "Accept by": human_time(message.acceptance_deadline) if message.acceptance_deadline else None,
    }
    lines += [f"{name}: {value}" for name, value in details.items() if value]
    labels = {
        "rate_type": "Rate type",
        "outsource_rate": "Outsource rate",
        "flat_rate": "Flat rate",
        "authorised_hours": "Authorised hours",
        "authorised_charges": "Authorised charges",
        "total_authorised": "Total authorised",
        "instructions": "Instructions",
    }
    terms_lines = [f"{label}: {terms[name]}" for name, label in labels.items() if terms.get(name) not in (None, "")]
    if terms_lines:
        lines += ["", "Terms", *terms_lines]
    lines += ["", key]
    return "\n".join(lines).strip()


def entry_text(entry: EntryMessage, *, edited: bool) -> str:
    """A note's text, or the structured note that carries a charge (neither system has charges)."""
    origin, data = entry.origin, entry.data
    who = " ".join(x for x in (origin.user, f"({origin.org})" if origin.org else None) if x)
    if entry.entry_kind is EntryKind.CHARGE:
        total = _money(data.get("quantity")) * _money(data.get("unit_price"))
        body = "\n".join(
            [
                f"Charge: {data.get('name') or 'charge'}",
                f"Quantity: {data.get('quantity')}",
                f"Unit price: {data.get('unit_price')}",
                f"Total: {total}",
                f"Billable: {'yes' if data.get('billable') else 'no'}",
            ]
        )
    elif entry.entry_kind is EntryKind.TIME:
        body = f"Time: {data.get('hours')} h on {data.get('work_date')}, {data.get('summary') or ''}".rstrip(", ")
    else:
        body = str(data.get("text") or "")
    prefix = "(edited) " if edited else ""
    return f"{prefix}{body}" + (f"\n\n-- {who}" if who else "")


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def workflow_filter(fresh: Sequence[Event], workflow: Workflow, numbers: Mapping[str, str]) -> list[RemoteChange]:
    """The changes that apply, in order: actions the workflow allows where the engagement stands,
    entries while sync is on, and a start-work action before the first entry on an Accepted engagement."""
    changes: list[RemoteChange] = []
    for event in fresh:
        change = event.change
        uid = change.engagement_uid
        if change.action is not None:
            if workflow.allows(uid, change.action):
                changes.append(change)
            continue
        if not workflow.active(uid):
            continue
        if workflow.accepted(uid) and workflow.allows(uid, Action.START_WORK):
            user = str(EntryMessage.from_wire(change.data).origin.user)
            key = f"{event.key}:work"
            changes.append(action_change(uid, key, Action.START_WORK, actor=user, reason=None, number=numbers[uid]))
        changes.append(change)
    return changes


def attachment_data(filename: str, media_type: str | None, content: bytes) -> dict[str, Any]:
    """An attachment entry's data, as every side sends it: the file inline, base64-encoded."""
    return {
        "filename": filename,
        "media_type": media_type or "application/octet-stream",
        "size": len(content),
        "data": base64.b64encode(content).decode("ascii"),
    }


def offer_due(offer: OfferMessage) -> str | None:
    """The date the service ticket is due: the terms' completion date, else the lead ticket's due date."""
    due = offer.terms.get("complete_by") or offer.offer.get("due")
    return str(due)[:10] if due else None


class ForeignTicketAdapter(PartnerAdapter):
    """The base of adapters for ticket systems that know nothing of outsourcing.

    It owns what every such system shares: loading the settings, polling the open
    engagements' tickets from a cursor, dispatching deliveries by message kind and
    reading the status map. A subclass implements the hooks: its system's events on
    one ticket, creating a ticket, relaying a lead action and pushing an entry.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.NOTES, Capability.PRIVATE_NOTES, Capability.TIME_ENTRIES, Capability.ATTACHMENTS}
    )
    config_schema: ClassVar[type[Schema]] = ForeignConfig
    #: what a partner ticket is called in errors ("Redmine issue")
    ticket_noun: ClassVar[str] = "ticket"

    def __init__(self, partner_id: int, config: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(partner_id, self.config_schema().load(dict(config)), timeout=timeout)

    def deliver(self, message: Outbound) -> DeliveryResult:
        ref = self._deliver(message)
        return DeliveryResult(remote_ref=ref, remote_ticket_number=f"#{ref}")

    def _deliver(self, message: Outbound) -> str:
        """Dispatch by kind: an action no status setting names changes nothing on the partner ticket."""
        sent = message.message
        if isinstance(sent, OfferMessage):
            return self.create_ticket(sent, marker(f"offer:{message.engagement_uid}", message.message_id))
        if message.remote_ref is None:
            raise PermanentAdapterError(f"engagement {message.engagement_uid} has no {self.ticket_noun} yet")
        ref = str(message.remote_ref)
        if isinstance(sent, EntryMessage):
            self.push_entry(ref, marker(sent.entry_key, message.message_id), sent)
        elif sent.action in LEAD_ACTIONS:
            self.relay_action(ref, message.message_id, sent, str(self.config[LEAD_ACTIONS[sent.action]]))
        return ref

    def fetch_changes(self, cursor: str | None, engagements: Sequence[EngagementRef] = ()) -> ChangeBatch:
        position = Cursor.parse(cursor)
        linked = [e for e in engagements if e.remote_ref]
        events = [event for ref in linked for event in self.ticket_events(ref, position)]
        fresh, after = select_new(events, position)
        changes = workflow_filter(fresh, Workflow(linked), {e.uid: f"#{e.remote_ref}" for e in linked})
        return ChangeBatch(changes=tuple(changes), cursor=after.dump() or cursor)

    def mapped(self, status: str) -> Action | None:
        """The outsource action the partner's status means, by the partner's status map (any case)."""
        mapping = {k.lower(): v for k, v in dict(self.config["status_map"]).items()}
        value = mapping.get(status.lower())
        return Action(value) if value else None

    def create_ticket(self, offer: OfferMessage, key: str) -> str:
        """Open the partner ticket for an offer (once: look for ``key`` first); return its id."""
        raise NotImplementedError

    def relay_action(self, ref: str, message_id: str, sent: ActionMessage, status: str) -> None:
        """Tell the partner ticket of a lead action and set it to ``status``, once (a ``marker`` of
        ``message_id`` on what it writes tells a retry it is done)."""
        raise NotImplementedError

    def push_entry(self, ref: str, key: str, entry: EntryMessage) -> None:
        """Write one entry message (upsert or delete) on the partner ticket, once (``key`` marks it)."""
        raise NotImplementedError

    def ticket_events(self, ref: EngagementRef, position: Cursor) -> list[Event]:
        """Everything on the engagement's ticket that we did not write; ``position`` only saves downloads."""
        raise NotImplementedError
