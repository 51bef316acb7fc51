"""Item 9 of issue 15: a help desk with a module-level ``app`` and no factory mounts the plugin from a
file of its own, and ``FLASK_APP`` names that file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from outsource_plugin.db.migrate import head_revision
from tests.conftest import fresh_database
from tests.third_host.conftest import MOUNTING, LitwareHost


@pytest.fixture
def litware(tmp_path: Path) -> Iterator[LitwareHost]:
    with fresh_database(tmp_path) as url:
        yield LitwareHost("Litware Help Desk", "litware.example", tmp_path, url)


def test_flask_app_names_the_mounting_file(litware: LitwareHost) -> None:
    assert litware.env()["FLASK_APP"] == MOUNTING
    migrated = litware.flask("db", "upgrade")  # the host's own Flask-Migrate history
    assert migrated.returncode == 0, migrated.stderr
    current = litware.flask("outsource", "db", "current")
    assert current.returncode == 0, current.stderr
    assert head_revision() in current.stdout
    routes = litware.flask("routes")
    assert "/outsource/api/v1/tickets/<ticket_id>/outsource" in routes.stdout
    assert "/tickets/<int:ticket_id>" in routes.stdout


def test_the_host_module_alone_knows_nothing_of_the_plugin(litware: LitwareHost) -> None:
    litware.flask_app = "tests.third_host.helpdesk"
    routes = litware.flask("routes")
    assert routes.returncode == 0, routes.stderr
    assert "/tickets/<int:ticket_id>" in routes.stdout and "/outsource" not in routes.stdout
