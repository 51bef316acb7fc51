"""The daily reconciliation: compare both sides of every syncing engagement and repair our drift.

Repairs are safe to run unattended: they only re-send our own entries through
the outbox (applied once by entry key) and never what the sync rules keep
back. What this side cannot repair is logged for an operator, who can look
closer with ``flask outsource reconcile``. A status count of the dashboard that
drifted from the engagements is put right as well.
"""

from __future__ import annotations

import logging

from outsource_plugin.core.status_counts import check
from outsource_plugin.state import OutsourceState
from outsource_plugin.sync.reconcile import reconcile_and_commit, syncing_engagements

log = logging.getLogger(__name__)


def reconcile_all(state: OutsourceState) -> int:
    """One reconciliation round with repairs, the dashboard's status counts too; returns how many drifts it found."""
    counts = check(state.session, repair=True)
    state.session.commit()
    report = reconcile_and_commit(state, syncing_engagements(state), repair=True)
    for drift in report.unresolved:
        log.warning("reconciliation: %s %s: %s", drift.engagement_uid, drift.kind.value, drift.detail)
    if report.drifts:
        repaired = len(report.drifts) - len(report.unresolved)
        log.info("reconciliation: %d engagements, %d drifts, %d repaired", report.checked, len(report.drifts), repaired)
    return len(report.drifts) + len(counts)
