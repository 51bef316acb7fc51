"""The "Outsourced work" page: what waits on this side for anyone with Allow Outsourcing."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from outsource_plugin.blueprints.pages_common import caller, pages, render, state, ticket_url
from outsource_plugin.core.work import work_items
from outsource_plugin.permissions import Permission


@pages.get("/work")
def work() -> ResponseReturnValue:
    """Counts and links only; financial figures (a total authorised) for Allow All alone."""
    user = caller(Permission.OUTSOURCE)
    items = work_items(state().session, int(state().config["OUTSOURCE_PAGE_SIZE"]))
    return render(
        "outsource/work.html",
        items=items,
        financial=user.permission >= Permission.ALL,
        offer_url=lambda e: ticket_url(None, e),
        link=lambda e: ticket_url(e.ticket_id, e),
    )
