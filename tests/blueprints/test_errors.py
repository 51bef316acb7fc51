"""The plugin's error answers are its own blueprints' business: a host's handlers keep the host's pages.

The host registers an ``HTTPException`` handler and a 404 handler, before
mounting the plugin or after; either way its pages get its answers, and the
plugin's URLs get the plugin's: JSON under the API and federation prefixes
(routing 404/405 included), the plugin's error page for its page errors. An
unknown URL under the pages' prefix matches no blueprint, so it is the host's
404 like any other unknown URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask, abort
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from examples.helpdesk.models import db
from outsource_plugin import Outsourcing
from outsource_plugin.errors import OutsourceError, TicketNotDeletable
from tests.blueprints.api_helpers import assert_error
from tests.outsource_plugin.host_helpers import bare_host


def _host_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def host_http_error(err: HTTPException) -> tuple[str, int]:
        return f"<header>Host desk</header> host handled {err.code}", err.code or 500

    @app.errorhandler(404)
    def host_not_found(err: HTTPException) -> tuple[str, int]:
        return "<header>Host desk</header> host 404 page", 404


@pytest.fixture(params=["handlers before mounting", "handlers after mounting"])
def host_app(request: pytest.FixtureRequest, database_url: str) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="x", TESTING=True)
    db.init_app(app)
    with app.app_context():
        db.create_all()

    @app.route("/teapot")
    def teapot() -> str:
        abort(418)

    steps: list[Callable[[Flask], object]] = [_host_handlers, lambda a: Outsourcing(a, host=bare_host())]
    for step in steps if request.param == "handlers before mounting" else reversed(steps):
        step(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_host_pages_keep_the_hosts_handlers(host_app: Flask) -> None:
    client = host_app.test_client()
    teapot = client.get("/teapot")
    assert teapot.status_code == 418
    assert "host handled 418" in teapot.get_data(as_text=True)
    missing = client.get("/no-such-host-page")
    assert missing.status_code == 404
    assert "host 404 page" in missing.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/outsource/api/v1/no-such-thing", 404, "not_found"),
        ("GET", "/outsource/api/v1/engagements/abc", 404, "not_found"),
        ("DELETE", "/outsource/api/v1/partners", 405, "method_not_allowed"),
        ("GET", "/outsource/api/v1/dashboard", 401, "not_authenticated"),
        ("GET", "/outsource/federation/v1/no-such-thing", 404, "not_found"),
        ("GET", "/outsource/federation/v1/ping", 401, "not_authenticated"),
    ],
)
def test_plugin_api_urls_keep_plugin_json(host_app: Flask, method: str, path: str, status: int, error: str) -> None:
    response = host_app.test_client().open(path, method=method)
    assert_error(response, status, error)
    assert "Host desk" not in response.get_data(as_text=True)


def test_plugin_pages_keep_the_plugins_error_page(host_app: Flask) -> None:
    response = host_app.test_client().get("/outsource/dashboard")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "That could not be done" in html
    assert "Host desk" not in html


def test_an_unknown_url_under_the_pages_prefix_is_the_hosts_404(host_app: Flask) -> None:
    response = host_app.test_client().get("/outsource/no-such-page")
    assert response.status_code == 404
    assert "host 404 page" in response.get_data(as_text=True)


def _refusing_host_app(database_url: str, *, own_handler: bool) -> Flask:
    """A host view whose commit the plugin refuses (as deleting accepted work is), with no handler of
    the host's for it, or with the host's own."""
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="x", TESTING=True)
    db.init_app(app)
    with app.app_context():
        db.create_all()
    Outsourcing(app, host=bare_host())

    @app.route("/tickets/<int:ticket_id>/delete", methods=["POST"])
    def delete(ticket_id: int) -> str:
        db.session.execute(text("SELECT 1"))
        raise TicketNotDeletable(f"ticket {ticket_id} holds accepted outsourced work")

    if own_handler:

        @app.errorhandler(TicketNotDeletable)
        def host_refusal(err: TicketNotDeletable) -> tuple[str, int]:
            return "<header>Host desk</header> host refusal page", 409

    return app


def test_a_refusal_of_the_hosts_own_commit_is_answered_without_glue(database_url: str) -> None:
    app = _refusing_host_app(database_url, own_handler=False)
    client = app.test_client()
    as_json = client.post("/tickets/7/delete", headers={"Accept": "application/json"})
    assert_error(as_json, 409, "conflict")
    assert "ticket 7 holds accepted outsourced work" in as_json.get_json()["message"]
    page = client.post("/tickets/7/delete")
    assert page.status_code == 409
    assert "ticket 7 holds accepted outsourced work" in page.get_data(as_text=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_hosts_own_handler_for_the_refusal_wins(database_url: str) -> None:
    app = _refusing_host_app(database_url, own_handler=True)
    page = app.test_client().post("/tickets/7/delete")
    assert page.status_code == 409
    assert "host refusal page" in page.get_data(as_text=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_blueprint_of_the_plugin_answers_its_own_errors(host_app: Flask) -> None:
    """A blueprint added without a handler would send the plugin's errors to the host's handlers (a 500)."""
    plugin_blueprints = [name for name in host_app.blueprints if name.startswith("outsource")]
    assert len(plugin_blueprints) >= 4
    for name in plugin_blueprints:
        handlers = host_app.error_handler_spec[name][None]
        assert OutsourceError in handlers, name
