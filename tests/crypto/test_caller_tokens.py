"""API clients' bearer tokens: shape, randomness and the stored hash."""

import base64
import hashlib

from app.crypto import TOKEN_PREFIX, hash_token, new_token


def test_token_is_the_prefix_and_32_random_bytes_in_url_safe_base64() -> None:
    token = new_token()
    assert TOKEN_PREFIX == "mpv_"
    assert token.startswith(TOKEN_PREFIX)
    raw = base64.urlsafe_b64decode(token.removeprefix(TOKEN_PREFIX) + "=")
    assert len(raw) == 32
    assert "=" not in token


def test_tokens_are_unique() -> None:
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000


def test_the_stored_hash_is_sha256_of_the_whole_token() -> None:
    token = new_token()
    digest = hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert digest == hash_token(token)  # deterministic: the lookup key of every request
    # The prefix is part of what is hashed: the same random part under another prefix differs.
    assert hash_token("xyz_" + token.removeprefix(TOKEN_PREFIX)) != digest
