"""Outsource help-desk tickets to partner organisations, and take in theirs.

Where things live (docs/architecture.md has the layers and a note's walk through them):
``extension`` composes the plugin; ``state`` is what every module reaches through
``current_outsource()``; ``workflow`` is the transition table; ``db/``, ``host/``,
``federation/``, ``core/``, ``sync/``, ``ops/``, ``validation/`` and ``cli/`` are the layers;
``adapters/``, ``blueprints/`` and ``jobs/`` sit beside them in the repository.
Transactions belong to the runners: views, CLI commands and jobs commit, core functions do not.
"""

from outsource_plugin import moved
from outsource_plugin.extension import Outsourcing
from outsource_plugin.host.entries import EntryKind, EntryMap
from outsource_plugin.host.protocol import HostAdapter, HostUser, TicketInfo
from outsource_plugin.host.sqlalchemy_host import SQLAlchemyHost
from outsource_plugin.permissions import Permission
from outsource_plugin.state import OutsourceState, current_outsource
from outsource_plugin.workflow import Action, Side, Status

__all__ = [
    "Action",
    "EntryKind",
    "EntryMap",
    "HostAdapter",
    "HostUser",
    "OutsourceState",
    "Outsourcing",
    "Permission",
    "SQLAlchemyHost",
    "Side",
    "Status",
    "TicketInfo",
    "current_outsource",
]

moved.install()
