"""README "Rotate the KEK", end to end: after ``rewrap`` the old KEK can go, and nothing the
vault holds needed it: webhooks are still delivered signed (the current and the previous
secret), and the App Store app secret still opens for a seller's connection. The data-key
count on old KEKs reads 0 only once every sealed column is re-wrapped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.config import Settings
from app.credentials.sealed import SealedSecrets, SealedTokens
from app.db import Base, make_engine, make_sessionmaker, transaction
from app.keys.providers import build_envelope
from app.keys.rewrap import kek_counts, rewrap_batch
from app.ops.models import StateCount
from app.sealed import sealed_tables
from tests.conftest import _empty_tables
from tests.connections import conftest as connections
from tests.connections.flow import connect, register_app
from tests.factories import keks_rotated_to
from tests.running import running_vault
from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.webhooks.conftest import FAST, subscribe
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings, walmart: SimulatorServer) -> Settings:
    """Webhooks to the loopback receiver, and App Store connections through the simulator."""
    return settings.model_copy(
        update=FAST
        | {
            "public_url": connections.PUBLIC_URL,
            "connection_return_origins": connections.RETURN_ORIGIN,
            "walmart_consent_url": f"{walmart.base_url}/consent",
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def with_keks(settings: Settings, keks: str) -> Settings:
    return settings.model_copy(update={"local_keks": SecretStr(keks)})


async def old_kek_count(settings: Settings, old: tuple[str, str]) -> int:
    """What ``/readyz`` and the metric read: the database's trigger-kept count."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            label = f"{old[0]}${old[1]}"
            count = await session.scalar(
                select(StateCount.count).where(
                    StateCount.kind == "data_keys", StateCount.label == label
                )
            )
            return count or 0
    finally:
        await engine.dispose()


async def test_webhooks_and_app_secrets_survive_dropping_the_old_kek(
    settings: Settings, walmart_control: SimulatorControl, receiver: Receiver
) -> None:
    await _empty_tables(settings.database_url)
    assert settings.local_keks is not None
    old_spec = settings.local_keks.get_secret_value()
    async with running_vault(settings) as client:
        await register_app(client, walmart_control)
        hook = await subscribe(client, receiver, "credential.invalid")
        path = f"/v1/webhooks/{hook['id']}"
        rotated = (await client.post(f"{path}/rotate-secret", json={"grace_seconds": 3600})).json()

    both = with_keks(settings, keks_rotated_to("rotated", old_spec))
    kek = build_envelope(both)
    new_spec = both.local_keks.get_secret_value().split(",")[0]  # type: ignore[union-attr]
    old = ("local", old_spec.split(":")[0])
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    try:
        # App secret, webhook secret and its previous one: all on the old KEK.
        assert await old_kek_count(settings, old) == 3
        async with transaction(sessionmaker) as session:
            # Re-wrapping only the credential tables (what rewrap covered before) is not enough.
            await rewrap_batch(
                [SealedSecrets(session), SealedTokens(session)], kek.envelope, size=50
            )
        assert await old_kek_count(settings, old) == 3
        async with transaction(sessionmaker) as session:
            assert await rewrap_batch(sealed_tables(session), kek.envelope, size=2) == 2
        assert await old_kek_count(settings, old) == 1
        async with transaction(sessionmaker) as session:
            assert await rewrap_batch(sealed_tables(session), kek.envelope, size=50) == 1
        assert await old_kek_count(settings, old) == 0
        async with sessionmaker() as session:
            assert old not in await kek_counts(sealed_tables(session))
    finally:
        await engine.dispose()
        await kek.aclose()

    async with running_vault(with_keks(settings, new_spec)) as client:
        ready = (await client.get("/readyz")).json()
        assert ready["details"]["data_keys_on_old_keks"] == 0, ready
        await client.post(f"{path}/test")
        (delivered,) = await receiver.wait_for(1)
        assert delivered.status == 204
        # Both secrets of the grace period still sign.
        assert delivered.verify(rotated["secret"]) == delivered.verify(hook["secret"])
        # The callback exchanges the seller's code with the app secret: it must still open.
        await connect(client)


def test_every_sealed_column_is_in_the_registry() -> None:
    """A new sealed column must join ``app.sealed`` (and get count triggers), or a KEK rotation
    leaves it behind."""
    stored = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if "sealed" in column.name
    }
    listed = {(t.column.class_.__tablename__, t.column.key) for t in sealed_tables(None)}  # type: ignore[arg-type]
    # A copy the database's triggers keep equal to a listed column (re-wrapped with it).
    copies = {("credentials", "current_sealed_secret")}
    assert stored == listed | copies
