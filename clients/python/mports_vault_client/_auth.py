"""``WalmartAuth``: an ``httpx.Auth`` that gets each request's Walmart headers from the vault.

httpx drives an auth as a generator: it yields the request to send and receives the
response. The vault call cannot be one of those yields, because httpx would send it through
the Walmart client (its transport, proxies, event hooks and retries). So this class
overrides ``sync_auth_flow`` and ``async_auth_flow`` - the two entry points httpx actually
calls - and makes the vault calls itself, through a separate vault client, between yields.
The two flows are the same few lines, one with ``await``; everything else is shared.

Per request: read the body (so the retry can resend it), ask the vault for headers for the
method and the exact wire URL, and send to the URL the vault signed (its normal form). If
Walmart rejects the token (see ``_rejection``), report it to the vault when the credential is
OAuth (the vault drops its cached token; a signature credential simply gets a fresh
signature), apply fresh headers and send once more. Whatever the second answer is, it is the
caller's response: never a third try.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Generator

import httpx

from ._rejection import token_rejected
from ._vault import Issued, Vault

# Generous reads: a headers call may include the vault's own token call to Walmart.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class WalmartAuth(httpx.Auth):
    """Sign every request of an httpx client with headers issued by the credential vault.

    Name the credential either by ``credential_id`` or by ``account_id`` with ``market``
    and ``environment``. ``vault_client`` / ``async_vault_client`` are reused if given
    (they are never closed here); otherwise the auth makes its own, which ``close()`` /
    ``aclose()`` release. The vault token never appears in ``repr``, logs or errors.
    """

    requires_request_body = True  # the retry resends the same bytes

    def __init__(
        self,
        *,
        vault_url: str,
        vault_token: str,
        credential_id: str | uuid.UUID | None = None,
        account_id: str | None = None,
        market: str | None = None,
        environment: str | None = None,
        vault_client: httpx.Client | None = None,
        async_vault_client: httpx.AsyncClient | None = None,
    ) -> None:
        account = _account(account_id, market, environment)
        if (credential_id is None) == (account is None):
            raise ValueError("give credential_id, or account_id with market and environment")
        if not vault_token:
            raise ValueError("vault_token is empty")
        target = account if account is not None else str(credential_id)
        self._vault = Vault.for_target(vault_url, vault_token, target)
        self._shown = (
            f"credential_id={target!r}"
            if isinstance(target, str)
            else "account_id={!r}, market={!r}, environment={!r}".format(*target)
        )
        self._owns_client = vault_client is None
        self._owns_async_client = async_vault_client is None
        self._client = httpx.Client(timeout=TIMEOUT) if vault_client is None else vault_client
        self._async_client = (
            httpx.AsyncClient(timeout=TIMEOUT) if async_vault_client is None else async_vault_client
        )

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        issued = self._vault.issue(self._client, request)
        _apply(request, issued)
        response = yield request
        if response.status_code == 400:
            response.read()
        if not token_rejected(response):
            return
        if issued.kind == "oauth":
            self._vault.invalidate(self._client, issued.credential_id)
        _apply(request, self._vault.issue(self._client, request), replacing=issued)
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        issued = await self._vault.aissue(self._async_client, request)
        _apply(request, issued)
        response = yield request
        if response.status_code == 400:
            await response.aread()
        if not token_rejected(response):
            return
        if issued.kind == "oauth":
            await self._vault.ainvalidate(self._async_client, issued.credential_id)
        _apply(request, await self._vault.aissue(self._async_client, request), replacing=issued)
        yield request

    def close(self) -> None:
        """Close the sync vault client if this auth made it."""
        if self._owns_client:
            self._client.close()

    async def aclose(self) -> None:
        """Close the async vault client if this auth made it."""
        if self._owns_async_client:
            await self._async_client.aclose()

    def __repr__(self) -> str:
        return f"WalmartAuth(vault_url={self._vault.url!r}, {self._shown})"


def _account(
    account_id: str | None, market: str | None, environment: str | None
) -> tuple[str, str, str] | None:
    if account_id is None and market is None and environment is None:
        return None
    if account_id is None or market is None or environment is None:
        raise ValueError("account_id, market and environment go together")
    return account_id, market, environment


def _apply(request: httpx.Request, issued: Issued, replacing: Issued | None = None) -> None:
    # Drop every header the previous answer set: after a rotation the fresh answer may be of
    # another kind, and a stale signature next to a new token would confuse the gateway.
    for name in replacing.headers if replacing else ():
        request.headers.pop(name, None)
    request.headers.update(issued.headers)
    if issued.url is not None and issued.url != str(request.url):
        # The vault signed the URL's normal form (lower-case host, upper-case escapes, no dot
        # segments): send exactly that, or Walmart would check the signature against other bytes.
        request.url = httpx.URL(issued.url)
        request.headers["Host"] = request.url.netloc.decode("ascii")
