"""Just enough DER reading to explain why a pasted key was refused.

``cryptography`` says only "could not deserialize" for a truncated value, and some of its
versions refuse RSA keys under 1024 bits at load time without saying their size. These
helpers read the outer length and the RSA modulus straight from the bytes so the operator
gets "truncated" or "512 bits" instead. They never decide whether a key is accepted; they
only choose the words of a refusal, and return None whenever the bytes do not fit.
"""

# DER tags of the few types a PKCS#8 or PKCS#1 RSA key starts with.
_SEQUENCE = 0x30
_INTEGER = 0x02
_OCTET_STRING = 0x04
_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL


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


def declared_length(der: bytes) -> int | None:
    """Total size the outer SEQUENCE says it has, whatever size the buffer really is."""
    header = _header(der, 0)
    # Every key container is a SEQUENCE; for anything else a "length" would mean nothing.
    if header is None or header[0] != _SEQUENCE:
        return None
    return header[2]


def rsa_modulus_bits(der: bytes) -> int | None:
    """Modulus size of an RSA key in PKCS#8 or PKCS#1 DER, if that is what ``der`` holds."""
    outer = _header(der, 0)
    if outer is None or outer[0] != _SEQUENCE:
        return None
    version = _header(der, outer[1])
    if version is None or version[0] != _INTEGER:
        return None
    pos = version[2]
    if der.startswith(_RSA_ALGORITHM, pos):
        octets = _header(der, pos + len(_RSA_ALGORITHM))
        if octets is None or octets[0] != _OCTET_STRING:
            return None
        return rsa_modulus_bits(der[octets[1] : octets[2]])
    modulus = _header(der, pos)
    if modulus is None or modulus[0] != _INTEGER or modulus[2] > len(der):
        return None
    return int.from_bytes(der[modulus[1] : modulus[2]], "big").bit_length()
