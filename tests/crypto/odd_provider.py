"""A KEK provider that wraps a real keyring and can be told to misbehave in one way."""

from collections.abc import Mapping

from app.crypto import KekUnavailable, LocalKeyring


class OddProvider:
    def __init__(
        self,
        inner: LocalKeyring,
        *,
        name: str = "local",
        key_id: str | None = None,
        dek: bytes | None = None,
        unavailable: bool = False,
    ) -> None:
        self._inner = inner
        self._name = name
        self._key_id = key_id
        self._dek = dek
        self._unavailable = unavailable

    @property
    def name(self) -> str:
        return self._name

    @property
    def active_key_id(self) -> str:
        return self._inner.active_key_id

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        if self._unavailable:
            raise KekUnavailable("KMS did not answer in time")
        key_id, wrapped = await self._inner.wrap(dek, context=context)
        return (key_id if self._key_id is None else self._key_id), wrapped

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        dek = await self._inner.unwrap(key_id, wrapped, context=context)
        return self._dek if self._dek is not None else dek

    def knows(self, key_id: str) -> bool:
        return self._inner.knows(key_id)
