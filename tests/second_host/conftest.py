"""Fabrikam (the second host, UUID cases, no time entries) and a demo help desk (Contoso),
each a real process on a free loopback port, registered as each other's peer partner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import ClassVar

import pytest

from tests.cross_host.conftest import fresh_host, start_linked
from tests.cross_host.hosts import Client, FlaskSettingsHost, Host


class FabrikamHost(FlaskSettingsHost):
    ready_path: ClassVar[str] = "/outsource/static/outsource/outsource.css"
    flask_app: ClassVar[str] = "tests.second_host.app:create_app"

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
        fabrikam = fresh_host(FabrikamHost, "Fabrikam Service Desk", "fabrikam.example", stack, tmp_path_factory)
        contoso = fresh_host(Host, "Contoso Field Services", "contoso.example", stack, tmp_path_factory)
        yield Desks(fabrikam, contoso, *start_linked(stack, fabrikam, contoso))
