"""URLs are signed in one normal form (RFC 3986), which httpx, requests and curl all send as
they got it; URLs whose normal form would mean something else are refused, naming why."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import httpx
import pytest
import requests
from pydantic import AnyHttpUrl

from app.config import Settings
from app.walmart.urls import normalise_url
from tests.api.helpers import assert_error
from tests.api.walmart_setup import signature_credential
from tests.walmart_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(settings: Settings, walmart: SimulatorServer) -> Settings:
    # A host name rather than an IP, so that its case can be got wrong.
    production = AnyHttpUrl(walmart.base_url.replace("127.0.0.1", "localhost"))
    return settings.model_copy(
        update={
            "walmart_production_url": production,
            "walmart_sandbox_url": AnyHttpUrl(walmart.base_url),
        }
    )


# (what the caller asks to sign, the normal form that is signed and must be sent)
CASES = [
    ("HTTP://LocalHost:{port}/v3/ca/feeds?limit=1", "/v3/ca/feeds?limit=1"),
    ("{origin}/v3/ca/./items/../feeds?limit=2", "/v3/ca/feeds?limit=2"),
    (
        "{origin}/v3/ca/feeds?createdStartDate=2015-01-03T05%3a00%3a00Z",
        "/v3/ca/feeds?createdStartDate=2015-01-03T05%3A00%3A00Z",
    ),
    ("{origin}/v3/ca/feeds?sku=%41b%7e%2d", "/v3/ca/feeds?sku=Ab~-"),
    ('{origin}/v3/ca/feeds?sku="a|b"[1]\\x', "/v3/ca/feeds?sku=%22a%7Cb%22%5B1%5D%5Cx"),
    ("{origin}/v3/ca/feeds?", "/v3/ca/feeds"),
    ("{origin}/v3/ca/feeds?limit=5", "/v3/ca/feeds?limit=5"),
]


def _curl(url: str, headers: dict[str, str]) -> int:
    arguments = ["curl", "-sS", "-g", "-o", "/dev/null", "-w", "%{http_code}"]
    for name, value in headers.items():
        arguments += ["-H", f"{name}: {value}"]
    done = subprocess.run([*arguments, url], capture_output=True, text=True, check=True, timeout=20)
    return int(done.stdout)


@pytest.mark.parametrize(("asked", "signed_path"), CASES)
async def test_each_client_sends_the_signed_url_unchanged(
    client: httpx.AsyncClient,
    settings: Settings,
    walmart_control: SimulatorControl,
    asked: str,
    signed_path: str,
) -> None:
    origin = settings.walmart_base_url("production")
    port = origin.rsplit(":", 1)[1]
    credential = await signature_credential(client, walmart_control)
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers",
        json={"method": "GET", "url": asked.format(origin=origin, port=port)},
    )
    assert response.status_code == 200, response.text
    issued: dict[str, Any] = response.json()
    assert issued["url"] == origin + signed_path
    url, headers = issued["url"], issued["headers"]
    async with httpx.AsyncClient() as http:
        via_httpx = (await http.get(url, headers=headers)).status_code
    via_requests = await asyncio.to_thread(
        lambda: requests.get(url, headers=headers, timeout=20).status_code
    )
    via_curl = await asyncio.to_thread(_curl, url, headers)
    assert (via_httpx, via_requests, via_curl) == (200, 200, 200)
    sent = [r["raw_url"] for r in walmart_control.stats()["requests"][-3:]]
    assert sent == [url] * 3


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/v3/ca/feeds?sku=50%", "'%' at character 7 that does not start an escape"),
        ("/v3/ca/%2e%2E/feeds", "percent-encoded dot segment ('%2e%2E')"),
        ("/v3/ca/.%2E/feeds", "percent-encoded dot segment ('.%2E')"),
        ("/v3/../../feeds", "climbs above the root"),
        ("/v3/ca/feeds#top", "fragment"),
    ],
)
async def test_urls_whose_normal_form_changes_meaning_are_refused(
    client: httpx.AsyncClient,
    settings: Settings,
    walmart_control: SimulatorControl,
    path: str,
    problem: str,
) -> None:
    credential = await signature_credential(client, walmart_control)
    url = settings.walmart_base_url("production") + path
    response = await client.post(
        f"/v1/credentials/{credential['id']}/headers", json={"method": "GET", "url": url}
    )
    error = assert_error(response, 422, "invalid_request")
    assert problem in error["details"]["problem"]
    assert problem in error["message"]
    assert error["details"]["field"] == "url"


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://m.example/v3/feeds?limit=1", "https://m.example/v3/feeds?limit=1"),
        ("HTTPS://M.Example:443/v3/feeds", "https://m.example/v3/feeds"),
        ("http://m.example:80", "http://m.example/"),
        ("https://m.example:8443/v3/./a/../b/.", "https://m.example:8443/v3/b/"),
        ("https://m.example/v3/x?d=05%3a00%2F", "https://m.example/v3/x?d=05%3A00%2F"),
        ("https://m.example/v3/x?d=05%3A00%7E", "https://m.example/v3/x?d=05%3A00~"),
        ("https://m.example/v3/%61b?q=/../x", "https://m.example/v3/ab?q=/../x"),
        ("https://m.example/v3/x?a={1}^`<>", "https://m.example/v3/x?a=%7B1%7D%5E%60%3C%3E"),
    ],
)
def test_normal_form(given: str, normal: str) -> None:
    assert normalise_url(given) == normal
    assert normalise_url(normal) == normal  # a fixed point, whichever path computes it
