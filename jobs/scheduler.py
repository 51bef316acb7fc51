"""Run the jobs on APScheduler 3, in the web process or a worker of its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from outsource_plugin.extension import OutsourceState, current_outsource
from outsource_plugin.jobs.deadlines import expire_offers
from outsource_plugin.jobs.deliver import deliver_due
from outsource_plugin.jobs.poll import poll_all


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

    run.__name__ = job.__name__
    return run


def _add_jobs(scheduler: Any, app: Flask) -> None:
    cfg = app.extensions["outsource"].config
    for job, interval in (
        (deliver_due, cfg["OUTSOURCE_DELIVERY_INTERVAL"]),
        (poll_all, cfg["OUTSOURCE_POLL_INTERVAL"]),
        (expire_offers, cfg["OUTSOURCE_DEADLINE_INTERVAL"]),
    ):
        scheduler.add_job(
            _in_app(app, job), "interval", seconds=float(interval), id=job.__name__, max_instances=1, coalesce=True
        )


def start_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(daemon=True)
    _add_jobs(scheduler, app)
    scheduler.start()
    return scheduler


def run_worker(app: Flask) -> None:
    """Block, running the jobs, until interrupted: ``flask outsource worker``."""
    scheduler = BlockingScheduler()
    _add_jobs(scheduler, app)
    scheduler.start()


def wake_poller(state: OutsourceState) -> None:
    """A nudge: run the poll job now rather than at its next interval, if it runs in this process."""
    if state.scheduler is not None:
        state.scheduler.modify_job("poll_all", next_run_time=datetime.now(timezone.utc))
