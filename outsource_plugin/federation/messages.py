"""What a partner may send us: one marshmallow schema per message kind, with the host's bounds.

A partner's offer, action or entry is checked here before anything is
stored: the same bounds as the host's own API (a note's length, hours,
quantities and amounts that fit the host's columns), plus size limits on
every string and on attachment bytes. A peer's invalid message is answered
400 naming the field (its delivery job dead-letters it); a foreign adapter's
becomes a sync error on its engagement. Either way it is an
``InvalidPartnerMessage`` and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

from marshmallow import Schema, fields, validate

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.errors import InvalidPartnerMessage, ValidationFailed
from outsource_plugin.host.entries import EntryKind, to_wire
from outsource_plugin.validation.schemas import StrictSchema, TermsSchema, field_names, load, shared
from outsource_plugin.wire import ActionMessage, WireOp
from outsource_plugin.workflow import Action, Status

#: the longest note, from a partner as from the host's own API and ticket page
MAX_NOTE_LENGTH = 100_000
MAX_TITLE_LENGTH = 300
MAX_DESCRIPTION_LENGTH = 100_000
MAX_SUMMARY_LENGTH = 10_000
MAX_REASON_LENGTH = 5_000
#: hours of one time entry: more than nothing, at most a day
HOURS = validate.Range(min=0, max=24, min_inclusive=False)
#: names of people, charges and organisations
NAME = validate.Length(min=1, max=200)
SHORT = validate.Length(max=64)


def amount(digits: int) -> validate.Range:
    """A non-negative amount that fits a ``Numeric(digits, 2)`` column."""
    return validate.Range(min=0, max=10 ** (digits - 2), max_inclusive=False)


QUANTITY = amount(10)
PRICE = amount(12)


def _text(length: validate.Length, *, required: bool = False) -> fields.String:
    return fields.String(required=required, allow_none=not required, validate=length)


def _decimal(bounds: validate.Range, *, required: bool = False) -> fields.Decimal:
    return fields.Decimal(places=2, as_string=True, required=required, validate=bounds)


class Base64Bytes(fields.Field):
    """Bytes as base64 text on the wire. (``fields.Field`` is not generic before marshmallow 3.24.)"""

    default_error_messages = {"invalid": "Not valid base64 text."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as err:
            raise self.make_error("invalid") from err

    def _serialize(self, value: bytes | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else base64.b64encode(value).decode("ascii")


class NoteData(StrictSchema):
    text = _text(validate.Length(min=1, max=MAX_NOTE_LENGTH), required=True)
    internal = fields.Boolean()
    author = _text(NAME)
    question = fields.Boolean()


class TimeData(StrictSchema):
    work_date = fields.Date(required=True)
    hours = _decimal(HOURS, required=True)
    resource = _text(NAME)
    work_type = _text(SHORT)
    summary = _text(validate.Length(max=MAX_SUMMARY_LENGTH))
    billable = fields.Boolean()


class ChargeData(StrictSchema):
    name = _text(NAME, required=True)
    quantity = _decimal(QUANTITY)
    unit_price = _decimal(PRICE)
    unit_cost = _decimal(PRICE)
    billable = fields.Boolean()


class AttachmentData(StrictSchema):
    """An attachment. One over ``OUTSOURCE_MAX_ATTACHMENT_BYTES`` is well formed: the sync engine
    refuses it as a sync error on both sides (``refusals``), which a 400 here would hide."""

    filename = _text(validate.Length(min=1, max=255), required=True)
    media_type = _text(validate.Length(max=127))
    size = fields.Integer(strict=True, validate=validate.Range(min=0))
    data = Base64Bytes(required=True)
    internal = fields.Boolean()


ENTRY_DATA: dict[EntryKind, type[StrictSchema]] = {
    EntryKind.ATTACHMENT: AttachmentData,
    EntryKind.NOTE: NoteData,
    EntryKind.TIME: TimeData,
    EntryKind.CHARGE: ChargeData,
}


class OriginSchema(StrictSchema):
    side = fields.String(validate=validate.OneOf(["lead", "service"]))
    org = _text(NAME)
    user = _text(validate.Length(max=100))
    at = fields.AwareDateTime()


class EntryPayload(StrictSchema):
    entry_key = fields.String(required=True, validate=validate.Length(min=1, max=128))
    #: ``refused``: the partner could not sync one of our entries (``refusals``), and says why
    op = fields.String(required=True, validate=validate.OneOf([op.value for op in WireOp]))
    reason = _text(validate.Length(max=MAX_REASON_LENGTH))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in EntryKind]))
    #: its keys are checked where its values are, by the kind's schema (``ENTRY_DATA``), which
    #: refuses a name it does not know; a delete's and a refusal's data are never read
    data = fields.Dict(load_default=dict)
    origin = fields.Nested(OriginSchema, required=True)
    #: how far the sender had read our feed (peers): decides what crosses a boundary (``sync``)
    seen = fields.Integer(strict=True, validate=validate.Range(min=0))


class OfferSchema(StrictSchema):
    """The lead ticket as the service ticket is opened from it (see ``engagements._offer``)."""

    title = _text(validate.Length(max=MAX_TITLE_LENGTH))
    description = _text(validate.Length(max=MAX_DESCRIPTION_LENGTH))
    priority = _text(validate.Length(max=32))
    due = fields.Date(allow_none=True)
    contact = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(allow_none=True, validate=validate.Length(max=300)),
        allow_none=True,
        validate=validate.Length(max=20),
    )
    number = _text(SHORT)
    lead = _text(NAME)


class OfferPayload(StrictSchema):
    offer = fields.Nested(OfferSchema, required=True)
    terms = fields.Nested(TermsSchema, load_default=dict)
    ticket_number = _text(SHORT)
    acceptance_deadline = fields.DateTime(allow_none=True)
    #: how far the sender had read our feed (peers): decides what crosses a boundary (``sync``)
    seen = fields.Integer(strict=True, validate=validate.Range(min=0))


class ActionPayload(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf([a.value for a in Action]))
    reason = _text(validate.Length(max=MAX_REASON_LENGTH))
    actor = _text(NAME)
    from_status = fields.String(allow_none=True, validate=validate.OneOf([s.value for s in Status]))
    ticket_number = _text(validate.Length(max=128))
    #: how far the sender had read our feed (peers): decides what crosses a boundary (``sync``)
    seen = fields.Integer(strict=True, validate=validate.Range(min=0))


def checked(schema: Schema, data: Any, where: str) -> dict[str, Any]:
    """``data`` loaded by ``schema``; an InvalidPartnerMessage naming each bad field
    (below ``where``, the place of ``data`` in the message) otherwise."""
    try:
        return load(schema, data)
    except ValidationFailed as err:
        details = {where: err.details} if where else err.details
        raise InvalidPartnerMessage(f"invalid input: {', '.join(field_names(details))}", details=details) from err


def checked_action(payload: Any) -> ActionMessage:
    """A peer's action message, checked and typed."""
    return ActionMessage.from_wire(checked(shared(ActionPayload), payload, "payload"))


