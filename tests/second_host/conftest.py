"""Fabrikam (the second host, UUID cases, no time entries) and a demo help desk (Contoso),
each a real process on a free loopback port, registered as each other's peer partner."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import ClassVar

import pytest

from tests.conftest import fresh_database
from tests.cross_host.conftest import register
from tests.cross_host.hosts import Client, Host


class FabrikamHost(Host):
    """The Host harness pointed at Fabrikam's app: its settings are ``FLASK_*`` variables."""

    ready_path: ClassVar[str] = "/outsource/static/outsource/outsource.css"

    def env(self) -> dict[str, str]:
        demo = super().env()
        plugin = {f"FLASK_{key}": value for key, value in demo.items() if key.startswith("OUTSOURCE_")}
        return {
            **{key: value for key, value in demo.items() if not key.startswith(("OUTSOURCE_", "HELPDESK_"))},
            **plugin,
            "FLASK_APP": "tests.second_host.app:create_app",
            "FLASK_SQLALCHEMY_DATABASE_URI": self.database_url,
            "FLASK_SECRET_KEY": f"{self.domain}-secret-key",
        }

    def seed(self) -> None:
        done = self.flask("fabrikam", "seed", "--domain", self.domain)
        assert done.returncode == 0, done.stderr


@dataclass
class Desks:
    fabrikam: Host
    contoso: Host
    #: the partner id of the other desk, on each desk
    contoso_at_fabrikam: int
    fabrikam_at_contoso: int

    @property
    def fabrikam_api(self) -> Client:
        return self.fabrikam.client()

    @property
    def contoso_api(self) -> Client:
        return self.contoso.client()


@pytest.fixture(scope="module")
def desks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desks]:
    with ExitStack() as stack:
        fabrikam = FabrikamHost(
            "Fabrikam Service Desk",
            "fabrikam.example",
            tmp_path_factory.mktemp("fabrikam"),
            stack.enter_context(fresh_database(tmp_path_factory.mktemp("fabrikam-db"))),
        )
        contoso = Host(
            "Contoso Field Services",
            "contoso.example",
            tmp_path_factory.mktemp("contoso"),
            stack.enter_context(fresh_database(tmp_path_factory.mktemp("contoso-db"))),
        )
        for host in (fabrikam, contoso):
            host.seed()
            stack.callback(host.stop)
            host.start()
        secret = secrets.token_hex(24)
        yield Desks(
            fabrikam,
            contoso,
            register(fabrikam.client(), "Contoso Field Services", contoso.plugin_url, secret),
            register(contoso.client(), "Fabrikam Service Desk", fabrikam.plugin_url, secret),
        )
