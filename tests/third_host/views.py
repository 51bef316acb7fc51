"""Litware's pages, on the module-level app: sign-in, the ticket list, a ticket with its replies and
uploads, and the forms that reply, upload, close and delete. ``flask litware seed`` adds its users."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import click
from flask import abort, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.utils import secure_filename

from tests.third_host.helpdesk import app
from tests.third_host.models import Reply, Status, Ticket, Upload, User, db


def now() -> datetime:
    """Litware keeps naive UTC times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def status_named(name: str) -> Status:
    return db.session.scalars(select(Status).where(Status.name == name)).one()


def ticket_or_404(ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        abort(404)
    return ticket


def back_to(ticket: Ticket) -> ResponseReturnValue:
    return redirect(url_for("ticket_page", ticket_id=ticket.id))


@app.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "POST":
        user = db.session.scalars(select(User).where(User.username == request.form.get("username", ""))).first()
        if user is not None and check_password_hash(user.password_hash, request.form.get("password", "")):
            login_user(user)
            return redirect(url_for("index"))
    return render_template("litware_login.html")


@app.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("login"))


@app.get("/")
@login_required
def index() -> ResponseReturnValue:
    tickets = db.session.scalars(select(Ticket).order_by(Ticket.id.desc()))
    return render_template("litware_index.html", tickets=tickets)


@app.post("/tickets")
@login_required
def ticket_new() -> ResponseReturnValue:
    ticket = Ticket(
        subject=request.form["subject"],
        body=request.form.get("body", ""),
        category=request.form.get("category", "General"),
        status=status_named("Open"),
        creator_id=current_user.id,
        created_at=now(),
    )
    db.session.add(ticket)
    db.session.commit()
    return back_to(ticket)


@app.get("/tickets/<int:ticket_id>")
@login_required
def ticket_page(ticket_id: int) -> ResponseReturnValue:
    return render_template("litware_ticket.html", ticket=ticket_or_404(ticket_id))


@app.post("/tickets/<int:ticket_id>/replies")
@login_required
def reply_new(ticket_id: int) -> ResponseReturnValue:
    ticket = ticket_or_404(ticket_id)
    try:
        hours = Decimal(request.form.get("hours") or "0")
    except InvalidOperation:
        abort(400)
    db.session.add(
        Reply(ticket_id=ticket.id, user_id=current_user.id, body=request.form["body"], hours=hours, created_at=now())
    )
    db.session.commit()
    return back_to(ticket)


@app.post("/tickets/<int:ticket_id>/uploads")
@login_required
def upload_new(ticket_id: int) -> ResponseReturnValue:
    ticket = ticket_or_404(ticket_id)
    file = request.files["file"]
    upload = Upload(
        ticket_id=ticket.id,
        filename=secure_filename(file.filename or "") or "upload",
        content_type=file.mimetype or "application/octet-stream",
    )
    upload.store(file.read())
    db.session.add(upload)
    db.session.commit()
    return back_to(ticket)


@app.get("/uploads/<int:upload_id>")
@login_required
def upload_file(upload_id: int) -> ResponseReturnValue:
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        abort(404)
    path = f"{app.config['UPLOAD_FOLDER']}/{upload.stored_as}"
    return send_file(path, mimetype=upload.content_type, as_attachment=True, download_name=upload.filename)


@app.post("/tickets/<int:ticket_id>/close")
@login_required
def ticket_close(ticket_id: int) -> ResponseReturnValue:
    ticket = ticket_or_404(ticket_id)
    ticket.status = status_named("Closed")
    db.session.commit()
    return back_to(ticket)


@app.post("/tickets/<int:ticket_id>/delete")
@login_required
def ticket_delete(ticket_id: int) -> ResponseReturnValue:
    ticket = ticket_or_404(ticket_id)
    for row in (*ticket.replies, *ticket.uploads):
        db.session.delete(row)
    db.session.delete(ticket)
    db.session.commit()
    return redirect(url_for("index"))


@app.cli.command("seed")
@click.option("--domain", required=True, help="The domain in each user's API token, e.g. litware.example.")
def seed(domain: str) -> None:
    """One user per role, with the API token ``<username>-<domain>-token`` and a random password."""
    password_hash = generate_password_hash(secrets.token_hex(16))
    for role, username in (("admin", "admin"), ("supervisor", "manager"), ("agent", "tech"), ("viewer", "viewer")):
        db.session.add(
            User(
                username=username,
                display_name=f"{username.title()} at {domain}",
                role=role,
                password_hash=password_hash,
                api_token=f"{username}-{domain}-token",
            )
        )
    db.session.commit()
