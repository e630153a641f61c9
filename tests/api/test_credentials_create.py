"""Registering credentials: every accepted key format, every refusal, nothing stored on error."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.api.helpers import assert_error
from tests.factories import (
    oauth_body,
    pem_pkcs1,
    pem_pkcs8,
    public_pem,
    rsa_key,
    seller_center_key,
    signature_body,
)


def spki_fingerprint(pem_or_key: Any) -> str:
    der = pem_or_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


async def assert_nothing_stored(client: httpx.AsyncClient) -> None:
    listed = await client.get("/v1/credentials")
    assert listed.json()["items"] == []


@pytest.mark.parametrize("encode", [seller_center_key, pem_pkcs8, pem_pkcs1])
async def test_signature_key_accepted_in_each_format(
    client: httpx.AsyncClient, encode: Any
) -> None:
    key = rsa_key(1024)
    body = signature_body()
    body["auth"]["private_key"] = encode(key)
    response = await client.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["kind"] == "signature"
    assert created["consumer_id"] == body["auth"]["consumer_id"]
    assert created["client_id"] is None
    assert created["version"] == 1
    assert created["status"] == "untested"
    assert created["fingerprint"] == spki_fingerprint(key)
    assert "private_key" not in response.text
    fetched = await client.get(f"/v1/credentials/{created['id']}")
    assert fetched.json() == created


async def test_seller_center_key_with_line_breaks_and_2048_bits(client: httpx.AsyncClient) -> None:
    key = rsa_key(2048)
    one_line = seller_center_key(key)
    wrapped = "\n".join(one_line[i : i + 64] for i in range(0, len(one_line), 64)) + "\n"
    body = signature_body()
    body["auth"]["private_key"] = "  " + wrapped
    response = await client.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["fingerprint"] == spki_fingerprint(key)


async def test_oauth_credential_registered(client: httpx.AsyncClient) -> None:
    body = oauth_body(market="MX", account_id="acme-mx")
    body["auth"]["channel_type"] = "abc-123"
    response = await client.post("/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["client_id"] == body["auth"]["client_id"]
    assert created["consumer_id"] is None
    assert created["channel_type"] == "abc-123"
    assert len(created["fingerprint"]) == 64
    assert body["auth"]["client_secret"] not in response.text


@pytest.mark.parametrize("market", ["US", "MX", "CL"])
async def test_signature_outside_canada_names_oauth(client: httpx.AsyncClient, market: str) -> None:
    response = await client.post("/v1/credentials", json=signature_body(market=market))
    error = assert_error(response, 422, "auth_kind_not_available")
    assert "OAuth" in error["message"]
    assert error["details"]["use_kind"] == "oauth"
    await assert_nothing_stored(client)


def _der_b64(key: Any, fmt: serialization.PrivateFormat) -> str:
    der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def bad_keys() -> list[tuple[str, str, str]]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    good = seller_center_key(rsa_key(1024))
    encrypted = (
        rsa_key(1024)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        .decode()
    )
    spki_der = (
        rsa_key(1024)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    certificate = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ1\n-----END CERTIFICATE-----\n"
    return [
        ("not-base64", "this is not a key at all!", "base64"),
        ("truncated", good[: len(good) // 2], ""),
        ("ec", _der_b64(ec_key, serialization.PrivateFormat.PKCS8), "EC"),
        ("ed25519", _der_b64(ed_key, serialization.PrivateFormat.PKCS8), "Ed25519"),
        ("encrypted", encrypted, "passphrase"),
        ("public-pem", public_pem(rsa_key(1024)), "public key"),
        ("public-der", base64.b64encode(spki_der).decode(), "public key"),
        ("certificate", certificate, "certificate"),
        ("blank", "   \n ", ""),
    ]


@pytest.mark.parametrize(("case", "key_text", "says"), bad_keys(), ids=lambda v: str(v)[:12])
async def test_bad_private_key_refused_and_nothing_stored(
    client: httpx.AsyncClient, case: str, key_text: str, says: str
) -> None:
    body = signature_body()
    body["auth"]["private_key"] = key_text
    response = await client.post("/v1/credentials", json=body)
    error = assert_error(response, 422, "invalid_private_key")
    assert says.lower() in error["message"].lower(), (case, error["message"])
    if key_text.strip():
        assert key_text.strip()[:40] not in response.text
    await assert_nothing_stored(client)


async def test_small_rsa_key_refused_with_its_size(client: httpx.AsyncClient) -> None:
    body = signature_body()
    body["auth"]["private_key"] = _small_rsa_pem()
    error = assert_error(
        await client.post("/v1/credentials", json=body), 422, "invalid_private_key"
    )
    assert "1024" in error["message"]
    await assert_nothing_stored(client)


def _small_rsa_pem() -> str:
    # cryptography refuses to generate RSA under 1024 bits; openssl still makes them.
    return subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def test_empty_and_oversized_keys_refused(client: httpx.AsyncClient) -> None:
    body = signature_body()
    body["auth"]["private_key"] = ""
    assert_error(await client.post("/v1/credentials", json=body), 422, "validation_error")
    body["auth"]["private_key"] = "A" * 16385
    error = assert_error(await client.post("/v1/credentials", json=body), 422, "validation_error")
    assert "A" * 100 not in str(error)
    await assert_nothing_stored(client)


@pytest.mark.parametrize("field", ["consumer_id", "channel_type"])
@pytest.mark.parametrize("bad", ["abc\ndef", "abc\rWM_SEC.X: y", "tab\there", "a b", "nul\x00"])
async def test_control_characters_refused_in_signature_ids(
    client: httpx.AsyncClient, field: str, bad: str
) -> None:
    body = signature_body()
    body["auth"][field] = bad
    error = assert_error(await client.post("/v1/credentials", json=body), 422, "validation_error")
    assert f"body.auth.signature.{field}" in error["message"]
    await assert_nothing_stored(client)


@pytest.mark.parametrize("field", ["client_id", "channel_type"])
async def test_control_characters_refused_in_oauth_ids(
    client: httpx.AsyncClient, field: str
) -> None:
    body = oauth_body()
    body["auth"][field] = "line\r\nbreak"
    assert_error(await client.post("/v1/credentials", json=body), 422, "validation_error")
    await assert_nothing_stored(client)


async def test_signature_needs_channel_type(client: httpx.AsyncClient) -> None:
    body = signature_body()
    del body["auth"]["channel_type"]
    error = assert_error(await client.post("/v1/credentials", json=body), 422, "validation_error")
    assert "channel_type" in error["message"]


async def test_unknown_fields_and_bad_enums_refused(client: httpx.AsyncClient) -> None:
    assert_error(
        await client.post("/v1/credentials", json=oauth_body() | {"extra": 1}),
        422,
        "validation_error",
    )
    assert_error(
        await client.post("/v1/credentials", json=oauth_body(environment="staging")),
        422,
        "validation_error",
    )
    body = oauth_body()
    body["auth"]["kind"] = "basic"
    assert_error(await client.post("/v1/credentials", json=body), 422, "validation_error")
    await assert_nothing_stored(client)


async def test_second_credential_for_same_slot_conflicts(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/credentials", json=oauth_body(account_id="acme-001"))
    assert first.status_code == 201
    second = await client.post("/v1/credentials", json=oauth_body(account_id="acme-001"))
    error = assert_error(second, 409, "credential_exists")
    slot = {"account_id": "acme-001", "market": "US", "environment": "production"}
    assert error["details"] == slot
    sandbox = await client.post(
        "/v1/credentials", json=oauth_body(account_id="acme-001", environment="sandbox")
    )
    assert sandbox.status_code == 201
    listed = (await client.get("/v1/credentials")).json()["items"]
    assert [c["id"] for c in listed] == [sandbox.json()["id"], first.json()["id"]]
