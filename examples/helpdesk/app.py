"""The demo help desk's app factory. Settings come from the environment:

==========================  ==========================================  ============================
variable                    meaning                                     default
==========================  ==========================================  ============================
HELPDESK_DATABASE_URL       any SQLAlchemy URL                          sqlite:///<instance>/helpdesk.db
HELPDESK_SECRET_KEY         session signing key; a known public key     random per process
                            (``demo-only-...``, ``dev``, ...) is refused
HELPDESK_THROWAWAY          1: a throw-away run that may use a known    0
                            key (never on a reachable host)
HELPDESK_NAME               this organisation's name                    Northwind IT
HELPDESK_STATUSES           ticket statuses, comma separated            New,In Progress,Waiting Customer,Complete
HELPDESK_COMPLETE_STATUS    the status that means Complete              Complete
HELPDESK_REUSE_IDS          new notes, time, charges and attachments    off (SQLite reuses the id
                            get max(id) + 1, so a deleted newest        of a deleted newest row
                            entry's id comes back, on any database      anyway; PostgreSQL never)
OUTSOURCE_*                 any plugin setting (see the README)         the plugin's defaults
==========================  ==========================================  ============================
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event, func, select

from examples.helpdesk.auth import auth, csrf_token, current_user
from examples.helpdesk.models import Attachment, Charge, Customer, Note, Ticket, TimeEntry, User, db
from outsource_plugin import EntryKind, EntryMap, Outsourcing, Permission, SQLAlchemyHost
from outsource_plugin.blueprints.headers import add_security_headers
from outsource_plugin.blueprints.limits import partner_limit
from outsource_plugin.config import SETTINGS

DEFAULT_STATUSES = "New,In Progress,Waiting Customer,Complete"

#: keys that are printed in code or docs: anyone can sign a session with them, an admin's included
PUBLIC_KEYS = frozenset({"", "dev", "secret", "changeme", "change-me", "test"})
PUBLIC_KEY_PREFIX = "demo-only-"

#: the tables whose ids ``HELPDESK_REUSE_IDS`` numbers
ENTRY_MODELS = (Note, TimeEntry, Charge, Attachment)


def _env_value(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def settings_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> dict[str, Any]:
    instance = Path(environ.get("HELPDESK_INSTANCE", "instance")).resolve()
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": environ.get("HELPDESK_DATABASE_URL", f"sqlite:///{instance / 'helpdesk.db'}"),
        "SECRET_KEY": environ.get("HELPDESK_SECRET_KEY") or secrets.token_hex(32),
        "HELPDESK_NAME": environ.get("HELPDESK_NAME", "Northwind IT"),
        "HELPDESK_STATUSES": [s.strip() for s in environ.get("HELPDESK_STATUSES", DEFAULT_STATUSES).split(",")],
        "HELPDESK_COMPLETE_STATUS": environ.get("HELPDESK_COMPLETE_STATUS", "Complete"),
        "HELPDESK_INSTANCE": str(instance),
        "HELPDESK_THROWAWAY": _env_value(environ.get("HELPDESK_THROWAWAY", "0"), False),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "HELPDESK_REUSE_IDS": environ.get("HELPDESK_REUSE_IDS", "").lower() in ("1", "true", "yes", "on"),
    }
    for setting in SETTINGS:
        if setting.key in environ:
            config[setting.key] = _env_value(environ[setting.key], setting.default)
    config.setdefault("OUTSOURCE_ORG_NAME", config["HELPDESK_NAME"])
    # the plugin's pages inside the help desk's own layout: templates/base.html, its "content" block
    config.setdefault("OUTSOURCE_BASE_TEMPLATE", "base.html")
    return config


def refuse_public_key(config: dict[str, Any]) -> None:
    """A session key that is public lets anyone forge a signed-in session, an admin's included."""
    key = str(config.get("SECRET_KEY") or "")
    if config.get("HELPDESK_THROWAWAY") or not (key in PUBLIC_KEYS or key.startswith(PUBLIC_KEY_PREFIX)):
        return
    raise ValueError(
        "HELPDESK_SECRET_KEY is a known public key, so anyone could forge a session: set a random one "
        "(python -c 'import secrets; print(secrets.token_hex(32))'), or HELPDESK_THROWAWAY=1 for a throw-away run"
    )


