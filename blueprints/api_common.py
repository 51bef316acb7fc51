"""What every JSON endpoint shares: the blueprint, the caller, and the body."""

from __future__ import annotations

from typing import Any

import werkzeug.exceptions
from flask import Blueprint, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import IntegerConverter

from outsource_plugin.blueprints.errors import answer_in_json
from outsource_plugin.blueprints.limits import json_limit, limit_body
from outsource_plugin.errors import NotAuthenticated, NotFound, OutsourceError, ValidationFailed
from outsource_plugin.host.protocol import HostUser, TicketInfo
from outsource_plugin.permissions import Permission, require
from outsource_plugin.state import OutsourceState, current_outsource

#: the largest row id: ids fit a 32-bit integer column on every database
MAX_ROW_ID = 2**31 - 1

#: URL converter for the plugin's own row ids: larger numbers are 404, not a database error
ID = "rowid"


def row_id(value: str) -> int | None:
    """A row id as a URL spells it, or None: plain ASCII digits only (no sign, no leading zero,
    no other script's digits, which ``int()`` would take) and within a 32-bit column."""
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ROW_ID)) or str(int(value)) != value:
        return None
    number = int(value)
    return number if number <= MAX_ROW_ID else None


class RowIdConverter(IntegerConverter):
    """One spelling per row id, and a number past any row id is a 404 for every method.

    Werkzeug's own ``int(max=...)`` skips the rule instead, and a path that no
    rule matches for this method but one does for another is answered 405.
    """

    def to_python(self, value: str) -> int:
        number = row_id(value)
        if number is None:
            raise werkzeug.exceptions.NotFound(f"no such id {value[:40]}: ids are plain digits, at most {MAX_ROW_ID}")
        return number


api = Blueprint("outsource_api", __name__, template_folder="templates")
limit_body(api, json_limit)
answer_in_json(api)


@api.record_once
def _register_converter(setup: BlueprintSetupState) -> None:
    setup.app.url_map.converters.setdefault(ID, RowIdConverter)


def canonical_ticket_id(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A ticket id in a URL, checked once at the edge by the host adapter: any spelling but the
    host's one (``05``, ``+5``, other scripts' digits...) is a 404, so a ticket never gets a second id."""
    if values is None or "ticket_id" not in values:
        return
    canonical = state().host.canonical_ticket_id(values["ticket_id"])
    if canonical is None:
        raise NotFound(f"ticket {values['ticket_id'][:40]!r} does not exist")
    values["ticket_id"] = canonical


api.url_value_preprocessor(canonical_ticket_id)


class UnsupportedMediaType(OutsourceError):
    status_code = 415
    code = "unsupported_media_type"


def state() -> OutsourceState:
    return current_outsource()


def caller(needed: Permission = Permission.NONE) -> HostUser:
    """The signed-in host user, refused unless they hold ``needed``."""
    user = state().host.current_user()
    if user is None:
        raise NotAuthenticated("sign in first")
    require(user.permission, needed)
    return user


def json_body() -> Any:
    """The request's JSON; only ``application/json`` is taken, which also keeps
    cross-site HTML forms from reaching the API with a user's cookie."""
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationFailed("the body is not valid JSON", details={"_body": ["malformed JSON"]})
    return data


def ticket_or_404(ticket_id: str) -> TicketInfo:
    ticket = state().host.get_ticket(ticket_id)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket
