"""The demo help desk's own JSON API for tickets and entries.

``GET  /api/me``                               the caller
``GET  /api/customers``                        customers, by name
``GET  /api/tickets``                          tickets, newest first
``POST /api/tickets``                          open a ticket
``GET  /api/tickets/<id>``                     a ticket with its notes, time, charges, attachments; each
                                               entry's ``outsource`` says whether it is our own or a
                                               partner's copy (``origin``: partner, user, at), and whether
                                               it is read-only now and why (``read_only_reason``); its
                                               ``origin`` is null for our own unlocked entry, else partner,
                                               author ("Tess Tech (Contoso)"), read_only, locked_reason
``PATCH /api/tickets/<id>``                    change status, title, priority, ...
``DELETE /api/tickets/<id>``                   delete (refused once outsourcing was accepted)
``POST /api/tickets/<id>/notes|time|charges``  add an entry
``POST /api/tickets/<id>/attachments``         multipart upload, field ``file``
``PATCH|DELETE /api/tickets/<id>/<kind>/<entry id>``  edit or delete an entry (kind: notes, time, charges;
                                               attachments can be deleted)
``GET  /api/attachments/<id>``                 the attachment's bytes

Every call needs ``Authorization: Bearer <token>`` (or a signed-in session; a write signed in by the
session cookie also sends the page's CSRF token as ``X-CSRF-Token`` or a ``csrf_token`` form field).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from examples.helpdesk.auth import check_csrf, current_user, signed_by_token
from examples.helpdesk.models import Attachment, Charge, Customer, Note, Ticket, TimeEntry, User, db
from outsource_plugin.blueprints.api_common import row_id
from outsource_plugin.core.costs import cost_hidden
from outsource_plugin.errors import NotAuthenticated, NotFound, OutsourceError, PayloadTooLarge, ValidationFailed
from outsource_plugin.federation.messages import (
    HOURS,
    MAX_DESCRIPTION_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_SUMMARY_LENGTH,
    MAX_TITLE_LENGTH,
    NAME,
    SHORT,
    amount,
)
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.origins import Origin, TicketOrigins, entry_origins
from outsource_plugin.validation.filenames import safe_filename
from outsource_plugin.validation.media_types import download_headers, safe_media_type
from outsource_plugin.validation.schemas import StrictSchema, load

helpdesk_api = Blueprint("helpdesk_api", __name__)
log = logging.getLogger(__name__)


#: PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a lock race, and
#: doing it again is the documented answer
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def retry_lost_lock_races(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Run a JSON write again (up to three times) when the database aborted it to break a deadlock.

    A note committed on an outsourced ticket also locks the partner's row (the plugin numbers the
    message it sends); a worker applying that partner's message at the same moment can close a
    cycle with it, and PostgreSQL aborts one side. A JSON body is kept by Flask; an upload is rewound.
    """

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        for attempt in range(3):
            try:
                return view(*args, **kwargs)
            except OperationalError as err:
                db.session.rollback()
                if getattr(err.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES or attempt == 2:
                    raise
                log.warning(
                    "%s %s: the database aborted it to break a deadlock; running it again", request.method, request.path
                )
                for upload in request.files.values():
                    upload.stream.seek(0)
        raise AssertionError("unreachable")

    return run


#: ids fit the 32-bit id columns
_ROW_ID = validate.Range(min=1, max=2**31 - 1)


def _amount(default: int, digits: int) -> fields.Decimal:
    """A non-negative amount that fits a ``Numeric(digits, 2)`` column."""
    return fields.Decimal(load_default=default, places=2, validate=amount(digits))


class TicketSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TITLE_LENGTH))
    description = fields.String(load_default="", validate=validate.Length(max=MAX_DESCRIPTION_LENGTH))
    priority = fields.String(load_default="Medium", validate=validate.OneOf(["Low", "Medium", "High", "Critical"]))
    due_date = fields.Date(load_default=None, allow_none=True)
    customer_id = fields.Integer(strict=True, load_default=None, allow_none=True, validate=_ROW_ID)
    contact = fields.Dict(load_default=dict)
    status = fields.String(validate=validate.Length(min=1, max=64))
    assignee_id = fields.Integer(strict=True, allow_none=True, validate=_ROW_ID)


class NoteSchema(StrictSchema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NOTE_LENGTH))
    internal = fields.Boolean(load_default=False)


class TimeSchema(StrictSchema):
    work_date = fields.Date(required=True)
    hours = fields.Decimal(required=True, places=2, validate=HOURS)
    work_type = fields.String(load_default="Remote support", validate=SHORT)
    summary = fields.String(load_default="", validate=validate.Length(max=MAX_SUMMARY_LENGTH))
    billable = fields.Boolean(load_default=True)


class ChargeSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    quantity = _amount(1, 10)
    unit_price = _amount(0, 12)
    unit_cost = _amount(0, 12)
    billable = fields.Boolean(load_default=True)


