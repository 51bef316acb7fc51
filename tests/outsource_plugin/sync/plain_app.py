"""The plain help desk (``tests/outsource_plugin/host/plain_desk.py``) mounted as a Flask app, one per
``partner_entries`` policy, each on a database of its own; the memory adapter plays the service partner.

Its signed-in user is named by the bearer token the test client sends (``tests.conftest.LEVELS``).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Flask, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

from outsource_plugin import Outsourcing
from outsource_plugin.db.models import Base as PluginBase
from outsource_plugin.db.models import Partner
from tests.conftest import LEVELS
from tests.outsource_plugin.host.plain_desk import SYSTEM_USER_ID, Base, Issue, Person, Reply, plain_host

db = SQLAlchemy()

LEVEL_OF_TOKEN = {token: level for level, token in LEVELS.items()}


def signed_in() -> Any:
    """The user the request's bearer token names; nobody outside a request (the jobs)."""
    if not has_request_context():
        return None
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    level = LEVEL_OF_TOKEN.get(token)
    return None if level is None else SimpleNamespace(id=token, name=token.title(), level=int(level))


def plain_app(database_url: str, instance: Path, partner_entries: str) -> Flask:
    app = Flask(__name__, instance_path=str(instance))
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="test-secret", TESTING=True)
    db.init_app(app)
    with app.app_context():
        Base.metadata.create_all(db.engine)
    Outsourcing(app, host=plain_host(db, partner_entries=partner_entries, current_user=signed_in))
    return app


def reset(app: Flask) -> None:
    """Empty every table; seed the system user and the memory partner."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in [*reversed(PluginBase.metadata.sorted_tables), *reversed(Base.metadata.sorted_tables)]:
                conn.execute(table.delete())
        app.extensions["outsource"].reset_adapters()
        db.session.add(Person(id=SYSTEM_USER_ID, name="System"))
        db.session.add(Partner(name="Contoso", adapter="memory", config={}, default_terms={"acceptance_hours": 24}))
        db.session.commit()


def new_issue(app: Flask) -> str:
    with app.app_context():
        issue = Issue(title="Printer jams", description="Every morning")
        db.session.add(issue)
        db.session.commit()
        return str(issue.id)


def partner_id(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalars(select(Partner.id)).one())


def replies(app: Flask, ticket_id: str) -> list[Reply]:
    """The issue's replies: what its requester reads."""
    with app.app_context():
        rows = db.session.scalars(select(Reply).where(Reply.ticket_id == int(ticket_id)).order_by(Reply.id)).all()
        db.session.expunge_all()
        return list(rows)
