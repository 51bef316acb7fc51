"""How the plugin reaches the host help desk: the adapter protocol (``protocol``), the ready-made
SQLAlchemy host (``sqlalchemy_host``), and the entry kinds and field maps (``entries``).

The protocol's names are re-exported here: ``from outsource_plugin.host import HostAdapter``
is the path hosts and the guide use.
"""

from outsource_plugin.host.protocol import EntryChange, EntryOp, HostAdapter, HostChanges, HostUser, TicketInfo

__all__ = ["EntryChange", "EntryOp", "HostAdapter", "HostChanges", "HostUser", "TicketInfo"]
