"""The lifespan state as the credentials routes use it: ``app.deps.RouterState`` and the live
tester (see ``app.deps`` for why routers do not import ``app.state``)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends

from app.credentials.testing import LiveTester
from app.deps import RouterState, get_state


class CredentialsState(RouterState, Protocol):
    @property
    def tester(self) -> LiveTester: ...


# The one lookup of app.deps, typed by what this package uses of the state.
StateDep = Annotated[CredentialsState, Depends(get_state)]
