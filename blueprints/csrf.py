"""CSRF protection for the plugin's HTML forms.

A random token lives in the Flask session; every form carries it in a hidden
``csrf_token`` input and every POST to a page blueprint must send it back.
A missing or wrong token is refused with 400 before the view runs.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, request, session
from markupsafe import Markup, escape

from outsource_plugin.errors import OutsourceError

SESSION_KEY = "outsource_csrf"
FIELD = "csrf_token"


class CsrfRefused(OutsourceError):
    status_code = 400
    code = "csrf_refused"


def csrf_token() -> str:
    """This session's token, made on first use."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return str(token)


def csrf_field() -> Markup:
    """The hidden input every plugin form includes."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(csrf_token()))


def check_csrf() -> None:
    sent = request.form.get(FIELD, "")
    expected = session.get(SESSION_KEY, "")
    if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise CsrfRefused(
            "This form's security token is missing or out of date, so nothing was changed. "
            "Reload the page and try again."
        )


def protect(blueprint: Blueprint) -> None:
    """Check the token on every state-changing request to ``blueprint``."""

    @blueprint.before_request
    def _check() -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf()
