"""HTTP for the proxy: ``ANY /v1/proxy/{account_id}/{market}/{environment}/{path}``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.auth import WalmartCaller
from app.errors import ErrorResponse, error_responses
from app.fields import AccountId, Environment, Market
from app.proxy.deps import StateDep
from app.proxy.service import ProxyCall, Relayed

router = APIRouter(tags=["proxy"])
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# /v1/proxy/{account_id}/{market}/{environment}/ is five slashes in; the rest is Walmart's path.
_PREFIX_SLASHES = 5

# Every error status but 413: the proxy streams bodies of any size.
_ERRORS = {
    status: response
    for status, response in error_responses(401, 403, 404, 409, 422, 502, 503, 504).items()
    if status != 413
} | {
    408: {
        "model": ErrorResponse,
        "description": "The request body stalled longer than VAULT_PROXY_BODY_IDLE_SECONDS.",
    },
    429: {
        "model": ErrorResponse,
        "description": "The client has VAULT_PROXY_CALLS_PER_CLIENT proxied calls open already.",
    },
}
_BODY = {
    "requestBody": {
        "required": False,
        "description": "Sent to Walmart as it streams in (feeds of tens of MB are fine).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Walmart's request body, whatever the endpoint takes.",
                    "examples": [{"sku": "ACME-1", "pricing": [{"currentPrice": 9.99}]}],
                }
            },
            "application/xml": {"schema": {"type": "string", "examples": ["<feed>...</feed>"]}},
        },
    }
}


async def proxy(
    account_id: AccountId,
    market: Market,
    environment: Environment,
    path: str,
    request: Request,
    caller: WalmartCaller,
    state: StateDep,
) -> Response:
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    walmart_path = raw_path.decode("latin-1").split("/", _PREFIX_SLASHES + 1)[-1]
    headers = request.scope["headers"]
    relayed = await state.proxy.forward(
        ProxyCall(
            caller=caller,
            account_id=account_id,
            market=market,
            environment=environment,
            method=request.method,
            path=walmart_path,
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=request.stream(),
            has_body=_has_body(headers),
        )
    )
    return _RelayedResponse(relayed)


class _RelayedResponse(StreamingResponse):
    """Walmart's answer streamed back; its connection and the caller's slot are given back
    when the answer ends, even if the caller went away before it started."""

    def __init__(self, relayed: Relayed) -> None:
        super().__init__(relayed.body, status_code=relayed.status)
        self.raw_headers = relayed.headers
        self.relayed = relayed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.relayed.finish()


for _method in METHODS:  # one operation each: OpenAPI wants distinct operation ids
    router.add_api_route(
        "/v1/proxy/{account_id}/{market}/{environment}/{path:path}",
        proxy,
        methods=[_method],
        operation_id=f"proxy_{_method.lower()}",
        responses={
            200: {
                "description": "Walmart's answer, relayed: its status, headers and body.",
                "content": {"application/json": {"example": {"ok": True}}},
            },
            **_ERRORS,
        },
        openapi_extra=_BODY if _method != "GET" else None,
        summary=f"{_method}: forward one call to Walmart, authenticated inside the vault",
    )


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False
