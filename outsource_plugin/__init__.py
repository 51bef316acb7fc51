"""Outsource help-desk tickets to partner organisations, and take in theirs."""

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
