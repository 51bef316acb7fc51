"""A third-party adapter package, installed into this environment, is offered in partner registration."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from outsource_plugin.permissions import Permission
from tests.conftest import Api

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "thirdparty_adapter"


@pytest.fixture(scope="session")
def thirdparty_adapter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pip-install the package (from a copy, so the source tree stays clean); uninstall it afterwards."""
    source = tmp_path_factory.mktemp("thirdparty") / "acme"
    shutil.copytree(PACKAGE, source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", str(source)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    importlib.invalidate_caches()
    try:
        yield "acme"
    finally:
        subprocess.run([*pip, "uninstall", "-y", "acme-outsource-adapter"], capture_output=True, check=False)
        importlib.invalidate_caches()


def test_an_installed_adapter_is_offered_in_partner_registration(api: Api, thirdparty_adapter: str):
    response = api.get("/adapters", Permission.PARTNER_MANAGEMENT)
    assert response.status_code == 200, response.get_json()
    offered = {a["name"]: a for a in response.get_json()["adapters"]}
    assert {"memory", "peer", "redmine", "request_tracker", thirdparty_adapter} <= set(offered)
    acme = offered[thirdparty_adapter]
    assert acme["label"] == "Acme Desk" and acme["capabilities"] == ["notes"]
    settings = {s["name"]: s for s in acme["config"]}
    assert settings["endpoint"]["required"] and not settings["endpoint"]["secret"]
    assert settings["password"]["secret"]
    redmine = {s["name"]: s for s in offered["redmine"]["config"]}
    assert redmine["status_map"]["default"]["Resolved"] == "submit"
    assert "charges" not in offered["redmine"]["capabilities"]

    created = api.post(
        "/partners",
        json={
            "name": "Acme",
            "adapter": thirdparty_adapter,
            "config": {"endpoint": "http://acme.test", "password": "pw"},
        },
        level=Permission.PARTNER_MANAGEMENT,
    )
    assert created.status_code == 201, created.get_json()
    assert "password" not in created.get_json()["config"]


def test_only_partner_managers_see_the_adapters(api: Api):
    for level in (Permission.NONE, Permission.OUTSOURCE):
        assert api.get("/adapters", level).status_code == 403
