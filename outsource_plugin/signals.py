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

#: sender: the Flask app; kwargs: engagement, action, side, from_status, to_status, actor, reason
status_changed = _signals.signal("outsource-status-changed")
#: sender: the Flask app; kwargs: engagement, text, author
question_asked = _signals.signal("outsource-question-asked")
#: sender: the Flask app; kwargs: partner, error
sync_failed = _signals.signal("outsource-sync-failed")

_PENDING = "outsource_pending_signals"


def send_after_commit(session: Session, signal: Any, sender: Any, **kwargs: Any) -> None:
    session.info.setdefault(_PENDING, []).append((signal, sender, kwargs))


@event.listens_for(Session, "after_commit")
def _flush_signals(session: Session) -> None:
    for signal, sender, kwargs in session.info.pop(_PENDING, []):
        signal.send(sender, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_signals(session: Session) -> None:
    session.info.pop(_PENDING, None)
