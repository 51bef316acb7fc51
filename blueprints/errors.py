"""One place that turns errors into answers, on the plugin's own blueprints only.

The handlers hang on the plugin's blueprints, not on the app, so a host's own
``HTTPException``, 404 or 500 handlers keep answering for the host's pages, and
the plugin's URLs keep the plugin's answers whatever the host registers. The
API and federation blueprints answer in JSON; the pages render the plugin's
error page (JSON to a JSON request). A URL that matches no route belongs to no
blueprint, so Flask gives it to the app's handlers: under the API and
federation prefixes :func:`answer_routing_errors` answers it in JSON first.
Two errors the plugin raises inside the host's own views, from the host's
commit (a delete of a ticket with accepted work, an edit of a read-only entry),
get an answer on the app (:func:`answer_host_refusals`) unless the host has one.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from outsource_plugin.errors import OutsourceError, ReadOnlyEntry, TicketNotDeletable
from outsource_plugin.state import current_outsource


def _outsource_error(err: OutsourceError, as_json: bool, public: bool = False) -> tuple[Response | str, int]:
    current_outsource().session.rollback()
    if as_json or request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(err.to_dict()), err.status_code
    return render_template("outsource/error.html", error=err, public=public), err.status_code


def _http_json(err: HTTPException) -> Response:
    response = jsonify({"error": (err.name or "error").lower().replace(" ", "_"), "message": err.description})
    response.status_code = err.code or 500
    return response


def answer_in_json(blueprint: Blueprint) -> None:
    """Every error of ``blueprint``'s views, the plugin's and HTTP ones, as a JSON answer."""
    blueprint.register_error_handler(OutsourceError, lambda err: _outsource_error(err, as_json=True))
    blueprint.register_error_handler(HTTPException, _http_json)


def answer_in_pages(blueprint: Blueprint, *, public: bool = False) -> None:
    """The plugin's errors on ``blueprint``'s pages as its error page; HTTP errors stay the host's.

    ``public`` pages (no login: an e-mail partner's links) show it in the public frame, without the host's
    navigation or a link back into the host.
    """
    blueprint.register_error_handler(OutsourceError, lambda err: _outsource_error(err, as_json=False, public=public))


def answer_routing_errors(app: Flask, json_prefixes: tuple[str, ...]) -> None:
    """A 404 or 405 from routing under ``json_prefixes`` as JSON, before the app's handlers see it."""

    @app.before_request
    def _routing_error_in_json() -> Response | None:
        err = request.routing_exception
        if isinstance(err, HTTPException) and not isinstance(err, RoutingException):
            if request.path.startswith(json_prefixes):
                return _http_json(err)
        return None


def answer_host_refusals(app: Flask) -> None:
    """What the plugin refuses in the host's own views (it stops the host's commit) answered as the
    plugin's error, the transaction rolled back, so a host needs no handler of its own; a handler the
    host registers for the same error, before mounting or after, is the one that answers."""
    handlers = app.error_handler_spec[None][None]
    for refusal in (TicketNotDeletable, ReadOnlyEntry):
        if refusal not in handlers:
            app.register_error_handler(refusal, lambda err: _outsource_error(err, as_json=False))
