"""The Flask extension: registration once per app, settings and their defaults, the URL prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from examples.helpdesk import create_app
from examples.helpdesk.models import User, db
from outsource_plugin import Outsourcing, Permission
from outsource_plugin.config import SETTINGS
from outsource_plugin.state import OutsourceState, current_outsource
from tests.outsource_plugin.host_helpers import bare_host


@pytest.fixture
def bare_app(tmp_path: Path) -> Iterator[Flask]:
    """A plain Flask app with the help desk's database but no plugin yet."""
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'bare.db'}", TESTING=True)
    db.init_app(app)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _helpdesk(tmp_path: Path, **overrides: Any) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prefix.db'}",
            "HELPDESK_INSTANCE": str(tmp_path),
            "SECRET_KEY": "x",
            "TESTING": True,
            **overrides,
        }
    )


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- registration -------------------------------------------------------------------------------


def test_second_registration_on_the_same_app_raises(app: Flask) -> None:
    first = app.extensions["outsource"]
    assert isinstance(first, OutsourceState)
    with pytest.raises(RuntimeError, match="already registered"):
        Outsourcing(app, host=first.host)
    with pytest.raises(RuntimeError, match="already registered"):
        Outsourcing(host=first.host).init_app(app)
    assert app.extensions["outsource"] is first


def test_second_registration_on_a_bare_app_raises(bare_app: Flask) -> None:
    ext = Outsourcing(bare_app, host=bare_host())
    state = bare_app.extensions["outsource"]
    with pytest.raises(RuntimeError, match="already registered"):
        ext.init_app(bare_app)
    assert bare_app.extensions["outsource"] is state


def test_init_app_later_with_host_given_to_the_constructor(bare_app: Flask) -> None:
    host = bare_host()
    ext = Outsourcing(host=host)
    assert "outsource" not in bare_app.extensions
    ext.init_app(bare_app)
    with bare_app.app_context():
        assert current_outsource().host is host
        assert current_outsource().app is bare_app


def test_registration_without_a_host_raises(bare_app: Flask) -> None:
    with pytest.raises(RuntimeError, match="host adapter"):
        Outsourcing(bare_app)
    assert "outsource" not in bare_app.extensions


def test_current_outsource_before_init_app_raises_clearly() -> None:
    app = Flask(__name__)
    with app.app_context(), pytest.raises(RuntimeError) as excinfo:
        current_outsource()
    message = str(excinfo.value)
    assert "Outsourcing has not been initialised" in message
    assert "Outsourcing(app, host=...)" in message


def test_current_outsource_is_per_app(app: Flask, bare_app: Flask) -> None:
    with bare_app.app_context(), pytest.raises(RuntimeError, match="not been initialised"):
        current_outsource()
    with app.app_context():
        assert current_outsource() is app.extensions["outsource"]


# --- settings -----------------------------------------------------------------------------------


def test_every_setting_gets_its_default(bare_app: Flask) -> None:
    assert not any(key.startswith("OUTSOURCE_") for key in bare_app.config)
    Outsourcing(bare_app, host=bare_host())
    state: OutsourceState = bare_app.extensions["outsource"]
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)
    for setting in SETTINGS:
        assert setting.key.startswith("OUTSOURCE_")
        assert setting.doc
        assert setting.key in bare_app.config, setting.key
        assert bare_app.config[setting.key] == setting.default, setting.key
        assert state.config[setting.key] == setting.default, setting.key
    assert set(state.config) == {s.key for s in SETTINGS}


def test_settings_given_by_the_app_are_kept(bare_app: Flask) -> None:
    bare_app.config.update(OUTSOURCE_ORG_NAME="Fabrikam", OUTSOURCE_PAGE_SIZE=7)
    Outsourcing(bare_app, host=bare_host())
    state: OutsourceState = bare_app.extensions["outsource"]
    assert bare_app.config["OUTSOURCE_ORG_NAME"] == "Fabrikam"
    assert state.config["OUTSOURCE_ORG_NAME"] == "Fabrikam"
    assert state.config["OUTSOURCE_PAGE_SIZE"] == 7
    assert state.config["OUTSOURCE_MAX_ATTEMPTS"] == 12


def test_create_tables_creates_the_plugin_tables(bare_app: Flask) -> None:
    Outsourcing(bare_app, host=bare_host())
    with bare_app.app_context():
        from sqlalchemy import inspect

        tables = set(inspect(db.engine).get_table_names())
    assert {"outsource_partner", "outsource_engagement", "outsource_audit_event", "outsource_outbox"} <= tables


