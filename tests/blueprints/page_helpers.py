"""Helpers for the HTML page tests: a signed-in test client and the plugin's form token."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from examples.helpdesk.models import User, db
from outsource_plugin.blueprints.csrf import SESSION_KEY
from outsource_plugin.permissions import Permission
from tests.conftest import LEVELS

TOKEN = "page-test-token"


def page_client(app: Flask, level: Permission) -> FlaskClient:
    """A browser-like client: signed in as the user of ``level``, with a known form token."""
    with app.app_context():
        user_id = db.session.query(User).filter_by(email=f"{LEVELS[level]}@t.example").one().id
    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session[SESSION_KEY] = TOKEN
    return client


def html(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:2000])
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None, status: int = 302, token: bool = True):
    form = {"csrf_token": TOKEN, **(data or {})} if token else dict(data or {})
    response = client.post(path, data=form)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:2000])
    return response


def menu_actions(page: str) -> list[str]:
    """The transition options of the Outsource menu on a ticket page, in order."""
    menu = re.search(r'<nav class="outsource-menu".*?</nav>', page, re.S)
    if menu is None:
        return []
    return re.findall(r'<li><a href="[^"]*" data-action="(\w+)"', menu.group(0))
