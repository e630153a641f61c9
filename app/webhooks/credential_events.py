"""What a credential's status change announces, decided in one place for every writer
(live tests, drift passes, rotations, token refreshes): breaking is ``credential.invalid``
with why, coming back is ``credential.recovered``; other moves announce nothing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.webhooks.events import CredentialLike, credential_data, emit


async def status_changed(
    session: AsyncSession, credential: CredentialLike, before: str, *, reason: str
) -> None:
    """Call after changing ``credential.status`` from ``before``, in the same transaction;
    ``reason`` says why it would be invalid (drift, reconnect_required, test_failed)."""
    after = credential.status
    if after == before:
        return
    if after == "invalid":
        await emit(session, "credential.invalid", credential_data(credential, reason=reason))
    elif before == "invalid" and after == "valid":
        await emit(session, "credential.recovered", credential_data(credential))
