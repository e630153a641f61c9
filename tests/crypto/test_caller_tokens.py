"""API clients' bearer tokens: shape, randomness and the stored hash."""

import hashlib

import pytest

from app.crypto import TOKEN_PREFIX, hash_token, is_well_formed, new_token


def test_token_has_prefix_and_fixed_length() -> None:
    token = new_token()
    assert TOKEN_PREFIX == "mpv_"
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) == len("mpv_") + 43
    assert "=" not in token
    assert is_well_formed(token)


def test_tokens_are_unique() -> None:
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000


def test_hash_is_stable_hex_sha256_and_not_the_token() -> None:
    token = new_token()
    digest = hash_token(token)
    assert digest == hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert len(digest) == 64
    assert token not in digest
    assert token.removeprefix(TOKEN_PREFIX) not in digest
    assert hash_token(new_token()) != digest


@pytest.mark.parametrize(
    "token",
    [
        "",
        "mpv_",
        "mpv_" + "A" * 42,
        "mpv_" + "A" * 44,
        "mpx_" + "A" * 43,
        "MPV_" + "A" * 43,
        "A" * 47,
        "mpv_" + "A" * 42 + "+",
        "mpv_" + "A" * 42 + "=",
        "mpv_" + "A" * 42 + "é",
        "mpv_" + "A" * 43 + "\n",
        " mpv_" + "A" * 43,
    ],
)
def test_malformed_tokens_refused(token: str) -> None:
    assert not is_well_formed(token)


def test_well_formed_alphabet_includes_url_safe_characters() -> None:
    assert is_well_formed("mpv_" + "-_" * 21 + "A")
