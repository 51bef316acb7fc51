"""Queue the e-mails of a transaction's signals before it commits, in that same transaction.

Signals are sent only after the commit (``outsource_plugin.signals``): a mail
sent from a receiver would be lost if the process died right after the commit
or the mail server were away. The e-mails are therefore written to the mail
outbox in ``before_commit``, from the signals the transaction will send.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from outsource_plugin import signals
from outsource_plugin.db.mail import enqueue_mail
from outsource_plugin.notify.compose import mails_for
from outsource_plugin.state import OutsourceState


def queue_mail_before_commit(state: OutsourceState) -> None:
    """Listen on the host's session: every commit of this app queues the mail its signals cause.

    Registered after the host's own ``before_commit`` hook (``HostAdapter.watch``), so the
    signals of what the plugin does in answer to the host's change are there too.
    """

    def before_commit(session: Session) -> None:
        if not has_app_context() or current_app.extensions.get("outsource") is not state:
            return
        pending = [p for p in signals.pending(session) if p[1] is state.app]
        if not pending:
            return
        session.flush()  # an offer received in this transaction has no id for its link before
        for signal, _, kwargs in pending:
            for mail in mails_for(state, signal, kwargs):
                enqueue_mail(session, **asdict(mail))

    event.listen(state.session, "before_commit", before_commit)
