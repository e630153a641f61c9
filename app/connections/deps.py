"""The lifespan state as the App Store callback page uses it: ``app.deps.RouterState`` and the
callback handler (see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from app.connections.callback import CallbackHandler
from app.deps import RouterState


class CallbackState(RouterState, Protocol):
    @property
    def callback(self) -> CallbackHandler: ...


async def get_state(request: Request) -> CallbackState:
    state: CallbackState = request.app.state.vault
    return state


StateDep = Annotated[CallbackState, Depends(get_state)]
