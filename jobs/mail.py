"""Send the mail outbox: lease due e-mails, hand each to the SMTP server, record the outcome.

A mail server that is away delays mail and loses none: the e-mail stays queued and is
retried with the partner outbox's backoff until ``OUTSOURCE_MAX_ATTEMPTS``. A message is
marked sent in the commit right after the server took it, so it is not sent again.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from outsource_plugin.db.mail import claim_mail
from outsource_plugin.db.models import MailMessage, MessageState, utcnow
from outsource_plugin.db.outbox import backoff, release
from outsource_plugin.jobs.deliver import claim_round, worker_name
from outsource_plugin.notify.smtp import build_message, send_message
from outsource_plugin.state import OutsourceState

log = logging.getLogger(__name__)


def send_mail_due(state: OutsourceState, *, worker: str | None = None) -> int:
    """One round: every due e-mail, each in its own transaction; the number sent."""
    session = state.session
    started = utcnow()
    sent = 0
    while ids := claim_round(state, claim_mail, worker or worker_name(), started):
        for mail_id in ids:
            mail = session.get(MailMessage, mail_id)
            if mail is None or mail.state is not MessageState.PENDING:
                continue
            sent += send_one(state, mail)
            session.commit()
    return sent


def send_one(state: OutsourceState, mail: MailMessage) -> bool:
    """Send one leased e-mail; True when the server took it. The caller commits the outcome."""
    mail.attempts += 1
    message = build_message(state.config, mail)
    state.session.commit()  # no transaction held across the call to the mail server
    try:
        send_message(state.config, message)
    except smtplib.SMTPRecipientsRefused as err:
        _failed(state, mail, f"the mail server refused the recipient: {err.recipients}", final=True)
        return False
    except (OSError, smtplib.SMTPException) as err:
        _failed(state, mail, f"{type(err).__name__}: {err}", final=False)
        return False
    release(mail)
    mail.state = MessageState.DELIVERED
    mail.sent_at = utcnow()
    mail.last_error = None
    return True


def _failed(state: OutsourceState, mail: MailMessage, error: str, *, final: bool) -> None:
    release(mail)
    mail.last_error = error
    if final or mail.attempts >= int(state.config["OUTSOURCE_MAX_ATTEMPTS"]):
        mail.state = MessageState.DEAD
        log.warning("e-mail %s to %s given up after %d attempts: %s", mail.id, mail.recipient, mail.attempts, error)
        return
    wait = backoff(mail.attempts, cap=float(state.config["OUTSOURCE_BACKOFF_CAP"]))
    mail.next_attempt_at = utcnow() + timedelta(seconds=wait)
    log.info("e-mail %s to %s failed, retry in %.1fs: %s", mail.id, mail.recipient, wait, error)
