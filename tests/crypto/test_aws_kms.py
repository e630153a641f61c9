"""The AWS KMS provider against a real KMS API: moto's server on loopback, through the envelope."""

import base64
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from botocore.stub import Stubber

from app.crypto import AssociatedData, Envelope, KekUnavailable, SealedValueUnreadable
from app.crypto.aws_kms import AwsKmsProvider
from tests.kms_servers import REGION, MotoServer, free_port

PLAINTEXT = b"walmart-client-secret-for-kms"
TIMEOUT = 0.5
# botocore makes two attempts of at most TIMEOUT each, with up to 1 s of backoff between.
WORST_CASE = 2 * TIMEOUT + 1.0 + 0.5


@pytest.fixture(scope="module", autouse=True)
def aws_credentials() -> Iterator[None]:
    # The standard chain finds these first; the rest keeps it from reading this machine's
    # files or asking an instance-metadata address that is not loopback.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_SESSION_TOKEN": "testing-session-token",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def key_id(moto_server: MotoServer) -> str:
    return moto_server.create_key()


def _provider(moto_server: MotoServer, key_id: str) -> AwsKmsProvider:
    return AwsKmsProvider(
        key_id=key_id, region=REGION, endpoint_url=moto_server.endpoint_url, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
async def kms(moto_server: MotoServer, key_id: str) -> AsyncIterator[AwsKmsProvider]:
    provider = _provider(moto_server, key_id)
    yield provider
    await provider.aclose()


def _with_wrapped(sealed: str, change: bytes) -> str:
    fields = sealed.split("$")
    fields[3] = base64.urlsafe_b64encode(change).rstrip(b"=").decode()
    return "$".join(fields)


def _wrapped(sealed: str) -> bytes:
    text = sealed.split("$")[3]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_round_trip(kms: AwsKmsProvider, key_id: str, aad: AssociatedData) -> None:
    sealed = await Envelope(kms).seal(PLAINTEXT, aad=aad)
    assert Envelope.kek_of(sealed) == ("aws-kms", key_id)
    assert await Envelope(kms).open(sealed, aad=aad) == PLAINTEXT
    await Envelope(kms).self_check()


async def test_arn_and_alias_are_stored_as_given(
    moto_server: MotoServer, aad: AssociatedData
) -> None:
    alias = "alias/vault-test-alias"
    key = moto_server.create_key(alias=alias)
    client = moto_server.client()
    arn = client.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    client.close()
    for configured in (arn, alias):
        provider = _provider(moto_server, configured)
        sealed = await Envelope(provider).seal(PLAINTEXT, aad=aad)
        assert Envelope.kek_of(sealed) == ("aws-kms", configured)
        assert await Envelope(provider, dek_cache_size=0).open(sealed, aad=aad) == PLAINTEXT
        await provider.aclose()


@pytest.mark.parametrize("cache", ["cold", "warm"])
async def test_encryption_context_binds(
    kms: AwsKmsProvider, key_id: str, aad: AssociatedData, cache: str
) -> None:
    envelope = Envelope(kms)
    sealed = await envelope.seal(PLAINTEXT, aad=aad)
    if cache == "warm":
        assert await envelope.open(sealed, aad=aad) == PLAINTEXT
    other = dataclasses.replace(aad, credential_id="another-credential")
    with pytest.raises(SealedValueUnreadable):
        await envelope.open(sealed, aad=other)
    # KMS itself refuses the DEK under another context, not only the value's own GCM check.
    with pytest.raises(SealedValueUnreadable):
        await kms.unwrap(key_id, _wrapped(sealed), context=other.context())


@pytest.mark.parametrize("position", [0, 40, -1])
async def test_tampered_wrapped_dek_fails_closed(
    kms: AwsKmsProvider, aad: AssociatedData, position: int
) -> None:
    sealed = await Envelope(kms).seal(PLAINTEXT, aad=aad)
    wrapped = bytearray(_wrapped(sealed))
    wrapped[position] ^= 0x01
    with pytest.raises(SealedValueUnreadable):
        await Envelope(kms).open(_with_wrapped(sealed, bytes(wrapped)), aad=aad)


async def test_wrong_and_unknown_keys(
    moto_server: MotoServer, kms: AwsKmsProvider, aad: AssociatedData
) -> None:
    sealed = await Envelope(kms).seal(PLAINTEXT, aad=aad)
    other = _provider(moto_server, moto_server.create_key())
    with pytest.raises(SealedValueUnreadable):
        await Envelope(other).open(sealed, aad=aad)
    # Asked directly, KMS refuses a blob of key A under key B (Decrypt names the key).
    with pytest.raises(SealedValueUnreadable):
        await other.unwrap(other.active_key_id, _wrapped(sealed), context=aad.context())
    with pytest.raises(SealedValueUnreadable):
        await kms.unwrap(other.active_key_id, _wrapped(sealed), context=aad.context())
    await other.aclose()

    missing = _provider(moto_server, "11111111-2222-3333-4444-555555555555")
    with pytest.raises(KekUnavailable, match=r"refused to encrypt .*NotFoundException"):
        await Envelope(missing).seal(PLAINTEXT, aad=aad)
    with pytest.raises(SealedValueUnreadable):
        await missing.unwrap(missing.active_key_id, _wrapped(sealed), context=aad.context())
    await missing.aclose()


async def test_closed_port_is_unavailable_fast(key_id: str, aad: AssociatedData) -> None:
    provider = AwsKmsProvider(
        key_id=key_id,
        region=REGION,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        timeout=TIMEOUT,
    )
    started = time.monotonic()
    with pytest.raises(KekUnavailable, match="could not be reached"):
        await Envelope(provider).seal(PLAINTEXT, aad=aad)
    assert time.monotonic() - started < WORST_CASE
    await provider.aclose()


async def test_hung_kms_times_out_and_warm_cache_keeps_opening(
    moto_server: MotoServer, kms: AwsKmsProvider, aad: AssociatedData
) -> None:
    envelope = Envelope(kms)
    warm = await envelope.seal(PLAINTEXT, aad=aad)
    cold = await envelope.seal(PLAINTEXT + b"-2", aad=aad)
    assert await envelope.open(warm, aad=aad) == PLAINTEXT
    with moto_server.paused():
        assert await envelope.open(warm, aad=aad) == PLAINTEXT
        started = time.monotonic()
        with pytest.raises(KekUnavailable, match=r"ReadTimeoutError"):
            await envelope.open(cold, aad=aad)
        assert time.monotonic() - started < WORST_CASE
    assert await envelope.open(cold, aad=aad) == PLAINTEXT + b"-2"


@pytest.mark.parametrize(
    ("operation", "code", "status", "expected"),
    [
        ("decrypt", "ThrottlingException", 400, KekUnavailable),
        ("decrypt", "KeyUnavailableException", 500, KekUnavailable),
        ("decrypt", "SomethingNewAndBroken", 503, KekUnavailable),
        ("decrypt", "UnrecognizedClientException", 400, KekUnavailable),
        ("decrypt", "AccessDeniedException", 400, SealedValueUnreadable),
        ("decrypt", "IncorrectKeyException", 400, SealedValueUnreadable),
        ("encrypt", "KMSInternalException", 500, KekUnavailable),
        ("encrypt", "DisabledException", 400, KekUnavailable),
    ],
)
async def test_kms_error_codes_are_mapped(
    operation: str, code: str, status: int, expected: type[Exception]
) -> None:
    # moto cannot throttle or fail on demand, so botocore's own Stubber answers instead.
    client = boto3.session.Session().client("kms", region_name=REGION)
    provider = AwsKmsProvider(key_id="key-1", region=REGION, client=client)
    with Stubber(client) as stubber:
        stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
        call = (
            provider.wrap(bytes(32), context={"purpose": "x"})
            if operation == "encrypt"
            else provider.unwrap("key-1", b"blob", context={"purpose": "x"})
        )
        with pytest.raises(expected) as caught:
            await call
    assert caught.value.__cause__ is None
    await provider.aclose()
    client.close()


def test_repr_shows_only_key_id_and_region(kms: AwsKmsProvider, key_id: str) -> None:
    assert repr(kms) == f"AwsKmsProvider(key_id={key_id!r}, region='us-east-1')"
    assert "testing" not in repr(kms) + str(kms)


@pytest.mark.parametrize("bad", ["", "key$1", "key 1", "x" * 513])
def test_key_id_that_cannot_be_stored_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="key_id"):
        AwsKmsProvider(key_id=bad, region=REGION)
