"""What every JSON endpoint shares: the blueprint, the caller, and the body."""

from __future__ import annotations

from typing import Any

import werkzeug.exceptions
from flask import Blueprint, request
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.routing import IntegerConverter

from outsource_plugin.blueprints.limits import json_limit, limit_body
from outsource_plugin.errors import NotAuthenticated, NotFound, OutsourceError, ValidationFailed
from outsource_plugin.extension import OutsourceState, current_outsource
from outsource_plugin.host import HostUser, TicketInfo
from outsource_plugin.permissions import Permission, require

#: the largest row id: ids fit a 32-bit integer column on every database
MAX_ROW_ID = 2**31 - 1

#: URL converter for the plugin's own row ids: larger numbers are 404, not a database error
ID = "rowid"


class RowIdConverter(IntegerConverter):
    """Digits only, and a number past any row id is a 404 for every method.

    Werkzeug's own ``int(max=...)`` skips the rule instead, and a path that no
    rule matches for this method but one does for another is answered 405.
    """

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ROW_ID:
            raise werkzeug.exceptions.NotFound(f"no such id {value}: ids are at most {MAX_ROW_ID}")
        return number


api = Blueprint("outsource_api", __name__, template_folder="templates")
limit_body(api, json_limit)


@api.record_once
def _register_converter(setup: BlueprintSetupState) -> None:
    setup.app.url_map.converters.setdefault(ID, RowIdConverter)


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
