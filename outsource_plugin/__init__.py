"""Outsource help-desk tickets to partner organisations, and take in theirs.

Who commits: the runners own the transaction. Jobs (``outsource_plugin.jobs``),
CLI commands (``cli*.py``) and views (``outsource_plugin.blueprints``) commit or
roll back; core functions only change the session they are given and never
commit, so a runner can make one transaction of several of them and a failure
leaves nothing half-written. The one exception is a loop that must not hold a
transaction across a call to a partner: it commits, and its name says so
(``reconcile_and_commit``). ``tests/test_layout.py`` enforces the rule.
"""

from outsource_plugin.entries import EntryKind, EntryMap
from outsource_plugin.extension import OutsourceState, Outsourcing, current_outsource
from outsource_plugin.host import HostAdapter, HostUser, TicketInfo
from outsource_plugin.host_sqlalchemy import SQLAlchemyHost
from outsource_plugin.permissions import Permission
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
