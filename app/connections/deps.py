"""The lifespan state as the App Store callback page uses it: ``app.deps.RouterState`` and the
callback handler (see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends

from app.connections.callback import CallbackHandler
from app.deps import RouterState, get_state


class CallbackState(RouterState, Protocol):
    @property
    def callback(self) -> CallbackHandler: ...


# The one lookup of app.deps, typed by what this package uses of the state.
StateDep = Annotated[CallbackState, Depends(get_state)]
