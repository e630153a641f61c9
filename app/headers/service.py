"""The hot path: the signed headers of one Walmart call, for a caller allowed to ask.

Nothing here touches the database on a warm cache except through the snapshot recheck
(bounded by the staleness setting); the audit of issued headers goes to the batcher.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.batcher import AuditBatcher
from app.audit.service import record
from app.auth import Caller
from app.config import Settings
from app.errors import (
    CredentialDisabled,
    InvalidRequest,
    NotFound,
    VaultError,
    WalmartError,
    WalmartForbidden,
    WalmartRateLimited,
    WalmartRejectedCredentials,
    WalmartTimeout,
    WalmartUnreachable,
)
from app.headers.schemas import HeadersOut
from app.headers.snapshot import SnapshotCache
from app.keys.keystore import KeyStore
from app.keys.snapshot import CredentialSnapshot
from app.ops.metrics import HEADERS_ISSUED
from app.walmart.broker import TokenBroker
from app.walmart.markets import DEFAULT_ACCEPT
from app.walmart.outcomes import WalmartFailure
from app.walmart.signed_headers import oauth_headers, signature_headers
from app.walmart.urls import UrlProblem, normalise_url

_FAILURE_ERRORS: dict[str, type[WalmartError]] = {
    "invalid_credentials": WalmartRejectedCredentials,
    "forbidden": WalmartForbidden,
    "rate_limited": WalmartRateLimited,
    "timeout": WalmartTimeout,
    "network_error": WalmartUnreachable,
}

_ISSUED = {kind: HEADERS_ISSUED.labels(kind) for kind in ("signature", "oauth", "app_oauth")}


@dataclass
class HeaderIssuer:
    settings: Settings
    snapshots: SnapshotCache
    keystore: KeyStore
    broker: TokenBroker
    audit: AuditBatcher
    _origins: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    async def for_credential(
        self,
        *,
        caller: Caller,
        credential_id: uuid.UUID,
        method: str,
        url: str,
        accept: str = DEFAULT_ACCEPT,
    ) -> HeadersOut:
        snapshot = await self.snapshots.get(credential_id)
        if snapshot is None:
            raise NotFound(f"No credential with id {credential_id}.")
        return await self._issue(caller, snapshot, method, url, accept)

    async def for_account(
        self,
        *,
        caller: Caller,
        account_id: str,
        market: str,
        environment: str,
        method: str,
        url: str,
        accept: str = DEFAULT_ACCEPT,
    ) -> HeadersOut:
        caller.ensure_account(account_id)
        snapshot = await self.snapshots.for_slot(account_id, market, environment)
        if snapshot is None:
            raise NotFound(f"Account {account_id} has no {market} {environment} credential.")
        return await self._issue(caller, snapshot, method, url, accept)

    async def _issue(
        self, caller: Caller, snapshot: CredentialSnapshot, method: str, url: str, accept: str
    ) -> HeadersOut:
        url, headers, expires_at = await self.authenticate(caller, snapshot, method, url, accept)
        _ISSUED[snapshot.kind].inc()
        self.audit.add(
            action="headers.issued",
            client_id=caller.client_id,
            request_id=caller.request_id,
            account_id=snapshot.account_id,
            credential_id=snapshot.id,
            version=snapshot.version,
            details={"kind": snapshot.kind, "method": method, "path": urlsplit(url).path[:200]},
        )
        return HeadersOut(
            credential_id=snapshot.id,
            version=snapshot.version,
            kind=snapshot.kind,
            expires_at=expires_at,
            headers=headers,
            url=url,
        )

    async def authenticate(
        self, caller: Caller, snapshot: CredentialSnapshot, method: str, url: str, accept: str
    ) -> tuple[str, dict[str, str], datetime]:
        """The URL to send (normal form), the headers that authenticate the call and when
        they stop working, for a caller allowed to use an enabled credential."""
        caller.ensure_account(snapshot.account_id)
        if snapshot.status == "disabled":
            raise CredentialDisabled(
                f"Credential {snapshot.id} is disabled; re-enable it to issue headers.",
                details={"credential_id": str(snapshot.id)},
            )
        url = self.signed_url(snapshot, url)
        if snapshot.kind == "signature":
            headers, expires_at = await self._signature(snapshot, method, url, accept)
        else:
            headers, expires_at = await self._oauth(snapshot, caller, accept)
        return url, headers, expires_at

    def signed_url(self, snapshot: CredentialSnapshot, url: str) -> str:
        """``url`` in the normal form that is signed and must be sent, on the credential's
        base URL; ``InvalidRequest`` naming the problem otherwise."""
        origin = self._origins.get(snapshot.environment)
        if origin is None:
            base = self.settings.walmart_base_url(snapshot.environment)
            origin = self._origins[snapshot.environment] = normalise_url(base).rstrip("/")
        problem = "it has a fragment (#...), which is never sent" if "#" in url else None
        if problem is None:
            try:
                url = normalise_url(url)
            except UrlProblem as exc:
                problem = str(exc)
        if problem is None and not url.startswith(origin + "/"):
            where = f"the credential's {snapshot.environment} base URL"
            problem = f"it is not an absolute URL on {origin}/, {where}"
        if problem is not None:
            raise InvalidRequest(
                f"url cannot be signed: {problem}.",
                details={"field": "url", "problem": problem, "expected_origin": origin},
            )
        return url

    async def _signature(
        self, snapshot: CredentialSnapshot, method: str, url: str, accept: str
    ) -> tuple[dict[str, str], datetime]:
        key = await self.keystore.signing_key(snapshot)
        now_ms = int(time.time() * 1000)
        headers = signature_headers(
            key,
            consumer_id=snapshot.public_id,
            channel_type=snapshot.channel_type,
            url=url,
            method=method,
            timestamp_ms=now_ms,
            svc_name=self.settings.svc_name,
            accept=accept,
        )
        signed_at = datetime.fromtimestamp(now_ms / 1000, UTC)
        return headers, signed_at + timedelta(seconds=self.settings.signature_validity_seconds)

    async def _oauth(
        self, snapshot: CredentialSnapshot, caller: Caller, accept: str
    ) -> tuple[dict[str, str], datetime]:
        try:
            token = await self.broker.token(snapshot, caller=caller)
        except WalmartFailure as failure:
            raise walmart_error(failure) from None
        headers = oauth_headers(
            token.token,
            market=snapshot.market,
            channel_type=snapshot.channel_type,
            svc_name=self.settings.svc_name,
            accept=accept,
        )
        return headers, token.expires_at

    async def invalidate_token(
        self, session: AsyncSession, *, caller: Caller, credential_id: uuid.UUID
    ) -> None:
        snapshot = await self.snapshots.get(credential_id)
        if snapshot is None:
            raise NotFound(f"No credential with id {credential_id}.")
        caller.ensure_account(snapshot.account_id)
        if snapshot.kind == "signature":
            raise InvalidRequest(
                "Only OAuth credentials have an access token to invalidate.",
                details={"kind": snapshot.kind},
            )
        await self.broker.invalidate(session, credential_id)
        record(
            session,
            action="token.invalidated",
            caller=caller,
            account_id=snapshot.account_id,
            credential_id=credential_id,
            version=snapshot.version,
        )

    def forget(self, credential_id: uuid.UUID) -> None:
        """Drop everything this replica caches about a credential (rotation, disable, delete)."""
        self.snapshots.forget(credential_id)
        self.keystore.forget(credential_id)
        self.broker.forget(credential_id)


def walmart_error(failure: WalmartFailure) -> VaultError:
    error_class = _FAILURE_ERRORS.get(failure.outcome, WalmartError)
    details: dict[str, object] = {
        "outcome": failure.outcome,
        "walmart_status": failure.status,
        "walmart_error_code": failure.error_code,
        "correlation_id": failure.correlation_id,
    }
    details.update(failure.details)
    retry_after = failure.details.get("retry_after")
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    return error_class(
        f"Could not get a Walmart access token: {failure.message}", details=details, headers=headers
    )
