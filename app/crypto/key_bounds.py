"""The sizes of RSA key the vault accepts, checked from the key's bytes before it is parsed.

Walmart's keys are 1,024 or 2,048 bits with e = 65537. A key far outside that is either a
mistake or an attack: loading and validating a 16,384-bit key costs about 30 s of CPU while
holding the GIL (the whole worker stops answering), and every signature with it 240 ms; a
huge public exponent makes every signature check slower. So the modulus must be 1,024 to
4,096 bits, the public exponent at most 2^32, each prime about half the modulus, and the
other integers no larger than the modulus. All of that is read from the DER headers by
``_der.rsa_sizes`` in microseconds; what cannot be read that way must at least be no larger
than the biggest key the bounds allow, so the parser never sees more than that.
"""

from __future__ import annotations

import base64
import binascii
import re

from app.crypto import _der

MIN_RSA_BITS = 1024
MAX_RSA_BITS = 4096
MAX_PUBLIC_EXPONENT = 2**32
# A prime of a balanced key is half the modulus; a little slack for keys made by odd tools.
PRIME_SLACK_BITS = 64
# The PKCS#8 DER of a 4,096-bit key is about 2,400 bytes.
MAX_KEY_DER_BYTES = 3072
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----(.*?)-----END \1-----", re.DOTALL)


def too_small(bits: int) -> str:
    return f"RSA key is {bits} bits; Walmart keys are at least {MIN_RSA_BITS} bits"


def out_of_bounds(der: bytes) -> str | None:
    """Why the key in ``der`` is outside the vault's bounds, or None when it is within them
    (or is no RSA key at all, which the parser then explains)."""
    sizes = _der.rsa_sizes(der)
    if sizes is None:
        if len(der) > MAX_KEY_DER_BYTES:
            return _too_large(len(der))
        return None
    if sizes.modulus_bits < MIN_RSA_BITS:
        return too_small(sizes.modulus_bits)
    if sizes.modulus_bits > MAX_RSA_BITS:
        return (
            f"RSA key is {sizes.modulus_bits} bits; the vault accepts {MIN_RSA_BITS} to "
            f"{MAX_RSA_BITS} bits (Walmart's keys are 1024 or 2048 bits)"
        )
    if sizes.exponent is None or sizes.exponent > MAX_PUBLIC_EXPONENT:
        return (
            f"RSA public exponent is {sizes.exponent_bits} bits; the vault accepts at most "
            "2^32 (Walmart's keys use 65537)"
        )
    if sizes.prime_bits > sizes.modulus_bits // 2 + PRIME_SLACK_BITS:
        return (
            f"RSA key has a {sizes.prime_bits}-bit prime for a {sizes.modulus_bits}-bit "
            "modulus; each prime of an RSA key is about half the modulus"
        )
    if sizes.other_bits > sizes.modulus_bits:
        return "RSA key holds a value larger than its modulus; the key is damaged"
    return None


def pem_out_of_bounds(text: str) -> str | None:
    """``out_of_bounds`` for the first PEM block of ``text``; a block whose body is not
    readable base64 is left to the parser, which refuses it, when it is small enough."""
    match = _PEM_BLOCK.search(text)
    if match is not None:
        body = "".join(line for line in match.group(2).splitlines() if ":" not in line)
        try:
            return out_of_bounds(base64.b64decode("".join(body.split()), validate=True))
        except binascii.Error:
            pass
    # Base64 is 4 characters for 3 bytes, plus line breaks and the armour.
    if len(text) > MAX_KEY_DER_BYTES * 4 // 3 + MAX_KEY_DER_BYTES // 48 + 100:
        return _too_large(len(text) * 3 // 4)
    return None


def _too_large(size: int) -> str:
    return (
        f"private key is about {size} bytes, more than an RSA key of {MAX_RSA_BITS} bits "
        "(about 2,400); Walmart's keys are 1024 or 2048 bits"
    )
