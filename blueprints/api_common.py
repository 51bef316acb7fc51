"""What every JSON endpoint shares: the blueprint, the caller, and the body."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from outsource_plugin.errors import NotAuthenticated, NotFound, OutsourceError, ValidationFailed
from outsource_plugin.extension import OutsourceState, current_outsource
from outsource_plugin.host import HostUser, TicketInfo
from outsource_plugin.permissions import Permission, require

#: URL converter for the plugin's own row ids: larger numbers are 404, not a database error
ID = "int(max=2147483647)"

api = Blueprint("outsource_api", __name__, template_folder="templates")


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
