"""A KEK rotation re-wraps mPorts' App Store app secrets like every other sealed value."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from app.config import Settings
from app.connections.apps import open_app_secret
from app.connections.models import WalmartApp
from app.connections.sealed import SealedAppSecrets
from app.db import make_engine, make_sessionmaker, transaction
from app.keys.providers import build_envelope
from app.keys.rewrap import backlog, rewrap_batch
from tests.connections.flow import APP_SECRET, register_app
from tests.factories import keks_rotated_to
from tests.walmart_sim import SimulatorControl


async def test_app_secrets_move_to_the_new_kek(
    client: httpx.AsyncClient, walmart_control: SimulatorControl, settings: Settings
) -> None:
    await register_app(client, walmart_control)
    assert settings.local_keks is not None
    keks = keks_rotated_to("rotated", settings.local_keks)
    kek = build_envelope(settings.model_copy(update={"local_keks": SecretStr(keks)}))
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with transaction(sessionmaker) as session:
            assert await backlog([SealedAppSecrets(session)], kek.envelope) == 1
            assert await rewrap_batch([SealedAppSecrets(session)], kek.envelope, size=10) == 1
        async with sessionmaker() as session:
            assert await backlog([SealedAppSecrets(session)], kek.envelope) == 0
            app = (await session.execute(select(WalmartApp))).scalar_one()
            assert app.sealed_secret.startswith("v1$local$rotated$")
            assert await open_app_secret(kek.envelope, app) == APP_SECRET
    finally:
        await engine.dispose()
        await kek.aclose()
