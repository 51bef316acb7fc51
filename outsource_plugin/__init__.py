"""Outsource help-desk tickets to partner organisations, and take in theirs."""

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
