"""A floor on the randomness of secrets an operator configures (KEKs, the bootstrap token).

Length alone let production start with an all-zero KEK and a bootstrap token of 32 identical
characters. The estimate here is the Shannon entropy of the value's own symbols times its
length: 0 bits for ``bbbb...``, about 150 for 32 random bytes or ``secrets.token_urlsafe(32)``,
about 113 for 32 hex digits; a value that repeats a shorter pattern ("password" five times) is
refused whatever its estimate. It cannot see that a sequence like ``abcd...`` was typed rather
than drawn, so it is a floor that catches careless values, not a proof of randomness.
"""

from __future__ import annotations

import math
from collections import Counter

MIN_SECRET_BITS = 96


def estimated_bits(value: bytes | str) -> float:
    """Shannon entropy of ``value``'s symbols (bytes or characters) times its length."""
    counts = Counter(value)
    total = len(value)
    return -sum(n * math.log2(n / total) for n in counts.values()) if total else 0.0


def too_weak(value: bytes | str) -> str | None:
    """Why ``value`` is too predictable to be a secret, or None."""
    # The first place where ``value`` occurs again in itself twice over is its period.
    period = (value + value).find(value, 1)  # type: ignore[operator, arg-type]
    if len(value) > 1 and period < len(value):
        return f"repeats a pattern of {period} symbols"
    bits = estimated_bits(value)
    if bits < MIN_SECRET_BITS:
        return (
            f"has about {bits:.0f} bits of entropy, below {MIN_SECRET_BITS} "
            "(too few distinct symbols for its length)"
        )
    return None
