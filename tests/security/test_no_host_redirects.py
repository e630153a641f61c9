"""No answer of the vault sends a client to the host named in the request's Host header."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("path", ["/v1/credentials/", "/v1/clients/", "/healthz/", "/docs/"])
async def test_trailing_slash_is_not_redirected_to_the_host_header(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert response.json()["error"]["code"] == "not_found"
