"""Fabrikam's code is the guide's code: each snippet of docs/integrating.md that shows
Fabrikam appears, line by line and in order, in the file it came from, and does what the guide says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import fresh_database
from tests.guide import follows_in_order, lines, snippet
from tests.second_host.app import create_app
from tests.second_host.models import Agent, db

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("marker", "source"),
    [
        ("def build_host", "app.py"),
        ("def signed_in_agent", "app.py"),
        ('setdefault("OUTSOURCE_ORG_NAME", "Fabrikam', "app.py"),
        ("def _outsource_error", "views.py"),
        ("outsource_bar(case.uuid)", "templates/fabrikam_case.html"),
    ],
)
def test_the_guide_snippet_is_fabrikam_code(marker: str, source: str) -> None:
    missing = follows_in_order(lines(snippet(marker)), lines((HERE / source).read_text()))
    assert missing == [], f"lines of the guide missing from {source}, or out of order: {missing}"


def test_a_missing_line_is_noticed() -> None:
    assert follows_in_order(["b", "a"], ["a", "b"]) == ["a"]


def test_the_guides_layout_keys_put_the_plugins_pages_in_fabrikams_layout(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})
        try:
            with app.app_context():
                db.session.add(Agent(full_name="Olga Owner", role="owner", token="owner-token"))
                db.session.commit()
            response = app.test_client().get("/outsource/dashboard", headers={"Authorization": "Bearer owner-token"})
            assert response.status_code == 200
            html = response.get_data(as_text=True)
            assert html.index('class="fabrikam-header"') < html.index("Outsource Dashboard</h1>")
            assert "<title>Outsource Dashboard · Fabrikam Service Desk</title>" in html
            assert "op-standalone" not in html
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
