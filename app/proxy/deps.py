"""The lifespan state as the proxy route uses it: ``app.deps.RouterState`` and the proxy
(see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends

from app.deps import RouterState, get_state
from app.proxy.service import WalmartProxy


class ProxyState(RouterState, Protocol):
    @property
    def proxy(self) -> WalmartProxy: ...


# The one lookup of app.deps, typed by what this package uses of the state.
StateDep = Annotated[ProxyState, Depends(get_state)]
