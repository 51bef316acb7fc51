"""Fabrikam's app factory. The block marked "docs/integrating.md" is the guide's code, word for word.

Settings come from ``FLASK_*`` environment variables (``app.config.from_prefixed_env()``),
so ``FLASK_SQLALCHEMY_DATABASE_URI`` and ``FLASK_OUTSOURCE_SCHEDULER`` set the
database and the plugin's keys.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Flask, g, request
from sqlalchemy import select

from outsource_plugin import EntryKind, EntryMap, Outsourcing, Permission, SQLAlchemyHost
from tests.second_host.models import Agent, Case, CaseComment, CaseExpense, CaseFile, Client, db

#: Fabrikam's roles, and the outsourcing permission each one has
ROLE_PERMISSION = {
    "viewer": Permission.NONE,
    "agent": Permission.OUTSOURCE,
    "supervisor": Permission.PARTNER_MANAGEMENT,
    "owner": Permission.ALL,
}


def signed_in_agent() -> Agent | None:
    """The agent whose bearer token this request carries, looked up once."""
    if "agent" not in g:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        agent = db.session.scalars(select(Agent).where(Agent.token == token)).first() if token else None
        g.agent = agent if agent is not None and hmac.compare_digest(agent.token, token) else None
    return g.agent


def build_host() -> SQLAlchemyHost:
    # --- docs/integrating.md: "Map the host's models" ---
    return SQLAlchemyHost(
        db,
        ticket_model=Case,
        ticket_fields={
            "id": "uuid",  # the key: a UUID here
            "number": lambda case: case.reference,  # what people call the ticket
            "title": "subject",
            "description": "details",
            "priority": "urgency",
            "due": "respond_by",
            "status": "state",
            "customer": "client_no",
            "contact": None,  # a field the host does not have
        },
        complete_status="Resolved",
        current_user=signed_in_agent,
        permission=lambda agent: ROLE_PERMISSION[agent.role],
        user_id="agent_no",
        user_name="full_name",
        customer_model=Client,
        customer_fields={"id": "client_no", "name": "company"},
        ticket_defaults={"state": "Open"},
        entries={
            EntryKind.NOTE: EntryMap(
                CaseComment,
                {"text": "message", "internal": "staff_only", "author": "written_by"},
                ticket="case_uuid",
                id="comment_no",
            ),
            EntryKind.CHARGE: EntryMap(
                CaseExpense,
                {
                    "name": "label",
                    "quantity": "qty",
                    "unit_price": "sell_each",
                    "unit_cost": "cost_each",
                    "billable": "chargeable",
                },
                ticket="case_uuid",
                id="expense_no",
            ),
            EntryKind.ATTACHMENT: EntryMap(
                CaseFile,
                {
                    "filename": "file_name",
                    "media_type": "mime",
                    "size": "byte_count",
                    "data": "content",
                    "internal": "staff_only",
                },
                ticket="case_uuid",
                id="file_uuid",
            ),
            # no EntryKind.TIME: Fabrikam has no time entries
        },
    )
    # --- end ---


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///fabrikam.db"
    app.config.from_prefixed_env()
    app.config.update(overrides or {})
    db.init_app(app)
    with app.app_context():
        db.create_all()

    # --- docs/integrating.md: "Mount the extension" ---
    app.config.setdefault("OUTSOURCE_ORG_NAME", "Fabrikam Service Desk")
    app.config.setdefault("OUTSOURCE_TICKET_URL", "/cases/{ticket_id}")
    app.config.setdefault("OUTSOURCE_BASE_TEMPLATE", "fabrikam_base.html")
    app.config.setdefault("OUTSOURCE_CONTENT_BLOCK", "page_body")
    Outsourcing(app, host=build_host())
    # --- end ---

    from tests.second_host.views import fabrikam

    app.register_blueprint(fabrikam)
    return app
