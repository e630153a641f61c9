"""Live credential tests: does Walmart accept these credentials right now?

OAuth: a token call, then ``GET /v3/token/detail`` with the new token. Signature: a signed
``GET /v3/ca/feeds?limit=1``. The whole test, both calls included, ends within the Walmart
time budget and never retries. The result carries Walmart's status, error code and
correlation id, never a secret or a token.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from app.db import utcnow
from app.walmart.client import TokenGrant, WalmartClient
from app.walmart.outcomes import WalmartFailure, failure_from_exception
from app.walmart.signed_headers import signature_headers


@dataclass(frozen=True, slots=True)
class LiveTestResult:
    """What a live test found. Stored (credential and version rows), answered and audited as
    the JSON of ``as_json``: the shape docs/api.md describes."""

    ok: bool
    outcome: str
    checked_at: datetime
    latency_ms: float
    walmart_status: int | None
    walmart_error_code: str | None
    message: str
    correlation_id: str | None
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The result as stored and answered: ``checked_at`` in ISO 8601, keys in field order."""
        return asdict(self) | {"checked_at": self.checked_at.isoformat()}


@dataclass(frozen=True, slots=True)
class TestTarget:
    """What a live test needs besides the secret."""

    __test__ = False  # not a pytest test class

    kind: str
    base_url: str
    market: str
    public_id: str
    channel_type: str | None


async def run_live_test(
    walmart: WalmartClient,
    target: TestTarget,
    *,
    secret: bytes | RSAPrivateKey,
    budget: float,
) -> tuple[LiveTestResult, TokenGrant | None]:
    """The test result, plus the token an OAuth test obtained (worth caching)."""
    started = time.perf_counter()
    grant: TokenGrant | None = None
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(budget):
            if target.kind == "oauth":
                assert isinstance(secret, bytes)  # noqa: S101  (kind decides the secret's type)
                grant, details, status, correlation_id = await _oauth(walmart, target, secret)
            else:
                assert isinstance(secret, RSAPrivateKey)  # noqa: S101
                status, correlation_id = await _signature(walmart, target, secret)
    except WalmartFailure as failure:
        return _result(started, failure=failure), None
    except (TimeoutError, OSError) as exc:
        return _result(started, failure=failure_from_exception(exc, None)), None
    return _result(started, status=status, correlation_id=correlation_id, details=details), grant


async def _oauth(
    walmart: WalmartClient, target: TestTarget, secret: bytes
) -> tuple[TokenGrant, dict[str, Any], int, str]:
    grant = await walmart.request_token(
        base_url=target.base_url,
        client_id=target.public_id,
        client_secret=secret.decode(),
        market=target.market,
        channel_type=target.channel_type,
    )
    detail, correlation_id = await walmart.token_detail(
        base_url=target.base_url,
        access_token=grant.access_token,
        client_id=target.public_id,
        client_secret=secret.decode(),
        market=target.market,
        channel_type=target.channel_type,
    )
    details = {
        "is_valid": detail.get("is_valid"),
        "is_channel_match": detail.get("is_channel_match"),
        "scopes": detail.get("scopes"),
    }
    # A token call succeeds for keys Walmart no longer honours, and for keys of another
    # channel: the detail's own verdict is the one that counts.
    if details["is_valid"] is not True:
        raise WalmartFailure(
            "invalid_credentials",
            "Walmart issued a token but its token detail says it is not valid (is_valid is "
            f"{details['is_valid']!r}).",
            200,
            None,
            correlation_id,
            details,
        )
    if details["is_channel_match"] is False:
        sent = target.channel_type or "none"
        raise WalmartFailure(
            "channel_mismatch",
            f"Walmart accepted the keys, but they are not associated with the channel type sent "
            f"(WM_CONSUMER.CHANNEL.TYPE {sent}): fix the credential's channel_type.",
            200,
            None,
            correlation_id,
            details | {"channel_type": target.channel_type},
        )
    return grant, details, 200, correlation_id


async def _signature(
    walmart: WalmartClient, target: TestTarget, key: RSAPrivateKey
) -> tuple[int, str]:
    url = f"{target.base_url}/v3/ca/feeds?limit=1"
    headers = signature_headers(
        key,
        consumer_id=target.public_id,
        channel_type=target.channel_type,
        url=url,
        method="GET",
        timestamp_ms=int(time.time() * 1000),
        svc_name=walmart.svc_name,
    )
    return await walmart.signed_get(url, headers)


def _result(
    started: float,
    *,
    failure: WalmartFailure | None = None,
    status: int | None = None,
    correlation_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> LiveTestResult:
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    if failure is not None:
        return LiveTestResult(
            ok=False,
            outcome=failure.outcome,
            checked_at=utcnow(),
            latency_ms=latency_ms,
            walmart_status=failure.status,
            walmart_error_code=failure.error_code,
            message=failure.message,
            correlation_id=failure.correlation_id,
            details=failure.details,
        )
    return LiveTestResult(
        ok=True,
        outcome="valid",
        checked_at=utcnow(),
        latency_ms=latency_ms,
        walmart_status=status,
        walmart_error_code=None,
        message="Walmart accepted the credentials.",
        correlation_id=correlation_id,
        details=details or {},
    )


async def token_detail_result(
    walmart: WalmartClient,
    *,
    base_url: str,
    market: str,
    access_token: str,
    client_id: str,
    client_secret: str,
    budget: float,
) -> LiveTestResult:
    """The live test of an access token obtained elsewhere (an App Store grant): Walmart's
    ``GET /v3/token/detail`` with it, as a test result."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):
            detail, correlation_id = await walmart.token_detail(
                base_url=base_url,
                access_token=access_token,
                client_id=client_id,
                client_secret=client_secret,
                market=market,
                channel_type=None,
            )
    except WalmartFailure as failure:
        return _result(started, failure=failure)
    except (TimeoutError, OSError) as exc:
        return _result(started, failure=failure_from_exception(exc, None))
    details = {
        "is_valid": detail.get("is_valid"),
        "is_channel_match": detail.get("is_channel_match"),
        "scopes": detail.get("scopes"),
    }
    if detail.get("is_valid") is False:
        refused = WalmartFailure(
            "invalid_credentials",
            "Walmart reports the new access token as not valid.",
            status=200,
            correlation_id=correlation_id,
            details=details,
        )
        return _result(started, failure=refused)
    return _result(started, status=200, correlation_id=correlation_id, details=details)


def failure_result(failure: WalmartFailure) -> LiveTestResult:
    """A failed test result for a failure met before any test call could be made."""
    return _result(time.perf_counter(), failure=failure)
