"""Importing many credentials at once: JSON Lines in the shape of ``POST /v1/credentials``.

Each line goes through the API's own checks (``CredentialCreate``, then ``prepare_secret``:
market rules and key parsing), so a line is accepted here exactly when the API would accept
it. Accepted lines are stored in batches, one transaction each: a slot (account, market,
environment) that already holds the same key is counted as already there (so running the
same file again resumes a stopped import), one that holds another key is refused like the
API's 409. New credentials go in with one bulk insert and one chained audit append per
batch, each with its own ``credential.created`` event (``details.source = "import"``).
A line that fails is reported with its number, code and message, never its content.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record_all
from app.auth import Caller
from app.credentials.models import Credential, CredentialVersion
from app.credentials.repository.bulk import BulkRepository, Slot, SlotTaken
from app.credentials.rows import created_event, new_credential, sealed_version
from app.credentials.schemas import CredentialCreate
from app.credentials.secrets import PreparedSecret, prepare_secret
from app.credentials.service import NewCredentialTester
from app.crypto import Envelope
from app.db import transaction
from app.errors import CredentialExists, VaultError, describe_validation_errors
from app.walmart.client import TokenGrant
from app.walmart.live_test import LiveTestResult

Tested = tuple[LiveTestResult, TokenGrant | None]  # a live test's result and its token
Sealed = list[tuple[Credential, CredentialVersion, TokenGrant | None]]
SEAL_CONCURRENCY = 16

# A slot written by someone else between our check and our insert: the batch is checked
# again, at most this many times.
SLOT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}"


@dataclass(frozen=True, slots=True, repr=False)
class ImportLine:
    line: int
    body: CredentialCreate
    prepared: PreparedSecret

    @property
    def slot(self) -> Slot:
        return (self.body.account_id, self.body.market, self.body.environment)

    def __repr__(self) -> str:
        return f"ImportLine(line={self.line}, slot={self.slot})"


@dataclass
class BatchOutcome:
    imported: int = 0
    existing: int = 0
    rejected: list[Rejection] = field(default_factory=list)


async def parse_line(number: int, raw: bytes) -> ImportLine | Rejection:
    """Validate one line as the API validates a request body."""
    try:
        body = CredentialCreate.model_validate_json(raw)
    except ValidationError as exc:
        summary, _ = describe_validation_errors(exc.errors(include_input=False))
        return Rejection(number, "validation_error", f"The line is not valid: {summary}")
    try:
        prepared = await prepare_secret(body.auth, market=body.market, environment=body.environment)
    except VaultError as exc:
        return Rejection(number, exc.code, exc.message)
    return ImportLine(number, body, prepared)


async def import_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    envelope: Envelope,
    lines: Sequence[ImportLine],
    *,
    caller: Caller,
    tester: NewCredentialTester | None = None,
    concurrency: int = 8,
    dry_run: bool = False,
) -> BatchOutcome:
    """Store the lines that are new, in one transaction; live-test them first if asked
    (``concurrency`` tests at a time, no database connection held meanwhile)."""
    tested: dict[int, Tested] = {}
    for _ in range(SLOT_RETRIES):
        outcome = BatchOutcome()
        async with sessionmaker() as session:
            new = await _new_lines(BulkRepository(session), lines, caller, outcome)
        if tester is not None:
            untested = [item for item in new if item.line not in tested]
            tested |= await _live_tests(tester, untested, concurrency)
            new = _passed(new, tested, outcome)
        if dry_run or not new:
            outcome.imported = len(new)
            return outcome
        sealed = await _sealed(envelope, new, caller, tested)
        try:
            async with transaction(sessionmaker) as session:
                await _store(session, sealed, caller, tester)
        except SlotTaken:
            continue
        outcome.imported = len(new)
        return outcome
    raise SlotTaken()


async def _new_lines(
    repo: BulkRepository, lines: Sequence[ImportLine], caller: Caller, out: BatchOutcome
) -> list[ImportLine]:
    """The lines whose slot is free; the others are already there or refused."""
    stored = await repo.live_fingerprints(item.slot for item in lines)
    new: list[ImportLine] = []
    for item in lines:
        if not caller.may_access(item.body.account_id):
            out.rejected.append(Rejection(item.line, "forbidden", "Account not allowed."))
            continue
        fingerprint = stored.get(item.slot)
        if fingerprint is None:
            stored[item.slot] = item.prepared.fingerprint  # a later line for the same slot
            new.append(item)
        elif fingerprint == item.prepared.fingerprint:
            out.existing += 1
        else:
            account, market, environment = item.slot
            out.rejected.append(
                Rejection(
                    item.line,
                    CredentialExists.code,
                    f"Account {account} already has a {market} {environment} credential with "
                    "another key; rotate it instead of importing a second one.",
                )
            )
    return new


async def _live_tests(
    tester: NewCredentialTester, lines: Sequence[ImportLine], concurrency: int
) -> dict[int, Tested]:
    gate = asyncio.Semaphore(concurrency)

    async def one(item: ImportLine) -> tuple[int, Tested]:
        async with gate:
            tested = await tester.check_new(
                item.prepared, market=item.body.market, environment=item.body.environment
            )
        return item.line, tested

    return dict(await asyncio.gather(*(one(item) for item in lines)))


def _passed(
    lines: list[ImportLine], tested: dict[int, Tested], out: BatchOutcome
) -> list[ImportLine]:
    passed = []
    for item in lines:
        result, _ = tested[item.line]
        if result.ok:
            passed.append(item)
        else:
            out.rejected.append(
                Rejection(
                    item.line,
                    "credential_test_failed",
                    f"Walmart did not accept these credentials ({result.outcome}); "
                    "nothing was stored.",
                )
            )
    return passed


async def _sealed(
    envelope: Envelope, lines: Sequence[ImportLine], caller: Caller, tested: dict[int, Tested]
) -> Sealed:
    """New rows with their secrets sealed, ``SEAL_CONCURRENCY`` at a time: a remote KEK
    (Transit, KMS) costs a round trip per seal, and no database connection waits for them."""
    gate = asyncio.Semaphore(SEAL_CONCURRENCY)

    async def one(item: ImportLine) -> tuple[Credential, CredentialVersion, TokenGrant | None]:
        test, grant = tested.get(item.line, (None, None))
        credential = new_credential(item.body, item.prepared, test)
        async with gate:
            version = await sealed_version(
                envelope, credential, 1, item.prepared, caller, state="current"
            )
        version.test = credential.last_test
        return credential, version, grant

    return list(await asyncio.gather(*(one(item) for item in lines)))


async def _store(
    session: AsyncSession, sealed: Sealed, caller: Caller, tester: NewCredentialTester | None
) -> None:
    await BulkRepository(session).add_many([(c, v) for c, v, _ in sealed])
    for credential, _, grant in sealed:
        if tester is not None and grant is not None:
            # As for the API: the test's token serves the first headers call.
            await tester.keep_token(session, credential, grant)
    record_all(session, (created_event(c, caller, source="import") for c, _, _ in sealed))
