"""The live answer an open ticket page polls: the ticket's version, and the blue bar once it changed.

The bar's script (``static/outsource/live.js``) sends the version it holds as
``If-None-Match``; an unchanged ticket is answered 304 after one small query, a
changed one with the new version and the bar to put in place of the old.
"""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from outsource_plugin.blueprints.api_common import ticket_or_404
from outsource_plugin.blueprints.fragments import outsource_bar
from outsource_plugin.blueprints.pages_common import caller, pages, state
from outsource_plugin.core.live import live_version


@pages.get("/tickets/<ticket_id>/live")
def ticket_live(ticket_id: str) -> ResponseReturnValue:
    """For whoever may see the ticket's bar: a signed-in user on a ticket the host has."""
    caller()
    ticket = ticket_or_404(ticket_id)
    version = live_version(state().session, ticket.id)
    if version in request.if_none_match:
        return "", 304, {"ETag": f'"{version}"', "Cache-Control": "no-cache"}
    response = jsonify(version=version, bar=str(outsource_bar(ticket.id)))
    response.set_etag(version)
    response.headers["Cache-Control"] = "no-cache"
    return response
