"""The plugin's pages inside the host's layout: the host names its base template and content block.

The host here has its own base template with a block name nobody else uses;
the plugin's pages, its error page included, render inside it, with the
plugin's stylesheet, and without the plugin's own standalone frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from examples.helpdesk.models import Ticket, User, db
from outsource_plugin import Outsourcing, Permission, SQLAlchemyHost
from tests.conftest import fresh_database

HOST_BASE = """<!doctype html>
<html><head><title>{% block title %}Desk{% endblock %} | Host desk</title></head>
<body><header id="host-header">Host desk</header>
<div class="desk-body">{% block desk_body %}{% endblock %}</div>
<footer id="host-footer">Host footer</footer></body></html>
"""

STYLESHEET = 'href="/outsource/static/outsource/outsource.css"'


def _signed_in() -> User | None:
    return db.session.scalars(select(User)).first()


@pytest.fixture
def make_host(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """A host with its own templates and one signed-in user who may do everything."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "desk_base.html").write_text(HOST_BASE)
    apps: list[Flask] = []
    with fresh_database(tmp_path) as url:

        def make(**config: object) -> Flask:
            app = Flask(__name__, template_folder=str(tmp_path / "templates"))
            app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="x", TESTING=True, **config)
            db.init_app(app)
            with app.app_context():
                db.create_all()
                if _signed_in() is None:
                    db.session.add(
                        User(email="a@t.example", name="Ada", outsource_level=int(Permission.ALL), password_hash="-")
                    )
                    db.session.commit()
            host = SQLAlchemyHost(
                db,
                ticket_model=Ticket,
                current_user=_signed_in,
                permission=lambda user: Permission(user.outsource_level),
            )
            Outsourcing(app, host=host)
            apps.append(app)
            return app

        yield make
        for app in apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_pages_render_inside_the_hosts_layout(make_host: Callable[..., Flask]) -> None:
    app = make_host(OUTSOURCE_BASE_TEMPLATE="desk_base.html", OUTSOURCE_CONTENT_BLOCK="desk_body")
    response = app.test_client().get("/outsource/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    header, body, content, footer = (
        html.index('id="host-header"'),
        html.index('class="desk-body"'),
        html.index("Outsource Dashboard</h1>"),
        html.index('id="host-footer"'),
    )
    assert header < body < content < footer
    assert "<title>Outsource Dashboard | Host desk</title>" in html
    assert html.count(STYLESHEET) == 1
    assert "op-standalone" not in html


def test_the_error_page_renders_inside_the_hosts_layout(make_host: Callable[..., Flask]) -> None:
    app = make_host(OUTSOURCE_BASE_TEMPLATE="desk_base.html", OUTSOURCE_CONTENT_BLOCK="desk_body")
    response = app.test_client().get("/outsource/engagements/4242")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert html.index('id="host-header"') < html.index("That could not be done</h1>") < html.index('id="host-footer"')
    assert html.count(STYLESHEET) == 1


def test_without_the_keys_the_plugin_has_its_own_frame(make_host: Callable[..., Flask]) -> None:
    html = make_host().test_client().get("/outsource/dashboard").get_data(as_text=True)
    assert "op-standalone" in html
    assert "Outsource Dashboard</h1>" in html
    assert "host-header" not in html
    assert html.count(STYLESHEET) == 1
    assert html.index(STYLESHEET) < html.index("</head>")
