"""An access token as the token broker keeps it in memory, and the two rules for using it:
*fresh* (no refresh needed yet) and *usable* (still worth handing out when a refresh fails)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# A token this close to its end is not handed out even when a refresh fails: the caller could
# not finish its Walmart call with it.
MIN_USEFUL_LIFETIME = timedelta(seconds=5)
MAX_TOKEN_SECONDS = 900  # the longest life of a Walmart access token


@dataclass(frozen=True, slots=True, repr=False)
class CachedToken:
    version: int
    token: str
    expires_at: datetime
    fetched_at: datetime

    def __repr__(self) -> str:
        return f"CachedToken(version={self.version}, expires_at={self.expires_at})"

    def fresh(self, now: datetime, refresh_margin: timedelta) -> bool:
        """More than the refresh margin left: the margin, or half the token's lifetime when
        Walmart issues tokens shorter than twice the margin."""
        margin = min(refresh_margin, (self.expires_at - self.fetched_at) / 2)
        return self.expires_at - now > margin

    def usable(self, now: datetime) -> bool:
        return self.expires_at - now > MIN_USEFUL_LIFETIME
