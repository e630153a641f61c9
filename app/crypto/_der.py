"""Just enough DER reading to size up a pasted RSA key before anything expensive runs.

``cryptography`` validates an RSA private key as it loads it (primality of both factors among
other checks), which costs seconds for a 8,192-bit key and half a minute for a 16,384-bit one,
all of it holding the GIL. These helpers read the sizes of the key's integers straight from
the bytes, in microseconds and without building a single big integer, so a key outside the
vault's bounds is refused before it reaches the parser. They also give the words for a refusal
that ``cryptography`` only calls "could not deserialize" (a truncated value, a 512-bit key).
They return None whenever the bytes do not have the expected shape; the parser then decides.
"""

from __future__ import annotations

from dataclasses import dataclass

# DER tags of the few types a PKCS#8 or PKCS#1 RSA key is made of.
_SEQUENCE = 0x30
_INTEGER = 0x02
_OCTET_STRING = 0x04
_OID = 0x06
# rsaEncryption and RSASSA-PSS, with or without the NULL parameters that usually follow.
_RSA_OIDS = (bytes.fromhex("2a864886f70d010101"), bytes.fromhex("2a864886f70d01010a"))
# PKCS#1 RSAPrivateKey after its version: n, e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p.
_RSA_FIELDS = 8


@dataclass(frozen=True, slots=True)
class RsaSizes:
    """Bit lengths of an RSA private key's integers, read without parsing the key."""

    modulus_bits: int
    exponent_bits: int
    exponent: int | None  # the value when it fits in 8 bytes, else None (so, huge)
    prime_bits: int  # the larger of p and q
    other_bits: int  # the largest of d and the CRT values


def _header(der: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, start of content, declared end of content) of the element at ``pos``."""
    if pos + 2 > len(der):
        return None
    tag, first = der[pos], der[pos + 1]
    start = pos + 2
    if first < 0x80:
        return tag, start, start + first
    count = first & 0x7F
    # More than four length bytes would describe a value of gigabytes: not a key.
    if count == 0 or count > 4 or start + count > len(der):
        return None
    length = int.from_bytes(der[start : start + count], "big")
    return tag, start + count, start + count + length


def _element(der: bytes, pos: int, tag: int) -> tuple[int, int] | None:
    """(start, end) of the content of a whole element of type ``tag`` at ``pos``."""
    header = _header(der, pos)
    if header is None or header[0] != tag or header[2] > len(der):
        return None
    return header[1], header[2]


def _bit_length(content: bytes) -> int:
    """Bit length of a non-negative DER INTEGER's content, without building the integer."""
    stripped = content.lstrip(b"\x00")
    return 8 * (len(stripped) - 1) + stripped[0].bit_length() if stripped else 0


def declared_length(der: bytes) -> int | None:
    """Total size the outer SEQUENCE says it has, whatever size the buffer really is."""
    header = _header(der, 0)
    # Every key container is a SEQUENCE; for anything else a "length" would mean nothing.
    if header is None or header[0] != _SEQUENCE:
        return None
    return header[2]


def rsa_sizes(der: bytes) -> RsaSizes | None:
    """Sizes of an RSA key in PKCS#8 or PKCS#1 DER, if that is what ``der`` holds."""
    outer = _element(der, 0, _SEQUENCE)
    if outer is None:
        return None
    version = _element(der, outer[0], _INTEGER)
    if version is None:
        return None
    algorithm = _element(der, version[1], _SEQUENCE)
    if algorithm is not None:  # PKCS#8: AlgorithmIdentifier, then the PKCS#1 key in an OCTET STRING
        oid = _element(der, algorithm[0], _OID)
        if oid is None or der[oid[0] : oid[1]] not in _RSA_OIDS:
            return None
        octets = _element(der, algorithm[1], _OCTET_STRING)
        return None if octets is None else rsa_sizes(der[octets[0] : octets[1]])
    return _pkcs1_sizes(der, version[1], outer[1])


def _pkcs1_sizes(der: bytes, pos: int, end: int) -> RsaSizes | None:
    bits: list[int] = []
    exponent: int | None = None
    for index in range(_RSA_FIELDS):
        field = _element(der, pos, _INTEGER)
        if field is None or field[1] > end:
            return None
        content = der[field[0] : field[1]]
        bits.append(_bit_length(content))
        if index == 1 and len(content.lstrip(b"\x00")) <= 8:
            exponent = int.from_bytes(content, "big")
        pos = field[1]
    modulus, exponent_bits, private, p, q, *crt = bits
    return RsaSizes(modulus, exponent_bits, exponent, max(p, q), max(private, *crt))


def rsa_modulus_bits(der: bytes) -> int | None:
    """Modulus size of an RSA key in PKCS#8 or PKCS#1 DER, if that is what ``der`` holds."""
    sizes = rsa_sizes(der)
    return None if sizes is None else sizes.modulus_bits
