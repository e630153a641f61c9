"""What a key-cache miss costs beyond a hit, measured in the benchmark's own process.

With more sellers than a worker keeps signing keys for, most requests sign with a key object
opened for that request. OpenSSL prepares a key on its first signature (Montgomery contexts,
blinding), so such a signature costs more than one with a key already in use; keeping every
key ready instead costs the memory of an OpenSSL key object per credential. Both figures
explain the scale run's latency ratio against its memory limit.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.crypto import load_sealed_pkcs8
from app.keys.keystore import resident_bytes
from tests.replicas import ROOT

MESSAGE = b"consumer-id\nhttps://marketplace.walmartapis.com/v3/ca/feeds\nGET\n1700000000000\n"
KEYS_FOR_MEMORY = 10_000


def _signing_micros(bits: int, rounds: int = 200, batches: int = 5) -> tuple[SigningCost, int]:
    """(the signing figures, the bytes the key store counts for such a key), each figure the
    median of ``batches`` timed in turn: one
    batch alone (under a tenth of a second at 1,024 bits) moved by a third between measures a
    minute apart."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

    def fresh() -> None:
        load_sealed_pkcs8(der).sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())

    def warm() -> None:
        key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())

    timed: dict[Callable[[], None], list[float]] = {fresh: [], warm: []}
    for _ in range(batches):
        for sign, times in timed.items():
            started = time.perf_counter()
            for _ in range(rounds):
                sign()
            times.append((time.perf_counter() - started) / rounds * 1e6)
    signing = SigningCost(statistics.median(timed[fresh]), statistics.median(timed[warm]))
    return signing, resident_bytes(key)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _key_object_bytes(bits: int) -> float:
    """Resident bytes per opened key that has signed once (the state a key cache holds),
    measured in a fresh interpreter: in this one, memory freed earlier would be reused."""
    code = f"from tests.bench.miss_cost import _grown_by_keys; print(_grown_by_keys({bits}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def _grown_by_keys(bits: int) -> float:
    der = rsa.generate_private_key(public_exponent=65537, key_size=bits).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    before = _rss_kib()
    keys = []
    for _ in range(KEYS_FOR_MEMORY):
        key = load_sealed_pkcs8(der)
        key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
        keys.append(key)
    grown = _rss_kib() - before
    del keys
    return grown * 1024 / KEYS_FOR_MEMORY


@dataclass(frozen=True)
class SigningCost:
    open_and_sign_us: float  # open a stored key and sign once with it
    sign_us: float  # sign with a key in use

    def line(self) -> str:
        return (
            f"open + first signature {self.open_and_sign_us:.0f} us, "
            f"signature with a key in use {self.sign_us:.0f} us"
        )


def signing_cost(bits: int) -> SigningCost:
    """Both signing figures alone (a fraction of a second), to be taken beside a run."""
    return _signing_micros(bits)[0]


@dataclass(frozen=True)
class KeyCost:
    bits: int
    signing: SigningCost
    resident_bytes: float  # what a ready key holds
    counted_bytes: int  # what the key store's memory budget counts for it

    def line(self) -> str:
        per_miss = self.signing.open_and_sign_us - self.signing.sign_us
        return (
            f"  RSA-{self.bits}: {self.signing.line()} (+{per_miss:.0f} us per miss); a ready "
            f"key holds {self.resident_bytes / 1024:.1f} KiB resident (the key cache's budget "
            f"counts {self.counted_bytes / 1024:.1f}), "
            f"{self.resident_bytes * 100_000 / 1e6:.0f} MB for 100,000"
        )


def measure() -> list[KeyCost]:
    found = []
    for bits in (1024, 2048):
        signing, counted = _signing_micros(bits)
        found.append(KeyCost(bits, signing, _key_object_bytes(bits), counted))
    return found
