"""Cross-site request forgery on the JSON API.

A host may sign its users in to the API with the same session cookie as its
pages. A page on another site can then make the browser POST an HTML form to
the API with that cookie attached; a form cannot set ``Authorization`` nor send
``application/json`` without a CORS preflight, which this API never grants.
So a state-changing request from a signed-in user that names no credentials
of its own must be JSON, even when the endpoint reads no body (disable a
partner, retry a dead letter). Token clients are unaffected: a browser never
attaches a bearer token by itself.
"""

from __future__ import annotations

from flask import request

from outsource_plugin.blueprints.api_common import UnsupportedMediaType, api, state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@api.before_request
def refuse_cross_site_forms() -> None:
    if request.method in SAFE_METHODS or "Authorization" in request.headers or request.is_json:
        return
    if state().host.current_user() is None:
        return  # nobody signed in: the view answers 401 as for any other caller
    raise UnsupportedMediaType(
        "send state-changing requests as application/json (a browser form cannot), or with the Authorization header"
    )
