"""The audit API: filters, pagination, account restriction; and the hash chain."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from app.audit.batcher import MAX_BATCH
from app.audit.verify import verify_chain
from app.state import AppState
from tests.api.helpers import add_issued, assert_error, bearer, new_client_token
from tests.factories import oauth_body, signature_body


async def test_filters_and_pages_newest_first(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/credentials", json=oauth_body(account_id="a1"))).json()
    second = (await client.post("/v1/credentials", json=signature_body(account_id="a2"))).json()
    await client.patch(f"/v1/credentials/{first['id']}", json={"label": "x"})
    everything = (await client.get("/v1/audit", params={"limit": 200})).json()
    actions = [e["action"] for e in everything["items"]]
    assert actions == [
        "credential.updated",
        "credential.created",
        "credential.created",
        "client.created",
    ]
    event = everything["items"][0]
    assert set(event) == {
        "id",
        "at",
        "action",
        "client_id",
        "account_id",
        "credential_id",
        "version",
        "outcome",
        "request_id",
        "details",
    }
    assert event["credential_id"] == first["id"]
    assert event["request_id"]
    assert event["client_id"]

    by_credential = (await client.get("/v1/audit", params={"credential_id": second["id"]})).json()
    assert [e["action"] for e in by_credential["items"]] == ["credential.created"]
    by_action = (await client.get("/v1/audit", params={"action": "credential.created"})).json()
    assert len(by_action["items"]) == 2
    by_account = (await client.get("/v1/audit", params={"account_id": "a1"})).json()
    assert len(by_account["items"]) == 2
    later = (await client.get("/v1/audit", params={"since": event["at"]})).json()
    assert [e["id"] for e in later["items"]] == [event["id"]]

    pages, cursor = [], None
    while True:
        page = (
            await client.get(
                "/v1/audit", params={"limit": 1} | ({"cursor": cursor} if cursor else {})
            )
        ).json()
        pages += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [e["id"] for e in everything["items"]]


async def test_audit_scope_and_accounts(client: httpx.AsyncClient) -> None:
    await client.post("/v1/credentials", json=oauth_body(account_id="mine"))
    await client.post("/v1/credentials", json=oauth_body(account_id="theirs"))
    writer = await new_client_token(client, "credentials:write")
    assert_error(await client.get("/v1/audit", headers=bearer(writer)), 403, "forbidden")
    limited = await new_client_token(client, "audit:read", account_ids=["mine"])
    seen = (await client.get("/v1/audit", headers=bearer(limited))).json()["items"]
    assert {e["account_id"] for e in seen} == {"mine"}
    assert_error(
        await client.get("/v1/audit", params={"account_id": "theirs"}, headers=bearer(limited)),
        403,
        "forbidden",
    )


async def test_chain_detects_edits_and_removals(
    client: httpx.AsyncClient, vault_state: AppState
) -> None:
    for n in range(4):
        await client.post("/v1/credentials", json=oauth_body(account_id=f"acct-{n}"))
    async with vault_state.sessionmaker() as session:
        report = await verify_chain(session)
    assert (report.ok, report.events) == (True, 5)
    async with vault_state.engine.begin() as connection:
        ids = [
            r[0] for r in await connection.execute(text("SELECT id FROM audit_events ORDER BY id"))
        ]
        await connection.execute(
            text("UPDATE audit_events SET outcome = 'forged' WHERE id = :id"), {"id": ids[2]}
        )
    async with vault_state.sessionmaker() as session:
        report = await verify_chain(session)
    assert (report.ok, report.first_break) == (False, ids[2])
    assert "edited" in (report.problem or "")
    async with vault_state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_events SET outcome = 'success' WHERE id = :id"), {"id": ids[2]}
        )
        await connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    async with vault_state.sessionmaker() as session:
        report = await verify_chain(session)
    assert (report.ok, report.first_break) == (False, ids[2])
    assert "removed" in (report.problem or "")


async def test_a_backlog_is_chained_in_order_across_batches(
    vault_state: AppState,
) -> None:
    batcher = vault_state.audit
    count = 2 * MAX_BATCH + 7  # three transactions
    add_issued(batcher, count, account_id="acct-backlog", request_prefix="backlog")
    await batcher.flush()
    async with vault_state.sessionmaker() as session:
        report = await verify_chain(session)
        sql = "SELECT request_id FROM audit_events WHERE account_id = :a ORDER BY id"
        order = (await session.execute(text(sql), {"a": "acct-backlog"})).scalars().all()
    assert report.ok, report.problem
    assert list(order) == [f"backlog-{n}" for n in range(count)]
