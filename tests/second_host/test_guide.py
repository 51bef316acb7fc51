"""Fabrikam's code is the guide's code: each snippet of docs/integrating.md that shows
Fabrikam appears, line by line and in order, in the file it came from, and does what the guide says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import fresh_database
from tests.second_host.app import create_app
from tests.second_host.models import Agent, db

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GUIDE = (ROOT / "docs" / "integrating.md").read_text()
BLOCKS = re.findall(r"```(python|jinja)\n(.*?)```", GUIDE, re.S)


def lines(text: str) -> list[str]:
    """Non-blank lines without their indentation: the guide shows at top level what sits in a function."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def follows_in_order(snippet: list[str], source: list[str]) -> list[str]:
    """The snippet's lines that are missing from ``source``, in order (empty: all there)."""
    rest = iter(source)
    return [line for line in snippet if not any(line == candidate for candidate in rest)]


@pytest.mark.parametrize(
    ("marker", "source"),
    [
        ("def build_host", "app.py"),
        ("def signed_in_agent", "app.py"),
        ('setdefault("OUTSOURCE_ORG_NAME"', "app.py"),
        ("def _outsource_error", "views.py"),
        ("outsource_bar(case.uuid)", "templates/fabrikam_case.html"),
    ],
)
def test_the_guide_snippet_is_fabrikam_code(marker: str, source: str) -> None:
    snippet = [block for _, block in BLOCKS if marker in block]
    assert len(snippet) == 1, f"one snippet of the guide shows {marker!r}"
    missing = follows_in_order(lines(snippet[0]), lines((HERE / source).read_text()))
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
