"""The credential row's copy of its current sealed secret (what a snapshot miss reads) stays
equal to the current version's, whatever wrote: a creation, a rotation, a failed rotation, a
deletion, a KEK rewrap, SQL typed by hand (both databases: their triggers differ). Each test
keeps a second credential whose copy a trigger must not touch."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.crypto import Envelope
from app.db import transaction
from app.keys.rewrap import rewrap_batch
from app.sealed import sealed_tables
from app.state import AppState
from tests.api.walmart_setup import rotate_to_new_key, signature_credential, with_new_kek
from tests.factories import new_rsa_key, signature_auth
from tests.walmart_sim import SimulatorControl

# Each credential: its copy, and the sealed secret of the version its row calls current.
PAIRS = """
SELECT c.id, c.current_sealed_secret, v.sealed_secret
FROM credentials c
LEFT JOIN credential_versions v ON v.credential_id = c.id AND v.version = c.current_version
"""


async def _sql(state: AppState, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_async_engine(state.settings.database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _copy_of(state: AppState, credential_id: str) -> str | None:
    """The copy, after checking that every credential's copy is its current version's."""
    pairs = await _sql(state, PAIRS)
    assert pairs, "no credentials"
    for found_id, copy, current in pairs:
        assert copy == current, f"credential {found_id}: copy out of step"
    copies: dict[str, str | None] = {str(uuid.UUID(str(i))): copy for i, copy, _ in pairs}
    return copies[credential_id]


async def _two_credentials(
    client: httpx.AsyncClient, control: SimulatorControl, state: AppState
) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """A bystander credential and its copy, which no step of a test may change, then the
    credential the test works on."""
    bystander = await signature_credential(client, control, account_id="bystander")
    kept = await _copy_of(state, bystander["id"])
    return bystander, kept, await signature_credential(client, control)


async def test_the_copy_follows_creation_rotation_and_deletion(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    bystander, kept, credential = await _two_credentials(client, walmart_control, vault_state)
    first = await _copy_of(vault_state, credential["id"])
    assert first is not None
    assert first.startswith("v1$")

    failed = await client.post(  # a key Walmart does not know: version 2 fails, 1 stays
        f"/v1/credentials/{credential['id']}/rotate",
        json={"auth": signature_auth(credential["consumer_id"], new_rsa_key(1024))},
    )
    assert failed.status_code == 422, failed.text
    assert await _copy_of(vault_state, credential["id"]) == first

    await rotate_to_new_key(client, walmart_control, credential)
    second = await _copy_of(vault_state, credential["id"])
    assert second is not None
    assert second != first

    assert (await client.delete(f"/v1/credentials/{credential['id']}")).status_code == 204
    assert await _copy_of(vault_state, credential["id"]) is None
    assert await _copy_of(vault_state, bystander["id"]) == kept


async def test_the_copy_follows_a_kek_rewrap(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    bystander = await signature_credential(client, walmart_control, account_id="bystander")
    credential = await signature_credential(client, walmart_control)
    rotated = with_new_kek(vault_state.settings, "next-1")
    async with transaction(vault_state.sessionmaker) as session:
        assert await rewrap_batch(sealed_tables(session), rotated, size=10) == 2
    for each in (credential, bystander):
        copy = await _copy_of(vault_state, each["id"])
        assert Envelope.kek_of(copy or "")[1] == "next-1"


async def test_the_copy_follows_sql_typed_by_hand(
    client: httpx.AsyncClient, vault_state: AppState, walmart_control: SimulatorControl
) -> None:
    bystander, kept, credential = await _two_credentials(client, walmart_control, vault_state)
    await rotate_to_new_key(client, walmart_control, credential)
    second = await _copy_of(vault_state, credential["id"])
    (row_id,) = (
        await _sql(vault_state, "SELECT id FROM credentials WHERE account_id <> 'bystander'")
    )[0]

    async def sql(statement: str) -> None:
        await _sql(vault_state, statement, i=row_id)

    # Back to version 1 by hand, then version 1's secret changed by hand.
    await sql("UPDATE credentials SET current_version = 1 WHERE id = :i")
    first = await _copy_of(vault_state, credential["id"])
    assert first != second
    await sql(
        "UPDATE credential_versions SET sealed_secret = 'v1$a'"
        " WHERE credential_id = :i AND version = 1"
    )
    assert await _copy_of(vault_state, credential["id"]) == "v1$a"
    # A version that is not current changes nothing on the credential.
    await sql(
        "UPDATE credential_versions SET sealed_secret = NULL"
        " WHERE credential_id = :i AND version = 2"
    )
    assert await _copy_of(vault_state, credential["id"]) == "v1$a"
    # The current version's row deleted, then inserted again.
    await sql("DELETE FROM credential_versions WHERE credential_id = :i AND version = 1")
    assert await _copy_of(vault_state, credential["id"]) is None
    await sql(
        "INSERT INTO credential_versions (credential_id, version, state, sealed_secret,"
        " fingerprint, created_at) VALUES (:i, 1, 'previous', 'v1$b', 'f', CURRENT_TIMESTAMP)"
    )
    assert await _copy_of(vault_state, credential["id"]) == "v1$b"
    assert await _copy_of(vault_state, bystander["id"]) == kept
