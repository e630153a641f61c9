"""Walmart's legacy signature: the published vectors, OpenSSL, and the string's exact bytes."""

import base64
import random
import subprocess
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.crypto import canonical_string, parse_private_key, sign_request, verify_request_signature


class Request(TypedDict):
    consumer_id: str
    url: str
    method: str
    timestamp_ms: int


CONSUMER_ID = "f3aead96-d681-41c9-9b81-bb4facacd8f0"
TIMESTAMP = 1_700_000_000_123


def _vector_key(vectors: dict[str, Any]) -> rsa.RSAPrivateKey:
    return parse_private_key(vectors["private_key_pkcs8_der_base64"]).key


def _vectors(vectors: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = vectors["vectors"]
    assert len(found) == 4
    return found


def test_published_vectors_match_exactly(signature_vectors: dict[str, Any]) -> None:
    key = _vector_key(signature_vectors)
    for vector in _vectors(signature_vectors):
        request = Request(
            consumer_id=vector["consumer_id"],
            url=vector["url"],
            method=vector["method"],
            timestamp_ms=int(vector["timestamp"]),
        )
        assert sign_request(key, **request) == vector["signature"]
        assert verify_request_signature(key.public_key(), vector["signature"], **request)


def test_trailing_newline_matters(signature_vectors: dict[str, Any]) -> None:
    key = _vector_key(signature_vectors)
    vector = _vectors(signature_vectors)[0]
    message = canonical_string(
        consumer_id=vector["consumer_id"],
        url=vector["url"],
        method=vector["method"],
        timestamp_ms=int(vector["timestamp"]),
    )
    assert message.endswith(b"\n" + vector["timestamp"].encode() + b"\n")
    without = key.sign(message[:-1], padding.PKCS1v15(), hashes.SHA256())
    assert base64.b64encode(without).decode() != vector["signature"]


def test_canonical_string_keeps_the_url_byte_for_byte() -> None:
    url = "https://marketplace.walmartapis.com/v3/ca/feeds?b=2&a=%3A+%2f&sku=caf%C3%A9&n=café"
    message = canonical_string(consumer_id="id", url=url, method="post", timestamp_ms=5)
    assert message == f"id\n{url}\nPOST\n5\n".encode()
    assert "café".encode() in message


def test_lower_case_method_is_signed_upper_case(rsa_keys: dict[int, rsa.RSAPrivateKey]) -> None:
    key = rsa_keys[1024]
    upper = Request(
        consumer_id=CONSUMER_ID, url="https://x.test/v3/items", method="GET", timestamp_ms=1
    )
    lower, mixed = upper.copy(), upper.copy()
    lower["method"], mixed["method"] = "get", "Get"
    signature = sign_request(key, **lower)
    assert signature == sign_request(key, **upper)
    assert verify_request_signature(key.public_key(), signature, **mixed)


def test_signature_is_standard_padded_base64(rsa_keys: dict[int, rsa.RSAPrivateKey]) -> None:
    signature = sign_request(
        rsa_keys[2048], consumer_id=CONSUMER_ID, url="https://x.test/", method="GET", timestamp_ms=1
    )
    assert len(signature) == 344
    assert signature.endswith("=")
    assert base64.b64decode(signature, validate=True)


def test_verify_refuses_tampering(rsa_keys: dict[int, rsa.RSAPrivateKey]) -> None:
    key, public = rsa_keys[1024], rsa_keys[1024].public_key()
    url = "https://marketplace.walmartapis.com/v3/ca/orders?createdStartDate=2015-01-03T05%3A00Z&limit=5"
    request = Request(consumer_id=CONSUMER_ID, url=url, method="GET", timestamp_ms=TIMESTAMP)
    signature = sign_request(key, **request)
    assert verify_request_signature(public, signature, **request)
    tampered: list[Request] = []
    for field, value in [
        ("url", url.replace("5", "6")),
        ("url", url + "&x=1"),
        ("url", url.replace("%", "%25")),
        ("method", "POST"),
        ("consumer_id", CONSUMER_ID.upper()),
        ("timestamp_ms", TIMESTAMP + 1),
    ]:
        changed = request.copy()
        changed[field] = value  # type: ignore[literal-required]
        tampered.append(changed)
    for changed in tampered:
        assert not verify_request_signature(public, signature, **changed)
    assert not verify_request_signature(public, "not base64!", **request)
    assert not verify_request_signature(public, signature[:-4], **request)
    assert not verify_request_signature(rsa_keys[2048].public_key(), signature, **request)


def _random_urls(rng: random.Random) -> list[str]:
    words = ["sku", "näme", "createdStartDate", "nextCursor", "q", "ö/ü", "a b", "x+y", "é€😀"]
    urls = [
        "https://marketplace.walmartapis.com/v3/ca/feeds?offset=0&limit=1",
        "https://marketplace.walmartapis.com/v3/ca/orders?createdStartDate=2015-01-03T05%3A00%3A00Z",
        "https://marketplace.walmartapis.com/v3/ca/items/caf%C3%A9?sku=café&tag=日本",
    ]
    for _ in range(3):
        params = []
        for _ in range(rng.randint(10, 40)):
            name, value = rng.choice(words), rng.choice(words) + str(rng.randint(0, 10**9))
            raw = rng.random() < 0.3
            params.append(f"{name}={value}" if raw else f"{quote(name)}={quote(value, safe='')}")
        urls.append("https://sandbox.walmartapis.com/v3/ca/items?" + "&".join(params))
    return urls


@pytest.mark.parametrize("bits", [1024, 2048])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_openssl_command_line(openssl: str, tmp_path: Path, bits: int, seed: int) -> None:
    key = rsa.generate_private_key(65537, bits)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    rng = random.Random(seed)
    for number, url in enumerate(_random_urls(rng)):
        method = rng.choice(["get", "POST", "Put", "DELETE"])
        timestamp = rng.randint(1_400_000_000_000, 1_900_000_000_000)
        message = tmp_path / f"message-{number}.bin"
        request = Request(consumer_id=CONSUMER_ID, url=url, method=method, timestamp_ms=timestamp)
        message.write_bytes(canonical_string(**request))
        expected = subprocess.run(
            [openssl, "dgst", "-sha256", "-sign", str(pem), str(message)],
            check=True,
            capture_output=True,
        ).stdout
        ours = sign_request(key, **request)
        assert ours == base64.b64encode(expected).decode(), url
