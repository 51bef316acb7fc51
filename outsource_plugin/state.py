"""The plugin's state for one app, and the way every module reaches it.

``Outsourcing.init_app`` puts one ``OutsourceState`` in ``app.extensions["outsource"]``;
modules read it through ``current_outsource()`` and never import the extension module,
which composes everything and so sits above all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from flask import Flask, current_app
from sqlalchemy.orm import Session, scoped_session

from outsource_plugin.adapters.base import PartnerAdapter
from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.db.feed_waits import FeedWaits
from outsource_plugin.db.models import Partner
from outsource_plugin.host.protocol import HostAdapter

#: the state whose ``session`` a ``session_resolved`` block running in this context resolved, and its session
_RESOLVED: ContextVar[tuple[OutsourceState, Session] | None] = ContextVar("outsource_resolved_session", default=None)


class OutsourceState:
    """Everything the plugin keeps for one app, in ``app.extensions["outsource"]``."""

    def __init__(self, app: Flask, host: HostAdapter, config: dict[str, Any]) -> None:
        self.app = app
        self.host = host
        self.config = config
        self._adapters: dict[int, tuple[str, PartnerAdapter]] = {}
        self.scheduler: Any = None
        #: run the poll job now; set by the scheduler that runs it in this process (the web
        #: side calls it when a partner's message arrives early), else nothing happens
        self.poll_now: Callable[[], None] = _nothing
        #: the plugin's own calls outside a partner adapter (joining with an invitation code);
        #: a test mounts a transport on it to reach another app in process
        self.http = requests.Session()
        #: partners' long polls of our feed held in this process, and what wakes them
        self.feed_waits = FeedWaits(int(config["OUTSOURCE_FEED_MAX_HELD"]))

    @property
    def session(self) -> Session:
        resolved = _RESOLVED.get()
        if resolved is not None and resolved[0] is self:
            return resolved[1]
        return self.host.session

    @contextmanager
    def session_resolved(self) -> Iterator[Session]:
        """``session`` is the host's session itself in the block, not the scoped session that stands
        for it: that looks the session up again on every use, and capture uses it a few times for
        each of a bulk write's thousands of entries. The block runs in one scope (one app context)."""
        session = self.session
        if isinstance(session, scoped_session):
            session = session()
        token = _RESOLVED.set((self, session))
        try:
            yield session
        finally:
            _RESOLVED.reset(token)

    def reset_adapters(self) -> None:
        """Forget cached adapter instances (and any state an in-memory one holds)."""
        self._adapters.clear()

    def adapter_for(self, partner: Partner) -> PartnerAdapter:
        """One adapter instance per partner, rebuilt when its settings change."""
        fingerprint = repr((partner.adapter, sorted(partner.config.items())))
        cached = self._adapters.get(partner.id)
        if cached is None or cached[0] != fingerprint:
            cls = adapter_class(partner.adapter)
            cached = (
                fingerprint,
                cls(partner.id, partner.config, timeout=float(self.config["OUTSOURCE_HTTP_TIMEOUT"])),
            )
            self._adapters[partner.id] = cached
        return cached[1]


def _nothing() -> None:
    """No scheduler runs the poll job in this process: the next interval brings the poll."""


def current_outsource() -> OutsourceState:
    """The plugin's state for the current app; fails clearly before ``init_app``."""
    state = current_app.extensions.get("outsource")
    if state is None:
        raise RuntimeError("Outsourcing has not been initialised on this app: call Outsourcing(app, host=...)")
    return state
