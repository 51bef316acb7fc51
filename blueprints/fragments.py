"""Jinja globals a host's templates call: ``outsource_bar``, ``outsource_menu``, ``outsource_nav``,
``outsource_entry_lock``, ``outsource_entry_origins``, ``outsource_cost_hidden``, ``outsource_stylesheet`` and
``outsource_csrf_field``;
and ``outsource_frame``, the frame the plugin's own pages extend.

Each renders a template under ``outsource/`` that the host may override.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, g, render_template, url_for
from markupsafe import Markup

from outsource_plugin.blueprints.csrf import csrf_field, csrf_token
from outsource_plugin.blueprints.frame import outsource_frame
from outsource_plugin.blueprints.nav import outsource_home_url, outsource_nav
from outsource_plugin.blueprints.sync_words import sync_line
from outsource_plugin.core.costs import cost_hidden
from outsource_plugin.core.live import read_version
from outsource_plugin.core.partner_entries import held_entries
from outsource_plugin.core.present import engagement_json, user_actions
from outsource_plugin.core.questions import can_ask
from outsource_plugin.core.ticket_read import TicketRead, read_ticket
from outsource_plugin.core.times import human_time
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.ops.health import engagement_health
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.locks import entry_lock
from outsource_plugin.sync.origins import TicketOrigins, read_origins


def _ticket_id(ticket: Any) -> str:
    return str(getattr(ticket, "id", ticket))


def _read(ticket_id: str) -> TicketRead:
    """The ticket's engagements and links, read once per request for the origins, the bar and its version."""
    reads: dict[str, TicketRead] = g.setdefault("outsource_ticket_reads", {})
    if ticket_id not in reads:
        reads[ticket_id] = read_ticket(current_outsource().session, ticket_id)
    return reads[ticket_id]


def _context(ticket: Any) -> dict[str, Any] | None:
    """What the bar and the menu show of the ticket, read once per request however many fragments ask."""
    ticket_id = _ticket_id(ticket)
    read: dict[str, dict[str, Any] | None] = g.setdefault("outsource_ticket_context", {})
    if ticket_id not in read:
        read[ticket_id] = _read_context(ticket_id)
    return read[ticket_id]


def _read_context(ticket_id: str) -> dict[str, Any] | None:
    state = current_outsource()
    info = state.host.get_ticket(ticket_id)
    if info is None:
        return None
    user = state.host.current_user()
    level = user.permission if user else Permission.NONE
    engagement = _read(ticket_id).current
    return {
        "ticket": info,
        "engagement_obj": engagement,
        "engagement": engagement_json(engagement, level, ticket_complete=info.is_complete) if engagement else None,
        "actions": user_actions(engagement.status if engagement else None, engagement, level, info.is_complete),
        "level": level,
        "Permission": Permission,
    }


def menu_items(ticket_id: str, engagement: Engagement | None, actions: list[str]) -> list[dict[str, str]]:
    """Each allowed action as a menu option leading to its page or form."""
    from outsource_plugin.blueprints.pages_common import ACTION_LABELS

    items = []
    for action in actions:
        if action in ("configure", "edit") or engagement is None:
            url = url_for("outsource_pages.outsource_ticket", ticket_id=ticket_id)
        elif action == "send":
            url = url_for("outsource_pages.view_terms", engagement_id=engagement.id)
        else:
            url = url_for("outsource_pages.action_page", engagement_id=engagement.id, action=action)
        items.append({"action": action, "label": ACTION_LABELS.get(action, action.title()), "url": url})
    return items


