"""``refresh_token.expiring``: 30 and 7 days before an App Store refresh token ends, once
each, and again for the next expiry after a reconnection."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import update

from app.credentials.models import Credential
from app.db import utcnow
from app.state import AppState
from tests.api.walmart_setup import oauth_credential
from tests.walmart_sim import SimulatorControl
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


async def expire_at(state: AppState, credential_id: str, when: datetime) -> None:
    async with state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Credential)
            .where(Credential.id == uuid.UUID(credential_id))
            .values(refresh_expires_at=when)
        )


async def test_expiring_refresh_token_is_announced_at_30_and_7_days_once_each(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart_control: SimulatorControl,
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, receiver, "refresh_token.expiring")
    credential = await oauth_credential(client, walmart_control)
    other = await oauth_credential(client, walmart_control, account_id="far-away")
    watcher = vault_state.refresh_expiry
    first_expiry = utcnow() + timedelta(days=20, hours=1)
    await expire_at(vault_state, credential["id"], first_expiry)
    await expire_at(vault_state, other["id"], utcnow() + timedelta(days=200))
    assert await watcher.run_once() == 1
    assert await watcher.run_once() == 0
    await expire_at(vault_state, credential["id"], utcnow() + timedelta(days=5, hours=1))
    assert await watcher.run_once() == 1
    assert await watcher.run_once() == 0
    # Reconnected: a new refresh token, a new expiry, already inside 7 days (one notice).
    renewed = utcnow() + timedelta(days=3, hours=1)
    await expire_at(vault_state, credential["id"], renewed)
    assert await watcher.run_once() == 1
    assert await watcher.run_once() == 0
    await receiver.wait_for(3)
    payloads = [r.verify(hook["secret"]) for r in receiver.received]
    assert [p["type"] for p in payloads] == ["refresh_token.expiring"] * 3
    assert [p["data"]["days_left"] for p in payloads] == [20, 5, 3]
    assert {p["data"]["credential_id"] for p in payloads} == {credential["id"]}
    assert payloads[0]["data"]["expires_at"] == first_expiry.isoformat()
    assert payloads[2]["data"]["expires_at"] == renewed.isoformat()
