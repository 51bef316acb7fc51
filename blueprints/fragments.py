"""Jinja globals a host's ticket template calls: ``outsource_bar`` and ``outsource_menu``."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from markupsafe import Markup

from outsource_plugin.engagements import current_engagement
from outsource_plugin.extension import current_outsource
from outsource_plugin.permissions import Permission
from outsource_plugin.present import engagement_json, user_actions


def _context(ticket: Any) -> dict[str, Any] | None:
    state = current_outsource()
    ticket_id = str(getattr(ticket, "id", ticket))
    info = state.host.get_ticket(ticket_id)
    if info is None:
        return None
    user = state.host.current_user()
    level = user.permission if user else Permission.NONE
    engagement = current_engagement(state.session, ticket_id)
    return {
        "ticket": info,
        "engagement": engagement_json(engagement, level, ticket_complete=info.is_complete) if engagement else None,
        "actions": user_actions(engagement.status if engagement else None, engagement, level, info.is_complete),
        "level": level,
        "Permission": Permission,
    }


def outsource_bar(ticket: Any) -> Markup:
    """The blue information bar; empty on a ticket that was never outsourced."""
    ctx = _context(ticket)
    if ctx is None or ctx["engagement"] is None:
        return Markup("")
    return Markup(render_template("outsource/bar.html", **ctx))  # noqa: S704 autoescaped template


def outsource_menu(ticket: Any) -> Markup:
    """The Outsource menu: only for Allow Outsourcing and up, never on a Complete ticket."""
    ctx = _context(ticket)
    if ctx is None or not ctx["actions"]:
        return Markup("")
    return Markup(render_template("outsource/menu.html", **ctx))  # noqa: S704 autoescaped template


def register_fragments(app: Flask) -> None:
    app.jinja_env.globals.update(outsource_bar=outsource_bar, outsource_menu=outsource_menu)
