"""Litware (the third host) and a demo help desk (Contoso), each a real process on a free loopback
port, registered as each other's peer partner. Litware starts as its operators run it: ``FLASK_APP``
names the mounting file, ``flask db upgrade`` (Flask-Migrate) makes its tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.cross_host.conftest import fresh_host, start_linked
from tests.cross_host.hosts import Client, FlaskSettingsHost, Host
from tests.third_host.models import Reply, Ticket, Upload

#: what FLASK_APP names: the mounting file, which imports Litware's module-level app
MOUNTING = "tests.third_host.outsourcing"


class LitwareHost(FlaskSettingsHost):
    ready_path: ClassVar[str] = "/login"
    flask_app: ClassVar[str] = MOUNTING

    def env(self) -> dict[str, str]:
        return {**super().env(), "FLASK_UPLOAD_FOLDER": str(self.folder / "uploads")}

    def seed(self) -> None:
        for command in (("db", "upgrade"), ("seed", "--domain", self.domain)):
            done = self.flask(*command)
            assert done.returncode == 0, done.stderr


@dataclass
class Desks:
    litware: LitwareHost
    contoso: Host
    #: the partner id of the other desk, on each desk
    contoso_at_litware: int
    litware_at_contoso: int

    @property
    def litware_api(self) -> Client:
        return self.litware.client()

    @property
    def contoso_api(self) -> Client:
        return self.contoso.client()

    def open_ticket(self, subject: str, body: str = "") -> int:
        """A ticket opened on Litware's own form; its id from the page the form leads to."""
        page = self.litware_api.call("POST", "/tickets", data={"subject": subject, "body": body})
        assert page.status_code == 200, page.text
        return int(page.url.rsplit("/", 1)[1])

    def ticket(self, ticket_id: int) -> dict[str, Any] | None:
        """Litware's ticket as its rows say, read from its database beside the running process."""
        engine = create_engine(self.litware.database_url)
        try:
            with Session(engine) as session:
                ticket = session.get(Ticket, ticket_id)
                if ticket is None:
                    return None
                replies = session.scalars(select(Reply).where(Reply.ticket_id == ticket_id).order_by(Reply.id))
                uploads = session.scalars(select(Upload).where(Upload.ticket_id == ticket_id).order_by(Upload.id))
                return {
                    "subject": ticket.subject,
                    "body": ticket.body,
                    "status": ticket.status.name,
                    "category": ticket.category,
                    "creator_id": ticket.creator_id,
                    "replies": [(r.user.display_name, r.body, r.hours) for r in replies],
                    "uploads": [(u.id, u.filename, u.content_type, u.size) for u in uploads],
                }
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def desks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desks]:
    with ExitStack() as stack:
        litware = fresh_host(LitwareHost, "Litware Help Desk", "litware.example", stack, tmp_path_factory)
        contoso = fresh_host(Host, "Contoso Field Services", "contoso.example", stack, tmp_path_factory)
        yield Desks(litware, contoso, *start_linked(stack, litware, contoso))
