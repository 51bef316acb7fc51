"""What the security tests share: a peer partner, signed federation requests, and the callers.

Requests are signed with the product's own ``outsource_plugin.federation.signing.sign``
and sent through the Flask test client, so the real before-request checks run.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request, Response

from examples.helpdesk.models import db
from outsource_plugin.db.models import Partner
from outsource_plugin.federation.signing import sign

FEDERATION = "/outsource/federation/v1"
#: the peer partner of the permission and form-token tests
PEER_LINK, PEER_SECRET = "northwind-contoso", "peer-secret-for-permission-tests"
#: the script a partner's file carries in the attachment tests
XSS_SCRIPT = "<script>alert(1)</script>"
#: what each security module checked, printed as one ``SECURITY`` line after the run
COUNTS: dict[str, int] = {}


def add_peer(app: Flask, name: str, link_id: str, secret: str) -> int:
    """A peer partner row, as registering it would leave it: its link id is what requests name."""
    with app.app_context():
        partner = Partner(
            name=name,
            adapter="peer",
            link_id=link_id,
            config={"base_url": "http://127.0.0.1:9/outsource", "link_id": link_id, "secret": secret},
            default_terms={"acceptance_hours": 24},
        )
        db.session.add(partner)
        db.session.commit()
        return partner.id


def wire(payload: Any) -> bytes:
    """A message body as a partner host sends it (no body at all for ``None``)."""
    return b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()


def signed(
    client: FlaskClient,
    method: str,
    path: str,
    *,
    link: str,
    secret: str,
    payload: Any = None,
    headers: dict[str, str] | None = None,
    now: float | None = None,
) -> TestResponse:
    """One federation request; ``path`` is below the federation prefix and is what gets signed."""
    full = FEDERATION + path
    body = wire(payload)
    sent = headers if headers is not None else sign(link, secret, method, full, body, now=now)
    extra = {"Content-Type": "application/json"} if payload is not None else {}
    return client.open(full, method=method, data=body, headers={**sent, **extra})


def message(seq: int, kind: str, uid: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "seq": seq, "kind": kind, "engagement_uid": uid, "payload": payload}


def offer_message(
    seq: int, uid: str, text: str = "Printer jammed", terms: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A lead partner's offer of a ticket, with ``text`` in every free-text field it carries."""
    return message(
        seq,
        "offer",
        uid,
        {
            "offer": {"title": text, "description": text, "priority": "High", "number": text, "lead": text},
            "terms": terms if terms is not None else {"instructions": text, "acceptance_hours": 24},
            "ticket_number": text,
            "acceptance_deadline": None,
        },
    )


def action_message(seq: int, uid: str, action: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    return message(seq, "action", uid, {"action": action, "reason": reason, "actor": "Mallory", **extra})


class PartnerServer:
    """A real HTTP server standing in for a partner system, in a thread of the test.

    ``answers`` maps a path to (status, JSON body), or (status, text) for an
    HTML page; every request is recorded
    with its headers, so a test can see exactly what the plugin sent.
    """

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append((request.method, request.path, dict(request.headers), request.get_data()))
        status, body = self.answers.get(request.path, (404, {"error": "not_found", "message": "no such path"}))
        if isinstance(body, str):  # a web page where an API was expected
            return Response(body, status=status, mimetype="text/html")(environ, start_response)
        return Response(json.dumps(body), status=status, mimetype="application/json")(environ, start_response)

    def __enter__(self) -> PartnerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
