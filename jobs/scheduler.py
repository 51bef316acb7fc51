"""Run the jobs on APScheduler 3, in the web process or a worker of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from outsource_plugin.db.mail import WAKE_MAIL
from outsource_plugin.db.outbox import WAKE_DELIVERY
from outsource_plugin.jobs.counts import fold_counts
from outsource_plugin.jobs.deadlines import expire_offers
from outsource_plugin.jobs.deliver import deliver_due
from outsource_plugin.jobs.mail import send_mail_due
from outsource_plugin.jobs.poll import poll_all
from outsource_plugin.jobs.reconcile import reconcile_all
from outsource_plugin.state import OutsourceState, current_outsource


def run_once(state: OutsourceState) -> dict[str, int]:
    """One full round, in the order that lets a change cross in a single call."""
    delivered = sum(deliver_due(state).values())
    polled = poll_all(state)
    expired = expire_offers(state)
    delivered += sum(deliver_due(state).values())
    return {"delivered": delivered, "changes": polled, "expired": expired}


def _in_app(app: Flask, job: Callable[[OutsourceState], Any]) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            job(current_outsource())

    run.__name__ = run.__qualname__ = job.__name__
    return run


class _OverrunFilter(logging.Filter):
    """Drops APScheduler's warning that a round is still running when the next one is due.

    The jobs run on short intervals with ``max_instances=1``: a round that
    outlasts its interval (a slow partner, a big batch) is normal, and the
    skipped start is made up by the next one. Logged every interval, the
    warning would bury the ones that matter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_OVERRUN_FILTER = _OverrunFilter()


def _add_jobs(scheduler: Any, app: Flask) -> None:
    logging.getLogger("apscheduler.scheduler").addFilter(_OVERRUN_FILTER)
    cfg = app.extensions["outsource"].config
    jobs: list[tuple[Callable[[OutsourceState], Any], float]] = [
        (deliver_due, cfg["OUTSOURCE_DELIVERY_INTERVAL"]),
        (poll_all, cfg["OUTSOURCE_POLL_INTERVAL"]),
        (expire_offers, cfg["OUTSOURCE_DEADLINE_INTERVAL"]),
        (fold_counts, cfg["OUTSOURCE_COUNTS_INTERVAL"]),
        (reconcile_all, cfg["OUTSOURCE_RECONCILE_INTERVAL"]),
    ]
    if cfg["OUTSOURCE_MAIL_ENABLED"]:
        jobs.append((send_mail_due, cfg["OUTSOURCE_MAIL_INTERVAL"]))
    for job, interval in jobs:
        scheduler.add_job(
            _in_app(app, job), "interval", seconds=float(interval), id=job.__name__, max_instances=1, coalesce=True
        )


def start_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(daemon=True)
    _add_jobs(scheduler, app)
    scheduler.start()
    _nudge_delivery_on_commit(app, scheduler)
    state: OutsourceState = app.extensions["outsource"]
    state.poll_now = lambda: scheduler.modify_job("poll_all", next_run_time=datetime.now(timezone.utc))
    return scheduler


#: ``session.info`` flag a commit leaves -> the job it runs now
NUDGES = {WAKE_DELIVERY: "deliver_due", WAKE_MAIL: "send_mail_due"}


def _nudge_delivery_on_commit(app: Flask, scheduler: BackgroundScheduler) -> None:
    """A nudge: a commit that queued outbox messages (or mail) runs the delivery (or mail) job now,
    not at its next interval, so a change reaches a peer in one round trip rather than half an
    interval later."""
    state = app.extensions["outsource"]

    def after_commit(session: Session) -> None:
        if not has_app_context() or current_app.extensions.get("outsource") is not state:
            return
        for flag, job_id in NUDGES.items():
            if session.info.pop(flag, False) and scheduler.running:
                try:
                    scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
                except JobLookupError:
                    logging.getLogger(__name__).info("%s not nudged: the job is not scheduled here", job_id)

    event.listen(state.session, "after_commit", after_commit)


def run_worker(app: Flask) -> None:
    """Block, running the jobs, until interrupted: ``flask outsource worker``."""
    scheduler = BlockingScheduler()
    _add_jobs(scheduler, app)
    scheduler.start()
