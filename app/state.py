"""What the lifespan builds once per process, and the dependencies that hand it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import Envelope


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    envelope: Envelope


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.vault
    return state


def get_envelope(request: Request) -> Envelope:
    return get_state(request).envelope


def get_app_settings(request: Request) -> Settings:
    return get_state(request).settings


StateDep = Annotated[AppState, Depends(get_state)]
EnvelopeDep = Annotated[Envelope, Depends(get_envelope)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
