"""In-memory cache of unwrapped data keys, bounded in count (LRU) and in age.

A remote KEK provider costs a network round trip per unwrap, and when it is slow or down
every open of a value would wait on it or fail. The envelope therefore keeps the DEKs it
recently unwrapped, keyed by ``(provider name, key id, wrapped DEK bytes)``.

Why a hit can never open a wrong value:

* The key is the full wrapped blob under a named provider and key. A wrapped DEK is an
  authenticated ciphertext, so the same bytes under the same key can only ever unwrap to
  the same DEK; a hit returns exactly what the provider would have returned.
* A hit skips the provider's own check of the encryption context, but the value's GCM tag
  is still verified with the value's associated data on every open, and that associated
  data holds the same row fields as the context. A sealed value copied to another row
  therefore still fails, cache or no cache.

Entries expire ``ttl`` seconds after the unwrap that produced them, however often they are
used, so a KEK that is disabled or a grant that is revoked takes effect within ``ttl``.
Python cannot wipe ``bytes``; ``clear`` only drops the references. The clock is a
parameter so tests can move time without sleeping.
"""

from collections import OrderedDict
from collections.abc import Callable

CacheKey = tuple[str, str, bytes]


class DekCache:
    """LRU of DEKs that also forgets each entry ``ttl`` seconds after it was stored."""

    def __init__(self, *, size: int, ttl: float, clock: Callable[[], float]) -> None:
        # ``not ttl >= 0`` also refuses NaN, which would make every entry live forever.
        if size < 0 or not ttl >= 0:
            raise ValueError("dek_cache_size and dek_cache_ttl must be zero or more")
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[float, bytes]] = OrderedDict()

    def get(self, key: CacheKey) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, dek = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return dek

    def put(self, key: CacheKey, dek: bytes) -> None:
        if self._size == 0:
            return
        self._entries[key] = (self._clock() + self._ttl, dek)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        now = self._clock()
        for key in [key for key, (expires, _) in self._entries.items() if now >= expires]:
            del self._entries[key]
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