class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS, whatever the config says."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app) or (has_request_context() and request.is_secure))


def _number_entries(session: Any, flush_context: Any, instances: Any) -> None:
    """With ``HELPDESK_REUSE_IDS``, give each new entry the id ``max(id) + 1`` of its table.

    Some hosts number their rows themselves that way, and then a deleted newest
    entry's id comes back on the next entry: what SQLite does on its own for an
    INTEGER PRIMARY KEY without AUTOINCREMENT, and what a PostgreSQL sequence
    never does. The plugin must cope with such hosts; this makes the demo one
    on any database. The session is shared by every app of the process, hence
    the check of this app's setting.
    """
    if not current_app.config.get("HELPDESK_REUSE_IDS"):
        return
    taken: dict[type, int] = {}
    with session.no_autoflush:
        for entry in [e for e in session.new if type(e) in ENTRY_MODELS and e.id is None]:
            model = type(entry)
            if model not in taken:
                taken[model] = session.scalar(select(func.max(model.id))) or 0
            taken[model] += 1
            entry.id = taken[model]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings_from_env())
    app.config.update(overrides or {})
    refuse_public_key(app.config)
    app.session_interface = SessionCookies()
    app.after_request(add_security_headers)
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite:///"):
        Path(app.config["HELPDESK_INSTANCE"]).mkdir(parents=True, exist_ok=True)
    if app.config["HELPDESK_COMPLETE_STATUS"] not in app.config["HELPDESK_STATUSES"]:
        raise ValueError("HELPDESK_COMPLETE_STATUS must be one of HELPDESK_STATUSES")
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    db.init_app(app)
    with app.app_context():
        db.create_all()
    if not event.contains(db.session, "before_flush", _number_entries):
        event.listen(db.session, "before_flush", _number_entries)

    host = SQLAlchemyHost(
        db,
        ticket_model=Ticket,
        ticket_fields={
            "number": lambda t: t.number,
            "due": "due_date",
            "customer": "customer_id",
            "assignee": "assignee_id",
        },
        complete_status=app.config["HELPDESK_COMPLETE_STATUS"],
        current_user=current_user,
        permission=lambda user: Permission(user.outsource_level),
        user_model=User,
        customer_model=Customer,
        entries={
            EntryKind.NOTE: EntryMap(Note, {"text": "body", "internal": "internal", "author": "author"}),
            EntryKind.TIME: EntryMap(
                TimeEntry,
                {
                    "work_date": "work_date",
                    "hours": "hours",
                    "resource": "resource",
                    "work_type": "work_type",
                    "summary": "summary",
                    "billable": "billable",
                },
            ),
            EntryKind.CHARGE: EntryMap(
                Charge,
                {
                    "name": "name",
                    "quantity": "quantity",
                    "unit_price": "unit_price",
                    "unit_cost": "unit_cost",
                    "billable": "billable",
                },
            ),
            EntryKind.ATTACHMENT: EntryMap(
                Attachment,
                {
                    "filename": "filename",
                    "media_type": "media_type",
                    "size": "size",
                    "data": "data",
                    "internal": "internal",
                },
            ),
        },
        ticket_defaults={"status": app.config["HELPDESK_STATUSES"][0]},
    )
    app.config.setdefault("OUTSOURCE_TICKET_URL", "/tickets/{ticket_id}")
    Outsourcing(app, host=host)
    # the largest body: a partner message with an attachment at the plugin's limit. Flask defines
    # the key (as None, no limit), so a setdefault would leave it unset.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = partner_limit(app.config)

    from examples.helpdesk.api import helpdesk_api
    from examples.helpdesk.cli import helpdesk_cli
    from examples.helpdesk.views import helpdesk

    app.register_blueprint(auth)
    app.register_blueprint(helpdesk)
    app.register_blueprint(helpdesk_api, url_prefix="/api")
    app.cli.add_command(helpdesk_cli)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    return app
