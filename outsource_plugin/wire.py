"""The messages partners exchange, typed: an offer, an action, an entry change.

The outbox stores them, adapters deliver them and the sync engine reads what
arrives through them, so each rule about their content lives here once: the
entry key of a new entry's life, the lead's time that crosses as a note, and
the digest that reconciliation compares. ``to_wire`` gives the JSON the
federation API and the outbox table hold; ``from_wire`` reads it back (an
incoming one is checked first by ``outsource_plugin.federation.messages``).
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache, cached_property
from typing import Any, ClassVar

from outsource_plugin.host.entries import EntryKind, from_wire
from outsource_plugin.workflow import Action, Side, Status


class MessageKind(str, Enum):
    """The three kinds of message partners exchange; the outbox stores it beside the payload."""

    OFFER = "offer"
    ACTION = "action"
    ENTRY = "entry"


class WireOp(str, Enum):
    """What an entry message does to the receiver's copy."""

    UPSERT = "upsert"
    DELETE = "delete"
    #: the partner could not sync one of our entries (``refusals``), and says why
    REFUSED = "refused"


def entry_key(side: Side, kind: EntryKind, local_id: str, token: str | None = None) -> str:
    """The key of a new life of one entry, as both sides will know it.

    The owner's id alone is not enough: a host may give a deleted entry's id
    to its next entry, and the partner must see that one as a new entry, not
    as the deleted one come back. The token makes each life's key its own: the
    same 32 random bits a uuid4's first eight hex digits held, without building
    the UUID (a twentieth of capture's time in a bulk write). ``token``: one of
    ``key_tokens``, when a flush makes many keys; else one is drawn here.
    """
    return f"{side.value}:{kind.value}:{local_id}:{token or secrets.token_hex(4)}"


def key_tokens(count: int) -> list[str]:
    """``count`` tokens for ``entry_key`` from one read of the OS's randomness: a bulk write makes
    a key per new entry, and a read per key was a twentieth of capture's time."""
    digits = secrets.token_hex(4 * count)
    return [digits[start : start + 8] for start in range(0, 8 * count, 8)]


def time_as_note(values: Mapping[str, Any]) -> dict[str, Any]:
    """A time entry as the note that stands for it where time cannot go: the lead's time
    is not the partner's to bill, and a host without time entries must not lose it."""
    parts = [
        f"Time entry by {values.get('resource') or 'the lead'}",
        f"on {values.get('work_date')}" if values.get("work_date") else "",
        f": {values.get('hours')} h",
    ]
    summary = values.get("summary")
    text = "".join(p if p.startswith(":") else f" {p}" for p in parts if p).strip()
    return {"text": text + (f", {summary}" if summary else ""), "internal": False}


def crossing_kind(owner: Side, kind: EntryKind) -> EntryKind:
    """The kind one of ``owner``'s entries has on the partner's side: the lead's time is a note there."""
    return EntryKind.NOTE if owner is Side.LEAD and kind is EntryKind.TIME else kind


def crossing(owner: Side, kind: EntryKind, values: Mapping[str, Any]) -> tuple[EntryKind, dict[str, Any]]:
    """One of ``owner``'s entries as the partner receives it: its kind there and its values."""
    shown = crossing_kind(owner, kind)
    return (shown, time_as_note(values)) if shown is not kind else (kind, dict(values))


#: the fields of each kind that arrive on the other side as they were sent
COMPARED: dict[EntryKind, tuple[str, ...]] = {
    EntryKind.NOTE: ("text",),
    EntryKind.TIME: ("work_date", "hours", "resource", "work_type", "summary", "billable"),
    EntryKind.CHARGE: ("name", "quantity", "unit_price", "unit_cost", "billable"),
    EntryKind.ATTACHMENT: ("filename", "media_type", "data"),
}


