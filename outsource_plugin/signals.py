"""Blinker signals a host can turn into e-mail or chat.

Signals raised during a transaction wait in the session and are sent only
after it commits, so a receiver never announces a change that rolled back.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace
from sqlalchemy import event
from sqlalchemy.orm import Session

_signals = Namespace()

#: The documentation of each signal ends with the keyword arguments it is sent with (a test pins them).
status_changed = _signals.signal(
    "outsource-status-changed",
    doc="Every status change, on either side, received offers included. Sender: the Flask app; "
    "kwargs: engagement_uid, ticket_id, action, side, from_status, to_status, actor, reason",
)
question_asked = _signals.signal(
    "outsource-question-asked",
    doc="A service partner's question to the lead. Sender: the Flask app; "
    "kwargs: engagement_uid, ticket_id, text, author",
)
sync_failed = _signals.signal(
    "outsource-sync-failed",
    doc="Syncing with a partner failed; its error is kept on the partner. Sender: the Flask app; "
    "kwargs: partner_id, error",
)

_PENDING = "outsource_pending_signals"


def send_after_commit(session: Session, signal: Any, sender: Any, **kwargs: Any) -> None:
    session.info.setdefault(_PENDING, []).append((signal, sender, kwargs))


def pending(session: Session) -> list[tuple[Any, Any, dict[str, Any]]]:
    """The signals this transaction will send once it commits, as ``(signal, sender, kwargs)``.

    For work that must commit with the change rather than follow it: the e-mail
    notifier queues its mail from these in ``before_commit``.
    """
    return list(session.info.get(_PENDING, []))


@event.listens_for(Session, "after_commit")
def _flush_signals(session: Session) -> None:
    for signal, sender, kwargs in session.info.pop(_PENDING, []):
        signal.send(sender, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_signals(session: Session) -> None:
    session.info.pop(_PENDING, None)
