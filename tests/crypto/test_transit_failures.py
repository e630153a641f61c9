"""Transit gone, hung, sealed, rate limited, answering nonsense or misconfigured.

Gone, hung, sealed and rate limited are a real OpenBao server stopped, frozen (SIGSTOP),
sealed or given a quota. Only the "200 that is not Transit's JSON" case, which no real
server produces, is an httpx ``MockTransport`` standing in for a misbehaving proxy.
"""

import time
from collections.abc import Callable

import httpx
import pytest

from app.crypto import AssociatedData, Envelope, KekUnavailable
from app.crypto.transit import TransitProvider
from tests.kms_servers import BaoServer, free_port

PLAINTEXT = b"walmart-client-secret-outage"
TIMEOUT = 0.5


def _transit(address: str, token: str, timeout: float = TIMEOUT) -> TransitProvider:
    return TransitProvider(address=address, token=token, key_name="outage", timeout=timeout)


async def test_server_stopped_mid_test(aad: AssociatedData) -> None:
    with BaoServer() as bao:
        bao.create_key("outage")
        provider = _transit(bao.address, bao.token)
        envelope = Envelope(provider)
        warm = await envelope.seal(PLAINTEXT, aad=aad)
        cold = await envelope.seal(PLAINTEXT + b"-2", aad=aad)
        assert await envelope.open(warm, aad=aad) == PLAINTEXT
    # The server is gone now: nothing listens on its port.
    assert await envelope.open(warm, aad=aad) == PLAINTEXT
    started = time.monotonic()
    with pytest.raises(KekUnavailable, match="could not be reached"):
        await envelope.open(cold, aad=aad)
    with pytest.raises(KekUnavailable, match="could not be reached"):
        await envelope.seal(PLAINTEXT, aad=aad)
    assert time.monotonic() - started < TIMEOUT
    await provider.aclose()


async def test_hung_server_times_out_and_comes_back(
    bao_server: BaoServer, aad: AssociatedData
) -> None:
    bao_server.create_key("outage")
    provider = _transit(bao_server.address, bao_server.token)
    envelope = Envelope(provider)
    warm = await envelope.seal(PLAINTEXT, aad=aad)
    cold = await envelope.seal(PLAINTEXT + b"-2", aad=aad)
    assert await envelope.open(warm, aad=aad) == PLAINTEXT
    with bao_server.paused():
        assert await envelope.open(warm, aad=aad) == PLAINTEXT
        started = time.monotonic()
        with pytest.raises(KekUnavailable, match="ReadTimeout"):
            await envelope.open(cold, aad=aad)
        assert time.monotonic() - started < TIMEOUT + 0.5
    assert await envelope.open(cold, aad=aad) == PLAINTEXT + b"-2"
    await provider.aclose()


async def test_closed_port_is_unavailable(aad: AssociatedData) -> None:
    provider = _transit(f"http://127.0.0.1:{free_port()}", "t")
    with pytest.raises(KekUnavailable, match="ConnectError"):
        await Envelope(provider).seal(PLAINTEXT, aad=aad)
    await provider.aclose()


async def test_sealed_and_rate_limited_server_is_unavailable(aad: AssociatedData) -> None:
    with BaoServer() as bao:
        bao.create_key("outage")
        provider = _transit(bao.address, bao.token, timeout=5.0)
        sealed = await Envelope(provider).seal(PLAINTEXT, aad=aad)
        uncached = Envelope(provider, dek_cache_size=0)

        async def open_five_times() -> None:
            for _ in range(5):
                await uncached.open(sealed, aad=aad)

        bao.request("POST", "sys/quotas/rate-limit/slow", {"path": "transit/", "rate": 1})
        with pytest.raises(KekUnavailable, match="HTTP 429"):
            await open_five_times()
        bao.request("DELETE", "sys/quotas/rate-limit/slow")
        bao.request("POST", "sys/seal")
        with pytest.raises(KekUnavailable, match=r"HTTP 503 \(sealed or standby\)"):
            await Envelope(provider).open(sealed, aad=aad)
        await provider.aclose()


def _answering(body: bytes) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return handler


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>proxy login</html>", "without a 'ciphertext'"),
        (b'["data"]', "without a 'ciphertext'"),
        (b'{"data": null}', "without a 'ciphertext'"),
        (b'{"data": {"ciphertext": 7}}', "without a 'ciphertext'"),
        (b'{"data": {"ciphertext": "vault:v1:\xc3\xa9"}}', "without a 'ciphertext'"),
    ],
)
async def test_a_200_that_is_not_transit_on_encrypt(body: bytes, message: str) -> None:
    transport = httpx.MockTransport(_answering(body))
    async with httpx.AsyncClient(transport=transport) as http:
        provider = TransitProvider(address="http://kms.test", token="t", key_name="k", http=http)
        with pytest.raises(KekUnavailable, match=message):
            await provider.wrap(bytes(32), context={"purpose": "x"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": {}}', "without a 'plaintext'"),
        (b'{"data": {"plaintext": "not base64!"}}', "not base64"),
    ],
)
async def test_a_200_that_is_not_transit_on_decrypt(body: bytes, message: str) -> None:
    transport = httpx.MockTransport(_answering(body))
    async with httpx.AsyncClient(transport=transport) as http:
        provider = TransitProvider(address="http://kms.test", token="t", key_name="k", http=http)
        with pytest.raises(KekUnavailable, match=message):
            await provider.unwrap("k", b"vault:v1:AAAA", context={"purpose": "x"})


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("key_name", ""),
        ("key_name", "a/b"),
        ("key_name", ".."),
        ("mount", ""),
        ("mount", "../sys"),
        ("mount", "a//b"),
        ("token", ""),
        ("address", "ftp://127.0.0.1:8200"),
        ("address", "http://user:secret@127.0.0.1:8200"),
    ],
)
def test_bad_configuration_is_refused(option: str, value: str) -> None:
    options = {
        "address": "http://127.0.0.1:8200",
        "token": "t",
        "key_name": "k",
        "mount": "transit",
    }
    options[option] = value
    with pytest.raises(ValueError, match=option):
        TransitProvider(
            address=options["address"],
            token=options["token"],
            key_name=options["key_name"],
            mount=options["mount"],
        )


async def test_a_shared_client_is_left_open() -> None:
    async with httpx.AsyncClient() as http:
        provider = TransitProvider(address="http://127.0.0.1:1", token="t", key_name="k", http=http)
        await provider.aclose()
        assert not http.is_closed
