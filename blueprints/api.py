"""The JSON API v1 blueprint.

Its routes live in ``api_tickets``, ``api_admin``, ``api_invitations``, ``api_health`` and ``openapi``.
"""

from outsource_plugin.blueprints import api_admin, api_csrf, api_health, api_invitations, api_tickets, openapi
from outsource_plugin.blueprints.api_common import api

__all__ = ["api", "api_admin", "api_csrf", "api_health", "api_invitations", "api_tickets", "openapi"]
