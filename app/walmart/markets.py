"""What Walmart asks of a call in each market: the one table the vault's header sets follow.

Sources (reference/walmart-auth.md 1.6, 2.5, 4; Walmart's US, CA, MX and CL auth pages):

- ``WM_MARKET`` is sent outside the US (Walmart reads a missing header as ``us``);
- ``WM_CONSUMER.CHANNEL.TYPE`` is required for V3 calls in MX and CL, and for CA signature
  calls; elsewhere it is sent when the credential has one;
- MX and CL list ``Authorization: Basic`` as required on every call. The vault never hands
  Basic out (it is the client secret, reversibly encoded): those calls go through the proxy,
  which adds it inside the vault;
- Consumer ID + Private Key signatures exist only in CA's production marketplace (Walmart
  issues only OAuth keys for its sandbox).

The README's per-market table is this one, spelled out; ``tests/api/test_market_headers.py``
checks every issued set against it.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCEPT = "application/json"


@dataclass(frozen=True, slots=True)
class MarketRules:
    wm_market: str | None
    channel_type_required: bool
    basic_on_every_call: bool
    signature_environments: tuple[str, ...]


MARKETS: dict[str, MarketRules] = {
    "US": MarketRules(None, False, False, ()),
    "CA": MarketRules("ca", False, False, ("production",)),
    "MX": MarketRules("mx", True, True, ()),
    "CL": MarketRules("cl", True, True, ()),
}

COMMON = ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID", "Accept")
SIGNATURE = (
    "WM_SEC.AUTH_SIGNATURE",
    "WM_SEC.TIMESTAMP",
    "WM_CONSUMER.ID",
    "WM_CONSUMER.CHANNEL.TYPE",
)


def market_header(market: str) -> dict[str, str]:
    """``WM_MARKET`` outside the US."""
    wm_market = MARKETS[market].wm_market
    return {} if wm_market is None else {"WM_MARKET": wm_market}


def channel_type_required(market: str, kind: str) -> bool:
    return kind == "signature" or MARKETS[market].channel_type_required


def issued_header_names(market: str, kind: str, *, has_channel_type: bool) -> frozenset[str]:
    """The names of the header set the vault issues for one call (never ``Authorization``)."""
    if kind == "signature":
        return frozenset((*COMMON, *SIGNATURE))
    names = {*COMMON, "WM_SEC.ACCESS_TOKEN", *market_header(market)}
    if has_channel_type or MARKETS[market].channel_type_required:
        names.add("WM_CONSUMER.CHANNEL.TYPE")
    return frozenset(names)
