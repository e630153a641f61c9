"""The lifespan state as the credentials routes use it: ``app.deps.RouterState`` and the live
tester (see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from app.credentials.testing import LiveTester
from app.deps import RouterState


class CredentialsState(RouterState, Protocol):
    @property
    def tester(self) -> LiveTester: ...


async def get_state(request: Request) -> CredentialsState:
    state: CredentialsState = request.app.state.vault
    return state


StateDep = Annotated[CredentialsState, Depends(get_state)]
