"""Submissions are limited per link and per client address, and one at a time per link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.intake.models import IntakeLink
from tests.intake.helpers import create_link, open_form, post_form, signature_fields, token_path


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "intake_submissions_per_link_per_minute": 2,
            "intake_submissions_per_address_per_minute": 3,
        }
    )


async def test_per_link_then_per_address_limits(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, vault_app: FastAPI
) -> None:
    first, second = (
        token_path(await create_link(client)),
        token_path(await create_link(client, account_id="b")),
    )
    _, csrf = await open_form(seller, first)
    fields = signature_fields("c-1", "")  # incomplete: refused without counting
    for _ in range(2):
        assert (await post_form(seller, first, fields, csrf)).status_code == 422
    limited = await post_form(seller, first, fields, csrf)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many attempts" in limited.text
    _, other_csrf = await open_form(seller, second)
    # The third address-level submission was the limited one; the address is now spent.
    spent = await post_form(seller, second, fields, other_csrf)
    assert spent.status_code == 429
    elsewhere = httpx.ASGITransport(app=vault_app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://vault.test") as other:
        assert (await post_form(other, second, fields, other_csrf)).status_code == 422


async def test_a_submission_in_progress_holds_the_link(
    client: httpx.AsyncClient, seller: httpx.AsyncClient, settings: Settings
) -> None:
    path = token_path(await create_link(client))
    _, csrf = await open_form(seller, path)
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            until = datetime.now(UTC) + timedelta(minutes=1)
            await connection.execute(update(IntakeLink).values(busy_until=until))
    finally:
        await engine.dispose()
    page = await post_form(seller, path, signature_fields("c-1", "MIIB"), csrf)
    assert page.status_code == 409
    assert "being checked with Walmart right now" in page.text
    (link,) = (await client.get("/v1/intake-links")).json()["items"]
    assert (link["state"], link["failures"]) == ("active", 0)


async def test_posts_to_unknown_tokens_never_spend_the_sellers_budget(
    client: httpx.AsyncClient, seller: httpx.AsyncClient
) -> None:
    # The stranger shares the seller's address (one load balancer in front of every browser).
    made_up = "/intake/mpvl_" + "A" * 43
    codes = [(await seller.post(made_up, data={"x": "y"})).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    path = token_path(await create_link(client))
    _, csrf = await open_form(seller, path)
    page = await post_form(seller, path, signature_fields("c-1", ""), csrf)
    assert page.status_code == 422  # answered, not "Too many attempts"
    assert (await seller.post(made_up, data={"x": "y"})).status_code == 429
    (link,) = (await client.get("/v1/intake-links")).json()["items"]
    assert link["failures"] == 0
