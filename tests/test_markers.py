"""``-m postgres`` and ``-m "not postgres"`` select what they say."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.replicas import ROOT

pytestmark = pytest.mark.slow


def _collected(expression: str) -> list[str]:
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            expression,
            "tests/api",
            "tests/test_change_listener.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [line for line in listing.stdout.splitlines() if "::" in line]


def test_not_postgres_selects_no_postgresql_variant() -> None:
    ids = _collected("not postgres")
    assert ids
    assert not [i for i in ids if "[postgres" in i or "test_change_listener" in i]


def test_postgres_selects_only_postgresql_variants() -> None:
    ids = _collected("postgres")
    assert any("[postgres" in i for i in ids)
    assert any("test_change_listener" in i for i in ids)
    assert not [i for i in ids if "[sqlite" in i]
