"""Each change leaves an audit event in its own transaction; refused changes leave none."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.factories import oauth_body, signature_body


async def audit_rows(url: str) -> list[tuple[str, str, str | None, int | None]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT action, outcome, account_id, version FROM audit_events ORDER BY id")
            )
            return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


async def test_changes_are_audited_and_refusals_are_not(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    before = await audit_rows(settings.database_url)
    assert [r[0] for r in before] == ["client.created"]  # the bootstrap client

    created = (await client.post("/v1/credentials", json=signature_body())).json()
    await client.post("/v1/credentials", json=signature_body())  # 409
    await client.post("/v1/credentials", json=signature_body(market="US"))  # 422
    await client.patch(f"/v1/credentials/{created['id']}", json={"label": "x"})
    await client.delete(f"/v1/credentials/{created['id']}")
    made = (await client.post("/v1/clients", json={"name": "s", "scopes": ["admin"]})).json()
    await client.delete(f"/v1/clients/{made['id']}")
    await client.post("/v1/credentials", json=oauth_body())

    rows = (await audit_rows(settings.database_url))[1:]
    assert [r[0] for r in rows] == [
        "credential.created",
        "credential.updated",
        "credential.deleted",
        "client.created",
        "client.revoked",
        "credential.created",
    ]
    assert rows[0][1:] == ("success", "acme-ca", 1)
