"""The demo help desk's app factory. Settings come from the environment:

==========================  ==========================================  ============================
variable                    meaning                                     default
==========================  ==========================================  ============================
HELPDESK_DATABASE_URL       any SQLAlchemy URL                          sqlite:///<instance>/helpdesk.db
HELPDESK_SECRET_KEY         session signing key                         random per process
HELPDESK_NAME               this organisation's name                    Northwind IT
HELPDESK_STATUSES           ticket statuses, comma separated            New,In Progress,Waiting Customer,Complete
HELPDESK_COMPLETE_STATUS    the status that means Complete              Complete
OUTSOURCE_*                 any plugin setting (see the README)         the plugin's defaults
==========================  ==========================================  ============================
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event

from examples.helpdesk.auth import auth, csrf_token, current_user
from examples.helpdesk.models import Attachment, Charge, Customer, Note, Ticket, TimeEntry, db
from outsource_plugin import EntryKind, EntryMap, Outsourcing, Permission, SQLAlchemyHost
from outsource_plugin.blueprints.limits import partner_limit
from outsource_plugin.config import SETTINGS

DEFAULT_STATUSES = "New,In Progress,Waiting Customer,Complete"


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
    }
    for setting in SETTINGS:
        if setting.key in environ:
            config[setting.key] = _env_value(environ[setting.key], setting.default)
    config.setdefault("OUTSOURCE_ORG_NAME", config["HELPDESK_NAME"])
    return config


def serialise_sqlite_writers(engine: Any) -> None:
    """Start every SQLite transaction with BEGIN IMMEDIATE.

    Request threads and the job scheduler share the file; a transaction that
    reads and then writes would otherwise fail at once with "database is
    locked" instead of waiting its turn.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings_from_env())
    app.config.update(overrides or {})
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite:///"):
        Path(app.config["HELPDESK_INSTANCE"]).mkdir(parents=True, exist_ok=True)
    if app.config["HELPDESK_COMPLETE_STATUS"] not in app.config["HELPDESK_STATUSES"]:
        raise ValueError("HELPDESK_COMPLETE_STATUS must be one of HELPDESK_STATUSES")
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            serialise_sqlite_writers(db.engine)
        db.create_all()

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