def checked_change(change: RemoteChange) -> RemoteChange:
    """The change with its data checked and put in wire form; raises InvalidPartnerMessage.

    Whatever adapter it came from, a change reaches the sync engine and the
    workflow only through here.
    """
    if change.kind is ChangeKind.OFFER:
        schema = shared(OfferPayload)
        return replace(change, data=schema.dump(checked(schema, dict(change.data), "payload")))
    if change.kind is ChangeKind.ENTRY:
        return replace(change, data=_entry(dict(change.data)))
    if change.action is None:
        # an action message that could not be read: its payload says what is wrong
        checked(shared(ActionPayload), dict(change.data), "payload")
    fields_of = {"reason": change.reason, "actor": change.actor, "ticket_number": change.ticket_number}
    if "seen" in change.data:
        fields_of["seen"] = change.data["seen"]
    action = change.action.value if change.action is not None else None
    checked(shared(ActionPayload), {"action": action, **fields_of}, "payload")
    return change


def _entry(payload: dict[str, Any]) -> dict[str, Any]:
    """An entry message with its values checked against their kind's schema, in wire form.

    An attachment's size is what arrived, and a time entry without a resource
    is the partner user's who logged it.
    """
    loaded = checked(shared(EntryPayload), payload, "payload")
    kind = EntryKind(loaded["kind"])
    schema = shared(ENTRY_DATA[kind])
    values = checked(schema, loaded["data"], "payload.data") if loaded["op"] == WireOp.UPSERT else {}
    if kind is EntryKind.ATTACHMENT and values:
        values["size"] = len(values["data"])
    if kind is EntryKind.TIME and values and not values.get("resource"):
        values["resource"] = loaded["origin"].get("user") or "partner"
    if loaded["op"] == WireOp.REFUSED:
        return payload  # only its reason and key are read (``refusals.refused_by_partner``)
    return {**payload, "data": to_wire(kind, values)}
