"""Two in-process help desks that reach each other over a test transport, for the join tests.

The joining side's ``OutsourceState.http`` gets a requests transport that hands
each call to the other app's test client, so the handshake runs through both
apps' real views without a server; every exchange is recorded, to replay one
or to check that no answer carries a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from tests.cross_host.hosts import Captured

if TYPE_CHECKING:
    from tests.conftest import Api

NORTHWIND_URL = "http://northwind.test/outsource"
CONTOSO_URL = "http://contoso.test/outsource"


@dataclass(frozen=True)
class Exchange:
    """One request as it was sent, to send it again, and the answer it got."""

    sent: Captured
    status: int
    answer: bytes


class AppTransport(BaseAdapter):
    """Sends a requests call to ``app`` through its test client; keeps each exchange.

    ``tamper``, when set, rewrites each answer on its way back, as a host in the middle would."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app
        self.exchanges: list[Exchange] = []
        self.tamper: Callable[[bytes], bytes] | None = None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        answer = self.app.test_client().open(url.path, method=request.method, headers=headers, data=body)
        sent = Captured(str(request.method), url.path, headers, body)
        self.exchanges.append(Exchange(sent, answer.status_code, answer.data))
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = self.tamper(answer.data) if self.tamper is not None else answer.data
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        return None


@dataclass
class Desks:
    """Northwind IT invites, Contoso Field Services joins."""

    northwind: Flask
    contoso: Flask
    to_northwind: AppTransport
    to_contoso: AppTransport
    answers: list[bytes] = field(default_factory=list)

    @property
    def northwind_api(self) -> Api:
        from tests.conftest import Api  # conftest builds Desks: imported when used

        return Api(self.northwind.test_client())

    @property
    def contoso_api(self) -> Api:
        from tests.conftest import Api

        return Api(self.contoso.test_client())

    def invite(self, name: str = "Contoso Field Services", **body: Any) -> dict[str, Any]:
        answer = self.northwind_api.post("/invitations", {"name": name, **body})
        assert answer.status_code == 201, answer.get_json()
        return dict(answer.get_json())  # the code, shown this once, is the invitation's point: not in answers

    def join(self, code: str, expect: int = 201, **body: Any) -> dict[str, Any]:
        answer = self.contoso_api.post("/partners/join", {"code": code, **body})
        assert answer.status_code == expect, answer.get_json()
        self.answers.append(answer.data)
        return dict(answer.get_json())

    def every_answer(self) -> bytes:
        """Every join answer of the API and every partner-API answer seen so far, as one blob."""
        return b"\n".join([*self.answers, *(e.answer for e in self.to_northwind.exchanges)])


def peers(app: Flask) -> dict[str, dict[str, Any]]:
    """Peer partners by name, with their plaintext settings: what the handshake left behind."""
    with app.app_context():
        rows = db.session.query(Partner).filter_by(adapter="peer").all()
        found = {p.name: {"active": p.active, "link_id": p.link_id, **p.config} for p in rows}
        db.session.rollback()
    return found
