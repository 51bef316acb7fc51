"""Run the jobs on APScheduler 3, in the web process or a worker of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.util import undefined
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from outsource_plugin.db.mail import WAKE_MAIL
from outsource_plugin.db.outbox import WAKE_DELIVERY
from outsource_plugin.db.wakeups import OutboxListener, listens
from outsource_plugin.host.sqlite import bound_sqlite_memory
from outsource_plugin.jobs.counts import fold_counts
from outsource_plugin.jobs.deadlines import expire_offers
from outsource_plugin.jobs.deliver import deliver_due
from outsource_plugin.jobs.delivery_loop import DeliveryLoop
from outsource_plugin.jobs.leave import send_leave_notices
from outsource_plugin.jobs.mail import send_mail_due
from outsource_plugin.jobs.poll import follow_feeds, poll_all, poll_due
from outsource_plugin.jobs.reconcile import reconcile_all
from outsource_plugin.jobs.rotate import rotate_due
from outsource_plugin.partnership.leaving import WAKE_LEAVE
from outsource_plugin.state import OutsourceState, current_outsource


def run_once(state: OutsourceState) -> dict[str, int]:
    """One full round, in the order that lets a change cross in a single call."""
    delivered = sum(deliver_due(state).values())
    rotate_due(state)
    send_leave_notices(state)
    polled = poll_all(state)
    expired = expire_offers(state)
    delivered += sum(deliver_due(state).values())
    return {"delivered": delivered, "changes": polled, "expired": expired}


def _in_app(app: Flask, job: Callable[[OutsourceState], Any], job_id: str) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            job(current_outsource())

    run.__name__ = run.__qualname__ = job_id
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


def _add_jobs(scheduler: Any, app: Flask, *, deliver: bool = True) -> None:
    """Schedule the jobs; without ``deliver`` the caller runs deliveries itself (``DeliveryLoop``)."""
    logging.getLogger("apscheduler.scheduler").addFilter(_OVERRUN_FILTER)
    cfg = app.extensions["outsource"].config
    poll = follow_feeds if cfg["OUTSOURCE_POLL_HOLD"] else poll_due
    jobs: list[tuple[Callable[[OutsourceState], Any], float]] = [
        *([(deliver_due, cfg["OUTSOURCE_DELIVERY_INTERVAL"])] if deliver else []),
        (send_leave_notices, cfg["OUTSOURCE_DELIVERY_INTERVAL"]),
        (poll, cfg["OUTSOURCE_POLL_INTERVAL"]),
        (expire_offers, cfg["OUTSOURCE_DEADLINE_INTERVAL"]),
        (fold_counts, cfg["OUTSOURCE_COUNTS_INTERVAL"]),
        (reconcile_all, cfg["OUTSOURCE_RECONCILE_INTERVAL"]),
        (rotate_due, cfg["OUTSOURCE_POLL_INTERVAL"]),
    ]
    if cfg["OUTSOURCE_MAIL_ENABLED"]:
        jobs.append((send_mail_due, cfg["OUTSOURCE_MAIL_INTERVAL"]))
    for job, interval in jobs:
        # the poll job keeps its id whichever way it polls: ``poll_now`` names it
        job_id = "poll_all" if job is poll else job.__name__
        # held polls are how changes arrive: the first starts now, not an interval from now
        first = datetime.now(timezone.utc) if job is follow_feeds else undefined
        scheduler.add_job(
            _in_app(app, job, job_id),
            "interval",
            seconds=float(interval),
            id=job_id,
            max_instances=1,
            coalesce=True,
            next_run_time=first,
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
NUDGES = {WAKE_DELIVERY: "deliver_due", WAKE_MAIL: "send_mail_due", WAKE_LEAVE: "send_leave_notices"}


def _nudge_delivery_on_commit(app: Flask, scheduler: BackgroundScheduler) -> None:
    """A nudge: a commit that queued outbox messages (or mail) runs the delivery (or mail) job now,
    not at its next interval, so a change reaches a peer in one round trip rather than half an
    interval later."""
    state = app.extensions["outsource"]

    def after_commit(session: Session) -> None:
        if not has_app_context() or current_app.extensions.get("outsource") is not state:
            return
        for flag, job_id in NUDGES.items():
            if session.info.pop(flag, False):
                _nudge(scheduler, job_id)

    event.listen(state.session, "after_commit", after_commit)


def _nudge(scheduler: BaseScheduler, job_id: str) -> None:
    """Run the job now rather than at its next interval (nothing when the scheduler is not running)."""
    if not scheduler.running:
        return
    try:
        scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
    except JobLookupError:
        logging.getLogger(__name__).info("%s not nudged: the job is not scheduled here", job_id)


def run_worker(app: Flask) -> None:
    """Block, running the jobs, until interrupted: ``flask outsource worker``.

    On PostgreSQL the worker also LISTENs for new outbox rows and runs its delivery round the
    moment one commits, in whichever process: web processes with ``OUTSOURCE_SCHEDULER`` off
    cannot nudge it. The delivery interval stays as the fallback.
    """
    scheduler = BlockingScheduler()
    with app.app_context():
        state = current_outsource()
        engine = state.session.get_bind().engine
    bound_sqlite_memory(engine, int(state.config["OUTSOURCE_WORKER_SQLITE_MEMORY"]))
    if not listens(engine):
        _add_jobs(scheduler, app)
        scheduler.start()
        return
    _add_jobs(scheduler, app, deliver=False)
    delivery = DeliveryLoop(app, float(state.config["OUTSOURCE_DELIVERY_INTERVAL"])).start()
    listener = OutboxListener(engine, delivery.wake).start()
    try:
        scheduler.start()
    finally:
        listener.stop()
        delivery.stop()
