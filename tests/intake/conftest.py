"""The seller's side: a browser-like client with no API token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI


@pytest.fixture
async def seller(vault_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=vault_app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://vault.test") as http:
        yield http