# --- URL prefix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["partners-out", "outsource/", "api"])
def test_prefix_without_leading_slash_is_refused(bare_app: Flask, prefix: str) -> None:
    bare_app.config["OUTSOURCE_URL_PREFIX"] = prefix
    with pytest.raises(ValueError, match="OUTSOURCE_URL_PREFIX must start with '/'"):
        Outsourcing(bare_app, host=bare_host())
    assert "outsource" not in bare_app.extensions
    assert "outsource_api" not in bare_app.blueprints


def test_trailing_slash_is_dropped(bare_app: Flask) -> None:
    bare_app.config["OUTSOURCE_URL_PREFIX"] = "/partners-out/"
    Outsourcing(bare_app, host=bare_host())
    assert bare_app.config["OUTSOURCE_URL_PREFIX"] == "/partners-out"
    rules = {r.rule for r in bare_app.url_map.iter_rules() if r.endpoint.startswith("outsource_api.")}
    assert "/partners-out/api/v1/dashboard" in rules
    assert not any("//" in rule for rule in rules)


def test_custom_prefix_moves_the_api(tmp_path: Path) -> None:
    app = _helpdesk(tmp_path, OUTSOURCE_URL_PREFIX="/partners-out")
    try:
        with app.app_context():
            user = User(email="admin@t.example", name="Admin", outsource_level=int(Permission.ALL), api_token="adm")
            user.set_password("pw")
            db.session.add(user)
            db.session.commit()
        client = app.test_client()
        auth = {"Authorization": "Bearer adm"}

        moved = client.get("/partners-out/api/v1/dashboard", headers=auth)
        assert moved.status_code == 200
        assert "folders" in moved.get_json()

        assert client.get("/outsource/api/v1/dashboard", headers=auth).status_code == 404
        assert client.get("/outsource/api/v1/partners", headers=auth).status_code == 404

        # errors under the new prefix are JSON, as they were under the default one
        missing = client.get("/partners-out/api/v1/no-such-thing", headers=auth)
        assert missing.status_code == 404
        assert missing.is_json
        assert missing.get_json()["error"] == "not_found"

        unauthenticated = client.get("/partners-out/api/v1/dashboard")
        assert unauthenticated.status_code == 401
        assert unauthenticated.get_json()["error"] == "not_authenticated"
    finally:
        _dispose(app)


def test_default_prefix(app: Flask, api: Any) -> None:
    assert app.config["OUTSOURCE_URL_PREFIX"] == "/outsource"
    assert api.get("/dashboard").status_code == 200
    assert (
        api.client.get("/partners-out/api/v1/dashboard", headers={"Authorization": "Bearer admin"}).status_code == 404
    )


# --- the pages' frame ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", ["", "page body", "1st", "body%}{% include 'x'", "outsource_content", 7])
def test_a_content_block_that_is_not_a_block_name_is_refused(bare_app: Flask, block: object) -> None:
    bare_app.config["OUTSOURCE_CONTENT_BLOCK"] = block
    with pytest.raises(ValueError, match="OUTSOURCE_CONTENT_BLOCK must be a Jinja block name"):
        Outsourcing(bare_app, host=bare_host())
    assert "outsource" not in bare_app.extensions


# --- mail ----------------------------------------------------------------------------------------


def test_mail_without_a_base_url_is_refused_before_anything_is_registered(bare_app: Flask) -> None:
    bare_app.config["OUTSOURCE_MAIL_ENABLED"] = True
    with pytest.raises(ValueError, match="OUTSOURCE_MAIL_ENABLED needs OUTSOURCE_BASE_URL"):
        Outsourcing(bare_app, host=bare_host())
    assert "outsource" not in bare_app.extensions
    assert "outsource_api" not in bare_app.blueprints


def test_the_readmes_configuration_table_lists_every_setting_with_its_default() -> None:
    """The README's table is the documentation of SETTINGS: a key added to one and not the other fails here."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[1].strip("` "): cells[2].strip("` ")
        for cells in (line.split("|") for line in section.splitlines() if line.startswith("| `OUTSOURCE_"))
    }
    assert set(rows) == {s.key for s in SETTINGS}
    for setting in SETTINGS:
        assert rows[setting.key] == repr(setting.default), setting.key


def test_a_resolved_session_is_the_scoped_sessions_own_in_the_block_and_for_that_state_only(
    app: Flask, bare_app: Flask
) -> None:
    """Capture resolves the host's scoped session once per flush (``OutsourceState.session_resolved``)."""
    Outsourcing(bare_app, host=bare_host())
    state, other = app.extensions["outsource"], bare_app.extensions["outsource"]
    with app.app_context():
        assert state.session is db.session
        with state.session_resolved() as session:
            assert session is db.session() and state.session is session
            with bare_app.app_context():
                assert other.session is db.session and other.session() is not session
        assert state.session is db.session
