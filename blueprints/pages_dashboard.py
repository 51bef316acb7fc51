"""The Outsource Dashboard page: folder counts for each role and one folder's paged list."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from outsource_plugin.blueprints.pages_common import caller, pages, render, state, ticket_url
from outsource_plugin.core.dashboard import folder_counts, folder_page
from outsource_plugin.errors import NotFound
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import PageSchema, load
from outsource_plugin.workflow import Folder, Side, folders_for

ROLE_LABELS = {Side.LEAD: "Tickets I outsourced", Side.SERVICE: "Tickets outsourced to me"}


@pages.get("/dashboard")
def dashboard() -> ResponseReturnValue:
    """Two queries whatever the volume: one grouped count, one keyset page."""
    caller(Permission.PARTNER_MANAGEMENT)
    session = state().session
    try:
        role = Side(request.args.get("role", Side.LEAD.value))
        folder = Folder(request.args.get("folder", Folder.WAITING_ACCEPTANCE.value))
    except ValueError as err:
        raise NotFound("no such dashboard folder") from err
    if role is Side.SYSTEM or folder not in folders_for(role):
        raise NotFound(f"no folder '{folder.value}' for role '{role.value}'")
    page = load(
        PageSchema(),
        {
            "limit": int(state().config["OUTSOURCE_PAGE_SIZE"]),
            **{k: v for k, v in request.args.items() if k in ("sort", "after")},
        },
    )
    rows, cursor = folder_page(session, role, folder, sort=page["sort"], limit=page["limit"], after=page["after"])
    return render(
        "outsource/dashboard.html",
        counts=folder_counts(session),
        roles=[(side, ROLE_LABELS[side], folders_for(side)) for side in (Side.LEAD, Side.SERVICE)],
        role=role,
        role_label=ROLE_LABELS[role],
        folder=folder,
        sort=page["sort"],
        after=page["after"],
        rows=[(e, ticket_url(e.ticket_id, e)) for e in rows],
        next_cursor=cursor,
    )
