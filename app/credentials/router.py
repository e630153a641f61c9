"""HTTP for credentials: translate requests, call the service, shape responses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth import ReadCaller, TestCaller, WriteCaller
from app.credentials import service
from app.credentials.deps import StateDep
from app.credentials.models import Credential
from app.credentials.repository import CredentialFilter
from app.credentials.rotation import rotate_credential, rotation_policy
from app.credentials.schemas import (
    CredentialCreate,
    CredentialOut,
    CredentialPage,
    CredentialPatch,
    CredentialStatus,
    RotateRequest,
    TestResult,
    VersionList,
    VersionOut,
)
from app.db import SessionDep
from app.errors import error_responses
from app.fields import AccountId, Environment, Market
from app.pagination import PageDep, cut, time_id_cursor_of

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])


def credential_out(credential: Credential) -> CredentialOut:
    signature = credential.kind == "signature"
    return CredentialOut(
        id=credential.id,
        account_id=credential.account_id,
        market=credential.market,
        environment=credential.environment,
        label=credential.label,
        kind=credential.kind,
        consumer_id=credential.public_id if signature else None,
        client_id=None if signature else credential.public_id,
        channel_type=credential.channel_type,
        version=credential.current_version,
        fingerprint=credential.fingerprint,
        status=credential.status,
        last_test=credential.last_test,
        created_at=credential.created_at,
        updated_at=credential.updated_at,
        rotated_at=credential.rotated_at,
        status_reason=credential.status_reason,
        app_id=credential.app_id,
        seller_id=credential.seller_id,
        refresh_expires_at=credential.refresh_expires_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CredentialOut,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Register a seller's Walmart credentials (stored encrypted, never shown again)",
    description="With `?test=true` the credentials are tested live first; if Walmart refuses "
    "them nothing is stored and the answer is 422 `credential_test_failed` with the test result "
    "under `details`.",
)
async def create_credential(
    body: CredentialCreate,
    caller: WriteCaller,
    session: SessionDep,
    state: StateDep,
    test: Annotated[
        bool, Query(description="Run the live test first; store nothing if Walmart refuses.")
    ] = False,
) -> CredentialOut:
    credential = await service.create_credential(
        session, state.envelope, caller=caller, body=body, tester=state.tester if test else None
    )
    return credential_out(credential)


@router.get(
    "",
    response_model=CredentialPage,
    responses=error_responses(401, 403, 422, 503),
    summary="List credentials, newest first",
)
async def list_credentials(
    caller: ReadCaller,
    session: SessionDep,
    page: PageDep,
    account_id: Annotated[AccountId | None, Query()] = None,
    market: Annotated[Market | None, Query()] = None,
    environment: Annotated[Environment | None, Query()] = None,
    status_: Annotated[CredentialStatus | None, Query(alias="status")] = None,
    refresh_expires_before: Annotated[
        datetime | None,
        Query(description="Only App Store connections whose refresh token expires before this."),
    ] = None,
) -> CredentialPage:
    where = CredentialFilter(
        account_id=account_id,
        market=market,
        environment=environment,
        status=status_,
        refresh_expires_before=(
            refresh_expires_before.replace(tzinfo=UTC)  # a date or time without zone is UTC
            if refresh_expires_before is not None and refresh_expires_before.tzinfo is None
            else refresh_expires_before
        ),
    )
    rows = await service.list_credentials(session, caller=caller, where=where, page=page)
    shown, cursor = cut(rows, page, time_id_cursor_of)
    return CredentialPage(items=[credential_out(c) for c in shown], next_cursor=cursor)


@router.get(
    "/{credential_id}",
    response_model=CredentialOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Get one credential",
)
async def get_credential(
    credential_id: uuid.UUID, caller: ReadCaller, session: SessionDep
) -> CredentialOut:
    credential = await service.get_credential(session, caller=caller, credential_id=credential_id)
    return credential_out(credential)


@router.patch(
    "/{credential_id}",
    response_model=CredentialOut,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Edit the label or channel type, or disable / re-enable",
)
async def update_credential(
    credential_id: uuid.UUID, body: CredentialPatch, caller: WriteCaller, session: SessionDep
) -> CredentialOut:
    credential = await service.update_credential(
        session, caller=caller, credential_id=credential_id, patch=body
    )
    return credential_out(credential)


@router.delete(
    "/{credential_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Delete a credential and destroy every version's key material",
)
async def delete_credential(
    credential_id: uuid.UUID, caller: WriteCaller, session: SessionDep
) -> Response:
    await service.delete_credential(session, caller=caller, credential_id=credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{credential_id}/versions",
    response_model=VersionList,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="List a credential's versions, newest first",
)
async def list_versions(
    credential_id: uuid.UUID, caller: ReadCaller, session: SessionDep
) -> VersionList:
    rows = await service.list_versions(session, caller=caller, credential_id=credential_id)
    return VersionList(items=[VersionOut.model_validate(v, from_attributes=True) for v in rows])


@router.post(
    "/{credential_id}/test",
    response_model=TestResult,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Test the current version live against Walmart and keep the result",
    description="The test holds no database connection while Walmart answers. If the "
    "credential is rotated meanwhile the answer is 409 naming the tested and the current "
    "version (the result is under `details`); if it is deleted meanwhile, 404.",
)
async def test_credential(
    credential_id: uuid.UUID, caller: TestCaller, state: StateDep
) -> TestResult:
    result = await state.tester.check_stored(caller=caller, credential_id=credential_id)
    return TestResult.model_validate(result.as_json())


@router.post(
    "/{credential_id}/rotate",
    response_model=CredentialOut,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Rotate to a new secret: sealed as pending, tested live, then promoted",
    description="The new version is promoted only if its live test passes (or `test` is false). "
    "On failure the answer is 422 `credential_test_failed` with the test result, a `failed` "
    "version is recorded and the current one is untouched. A concurrent rotation of the same "
    "credential gets 409.",
)
async def rotate(
    credential_id: uuid.UUID, body: RotateRequest, caller: WriteCaller, state: StateDep
) -> CredentialOut:
    policy = rotation_policy(state.settings)
    credential = await rotate_credential(
        state.sessionmaker,
        state.envelope,
        state.tester,
        caller=caller,
        credential_id=credential_id,
        auth=body.auth,
        test=body.test,
        policy=policy,
    )
    return credential_out(credential)
