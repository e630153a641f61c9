"""Talking to the vault: one ``headers`` call per Walmart request, one ``invalidate`` on a 401.

Requests are built with the vault client's ``build_request`` (so its timeouts and default
headers apply) and sent with ``auth=None`` and no redirects: a vault client that has an auth
of its own, or even the Walmart client's ``WalmartAuth``, can neither recurse into this flow
nor forward the bearer token elsewhere. Parsing is shared by the sync and async paths, which
differ only in ``send`` versus ``await send``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ._errors import VaultError

VaultClient = httpx.Client | httpx.AsyncClient


class _Token:
    """The vault token, kept out of every ``repr`` (tracebacks, debuggers, ``vars()``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._value}", "Accept": "application/json"}

    def redact(self, text: str) -> str:
        return text.replace(self._value, "[redacted]")

    def __repr__(self) -> str:
        return "<vault token>"


@dataclass(frozen=True)
class Issued:
    """The part of a headers answer the auth flow acts on."""

    credential_id: str
    kind: str
    headers: dict[str, str]
    url: str | None = None  # the URL the vault signed (its normal form); None from old vaults


class Vault:
    """Where to ask for headers (a credential, or an account's market and environment)."""

    def __init__(self, url: str, token: str, *, path: str, target: dict[str, str]) -> None:
        self.url = url.rstrip("/")
        self._token = _Token(token)
        self._path = path
        self._target = target

    @classmethod
    def for_target(cls, url: str, token: str, target: str | tuple[str, str, str]) -> Vault:
        """``target`` is a credential id, or ``(account_id, market, environment)``."""
        if isinstance(target, str):
            return cls(url, token, path=f"/v1/credentials/{_segment(target)}", target={})
        account_id, market, environment = target
        where = {"market": market, "environment": environment}
        return cls(url, token, path=f"/v1/accounts/{_segment(account_id)}", target=where)

    # -- one round trip each, sync and async --------------------------------------------

    def issue(self, client: httpx.Client, request: httpx.Request) -> Issued:
        return self._issued(client.send(self._headers_call(client, request), **_SEND))

    async def aissue(self, client: httpx.AsyncClient, request: httpx.Request) -> Issued:
        return self._issued(await client.send(self._headers_call(client, request), **_SEND))

    def invalidate(self, client: httpx.Client, credential_id: str) -> None:
        self._checked(client.send(self._invalidate_call(client, credential_id), **_SEND))

    async def ainvalidate(self, client: httpx.AsyncClient, credential_id: str) -> None:
        self._checked(await client.send(self._invalidate_call(client, credential_id), **_SEND))

    # -- building and reading -----------------------------------------------------------

    def _headers_call(self, client: VaultClient, request: httpx.Request) -> httpx.Request:
        # The signature covers the URL bytes on the wire: httpx keeps the caller's
        # percent-encoding, drops a default port, and never sends the fragment.
        wire_url = str(request.url.copy_with(fragment=None))
        body = {**self._target, "method": request.method, "url": wire_url}
        return client.build_request(
            "POST", f"{self.url}{self._path}/headers", json=body, headers=self._token.headers()
        )

    def _invalidate_call(self, client: VaultClient, credential_id: str) -> httpx.Request:
        url = f"{self.url}/v1/credentials/{_segment(credential_id)}/token/invalidate"
        return client.build_request("POST", url, headers=self._token.headers())

    def _issued(self, response: httpx.Response) -> Issued:
        answer = self._checked(response)
        headers = answer.get("headers")
        credential_id, kind = answer.get("credential_id"), answer.get("kind")
        if (
            isinstance(credential_id, str)
            and kind in ("oauth", "signature")
            and isinstance(headers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            url = answer.get("url")
            return Issued(
                credential_id=credential_id,
                kind=str(kind),
                headers=headers,
                url=url if isinstance(url, str) else None,
            )
        raise _unexpected(response.status_code, "a headers answer without its fields")

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        payload = _json(response)
        if response.is_success:
            return payload if isinstance(payload, dict) else {}
        error = payload.get("error") if isinstance(payload, dict) else None
        if not (isinstance(error, dict) and isinstance(error.get("code"), str)):
            raise _unexpected(response.status_code, "an error without the vault's error body")
        details = error.get("details")
        raise VaultError(
            status_code=response.status_code,
            code=error["code"],
            message=self._token.redact(str(error.get("message", ""))),
            details=details if isinstance(details, dict) else {},
        )


# No auth of the vault client's own (no recursion), no redirects (the token stays with the vault).
_SEND: dict[str, Any] = {"auth": None, "follow_redirects": False}


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json(response: httpx.Response) -> object:
    if not response.content:
        return None
    try:
        payload: object = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        return None
    return payload


def _unexpected(status_code: int, what: str) -> VaultError:
    return VaultError(
        status_code=status_code,
        code="unexpected_response",
        message=f"The vault answered HTTP {status_code} with {what}.",
    )
