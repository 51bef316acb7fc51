"""The demo help desk's pages: a ticket list and a ticket page with the plugin's bar and menu."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from examples.helpdesk.api import ENTRY_KINDS, NoteSchema, TicketSchema, canonical_ids
from examples.helpdesk.auth import check_csrf, current_user
from examples.helpdesk.models import Attachment, Charge, Note, Ticket, TimeEntry, db
from outsource_plugin.errors import ReadOnlyEntry, ValidationFailed
from outsource_plugin.federation.messages import MAX_NOTE_LENGTH
from outsource_plugin.validation.filenames import safe_filename
from outsource_plugin.validation.schemas import load

helpdesk = Blueprint("helpdesk", __name__, template_folder="templates")
helpdesk.url_value_preprocessor(canonical_ids)


@helpdesk.before_request
def _signed_in() -> ResponseReturnValue | None:
    if current_user() is None:
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        check_csrf()
    return None


@helpdesk.get("/")
def index() -> ResponseReturnValue:
    tickets = db.session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(200)).all()
    return render_template("index.html", tickets=tickets)


@helpdesk.post("/tickets")
def ticket_create() -> ResponseReturnValue:
    title = request.form.get("title", "").strip()
    if not title:
        flash("A ticket needs a title.", "error")
        return redirect(url_for("helpdesk.index"))
    try:
        values = load(TicketSchema(), {"title": title[:300], "description": request.form.get("description", "")})
    except ValidationFailed as err:
        flash(f"That ticket is not valid: {err.message}.", "error")
        return redirect(url_for("helpdesk.index"))
    ticket = Ticket(**values, status=current_app.config["HELPDESK_STATUSES"][0])
    db.session.add(ticket)
    db.session.commit()
    return redirect(url_for("helpdesk.ticket_page", ticket_id=ticket.id))


@helpdesk.get("/tickets/<ticket_id>")
def ticket_page(ticket_id: int) -> ResponseReturnValue:
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    return render_template("ticket.html", ticket=ticket, statuses=current_app.config["HELPDESK_STATUSES"])


@helpdesk.post("/tickets/<ticket_id>/status")
def ticket_status(ticket_id: int) -> ResponseReturnValue:
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    status = request.form.get("status", "")
    if status not in current_app.config["HELPDESK_STATUSES"]:
        abort(400, "unknown status")
    ticket.status = status
    db.session.commit()
    return _back(ticket_id)


@helpdesk.post("/tickets/<ticket_id>/entries/<kind>")
def entry_create(ticket_id: int, kind: str) -> ResponseReturnValue:
    ticket = db.session.get(Ticket, ticket_id) or abort(404)
    user = current_user()
    assert user is not None
    if kind == "attachment" and "file" in request.files:
        return _attachment_create(ticket)
    if kind not in FORM_KINDS:
        flash("Nothing to add: fill in the form first.", "error")
        return _back(ticket_id)
    model, schema = ENTRY_KINDS[FORM_KINDS[kind]]
    try:
        values = load(schema(), _entry_body(kind, request.form))
    except ValidationFailed as err:
        flash(f"That entry is not valid: {err.message}.", "error")
        return _back(ticket_id)
    if model is Note:
        values["author"] = user.name
    elif model is TimeEntry:
        values["resource"] = user.name
    db.session.add(model(ticket_id=ticket.id, **values))
    db.session.commit()
    return _back(ticket_id)


#: the page's entry kinds, as the JSON API names them: one schema checks both
FORM_KINDS = {"note": "notes", "time": "time", "charge": "charges"}


def _entry_body(kind: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """The entry form in the JSON API's shape; blank numbers take the form's defaults."""
    if kind == "note":
        return {"body": form.get("body", "").strip(), "internal": "internal" in form}
    if kind == "time":
        return {
            "work_date": form.get("work_date") or date.today().isoformat(),
            "hours": form.get("hours", ""),
            "summary": form.get("summary", ""),
            "billable": "billable" in form,
        }
    return {
        "name": form.get("name", "").strip(),
        "quantity": form.get("quantity") or "1",
        "unit_price": form.get("unit_price") or "0",
        "unit_cost": form.get("unit_cost") or "0",
        "billable": "billable" in form,
    }


def _attachment_create(ticket: Ticket) -> ResponseReturnValue:
    upload = request.files["file"]
    data = upload.read()
    if len(data) > int(current_app.config["OUTSOURCE_MAX_ATTACHMENT_BYTES"]):
        flash("That file is larger than attachments may be.", "error")
        return _back(ticket.id)
    db.session.add(
        Attachment(
            ticket_id=ticket.id,
            filename=safe_filename(upload.filename or ""),
            media_type=upload.mimetype or "application/octet-stream",
            size=len(data),
            data=data,
            internal="internal" in request.form,
        )
    )
    db.session.commit()
    return _back(ticket.id)


@helpdesk.post("/tickets/<ticket_id>/notes/<note_id>")
def note_edit(ticket_id: int, note_id: int) -> ResponseReturnValue:
    """Edit a note's text. A note the sync rules make read-only is refused at commit: say so."""
    note = _entry_or_404(Note, ticket_id, note_id)
    body = request.form.get("body", "").strip()
    if not body:
        flash("A note cannot be empty.", "error")
        return _back(ticket_id)
    if len(body) > MAX_NOTE_LENGTH:
        flash(f"A note may be at most {MAX_NOTE_LENGTH} characters.", "error")
        return _back(ticket_id)
    try:
        body = load(NoteSchema(partial=True), {"body": body})["body"]
    except ValidationFailed as err:
        flash(f"The note was not changed: {err.message}.", "error")
        return _back(ticket_id)
    note.body = body
    note.internal = "internal" in request.form
    if _committed("The note was not changed"):
        flash("Note saved.")
    return _back(ticket_id)


#: the page's entry kinds, as the plugin names them, and their models
PAGE_MODELS: dict[str, type] = {"note": Note, "time": TimeEntry, "charge": Charge, "attachment": Attachment}


@helpdesk.post("/tickets/<ticket_id>/entries/<kind>/<entry_id>/delete")
def entry_delete(ticket_id: int, kind: str, entry_id: int) -> ResponseReturnValue:
    """Delete an entry. A read-only one shows no Delete button, and the plugin refuses it at commit anyway."""
    if kind not in PAGE_MODELS:
        abort(404)
    db.session.delete(_entry_or_404(PAGE_MODELS[kind], ticket_id, entry_id))
    if _committed(f"The {kind} was not deleted"):
        flash(f"{kind.capitalize()} deleted.")
    return _back(ticket_id)


def _committed(refused: str) -> bool:
    """Commit an entry's change; one the sync rules make read-only is rolled back and the reason flashed."""
    try:
        db.session.commit()
    except ReadOnlyEntry as err:
        db.session.rollback()
        flash(f"{refused}: {err.message}.", "error")
        return False
    return True


def _entry_or_404(model: type, ticket_id: int, entry_id: int) -> Any:
    entry = db.session.get(model, entry_id)
    if entry is None or entry.ticket_id != ticket_id:
        abort(404)
    return entry


def _back(ticket_id: int) -> ResponseReturnValue:
    return redirect(url_for("helpdesk.ticket_page", ticket_id=ticket_id))
