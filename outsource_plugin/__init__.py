"""Outsource help-desk tickets to partner organisations, and take in theirs.

Where things live (docs/architecture.md has the layers and a note's walk through them):
``extension`` composes the plugin; ``state`` is what every module reaches through
``current_outsource()``; ``workflow`` is the transition table; ``db/``, ``host/``,
``federation/``, ``core/``, ``sync/``, ``ops/``, ``validation/`` and ``cli/`` are the layers;
``adapters/``, ``blueprints/`` and ``jobs/`` sit beside them in the repository.

Who commits: the runners own the transaction. Jobs (``outsource_plugin.jobs``),
CLI commands (``outsource_plugin.cli``) and views (``outsource_plugin.blueprints``)
commit or roll back; core functions only change the session they are given and never
commit, so a runner can make one transaction of several of them and a failure leaves
nothing half-written. The one exception is a loop that must not hold a transaction
across a call to a partner: it commits, and its name says so (``reconcile_and_commit``).
``tests/test_layout.py`` enforces the rule.
"""

from outsource_plugin import moved
from outsource_plugin.extension import Outsourcing
from outsource_plugin.host.entries import EntryKind, EntryMap
from outsource_plugin.host.fields import Field
from outsource_plugin.host.protocol import HostAdapter, HostUser, TicketInfo
from outsource_plugin.host.sqlalchemy_host import SQLAlchemyHost
from outsource_plugin.permissions import Permission
from outsource_plugin.state import OutsourceState, current_outsource
from outsource_plugin.sync.origins import Origin, TicketOrigins, entry_origins
from outsource_plugin.workflow import Action, Side, Status

__all__ = [
    "Action",
    "EntryKind",
    "EntryMap",
    "Field",
    "HostAdapter",
    "HostUser",
    "Origin",
    "OutsourceState",
    "Outsourcing",
    "Permission",
    "SQLAlchemyHost",
    "Side",
    "Status",
    "TicketInfo",
    "TicketOrigins",
    "current_outsource",
    "entry_origins",
]

moved.install()
