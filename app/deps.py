"""What routers take from the lifespan state: ``StateDep``, typed by what they use.

``app.state`` builds every package, so a router importing it would close a cycle. Routers
import this instead: ``RouterState`` names the parts any router may use, and
``app.state.AppState`` (on ``request.app.state.vault``) provides them. A package that needs a
part of its own extends the protocol in its own module (``app.credentials.deps``).
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import Envelope


class RouterState(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def envelope(self) -> Envelope: ...


# ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop per
# request for what is an attribute lookup.
async def get_state(request: Request) -> RouterState:
    state: RouterState = request.app.state.vault
    return state


StateDep = Annotated[RouterState, Depends(get_state)]
