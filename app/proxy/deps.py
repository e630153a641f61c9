"""The lifespan state as the proxy route uses it: ``app.deps.RouterState`` and the proxy
(see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from app.deps import RouterState
from app.proxy.service import WalmartProxy


class ProxyState(RouterState, Protocol):
    @property
    def proxy(self) -> WalmartProxy: ...


async def get_state(request: Request) -> ProxyState:
    state: ProxyState = request.app.state.vault
    return state


StateDep = Annotated[ProxyState, Depends(get_state)]
