"""Sign-in for the demo help desk: a session cookie for pages, a bearer token for the API."""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, abort, flash, g, has_request_context, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from examples.helpdesk.models import User, db

auth = Blueprint("auth", __name__)


def current_user() -> User | None:
    """The user of this request, looked up once; None outside a request (jobs, ``flask`` commands)."""
    if not has_request_context():
        return None
    if "hd_user" not in g:
        g.hd_user = _from_token() if signed_by_token() else _from_session()
    return g.hd_user


def signed_by_token() -> bool:
    """A request that names its credentials: a browser never adds this header to a cross-site request."""
    return "Authorization" in request.headers


def _from_token() -> User | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    user = db.session.scalars(select(User).where(User.api_token == token)).first()
    return user if user is not None and hmac.compare_digest(user.api_token, token) else None


def _from_session() -> User | None:
    user_id = session.get("user_id")
    return db.session.get(User, user_id) if user_id else None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def check_csrf() -> None:
    """Every form post of the help desk carries the session's token (a script sends it as ``X-CSRF-Token``)."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "the form's security token is missing or stale; reload the page and try again")


@auth.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "POST":
        check_csrf()
        user = db.session.scalars(select(User).where(User.email == request.form.get("email", ""))).first()
        if user is not None and user.check_password(request.form.get("password", "")):
            session.clear()
            session["user_id"] = user.id
            return redirect(url_for("helpdesk.index"))
        flash("Wrong e-mail or password.")
    return render_template("login.html")


@auth.post("/logout")
def logout() -> ResponseReturnValue:
    check_csrf()
    session.clear()
    return redirect(url_for("auth.login"))
