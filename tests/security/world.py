"""A small populated vault for the security tests: credentials Walmart (the simulator) knows."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.api.test_headers import oauth_credential, signature_credential
from tests.walmart_sim import SimulatorControl


@dataclass(frozen=True, slots=True)
class World:
    signature_id: str  # CA signature credential of ``account_id``
    oauth_id: str  # US OAuth credential of ``account_id``
    doomed_id: str  # one more, for DELETE to destroy
    account_id: str
    other_account_id: str


async def build_world(client: httpx.AsyncClient, control: SimulatorControl) -> World:
    account, other = "acme-sec", "other-sec"
    signature = await signature_credential(client, control, account_id=account)
    oauth = await oauth_credential(client, control, account_id=account)
    doomed = await signature_credential(client, control, account_id=other)
    return World(
        signature_id=signature["id"],
        oauth_id=oauth["id"],
        doomed_id=doomed["id"],
        account_id=account,
        other_account_id=other,
    )