ENTRY_KINDS: dict[str, tuple[type, type[Schema]]] = {
    "notes": (Note, NoteSchema),
    "time": (TimeEntry, TimeSchema),
    "charges": (Charge, ChargeSchema),
}


@helpdesk_api.errorhandler(OutsourceError)
def _outsource_error(err: OutsourceError) -> ResponseReturnValue:
    db.session.rollback()
    return jsonify(err.to_dict()), err.status_code


@helpdesk_api.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> ResponseReturnValue:
    body = {"error": (err.name or "error").lower().replace(" ", "_"), "message": err.description}
    return jsonify(body), err.code or 500


def canonical_ids(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Ids in the demo's URLs have one spelling each: a ticket's is the one the plugin's host
    adapter gives (so ``05`` is not ticket 5: the plugin knows each ticket by that one id), other
    rows' are plain digits within the id column. Any other spelling, or a larger number, is a 404."""
    if values is None:
        return
    for name, value in list(values.items()):
        if not name.endswith("_id"):
            continue
        canonical = current_outsource().host.canonical_ticket_id(value) if name == "ticket_id" else value
        number = row_id(canonical) if canonical is not None else None
        if number is None:
            raise NotFound(f"no {name.removesuffix('_id')} {value[:40]!r}")
        values[name] = number


helpdesk_api.url_value_preprocessor(canonical_ids)


@helpdesk_api.before_request
def _signed_in() -> None:
    if current_user() is None:
        raise NotAuthenticated("send Authorization: Bearer <token>, or sign in")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not signed_by_token():
        # signed in by the session cookie, which a page on another site can make the browser send
        check_csrf()


def _body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationFailed("send a JSON object as application/json", details={"_body": ["malformed JSON"]})
    return data


def _ticket(ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def _plain(obj: Any, *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
        if name in ("hours", "quantity", "unit_price", "unit_cost"):
            out[name] = str(value)
    return out


def ticket_json(ticket: Ticket, *, entries: bool = False) -> dict[str, Any]:
    body = _plain(ticket, "id", "number", "title", "description", "status", "priority", "due_date", "customer_id")
    body["contact"] = ticket.contact
    if entries:
        origins = entry_origins(ticket)
        body["notes"] = [
            _entry_json(origins, EntryKind.NOTE, n, "id", "author", "body", "internal", "created_at")
            for n in ticket.notes
        ]
        body["time_entries"] = [
            _entry_json(
                origins, EntryKind.TIME, t, "id", "resource", "work_date", "hours", "work_type", "summary", "billable"
            )
            for t in ticket.time_entries
        ]
        body["charges"] = [_charge_json(origins, c) for c in ticket.charges]
        body["attachments"] = [
            _entry_json(origins, EntryKind.ATTACHMENT, a, "id", "filename", "media_type", "size", "internal")
            for a in ticket.attachments
        ]
    return body


def _entry_json(origins: TicketOrigins, kind: EntryKind, entry: Any, *names: str) -> dict[str, Any]:
    """An entry's fields, its standing under the sync rules and its ``origin`` (None for our own unlocked
    entry): the same rule the ticket page shows."""
    standing = origins.standing(kind, entry)
    origin = Origin.of(standing)
    return {
        **_plain(entry, *names),
        "outsource": standing.to_json(),
        "origin": origin.to_json() if origin else None,
    }


def _charge_json(origins: TicketOrigins, charge: Charge) -> dict[str, Any]:
    """A charge; the plugin's "Outsourcing cost" charge without its amounts below Allow All."""
    body = _entry_json(
        origins, EntryKind.CHARGE, charge, "id", "name", "quantity", "unit_price", "unit_cost", "billable"
    )
    if cost_hidden(current_outsource(), charge):
        body["unit_price"] = body["unit_cost"] = None
    return body


@helpdesk_api.get("/me")
def me() -> ResponseReturnValue:
    user: User = current_user()  # type: ignore[assignment]
    return jsonify({"id": user.id, "name": user.name, "email": user.email, "outsource_level": user.outsource_level})


@helpdesk_api.get("/customers")
def customers() -> ResponseReturnValue:
    rows = db.session.scalars(select(Customer).order_by(Customer.name))
    return jsonify({"customers": [{"id": c.id, "name": c.name} for c in rows]})


@helpdesk_api.get("/tickets")
def tickets() -> ResponseReturnValue:
    rows = db.session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(200))
    return jsonify({"tickets": [ticket_json(t) for t in rows]})


@helpdesk_api.post("/tickets")
@retry_lost_lock_races
def ticket_create() -> ResponseReturnValue:
    data = load(TicketSchema(), _body())
    data.setdefault("status", current_app.config["HELPDESK_STATUSES"][0])
    _check_status(data["status"])
    _check_references(data)
    ticket = Ticket(**data)
    db.session.add(ticket)
    db.session.commit()
    return jsonify(ticket_json(ticket)), 201


@helpdesk_api.get("/tickets/<ticket_id>")
def ticket_read(ticket_id: int) -> ResponseReturnValue:
    return jsonify(ticket_json(_ticket(ticket_id), entries=True))


@helpdesk_api.patch("/tickets/<ticket_id>")
@retry_lost_lock_races
def ticket_update(ticket_id: int) -> ResponseReturnValue:
    ticket = _ticket(ticket_id)
    data = load(TicketSchema(partial=True), _body())
    if "status" in data:
        _check_status(data["status"])
    _check_references(data)
    for key, value in data.items():
        setattr(ticket, key, value)
    db.session.commit()
    return jsonify(ticket_json(ticket))


@helpdesk_api.delete("/tickets/<ticket_id>")
@retry_lost_lock_races
def ticket_delete(ticket_id: int) -> ResponseReturnValue:
    ticket = _ticket(ticket_id)
    # no check first: the plugin refuses the commit while the ticket holds accepted outsourced work
    for entry in (*ticket.notes, *ticket.time_entries, *ticket.charges, *ticket.attachments):
        db.session.delete(entry)
    db.session.delete(ticket)
    db.session.commit()
    return "", 204


@helpdesk_api.post("/tickets/<ticket_id>/<kind>")
@retry_lost_lock_races
def entry_create(ticket_id: int, kind: str) -> ResponseReturnValue:
    user: User = current_user()  # type: ignore[assignment]
    ticket = _ticket(ticket_id)
    if kind == "attachments":
        return _attachment_create(ticket)
    model, schema = _entry_kind(kind)
    data = load(schema(), _body())
    if model is Note:
        data["author"] = user.name
    elif model is TimeEntry:
        data["resource"] = user.name
    entry = model(ticket_id=ticket.id, **data)
    db.session.add(entry)
    db.session.commit()
    return jsonify({"id": entry.id}), 201


@helpdesk_api.patch("/tickets/<ticket_id>/<kind>/<entry_id>")
@retry_lost_lock_races
def entry_update(ticket_id: int, kind: str, entry_id: int) -> ResponseReturnValue:
    model, schema = _entry_kind(kind)
    entry = _entry(model, ticket_id, entry_id)
    for key, value in load(schema(partial=True), _body()).items():
        setattr(entry, key, value)
    db.session.commit()
    return jsonify({"id": entry.id})


@helpdesk_api.delete("/tickets/<ticket_id>/<kind>/<entry_id>")
@retry_lost_lock_races
def entry_delete(ticket_id: int, kind: str, entry_id: int) -> ResponseReturnValue:
    model = Attachment if kind == "attachments" else _entry_kind(kind)[0]
    db.session.delete(_entry(model, ticket_id, entry_id))
    db.session.commit()
    return "", 204


def _entry_kind(kind: str) -> tuple[type, type[Schema]]:
    if kind not in ENTRY_KINDS:
        raise NotFound(f"no entry kind '{kind}'")
    return ENTRY_KINDS[kind]


def _entry(model: type, ticket_id: int, entry_id: int) -> Any:
    entry = db.session.get(model, entry_id)
    if entry is None or entry.ticket_id != ticket_id:
        raise NotFound(f"ticket {ticket_id} has no such entry {entry_id}")
    return entry


def _attachment_create(ticket: Ticket) -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("send the file as multipart field 'file'", details={"file": ["missing"]})
    data = upload.read()
    limit = int(current_app.config["OUTSOURCE_MAX_ATTACHMENT_BYTES"])
    if len(data) > limit:
        raise PayloadTooLarge(
            f"the file is {len(data)} bytes; attachments may be at most {limit} bytes",
            details={"file": [f"larger than {limit} bytes"]},
        )
    attachment = Attachment(
        ticket_id=ticket.id,
        filename=safe_filename(upload.filename),
        media_type=upload.mimetype or "application/octet-stream",
        size=len(data),
        data=data,
        internal=request.form.get("internal", "false").lower() in ("1", "true", "on"),
    )
    db.session.add(attachment)
    db.session.commit()
    return jsonify({"id": attachment.id, "size": attachment.size}), 201


@helpdesk_api.get("/attachments/<attachment_id>")
def attachment_read(attachment_id: int) -> ResponseReturnValue:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"attachment {attachment_id} does not exist")
    # a partner's (or a user's) file must not run as a page of the help desk: stored XSS
    return Response(attachment.data, mimetype=safe_media_type(attachment.media_type), headers=download_headers())


def _check_references(data: dict[str, Any]) -> None:
    """An unknown customer or assignee is bad input (400), not a database integrity error."""
    for name, model in (("customer_id", Customer), ("assignee_id", User)):
        if data.get(name) is not None and db.session.get(model, data[name]) is None:
            raise ValidationFailed(f"{name} {data[name]} does not exist", details={name: ["no such id"]})


def _check_status(status: str) -> None:
    if status not in current_app.config["HELPDESK_STATUSES"]:
        raise ValidationFailed(
            f"unknown status '{status}'",
            details={"status": [f"one of: {', '.join(current_app.config['HELPDESK_STATUSES'])}"]},
        )
