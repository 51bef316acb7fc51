"""The HTML pages blueprint, with every page module's routes attached to it."""

from outsource_plugin.blueprints import pages as ticket_pages
from outsource_plugin.blueprints import (
    pages_admin,
    pages_dashboard,
    pages_history,
    pages_invitations,
    pages_live,
    pages_work,
)
from outsource_plugin.blueprints.pages_common import pages

__all__ = [
    "pages",
    "pages_admin",
    "pages_dashboard",
    "pages_history",
    "pages_invitations",
    "pages_live",
    "pages_work",
    "ticket_pages",
]
