"""HTTP for header issuance and token invalidation."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth import HeadersCaller
from app.db import SessionDep
from app.errors import error_responses
from app.fields import AccountId
from app.headers.schemas import AccountHeadersRequest, HeadersOut, HeadersRequest
from app.headers.service import HeaderIssuer

router = APIRouter(tags=["headers"])


async def get_issuer(request: Request) -> HeaderIssuer:
    issuer: HeaderIssuer = request.app.state.vault.issuer
    return issuer


IssuerDep = Annotated[HeaderIssuer, Depends(get_issuer)]
ISSUE_ERRORS = error_responses(401, 403, 404, 409, 422, 502, 503, 504)


@router.post(
    "/v1/credentials/{credential_id}/headers",
    response_model=HeadersOut,
    responses=ISSUE_ERRORS,
    summary="The signed Walmart headers of one call, by credential",
)
async def credential_headers(
    credential_id: uuid.UUID, body: HeadersRequest, caller: HeadersCaller, issuer: IssuerDep
) -> Response:
    issued = await issuer.for_credential(
        caller=caller,
        credential_id=credential_id,
        method=body.method,
        url=body.url,
        accept=body.accept,
    )
    return _json(issued)


@router.post(
    "/v1/accounts/{account_id}/headers",
    response_model=HeadersOut,
    responses=ISSUE_ERRORS,
    summary="The signed Walmart headers of one call, by account, market and environment",
)
async def account_headers(
    account_id: AccountId, body: AccountHeadersRequest, caller: HeadersCaller, issuer: IssuerDep
) -> Response:
    issued = await issuer.for_account(
        caller=caller,
        account_id=account_id,
        market=body.market,
        environment=body.environment,
        method=body.method,
        url=body.url,
        accept=body.accept,
    )
    return _json(issued)


def _json(issued: HeadersOut) -> Response:
    # The service built the model itself: serialize it once, instead of FastAPI validating
    # it again against the response model on every call of the hot path.
    return Response(issued.model_dump_json(), media_type="application/json")


@router.post(
    "/v1/credentials/{credential_id}/token/invalidate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Report a 401 from Walmart: drop the cached token so the next call fetches anew",
)
async def invalidate_token(
    credential_id: uuid.UUID, caller: HeadersCaller, session: SessionDep, issuer: IssuerDep
) -> Response:
    await issuer.invalidate_token(session, caller=caller, credential_id=credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
