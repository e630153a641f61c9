"""The lifespan state as the hand-over pages use it: ``app.deps.RouterState``, the hand-over
and its throttle (see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends

from app.deps import RouterState, get_state
from app.intake.handover import Handover
from app.pages.throttle import PageThrottle


class IntakeState(RouterState, Protocol):
    @property
    def handover(self) -> Handover: ...
    @property
    def page_throttle(self) -> PageThrottle: ...


# The one lookup of app.deps, typed by what this package uses of the state.
StateDep = Annotated[IntakeState, Depends(get_state)]