def outsource_bar(ticket: Any) -> Markup:
    """The blue information bar; empty on a ticket that was never outsourced.

    Each reader gets what they act on: Allow Outsourcing a one-line sync state in
    words and links to the terms and the history, and the partner's entries held on
    the plugin's side (``partner_entries="held"``), which the host's own pages never
    show; Allow Partner Management and up also the operator figures (last poll and
    delivery, pending, dead letters, lag) and the recorded errors.
    """
    ticket_id = _ticket_id(ticket)
    ctx = _context(ticket_id)
    if ctx is None or ctx["engagement"] is None:
        return Markup("")
    health = line = None
    held: list[dict[str, Any]] = []
    if ctx["level"] >= Permission.OUTSOURCE:
        state = current_outsource()
        health = engagement_health(state, ctx["engagement_obj"])
        line = sync_line(ctx["engagement_obj"], health, utcnow())
        engagement = ctx["engagement_obj"]
        held = held_entries(state, engagement, _read(ticket_id).links_of(engagement))
    live = _live(ctx["ticket"].id)
    return Markup(  # noqa: S704
        render_template("outsource/bar.html", health=health, sync_line=line, held=held, live=live, **ctx)
    )


def _live(ticket_id: str) -> dict[str, Any] | None:
    """What the bar's script needs to redraw it as the ticket changes; None when live updates are off."""
    state = current_outsource()
    interval = float(state.config["OUTSOURCE_LIVE_INTERVAL"])
    if interval <= 0:
        return None
    return {
        "url": url_for("outsource_pages.ticket_live", ticket_id=ticket_id),
        "interval": interval,
        "version": read_version(_read(ticket_id)),
        "script": url_for("outsource_pages.static", filename="outsource/live.js"),
    }


def outsource_menu(ticket: Any) -> Markup:
    """The Outsource menu: only for Allow Outsourcing and up, never on a Complete ticket."""
    ctx = _context(ticket)
    if ctx is None or not ctx["actions"]:
        return Markup("")
    engagement = ctx["engagement_obj"]
    extra = []
    if can_ask(engagement):
        extra.append(
            {
                "action": "question",
                "label": "Ask the Lead a Question",
                "url": url_for("outsource_pages.question_page", engagement_id=engagement.id),
            }
        )
    items = menu_items(ctx["ticket"].id, engagement, ctx["actions"])
    return Markup(render_template("outsource/menu.html", items=items, extra=extra, **ctx))  # noqa: S704


def outsource_entry_origins(ticket: Any) -> TicketOrigins:
    """``entry_origins`` for the host's ticket page, from the read the bar shares."""
    return read_origins(current_outsource(), _read(_ticket_id(ticket)))


def outsource_entry_lock(kind: EntryKind | str, entry: Any) -> str | None:
    """Why this entry is read-only here under the sync rules, or None when it can be changed."""
    return entry_lock(current_outsource(), kind, entry)


def outsource_cost_hidden(charge: Any) -> bool:
    """Whether to leave out this charge's amounts: the "Outsourcing cost" charge, below Allow All."""
    return cost_hidden(current_outsource(), charge)


def outsource_stylesheet() -> Markup:
    """The ``<link>`` to the plugin's stylesheet, shipped in the package; once a request.

    The host's ``<head>`` may link it and the frame of the plugin's pages does too
    (a host layout may not): the first call on a page links it, the others are empty.
    """
    if g.get("outsource_stylesheet_linked"):
        return Markup("")
    g.outsource_stylesheet_linked = True
    href = url_for("outsource_pages.static", filename="outsource/outsource.css")
    return Markup('<link rel="stylesheet" href="{}">').format(href)


def outsource_time(value: str | datetime | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM UTC'."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def register_fragments(app: Flask) -> None:
    app.jinja_env.globals.update(
        outsource_bar=outsource_bar,
        outsource_menu=outsource_menu,
        outsource_nav=outsource_nav,
        outsource_home_url=outsource_home_url,
        outsource_entry_lock=outsource_entry_lock,
        outsource_entry_origins=outsource_entry_origins,
        outsource_cost_hidden=outsource_cost_hidden,
        outsource_stylesheet=outsource_stylesheet,
        outsource_csrf_field=csrf_field,
        outsource_csrf_token=csrf_token,
        outsource_frame=outsource_frame,
    )
    app.jinja_env.filters["outsource_time"] = outsource_time
    app.jinja_env.filters["outsource_human_time"] = human_time
