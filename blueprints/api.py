"""The JSON API v1 blueprint; its routes live in ``api_tickets`` and ``api_admin``."""

from outsource_plugin.blueprints import api_admin, api_tickets
from outsource_plugin.blueprints.api_common import api

__all__ = ["api", "api_admin", "api_tickets"]
