"""The demo help desk's own web side: cookie-signed writes, framing and sniffing headers, cookie flags, its key.

Every cookie-signed write of the demo's JSON API needs the page's form token
(a cross-site form carries the cookie but cannot know the token); every page,
the demo's and the plugin's, refuses to be framed and to be sniffed; the
session cookie is HttpOnly and SameSite, and Secure over HTTPS; and a session
key that is printed anywhere is refused at start-up.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from examples.helpdesk import create_app
from examples.helpdesk.app import PUBLIC_KEY_PREFIX, PUBLIC_KEYS
from outsource_plugin.blueprints.headers import SECURITY_HEADERS
from outsource_plugin.permissions import Permission
from tests.blueprints.api_helpers import add_ticket, table_rows
from tests.blueprints.page_helpers import page_client
from tests.security.helpers import COUNTS

#: demo API writes a cross-site form could aim at: (method, path, form or JSON body)
COOKIE_WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/tickets/{t}/attachments", {"data": {"file": (b"MZ...", "report.exe")}}),
    ("POST", "/api/tickets/{t}/notes", {"data": {"text": "forged"}}),
    ("POST", "/api/tickets/{t}/notes", {"json": {"text": "forged"}}),
    ("POST", "/api/tickets", {"data": {"title": "forged"}}),
    ("PATCH", "/api/tickets/{t}", {"json": {"title": "forged"}}),
    ("DELETE", "/api/tickets/{t}", {}),
]
#: pages whose answers must carry the headers: the demo's own and the plugin's
PAGES = ["/", "/tickets/{t}", "/login", "/outsource/dashboard", "/outsource/api/v1/partners", "/api/tickets/{t}"]


@pytest.fixture(scope="module", autouse=True)
def summary() -> None:
    COUNTS.update(
        demo_cookie_writes=len(COOKIE_WRITES) * 2,
        framing_headers=len(PAGES) * len(SECURITY_HEADERS),
        public_keys=len(PUBLIC_KEYS) + 1,
    )


def _body(spec: dict[str, Any]) -> dict[str, Any]:
    """A fresh request body: an uploaded file's stream can be read once only."""
    if "data" in spec:
        return {"data": {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in spec["data"].items()}}
    return dict(spec)


@pytest.mark.parametrize(("method", "path", "body"), COOKIE_WRITES, ids=lambda v: str(v)[:40])
def test_a_cookie_signed_api_write_without_the_form_token_is_refused(
    app: Flask, method: str, path: str, body: dict[str, Any]
) -> None:
    ticket = add_ticket(app)
    client = page_client(app, Permission.ALL)
    before = table_rows(app)
    response = client.open(path.format(t=ticket), method=method, **_body(body))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "security token" in response.get_json()["message"]
    assert table_rows(app) == before


@pytest.mark.parametrize(("method", "path", "body"), COOKIE_WRITES, ids=lambda v: str(v)[:40])
def test_the_same_write_with_the_form_token_or_a_bearer_token_goes_through(
    app: Flask, method: str, path: str, body: dict[str, Any]
) -> None:
    ticket = add_ticket(app)
    client = page_client(app, Permission.ALL)
    with client.session_transaction() as session:
        session["csrf"] = "the-pages-token"
    by_cookie = client.open(
        path.format(t=ticket), method=method, headers={"X-CSRF-Token": "the-pages-token"}, **_body(body)
    )
    assert "security token" not in by_cookie.get_data(as_text=True)
    bearer = app.test_client().open(
        path.format(t=add_ticket(app)), method=method, headers={"Authorization": "Bearer admin"}, **_body(body)
    )
    assert "security token" not in bearer.get_data(as_text=True)


def test_a_bad_bearer_token_is_not_rescued_by_the_session_cookie(app: Flask) -> None:
    client = page_client(app, Permission.ALL)
    assert client.get("/api/me").status_code == 200
    assert client.get("/api/me", headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_pages_cannot_be_framed_or_sniffed(app: Flask, path: str) -> None:
    response = page_client(app, Permission.ALL).get(path.format(t=add_ticket(app)))
    assert response.status_code == 200, (path, response.status_code)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name, response.headers.get(name))


def test_an_attachment_keeps_its_own_sandbox_policy(app: Flask) -> None:
    ticket = add_ticket(app)
    bearer = {"Authorization": "Bearer admin"}
    upload = app.test_client().post(
        f"/api/tickets/{ticket}/attachments", data={"file": (io.BytesIO(b"<p>hi</p>"), "page.html")}, headers=bearer
    )
    assert upload.status_code == 201, upload.get_data(as_text=True)
    download = app.test_client().get(f"/api/attachments/{upload.get_json()['id']}", headers=bearer)
    assert download.headers["Content-Security-Policy"] == "sandbox"
    assert download.headers["X-Frame-Options"] == "DENY"


def _session_cookie(app: Flask, base_url: str) -> str:
    """The Set-Cookie of the login page, which puts a form token in a new session."""
    cookies = app.test_client().get("/login", base_url=base_url).headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_the_session_cookie_is_httponly_and_samesite(app: Flask) -> None:
    cookie = _session_cookie(app, "http://helpdesk.test")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # a plain-HTTP demo on loopback would lose its session otherwise


def test_the_session_cookie_is_secure_over_https(app: Flask) -> None:
    cookie = _session_cookie(app, "https://helpdesk.test")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("key", [*sorted(PUBLIC_KEYS), f"{PUBLIC_KEY_PREFIX}5000"])
def test_a_public_session_key_is_refused_at_start(database_url: str, tmp_path: Any, key: str) -> None:
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "HELPDESK_INSTANCE": str(tmp_path), "SECRET_KEY": key}
    with pytest.raises(ValueError, match="known public key"):
        create_app(settings)
    assert create_app({**settings, "HELPDESK_THROWAWAY": True}).secret_key == key
