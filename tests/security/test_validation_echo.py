"""A body that fails validation is answered without repeating what was sent under ``auth``
or as the value of a discriminator (a misplaced private key or secret must not come back)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import assert_error
from tests.factories import oauth_body

SECRET = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7-pasted-secret"


def _with_auth(auth: Any) -> dict[str, Any]:
    body = oauth_body()
    body["auth"] = auth
    return body


@pytest.mark.parametrize(
    "auth",
    [
        {"kind": SECRET},
        {"kind": "oauth", "client_id": "c", "client_secret": "s", SECRET: "x"},
        {
            "kind": "signature",
            "consumer_id": "c",
            "private_key": {"k": SECRET},
            "channel_type": "t",
        },
        {"kind": "oauth", "client_id": SECRET * 20, "client_secret": "s"},
        {"kind": "oauth", "client_id": "c", "client_secret": "s", "channel_type": [SECRET]},
    ],
    ids=["discriminator", "unknown-key", "key-as-object", "too-long", "wrong-type"],
)
async def test_refusal_never_echoes_an_auth_value(http: httpx.AsyncClient, auth: Any) -> None:
    response = await http.post("/v1/credentials", json=_with_auth(auth))
    error = assert_error(response, 422, "validation_error")
    assert "auth" in error["message"]
    assert SECRET[:12] not in response.text


async def test_unknown_kind_names_the_kinds_that_exist(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/credentials", json=_with_auth({"kind": "basic"}))
    problems = assert_error(response, 422, "validation_error")["details"]["errors"]
    assert problems == [{"field": "body.auth", "problem": "must be one of 'oauth', 'signature'"}]
    assert "basic" not in response.text
