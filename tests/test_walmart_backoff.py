"""Token-call backoffs run on the clock they are given, expiry included: a test (or a caller)
that moves that clock sees them end and be forgotten without waiting."""

from __future__ import annotations

import uuid

from app.walmart.backoff import FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, Backoffs
from app.walmart.outcomes import WalmartFailure


def test_a_backoff_doubles_and_is_forgotten_on_its_own_clock() -> None:
    now = [1000.0]
    backoffs = Backoffs(10, timer=lambda: now[0])
    seller = uuid.uuid4()
    failure = WalmartFailure("walmart_unavailable", "Walmart is down")

    first = backoffs.failed(seller, failure)
    assert first.delay == FIRST_BACKOFF_SECONDS
    assert backoffs.active(seller) is first
    now[0] += FIRST_BACKOFF_SECONDS
    assert backoffs.active(seller) is None  # over, but remembered: the next doubles
    assert backoffs.failed(seller, failure).delay == 2 * FIRST_BACKOFF_SECONDS

    now[0] += 2 * MAX_BACKOFF_SECONDS  # no real time passes
    assert backoffs.failed(seller, failure).delay == FIRST_BACKOFF_SECONDS
