"""Litware Help Desk: one module-level ``app``, no factory, as many Flask help desks are written.

Settings come from ``FLASK_*`` environment variables (``FLASK_SQLALCHEMY_DATABASE_URI``,
``FLASK_UPLOAD_FOLDER``, ``FLASK_OUTSOURCE_SCHEDULER``, ...). The plugin is mounted from a file of
its own, ``tests/third_host/outsourcing.py``, which ``FLASK_APP`` names; this module knows nothing
of it.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from flask import Flask, Request
from flask_login import LoginManager
from flask_migrate import Migrate
from sqlalchemy import select

from outsource_plugin.db.migrate import include_object
from tests.third_host.models import User, db

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///litware.db"
app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")
app.config.from_prefixed_env()
db.init_app(app)
migrate = Migrate(app, db, directory=str(Path(__file__).parent / "migrations"), include_object=include_object)
login_manager = LoginManager(app)
login_manager.login_view = "login"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@login_manager.request_loader
def load_user_from_token(request: Request) -> User | None:
    """Scripts sign in with ``Authorization: Bearer <token>`` instead of the login form."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header.removeprefix("Bearer ").strip()
    user = db.session.scalars(select(User).where(User.api_token == token)).first()
    return user if user is not None and hmac.compare_digest(user.api_token, token) else None


from tests.third_host import views  # noqa: E402, F401  (the views register themselves on app)
