"""Where the plugin's pages send a user: the "Outsourced work" link of the host's header, and
the landing page each level can open.

A technician (Allow Outsourcing) cannot open the dashboard, which needs Allow Partner
Management; a link that answers 403 is a dead end, so every "back" and "home" link
comes from ``home_url``, which knows who may open what.
"""

from __future__ import annotations

from flask import render_template, url_for
from markupsafe import Markup

from outsource_plugin.core.work import work_counts
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource


def current_level() -> Permission | None:
    user = current_outsource().host.current_user()
    return user.permission if user else None


def home_url(level: Permission | None) -> str | None:
    """The plugin page this level opens first: the dashboard for managers, "Outsourced work" for
    technicians; None below Allow Outsourcing, who open no plugin page."""
    if level is None or level < Permission.OUTSOURCE:
        return None
    if level >= Permission.PARTNER_MANAGEMENT:
        return url_for("outsource_pages.dashboard")
    return url_for("outsource_pages.work")


def outsource_home_url() -> str | None:
    """``home_url`` for the signed-in user (the error page's "Go back" without a referrer)."""
    return home_url(current_level())


def outsource_nav() -> Markup:
    """The "Outsourced work" link with a badge of what waits, for the host's header; empty below
    Allow Outsourcing."""
    level = current_level()
    if level is None or level < Permission.OUTSOURCE:
        return Markup("")
    counts = work_counts(current_outsource().session)
    return Markup(render_template("outsource/nav_link.html", counts=counts))  # noqa: S704 autoescaped template
