"""Moving the token broker's clocks forward, so tests of token lifetimes and backoffs do not
wait for them (the broker takes its clocks as parameters)."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow
from app.walmart.broker import TokenBroker


def age_tokens(broker: TokenBroker, seconds: float) -> None:
    """The broker's wall clock, ``seconds`` further on: tokens are that much older to it."""
    offset = broker.wall() - utcnow() + timedelta(seconds=seconds)
    broker.wall = lambda: utcnow() + offset


def end_backoffs(broker: TokenBroker, seconds: float) -> None:
    """The broker's monotonic clock, ``seconds`` further on: backoffs end that much sooner."""
    before = broker.monotonic
    broker.monotonic = lambda: before() + seconds
