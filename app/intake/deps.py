"""The lifespan state as the hand-over pages use it: ``app.deps.RouterState``, the hand-over
and its throttle (see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from app.deps import RouterState
from app.intake.handover import Handover
from app.pages.throttle import PageThrottle


class IntakeState(RouterState, Protocol):
    @property
    def handover(self) -> Handover: ...
    @property
    def page_throttle(self) -> PageThrottle: ...


async def get_state(request: Request) -> IntakeState:
    state: IntakeState = request.app.state.vault
    return state


StateDep = Annotated[IntakeState, Depends(get_state)]
