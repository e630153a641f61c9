"""The scale run's bulk load: ``vault-admin credentials import`` of a JSON Lines file, beside
the rate at which this one process merely parses and checks the same lines' keys.

The import is the operator's command, run as a process with the vault's own settings; its
rate is the one it prints (the work, without the interpreter's start). The parse rate reads
the same file's first lines: JSON, then ``parse_private_key``, the full check OpenSSL makes
of an RSA key, which is most of what importing a credential costs.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from app.crypto import parse_private_key

from .fixtures import signature_body
from .loader import account_of
from .services import asyncpg_dsn

VAULT_ADMIN = Path(sys.executable).parent / "vault-admin"
SUMMARY = re.compile(
    r"(\d+) lines: imported (\d+), already there (\d+), rejected (\d+) in ([\d.]+)s"
)
PARSE_SAMPLE = 3_000


@dataclass(frozen=True)
class Imported:
    lines: int
    imported: int
    rejected: int
    seconds: float  # the command's own figure
    wall_seconds: float  # with the interpreter's start

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


def write_file(path: Path, first: int, count: int, keys: list[RSAPrivateKey]) -> Path:
    """``count`` signature credentials as POST /v1/credentials bodies, one per line."""
    with path.open("w") as out:
        for index in range(first, first + count):
            account = account_of(index)
            body = signature_body(account, f"{account}-consumer", keys[index % len(keys)])
            out.write(json.dumps(body) + "\n")
    return path


def run_import(env: dict[str, str], path: Path, batch: int) -> Imported:
    started = time.perf_counter()
    done = subprocess.run(
        [str(VAULT_ADMIN), "credentials", "import", str(path), "--batch-size", str(batch)],
        env=env | {"COLUMNS": "200"},
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    match = SUMMARY.search(done.stdout)
    if match is None:
        raise RuntimeError(f"vault-admin credentials import failed: {done.stderr[-2000:]}")
    lines, imported, _, rejected, seconds = match.groups()
    return Imported(int(lines), int(imported), int(rejected), float(seconds), wall)


def parse_rate(path: Path, sample: int = PARSE_SAMPLE) -> float:
    """Lines per second that one process parses (JSON) and checks (the private key)."""
    with path.open("rb") as lines:
        texts = [line for _, line in zip(range(sample), lines, strict=False)]
    started = time.perf_counter()
    for text in texts:
        parse_private_key(json.loads(text)["auth"]["private_key"])
    return len(texts) / (time.perf_counter() - started)


def imported_ids(url: str, first: int, count: int) -> list[str]:
    """The ids of the imported credentials, in the file's order."""

    async def fetch() -> list[str]:
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = await connection.fetch(
                "SELECT id::text FROM credentials WHERE account_id BETWEEN $1 AND $2 "
                "ORDER BY account_id",
                account_of(first),
                account_of(first + count - 1),
            )
        finally:
            await connection.close()
        return [row[0] for row in rows]

    return asyncio.run(fetch())