def digest(kind: EntryKind, values: Mapping[str, Any]) -> str:
    """A short fingerprint of an entry's crossing content, equal on both sides when in sync.

    ``values`` are Python values (a host's, or ``from_wire``'s). Decimals are
    normalised, since one database keeps ``1.50`` where the other says ``1.5``.
    Only what crosses unchanged counts: a note's text, not its author or its
    ``internal`` flag, which the receiver sets itself.
    """
    picked: dict[str, Any] = {}
    for name in COMPARED[kind]:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, bytes):
            value = hashlib.sha256(value).hexdigest()
        elif isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        elif isinstance(value, date):
            value = value.isoformat()
        picked[name] = value
    text = json.dumps([kind.value, picked], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _seen(payload: Mapping[str, Any]) -> int | None:
    seen = payload.get("seen")
    return seen if isinstance(seen, int) else None


def _with_seen(wire: dict[str, Any], seen: int | None) -> dict[str, Any]:
    """``seen`` goes last, and only when the sender's feed is numbered (``outbox.enqueue``)."""
    return wire if seen is None else {**wire, "seen": seen}


def _json_writer() -> Callable[[Any], str]:
    """``json.dumps`` with its default arguments, its C encoder made once: ``json.dumps`` makes one
    for every call, and an outbox batch writes thousands of entry messages (``EntryMessage.to_json``).
    It skips ``json.dumps``'s check for cycles, which wire values (a host's field values, a parsed
    message) cannot have. Without the C accelerator, ``json.dumps`` itself."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps
    encoder = json.JSONEncoder()
    encode = make(
        None,  # no markers: no cycle check
        encoder.default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    return lambda value: "".join(encode(value, 0))


_dumps = _json_writer()


@cache
def _quoted(member: Enum) -> str:
    """An enum member's value as JSON text, made once per member."""
    return json.dumps(member.value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class OfferMessage:
    """The lead ticket offered to the service partner, with the terms frozen at send."""

    kind: ClassVar[MessageKind] = MessageKind.OFFER

    offer: Mapping[str, Any]
    terms: Mapping[str, Any] = field(default_factory=dict)
    ticket_number: str | None = None
    acceptance_deadline: datetime | None = None
    #: how far the sender had read our feed (peers): decides what crosses a boundary (``sync``)
    seen: int | None = None

    def to_wire(self) -> dict[str, Any]:
        deadline = self.acceptance_deadline.isoformat() if self.acceptance_deadline else None
        wire = {
            "offer": dict(self.offer),
            "terms": dict(self.terms),
            "ticket_number": self.ticket_number,
            "acceptance_deadline": deadline,
        }
        return _with_seen(wire, self.seen)

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> OfferMessage:
        deadline = payload.get("acceptance_deadline")
        return cls(
            offer=dict(payload.get("offer") or {}),
            terms=dict(payload.get("terms") or {}),
            ticket_number=_text(payload.get("ticket_number")),
            acceptance_deadline=datetime.fromisoformat(deadline) if isinstance(deadline, str) else None,
            seen=_seen(payload),
        )


@dataclass(frozen=True)
class ActionMessage:
    """An outsource action one side performed, relayed to the other."""

    kind: ClassVar[MessageKind] = MessageKind.ACTION

    action: Action
    reason: str | None = None
    actor: str | None = None
    from_status: Status | None = None
    ticket_number: str | None = None
    seen: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = {
            "action": self.action.value,
            "reason": self.reason,
            "actor": self.actor,
            "from_status": self.from_status.value if self.from_status else None,
            "ticket_number": self.ticket_number,
        }
        return _with_seen(wire, self.seen)

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> ActionMessage:
        before = payload.get("from_status")
        return cls(
            action=Action(payload["action"]),
            reason=_text(payload.get("reason")),
            actor=_text(payload.get("actor")),
            from_status=Status(before) if before else None,
            ticket_number=_text(payload.get("ticket_number")),
            seen=_seen(payload),
        )


@dataclass(frozen=True)
class Origin:
    """Who made an entry change, where and when (``at`` as the sender's ISO time)."""

    side: Side | None = None
    org: str | None = None
    user: str | None = None
    at: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = {"side": self.side.value if self.side else None, "org": self.org, "user": self.user, "at": self.at}
        return {name: value for name, value in wire.items() if value is not None}

    @cached_property
    def json_text(self) -> str:
        """``to_wire`` as JSON text, made once: a flush's messages share their origins (``flush_reads.Stamp``)."""
        return json.dumps(self.to_wire())

    @classmethod
    def from_wire(cls, payload: Any) -> Origin:
        origin = payload if isinstance(payload, Mapping) else {}
        side = origin.get("side")
        return cls(
            side=Side(side) if side in (Side.LEAD.value, Side.SERVICE.value) else None,
            org=_text(origin.get("org")),
            user=_text(origin.get("user")),
            at=_text(origin.get("at")),
        )

    @property
    def made_at(self) -> datetime | None:
        """When the change was made, if the sender said so as a time with a zone."""
        if self.at is None:
            return None
        try:
            made = datetime.fromisoformat(self.at)
        except ValueError:
            return None
        return made if made.tzinfo is not None else None


@dataclass(frozen=True)
class EntryMessage:
    """A change to one synced entry; ``data`` holds its values in wire form (``entries.to_wire``)."""

    kind: ClassVar[MessageKind] = MessageKind.ENTRY

    entry_key: str
    op: WireOp
    entry_kind: EntryKind
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin = field(default_factory=Origin)
    #: why the entry was refused (``op`` refused)
    reason: str | None = None
    seen: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "entry_key": self.entry_key,
            "op": self.op.value,
            "kind": self.entry_kind.value,
            "data": dict(self.data),
        }
        if self.reason is not None:
            wire["reason"] = self.reason
        wire["origin"] = self.origin.to_wire()
        return _with_seen(wire, self.seen)

    def to_json(self, seen: int | None = None) -> str:
        """``json.dumps`` of ``to_wire``, with ``seen`` (when given) in place of the message's own.

        Written from its parts: an outbox batch stores thousands of entry messages (``outbox.number_batch``),
        and a dictionary built only to be encoded whole was a tenth of capture's time.
        """
        data = self.data if isinstance(self.data, dict) else dict(self.data)
        reason = "" if self.reason is None else f', "reason": {_dumps(self.reason)}'
        seen = self.seen if seen is None else seen
        end = "}" if seen is None else f', "seen": {_dumps(seen)}}}'
        return (
            f'{{"entry_key": {_dumps(self.entry_key)}, "op": {_quoted(self.op)}, "kind": {_quoted(self.entry_kind)}'
            f', "data": {_dumps(data)}{reason}, "origin": {self.origin.json_text}{end}'
        )

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> EntryMessage:
        return cls(
            entry_key=str(payload["entry_key"]),
            op=WireOp(payload["op"]),
            entry_kind=EntryKind(payload["kind"]),
            data=dict(payload.get("data") or {}),
            origin=Origin.from_wire(payload.get("origin")),
            reason=_text(payload.get("reason")),
            seen=_seen(payload),
        )

    def values(self) -> dict[str, Any]:
        """The entry's values as Python values (dates, decimals, bytes)."""
        return from_wire(self.entry_kind, self.data)

    def digest(self) -> str | None:
        """The entry's digest as the receiver holds it; None once it is deleted."""
        return None if self.op is WireOp.DELETE else digest(self.entry_kind, self.values())


WireMessage = OfferMessage | ActionMessage | EntryMessage

#: each message kind's class, to read a stored or received payload back
BY_KIND: dict[MessageKind, type[WireMessage]] = {
    MessageKind.OFFER: OfferMessage,
    MessageKind.ACTION: ActionMessage,
    MessageKind.ENTRY: EntryMessage,
}


def message_from_wire(kind: MessageKind, payload: Mapping[str, Any]) -> WireMessage:
    """A stored outbox payload (or a received one) as its typed message."""
    return BY_KIND[kind].from_wire(payload)
