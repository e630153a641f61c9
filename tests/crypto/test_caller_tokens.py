"""API clients' bearer tokens: shape, randomness and the stored hash."""

import base64
import hashlib

from app.connections.service import hash_state
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


def test_every_kind_of_token_keeps_the_hash_its_stored_rows_were_made_with() -> None:
    # Rows written before the shared helper must still match: plain SHA-256 for caller and
    # link tokens, SHA-256 of the connection-state context then the state for states.
    caller, link, state = new_token(), new_token("mpvl_"), new_token("")
    assert link.startswith("mpvl_")
    assert len(link) == len("mpvl_") + 43
    assert len(state) == 43
    assert hash_token(caller) == hashlib.sha256(caller.encode()).hexdigest()
    assert hash_token(link) == hashlib.sha256(link.encode()).hexdigest()
    context = b"mports-vault/connection-state/v1\0"
    assert hash_state(state) == hashlib.sha256(context + state.encode()).hexdigest()
    assert hash_state(state) != hash_token(state)
