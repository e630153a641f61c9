"""Typed clients for the simulator's ``/_sim/`` control API.

``SimulatorControl`` is synchronous (fixtures, scripts, benchmarks); a brief blocking call
from an async test is acceptable for a control plane on loopback. ``AsyncSimulatorControl``
has the same methods returning awaitables. Both share one description of every endpoint
(``_ControlCalls``), generic in what ``_call`` returns, so they cannot drift apart.

Every method returns the endpoint's JSON object; a non-2xx answer raises
:class:`SimulatorControlError` carrying the simulator's message (a broken test setup
should fail loudly at the line that caused it).
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

Json = dict[str, Any]
R = TypeVar("R")
PublicKeyLike = str | bytes | RSAPublicKey | RSAPrivateKey


class SimulatorControlError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text}"
        )
        self.status_code = response.status_code


def _pem(key: PublicKeyLike) -> str:
    """Accept a PEM string/bytes or a key object (tests generate keys with cryptography)."""
    if isinstance(key, RSAPrivateKey):
        key = key.public_key()
    if isinstance(key, RSAPublicKey):
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
    return key.decode("ascii") if isinstance(key, bytes) else key


def _checked(response: httpx.Response) -> Json:
    if response.status_code >= 300:
        raise SimulatorControlError(response)
    data = response.json()
    return data if isinstance(data, dict) else {"value": data}


class _ControlCalls(Generic[R]):
    def _call(
        self, method: str, path: str, body: Json | None = None, params: Json | None = None
    ) -> R:
        raise NotImplementedError

    def health(self) -> R:
        return self._call("GET", "/_sim/health")

    def add_oauth_client(
        self,
        client_id: str,
        client_secret: str,
        market: str = "US",
        channel_type: str | None = None,
        scopes: dict[str, str] | None = None,
        token_valid: bool = True,
    ) -> R:
        body: Json = {"client_id": client_id, "client_secret": client_secret, "market": market}
        body.update(channel_type=channel_type, scopes=scopes, token_valid=token_valid)
        return self._call("POST", "/_sim/oauth-clients", body)

    def remove_oauth_client(self, client_id: str) -> R:
        return self._call("DELETE", f"/_sim/oauth-clients/{client_id}")

    def add_consumer(
        self, consumer_id: str, public_key_pem: PublicKeyLike, channel_type: str | None = None
    ) -> R:
        body: Json = {"consumer_id": consumer_id, "public_key_pem": _pem(public_key_pem)}
        body["channel_type"] = channel_type
        return self._call("POST", "/_sim/consumers", body)

    def remove_consumer(self, consumer_id: str) -> R:
        return self._call("DELETE", f"/_sim/consumers/{consumer_id}")

    def add_fault(
        self,
        path_prefix: str = "/v3/",
        mode: str = "status",
        status: int = 500,
        retry_after: int | str | None = None,
        delay_seconds: float = 1.0,
        times: int | None = None,
        code: str | None = None,
        body: str | None = None,
    ) -> R:
        fault: Json = {"path_prefix": path_prefix, "mode": mode, "status": status}
        fault.update(retry_after=retry_after, delay_seconds=delay_seconds, times=times, code=code)
        if body is not None:
            fault["body"] = body
        return self._call("POST", "/_sim/faults", fault)

    def clear_faults(self) -> R:
        return self._call("DELETE", "/_sim/faults")

    def settings(
        self,
        token_lifetime_seconds: int | None = None,
        timestamp_window_seconds: float | None = None,
        expired_token_status: int | None = None,
        token_type: str | None = None,
    ) -> R:
        """Partial update; with no arguments it just returns the current settings."""
        given = {
            "token_lifetime_seconds": token_lifetime_seconds,
            "timestamp_window_seconds": timestamp_window_seconds,
            "expired_token_status": expired_token_status,
            "token_type": token_type,
        }
        return self._call(
            "POST", "/_sim/settings", {k: v for k, v in given.items() if v is not None}
        )

    def add_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        *,
        rotate: bool = False,
        retire_at_once: bool = False,
    ) -> R:
        """A solution provider's App Store app (Auth Callback URLs registered with it).
        ``rotate``: each refresh answers a new refresh token; the old one retires when the new
        is first used, or at once with ``retire_at_once``."""
        body: Json = {"client_id": client_id, "client_secret": client_secret}
        body.update(
            redirect_uris=redirect_uris,
            rotate_refresh_tokens=rotate,
            retire_at_once=retire_at_once,
        )
        return self._call("POST", "/_sim/apps", body)

    def revoke_app(self, client_id: str, seller_id: str) -> R:
        return self._call("POST", f"/_sim/apps/{client_id}/revoke", {"seller_id": seller_id})

    def app_store_settings(self, **changes: object) -> R:
        """``consent_seller_id``, ``code_lifetime_seconds``, ``refresh_token_lifetime_seconds``,
        ``refused_refresh_status`` (partial update)."""
        return self._call("POST", "/_sim/app-store/settings", dict(changes))

    def expire_tokens(self) -> R:
        return self._call("POST", "/_sim/expire-tokens")

    def reset(self) -> R:
        return self._call("POST", "/_sim/reset")

    def stats(self, limit: int | None = None) -> R:
        """``token_calls``, ``token_failures``, ``tokens_issued``, ``requests`` and more."""
        return self._call("GET", "/_sim/stats", params=None if limit is None else {"limit": limit})


class SimulatorControl(_ControlCalls[Json]):
    """``SimulatorControl(base_url)``; close it, or use it as a context manager."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def _call(
        self, method: str, path: str, body: Json | None = None, params: Json | None = None
    ) -> Json:
        return _checked(self._client.request(method, path, json=body, params=params))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SimulatorControl:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncSimulatorControl(_ControlCalls[Awaitable[Json]]):
    """Same methods as :class:`SimulatorControl`, each returning an awaitable."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    def _call(
        self, method: str, path: str, body: Json | None = None, params: Json | None = None
    ) -> Awaitable[Json]:
        return self._request(method, path, body, params)

    async def _request(
        self, method: str, path: str, body: Json | None, params: Json | None
    ) -> Json:
        return _checked(await self._client.request(method, path, json=body, params=params))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncSimulatorControl:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
