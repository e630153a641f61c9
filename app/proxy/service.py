"""The proxy: one call forwarded to Walmart with its authentication added inside the vault.

Services in other languages, and every MX and CL call (Walmart wants ``Authorization: Basic``
there, which is the client secret), send their Walmart call here instead of asking for
headers. The vault adds what the credential's market needs (a signature, or the access token
and, in MX and CL, Basic), sends it, and relays Walmart's status, headers and body.

Bodies stream both ways, a chunk at a time: a 50 MB feed never sits in the vault's memory,
and flow control reaches from the caller to Walmart and back. Because a streamed request body
cannot be sent twice, a token Walmart rejects (401, or 400 ``INVALID_TOKEN.GMP_GATEWAY_API``)
is dropped and the call retried once only for idempotent methods without a body; otherwise
the token is still dropped, so the caller's own retry gets a fresh one.

Each call leaves a ``walmart.called`` audit event: method, path, status and byte counts, never
a body, a query string or a header value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Caller
from app.db import transaction
from app.errors import NotFound, WalmartTimeout, WalmartUnreachable
from app.headers.service import HeaderIssuer
from app.keys.snapshot import CredentialSnapshot
from app.proxy.forwarding import back_to_caller, towards_walmart
from app.proxy.limits import CallsPerClient, idle_limited
from app.proxy.paths import check_walmart_path
from app.walmart.client import basic_authorization
from app.walmart.markets import DEFAULT_ACCEPT, MARKETS
from app.walmart.outcomes import INVALID_TOKEN_CODE

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass
class ProxyCall:
    caller: Caller
    account_id: str
    market: str
    environment: str
    method: str
    path: str  # as received, percent-encoding and all, without the leading slash
    query: str
    headers: list[tuple[bytes, bytes]]
    body: AsyncIterator[bytes]
    has_body: bool


@dataclass
class Relayed:
    """Walmart's answer: status, headers, and the body as it streams (audited at its end);
    ``finish`` must run once the answer is over, however it ended."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: AsyncIterator[bytes]
    response: httpx.Response
    release: Callable[[], None]

    async def finish(self) -> None:
        await self.response.aclose()
        self.release()


@dataclass
class _Counted:
    source: AsyncIterator[bytes]
    size: int = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.source:
            self.size += len(chunk)
            yield chunk


@dataclass
class _Sent:
    url: str
    response: httpx.Response
    correlation_id: str
    retried: bool = False
    prefetched: bytes | None = None  # an error body read to look for its code


class WalmartProxy:
    def __init__(
        self,
        issuer: HeaderIssuer,
        http: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self.issuer = issuer
        self.http = http
        self.sessionmaker = sessionmaker
        self.calls = CallsPerClient(issuer.settings.proxy_calls_per_client)
        self.body_idle_seconds = issuer.settings.proxy_body_idle_seconds

    async def forward(self, call: ProxyCall) -> Relayed:
        call.caller.ensure_account(call.account_id)
        check_walmart_path(call.path)
        release = self.calls.acquire(str(call.caller.client_id))
        try:
            return await self._forward(call, release)
        except BaseException:
            release()
            raise

    async def _forward(self, call: ProxyCall, release: Callable[[], None]) -> Relayed:
        snapshot = await self.issuer.snapshots.for_slot(
            call.account_id, call.market, call.environment
        )
        if snapshot is None:
            raise NotFound(
                f"Account {call.account_id} has no {call.market} {call.environment} credential."
            )
        base = self.issuer.settings.walmart_base_url(snapshot.environment)
        url = f"{base}/{call.path}" + (f"?{call.query}" if call.query else "")
        counted = _Counted(idle_limited(call.body, self.body_idle_seconds))
        sent = await self._send(call, snapshot, url, counted)
        if snapshot.kind != "signature" and await _token_rejected(sent):
            await self._drop_token(call.caller, snapshot)
            if call.method in IDEMPOTENT and not call.has_body:
                await sent.response.aclose()
                sent = await self._send(call, snapshot, url, _Counted(_nothing()))
                sent.retried = True
        return Relayed(
            sent.response.status_code,
            back_to_caller(sent.response.headers.multi_items()),
            self._relay(call, snapshot, sent, counted),
            sent.response,
            release,
        )

    async def _send(
        self, call: ProxyCall, snapshot: CredentialSnapshot, url: str, body: _Counted
    ) -> _Sent:
        forwarded = towards_walmart(call.headers)
        accept = next((v for n, v in forwarded if n == "accept"), DEFAULT_ACCEPT)
        url, auth, _ = await self.issuer.authenticate(
            call.caller, snapshot, call.method, url, accept
        )
        if snapshot.kind == "oauth" and MARKETS[snapshot.market].basic_on_every_call:
            secret = (await self.issuer.keystore.open_secret(snapshot)).decode()
            auth["Authorization"] = basic_authorization(snapshot.public_id, secret)
        headers = httpx.Headers(forwarded)
        headers.update(auth)
        request = self.http.build_request(
            call.method,
            httpx.URL(url),
            headers=headers,
            content=body if call.has_body else None,
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TimeoutException:
            raise WalmartTimeout(
                "Walmart did not answer the proxied call in time.",
                details={"correlation_id": auth["WM_QOS.CORRELATION_ID"]},
            ) from None
        except httpx.HTTPError as exc:
            raise WalmartUnreachable(
                f"Walmart could not be reached for the proxied call ({type(exc).__name__}).",
                details={"correlation_id": auth["WM_QOS.CORRELATION_ID"]},
            ) from None
        return _Sent(url, response, auth["WM_QOS.CORRELATION_ID"])

    async def _drop_token(self, caller: Caller, snapshot: CredentialSnapshot) -> None:
        async with transaction(self.sessionmaker) as session:
            await self.issuer.invalidate_token(session, caller=caller, credential_id=snapshot.id)

    async def _relay(
        self, call: ProxyCall, snapshot: CredentialSnapshot, sent: _Sent, counted: _Counted
    ) -> AsyncIterator[bytes]:
        relayed = 0
        try:
            if sent.prefetched is not None:
                relayed = len(sent.prefetched)
                yield sent.prefetched
            else:
                async for chunk in sent.response.aiter_raw():
                    relayed += len(chunk)
                    yield chunk
        finally:
            await sent.response.aclose()
            self.issuer.audit.add(
                action="walmart.called",
                client_id=call.caller.client_id,
                request_id=call.caller.request_id,
                account_id=snapshot.account_id,
                credential_id=snapshot.id,
                version=snapshot.version,
                details={
                    "method": call.method,
                    "path": httpx.URL(sent.url).path[:200],
                    "status": sent.response.status_code,
                    "request_bytes": counted.size,
                    "response_bytes": relayed,
                    "correlation_id": sent.correlation_id,
                    "retried": sent.retried,
                },
            )


async def _token_rejected(sent: _Sent) -> bool:
    """401, or 400 with ``INVALID_TOKEN.GMP_GATEWAY_API`` in its body (read as sent: Walmart's
    error bodies are small, and are relayed from memory afterwards)."""
    status = sent.response.status_code
    if status == 400:
        sent.prefetched = b"".join([chunk async for chunk in sent.response.aiter_raw()])
        return INVALID_TOKEN_CODE.encode() in sent.prefetched
    return status == 401


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover  (makes this an async generator)
