"""The delivery backoff is what its docstring promises: exponential, capped, with full jitter."""

from __future__ import annotations

import random

import pytest

from outsource_plugin.db.outbox import backoff

DRAWS = 20_000


def draws(attempt: int, *, cap: float = 300.0) -> list[float]:
    rng = random.Random(14)
    return [backoff(attempt, cap=cap, rng=rng) for _ in range(DRAWS)]


@pytest.mark.parametrize(("attempt", "ceiling"), [(0, 1.0), (1, 1.0), (2, 2.0), (4, 8.0), (9, 256.0), (10, 300.0)])
def test_full_jitter_spreads_waits_from_zero_to_the_capped_exponential(attempt: int, ceiling: float) -> None:
    waits = draws(attempt)
    assert 0.0 <= min(waits) < 0.01 * ceiling, "full jitter may retry almost at once"
    assert 0.99 * ceiling < max(waits) <= ceiling
    below_half = sum(w < ceiling / 2 for w in waits) / DRAWS
    assert 0.47 < below_half < 0.53, "uniform over the whole range, not over its upper half (equal jitter)"


def test_the_cap_bounds_every_wait() -> None:
    assert max(draws(30, cap=2.0)) <= 2.0
