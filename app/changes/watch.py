"""What a cache asks the change listener before trusting an entry past its staleness bound."""

from __future__ import annotations

import math
from typing import Protocol


class ChangeWatch(Protocol):
    """What a cache asks before trusting an entry past its staleness bound."""

    def epoch(self) -> int:
        """The listening connection now (0: none); a cache notes it before each read."""

    def vouches_for(self, epoch: int) -> bool:
        """Whether every change since a read made under ``epoch`` would have been announced."""

    def confirmed_at(self, epoch: int) -> float:
        """The last moment (monotonic) up to which a read made under ``epoch`` is known to
        be current, as far as the listener can tell (-inf: it cannot)."""


class NotListening:
    """SQLite, or no listener: nothing is vouched for, entries live by the bound alone."""

    def epoch(self) -> int:
        return 0

    def vouches_for(self, epoch: int) -> bool:
        return False

    def confirmed_at(self, epoch: int) -> float:
        return -math.inf


NOT_LISTENING = NotListening()
