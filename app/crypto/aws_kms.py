"""AWS KMS as a ``KekProvider``: DEKs are wrapped by ``Encrypt`` and unwrapped by ``Decrypt``.

The row's fields go to KMS as the *encryption context*, which KMS binds to the ciphertext
blob: ``Decrypt`` under any other context fails, and CloudTrail logs the context with every
call, so an audit shows which credential a DEK was unwrapped for. ``Decrypt`` also names the
configured key, so a blob wrapped under another key is refused instead of silently opened.

The key id written into the sealed form is the configured one, as given (key id, ARN or
alias), so it must fit the stored form (no ``$``). Rotation *inside* KMS (automatic yearly
or on demand) keeps the key id and keeps every older backing key, so sealed values need no
rewrap. Moving to a *different* KMS key is done like any provider change: make the new key
active, put a provider for the old key in ``Envelope(others=...)`` (both are named
"aws-kms"; the key id picks one), and ``rewrap``.

boto3 is blocking, so every call runs in a worker thread (``asyncio.to_thread``). Each
attempt has ``timeout`` seconds to connect and to read, and botocore makes at most two
attempts, so a dead endpoint costs about ``2 * timeout`` plus a short backoff. Credentials
come from the standard AWS chain (environment, profile, instance role); none pass through
this class, and ``repr`` shows only the key id and region.

Failures: anything that means "KMS could not be asked or cannot work for us now" (network
errors, timeouts, throttling, KMS-side faults, rejected credentials) is ``KekUnavailable``;
a ``Decrypt`` that KMS refused for this blob (bad ciphertext, wrong key or context, access
denied to the key) is ``SealedValueUnreadable``. Messages name the error code, never data.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.crypto import _stored_form as form
from app.crypto.errors import EnvelopeError, KekUnavailable, SealedValueUnreadable

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_T = TypeVar("_T")

# Codes after which the same request may well succeed a little later.
_TRANSIENT = frozenset(
    {
        "ThrottlingException",
        "KMSInternalException",
        "KeyUnavailableException",
        "DependencyTimeoutException",
        "RequestLimitExceeded",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
# Codes that refuse the caller, not the blob: every call would fail the same way, so they
# are the operator's problem (like Transit's 403), never a verdict on one sealed value.
_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)


class AwsKmsProvider:
    """A ``KekProvider`` wrapping DEKs under one AWS KMS key."""

    def __init__(
        self,
        *,
        key_id: str,
        region: str,
        endpoint_url: str | None = None,
        timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        if not form.KEY_ID.fullmatch(key_id):
            raise ValueError("key_id must be 1-512 printable ASCII characters without '$'")
        self._key_id = key_id
        self._region = region
        self._owns_client = client is None
        if client is None:
            config = Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 2, "mode": "standard"},
            )
            # A session of its own: boto3's module-level default session is not thread-safe.
            client = boto3.session.Session().client(
                "kms", region_name=region, endpoint_url=endpoint_url, config=config
            )
        self._client: KMSClient = client

    @property
    def name(self) -> str:
        return "aws-kms"

    @property
    def active_key_id(self) -> str:
        return self._key_id

    def knows(self, key_id: str) -> bool:
        return key_id == self._key_id

    def __repr__(self) -> str:
        return f"AwsKmsProvider(key_id={self._key_id!r}, region={self._region!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections of the client this provider made (not a passed-in one)."""
        if self._owns_client:
            self._client.close()

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        response = await self._call(
            lambda: self._client.encrypt(
                KeyId=self._key_id, Plaintext=dek, EncryptionContext=dict(context)
            ),
            opening=False,
        )
        return self._key_id, response["CiphertextBlob"]

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        if key_id != self._key_id:
            raise SealedValueUnreadable()
        response = await self._call(
            lambda: self._client.decrypt(
                CiphertextBlob=wrapped, KeyId=self._key_id, EncryptionContext=dict(context)
            ),
            opening=True,
        )
        # A missing plaintext becomes an empty DEK, which the envelope refuses by its size.
        return response.get("Plaintext", b"")

    async def _call(self, call: Callable[[], _T], *, opening: bool) -> _T:
        try:
            return await asyncio.to_thread(call)
        except ClientError as exc:
            raise self._refused(exc, opening=opening) from None
        except BotoCoreError as exc:
            # Connection refused, DNS, connect and read timeouts, no credentials found.
            raise KekUnavailable(
                f"AWS KMS in {self._region} could not be reached ({type(exc).__name__})"
            ) from None

    def _refused(self, exc: ClientError, *, opening: bool) -> EnvelopeError:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRANSIENT or status >= 500:
            return KekUnavailable(f"AWS KMS in {self._region} is unavailable ({code})")
        if code in _CREDENTIALS:
            return KekUnavailable(f"AWS KMS in {self._region} rejected the credentials ({code})")
        if opening:
            return SealedValueUnreadable()
        # Encrypt refused (missing or disabled key, no kms:Encrypt grant): nothing can be
        # sealed until an operator fixes the key or the policy.
        return KekUnavailable(f"AWS KMS refused to encrypt with key {self._key_id!r} ({code})")
