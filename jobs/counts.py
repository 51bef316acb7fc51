"""Folding the dashboard's status counts: each transition adds rows, this sums them into one per key.

Without it the rows grow with every transition and the dashboard's read with
them; folded every ``OUTSOURCE_COUNTS_INTERVAL`` seconds they stay a few
dozen rows. Reconciliation checks the counts themselves (``reconcile_all``).
"""

from __future__ import annotations

from outsource_plugin.core.status_counts import fold
from outsource_plugin.state import OutsourceState


def fold_counts(state: OutsourceState) -> int:
    """Fold the status count rows and commit; how many rows were folded."""
    rows = fold(state.session)
    state.session.commit()
    return rows
